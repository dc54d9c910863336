package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/bench"
	"github.com/stickykit/stickykit/spec"
)

func runBench(e *env, args []string) int {
	fs := e.newFlags("bench", "[flags]", `
Measure how fast the reference server sends files to the reference client
over loopback TCP, against the baseline of hashing the same bytes with MD5
on one core, which both ends must do. For each size it prints MB/s (10^6
bytes per second) and the ratio to the baseline; the reference client
writes each file as "stickykit get" does (temporary file, fsync, rename),
so a second baseline, "disk", copies the file and fsyncs the copy, and
"ref-mem" is the same transfer verified in memory and discarded.

It also measures the naive client (the article's variant), optionally a
tutorial-style Python server (--python), the peak memory of "stickykit
serve" and "stickykit get" run as child processes for the largest size and
the server's memory per idle connection (--rss), and many clients fetching
a small file at once (--concurrency). Files are made in a temporary
directory under $TMPDIR and removed afterwards.`)
	sizesFlag := fs.String("sizes", "1KiB,1MiB,64MiB,1GiB", "comma-separated file `sizes` (KiB, MiB, GiB are binary units)")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "`framing` of control messages: lockstep or line")
	minTime := fs.Duration("time", time.Second, "repeat each measurement for at least this `long` (at least once)")
	conc := fs.Int("concurrency", 1000, "`N` clients fetching a 4KiB file at once; 0 skips")
	svg := fs.String("svg", "", "also draw throughput against file size as SVG to `FILE`")
	python := fs.String("python", "", "also measure the tutorial-style Python server `SCRIPT` (e.g. testdata/python/tutorial_server.py; needs python3, lockstep only)")
	naiveToo := fs.Bool("naive", true, "also measure the naive client")
	rss := fs.Bool("rss", true, "measure the peak memory of serve and get child processes for the largest size")
	idle := fs.Int("idle", 1000, "idle `connections` opened to the child server to measure their memory")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected argument %q", pos[0])
	}
	sizes, err := bench.ParseSizes(*sizesFlag)
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	slices.Sort(sizes)
	sizes = slices.Compact(sizes)
	if *conc < 0 || *idle < 0 {
		return e.usageErr(fs, "--concurrency and --idle must not be negative")
	}
	if *python != "" && framing != spec.Lockstep {
		return e.usageErr(fs, "--python needs the lockstep framing")
	}
	var py string
	if *python != "" {
		if py, err = exec.LookPath("python3"); err != nil {
			return e.usageErr(fs, "--python: python3 not found")
		}
		if _, err := os.Stat(*python); err != nil {
			return e.usageErr(fs, "--python: %v", err)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lab, err := bench.NewLab(bench.Options{Framing: framing, MinTime: *minTime})
	if err != nil {
		e.errorf("bench: %v", err)
		return exitUsage
	}
	defer lab.Close()

	fmt.Fprintf(e.stdout, "stickykit bench: %s framing, loopback TCP, %s/%s, %d CPUs (GOMAXPROCS %d)%s\n",
		framing, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuName())
	failed := false
	note := func(format string, args ...any) { fmt.Fprintf(e.stderr, "stickykit bench: "+format+"\n", args...) }
	table := bench.NewTable(nil)
	measure := func(what string, size int64, f func() (bench.Measurement, error)) {
		if ctx.Err() != nil {
			return
		}
		note("%s %s", what, bench.FormatSize(size))
		m, err := f()
		if err != nil {
			e.errorf("bench: %v", err)
			failed = true
			return
		}
		table.Add(m)
	}
	var pys *bench.PythonServer
	if py != "" {
		if pys, err = lab.StartPython(ctx, py, *python); err != nil {
			e.errorf("bench: %v", err)
			return exitFail
		}
		defer pys.Close()
	}
	for _, size := range sizes {
		measure("md5", size, func() (bench.Measurement, error) { return lab.MD5(size) })
		measure("disk", size, func() (bench.Measurement, error) { return lab.Disk(size) })
		measure("ref", size, func() (bench.Measurement, error) { return lab.Ref(ctx, size) })
		measure("ref-mem", size, func() (bench.Measurement, error) { return lab.RefMem(ctx, size) })
		if *naiveToo {
			measure("naive", size, func() (bench.Measurement, error) { return lab.Naive(ctx, size) })
		}
		if pys != nil {
			measure("python", size, func() (bench.Measurement, error) { return lab.Python(ctx, pys, size) })
		}
	}
	fmt.Fprintln(e.stdout)
	table.WriteText(e.stdout)
	fmt.Fprintln(e.stdout)

	if *rss && ctx.Err() == nil {
		size := sizes[len(sizes)-1]
		note("memory: serve and get child processes, %s", bench.FormatSize(size))
		res, err := lab.RSS(ctx, childCommands(framing), size, *idle)
		if err != nil {
			e.errorf("bench: memory: %v", err)
			failed = true
		} else {
			fmt.Fprintf(e.stdout, "memory: %v\n", res)
		}
	}
	if *conc > 0 && ctx.Err() == nil {
		note("concurrency: %d clients", *conc)
		res, err := lab.Scale(ctx, *conc, 4*bench.KiB, 10)
		switch {
		case err != nil:
			e.errorf("bench: concurrency: %v", err)
			failed = true
		default:
			fmt.Fprintf(e.stdout, "concurrency: %v\n", res)
			for _, err := range res.Errors {
				e.errorf("bench: concurrency: %v", err)
			}
			if res.Failed > 0 || res.Busy != res.Probes {
				failed = true
			}
		}
	}
	if *svg != "" {
		title := fmt.Sprintf("stickykit throughput, loopback TCP, %s framing, %d CPUs%s", framing, runtime.NumCPU(), cpuName())
		if err := writeSVG(*svg, table, title); err != nil {
			e.errorf("bench: %v", err)
			failed = true
		}
	}
	if ctx.Err() != nil {
		e.errorf("bench: interrupted")
		return exitFail
	}
	if failed {
		return exitFail
	}
	return exitOK
}

func writeSVG(path string, t *bench.Table, title string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := t.WriteSVG(f, title); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// childCommands runs this very program's serve and get commands.
func childCommands(framing spec.Framing) bench.Commands {
	self := os.Args[0]
	if !strings.ContainsRune(self, filepath.Separator) {
		if p, err := exec.LookPath(self); err == nil {
			self = p
		}
	}
	return bench.Commands{
		Serve: func(root, addrFile string, maxConns int) *exec.Cmd {
			return exec.Command(self, "serve", "-q", "--addr", "127.0.0.1:0", "--addr-file", addrFile,
				"--root", root, "--framing", framing.String(), "--max-conns", strconv.Itoa(maxConns))
		},
		Get: func(addr, name, out string) *exec.Cmd {
			return exec.Command(self, "get", "-q", "--addr", addr, "--framing", framing.String(), "-o", out, name)
		},
	}
}

// cpuName returns ", " and the processor's model name where known.
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return ", " + strings.TrimSpace(v)
		}
	}
	return ""
}
