package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/stickykit/stickykit/internal/bench"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// benchFetchChild is the first argument of the hidden child command that
// "stickykit bench" runs as the client streaming to a pipe:
//
//	stickykit bench _fetch --addr ADDR --framing F NAME
const benchFetchChild = "_fetch"

const benchAbout = `
Compare the reference implementation with what a user would compare it
with, on this machine, in one run. For each file size it runs, as separate
processes, each pair of a baseline and a transfer in turn, and prints the
throughput (MB/s, 10^6 bytes per second) and the transfer's speed over the
baseline's, taken run by run:

  pipe  the reference server sends the file to the reference client, which
        verifies it and streams it to a pipe; baseline: "md5sum FILE"
  disk  "stickykit get" (temporary file, fsync, rename); baseline:
        "dd if=FILE of=COPY bs=1M conv=fsync"

each cold (a new server, which remembers no digest, and the file dropped
from the page cache where Linux allows it: posix_fadvise on that file
only) and warm (a server that has sent the file before and remembers its
digest, the file in the page cache), and the CPU seconds per GiB of each
end. It also measures the naive client, "stickykit naive-get --variant
article" (the tutorial's client with the article's fix: recv of at most
1024 bytes, never past the data), optionally a tutorial-style Python
server (--python), the peak memory of the server and the clients for the
largest size and the server's memory per idle connection (--rss), and many
clients fetching a small file at once (--concurrency). Files are made in a
temporary directory under $TMPDIR and removed afterwards.`

// benchConfig is the parsed command line of "stickykit bench".
type benchConfig struct {
	sizes      []int64
	framing    spec.Framing
	runs       int
	conc, idle int
	svg        string
	python, py string // the script, and the python3 that runs it
	naive, rss bool
}

func runBench(e *env, args []string) int {
	if len(args) > 0 && args[0] == benchFetchChild {
		return benchFetch(e, args[1:])
	}
	cfg, code, ok := parseBench(e, args)
	if !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lab, err := bench.NewLab(bench.Options{Framing: cfg.framing})
	if err != nil {
		e.errorf("bench: %v", err)
		return exitUsage
	}
	defer lab.Close()
	fmt.Fprintf(e.stdout, "stickykit bench: %s framing, loopback TCP, %s/%s, %d CPUs (GOMAXPROCS %d)%s\n",
		cfg.framing, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuName())
	b := &benchRun{e: e, cfg: cfg, lab: lab, table: bench.NewTable()}
	b.compare(ctx)
	b.memory(ctx)
	b.concurrency(ctx)
	b.draw()
	if ctx.Err() != nil {
		e.errorf("bench: interrupted")
		return exitFail
	}
	if b.failed {
		return exitFail
	}
	return exitOK
}

// parseBench parses the command line of "stickykit bench".
func parseBench(e *env, args []string) (*benchConfig, int, bool) {
	fs := e.newFlags("bench", "[flags]", benchAbout)
	cfg := &benchConfig{framing: spec.Lockstep}
	sizes := fs.String("sizes", "1KiB,1MiB,64MiB,1GiB", "comma-separated file `sizes` (KiB, MiB, GiB are binary units)")
	fs.Var(&cfg.framing, "framing", "`framing` of control messages: lockstep or line")
	fs.IntVar(&cfg.runs, "runs", 3, "runs of each program per size and cache state (`N`); ratios and figures are medians")
	fs.IntVar(&cfg.conc, "concurrency", 1000, "`N` clients fetching a 4KiB file at once; 0 skips")
	fs.StringVar(&cfg.svg, "svg", "", "also draw throughput against file size, both on log scales, as SVG to `FILE`")
	fs.StringVar(&cfg.python, "python", "", "also measure \"stickykit get\" from the tutorial-style Python server `SCRIPT` (e.g. testdata/python/tutorial_server.py; needs python3, lockstep only)")
	fs.BoolVar(&cfg.naive, "naive", true, "also measure the naive client, \"stickykit naive-get --variant article\"")
	fs.BoolVar(&cfg.rss, "rss", true, "measure the peak memory of the server and the clients for the largest size")
	fs.IntVar(&cfg.idle, "idle", 1000, "idle `connections` opened to the server to measure their memory")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return nil, code, false
	}
	fail := func(format string, args ...any) (*benchConfig, int, bool) {
		return nil, e.usageErr(fs, format, args...), false
	}
	if len(pos) > 0 {
		return fail("unexpected argument %q", pos[0])
	}
	var err error
	if cfg.sizes, err = bench.ParseSizes(*sizes); err != nil {
		return fail("%v", err)
	}
	slices.Sort(cfg.sizes)
	cfg.sizes = slices.Compact(cfg.sizes)
	switch {
	case cfg.conc < 0 || cfg.idle < 0:
		return fail("--concurrency and --idle must not be negative")
	case cfg.runs < 1:
		return fail("--runs must be at least 1")
	case cfg.python != "" && cfg.framing != spec.Lockstep:
		return fail("--python needs the lockstep framing")
	}
	if cfg.python != "" {
		if cfg.py, err = exec.LookPath("python3"); err != nil {
			return fail("--python: python3 not found")
		}
		if _, err := os.Stat(cfg.python); err != nil {
			return fail("--python: %v", err)
		}
	}
	// The picture is drawn at the end: a directory that is not there
	// would lose every measurement taken before it.
	if dir := filepath.Dir(cfg.svg); cfg.svg != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fail("--svg %s: no directory %s to write it in", cfg.svg, dir)
		}
	}
	return cfg, 0, true
}

// benchRun is the state of one "stickykit bench".
type benchRun struct {
	e      *env
	cfg    *benchConfig
	lab    *bench.Lab
	table  *bench.Table
	failed bool
}

func (b *benchRun) note(format string, args ...any) {
	fmt.Fprintf(b.e.stderr, "stickykit bench: "+format+"\n", args...)
}

func (b *benchRun) fail(what string, err error) {
	b.e.errorf("bench: %s%v", what, err)
	b.failed = true
}

// compare runs Lab.Compare for every size and prints the tables.
func (b *benchRun) compare(ctx context.Context) {
	opts := bench.CompareOptions{Runs: b.cfg.runs, Note: b.note}
	if b.cfg.python != "" {
		p, err := b.lab.StartPython(ctx, b.cfg.py, b.cfg.python)
		if err != nil {
			b.fail("", err)
			return
		}
		defer p.Close()
		opts.Python = p
	}
	// Make every file first, so that each has settled (see
	// ref.DigestSettleTime) by the time its warm runs begin.
	for _, size := range b.cfg.sizes {
		if _, err := b.lab.File(size); err != nil {
			b.fail("", err)
			return
		}
	}
	cmds := childCommands(b.cfg.framing, b.cfg.naive)
	missing := map[string]bool{}
	for _, size := range b.cfg.sizes {
		if ctx.Err() != nil {
			return
		}
		c, err := b.lab.Compare(ctx, cmds, size, opts)
		if err != nil {
			b.fail("", err)
			continue
		}
		for _, m := range c.Missing {
			missing[m] = true
		}
		b.table.Add(c)
	}
	fmt.Fprintln(b.e.stdout)
	b.table.WriteText(b.e.stdout)
	fmt.Fprintln(b.e.stdout)
	b.table.WriteRemembered(b.e.stdout)
	if !b.table.Evicted() {
		fmt.Fprintln(b.e.stdout, "cold runs: the page cache could not be dropped for the file here; only the server was new")
	}
	for m := range missing {
		fmt.Fprintf(b.e.stdout, "%s was not found: its baseline and ratios are missing\n", m)
	}
	fmt.Fprintln(b.e.stdout)
}

// memory measures the peak memory of each end for the largest size.
func (b *benchRun) memory(ctx context.Context) {
	if !b.cfg.rss || ctx.Err() != nil {
		return
	}
	size := b.cfg.sizes[len(b.cfg.sizes)-1]
	b.note("memory: server and client processes, %s", bench.FormatSize(size))
	res, err := b.lab.RSS(ctx, childCommands(b.cfg.framing, false), size, b.cfg.idle)
	if err != nil {
		b.fail("memory: ", err)
		return
	}
	fmt.Fprintf(b.e.stdout, "memory: %v\n", res)
}

// concurrency runs many clients at once against one server.
func (b *benchRun) concurrency(ctx context.Context) {
	if b.cfg.conc == 0 || ctx.Err() != nil {
		return
	}
	b.note("concurrency: %d clients", b.cfg.conc)
	res, err := b.lab.Scale(ctx, b.cfg.conc, 4*bench.KiB, 10)
	if err != nil {
		b.fail("concurrency: ", err)
		return
	}
	fmt.Fprintf(b.e.stdout, "concurrency: %v\n", res)
	for _, err := range res.Errors {
		b.e.errorf("bench: concurrency: %v", err)
	}
	if res.Failed > 0 || res.Busy != res.Probes {
		b.failed = true
	}
}

// draw writes the SVG chart, if asked.
func (b *benchRun) draw() {
	if b.cfg.svg == "" {
		return
	}
	title := fmt.Sprintf("stickykit throughput, loopback TCP, %s framing, %d CPUs%s", b.cfg.framing, runtime.NumCPU(), cpuName())
	f, err := os.Create(b.cfg.svg)
	if err == nil {
		err = b.table.WriteSVG(f, title)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		b.fail("", err)
	}
}

// benchFetch is the hidden child command the comparisons stream through:
// it downloads NAME as "stickykit get" does, but writes the data to
// standard output as it arrives, and exits 0 only when the digest matched.
func benchFetch(e *env, args []string) int {
	fs := flag.NewFlagSet("bench "+benchFetchChild, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	addr := fs.String("addr", defaultAddr, "server address")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "framing")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		e.errorf("bench: usage: stickykit bench %s --addr ADDR --framing F NAME", benchFetchChild)
		return exitUsage
	}
	c := &ref.Client{Framing: framing}
	nc, err := net.DialTimeout("tcp", *addr, ref.DefaultTimeout)
	if err != nil {
		e.errorf("bench: %v", err)
		return exitFail
	}
	s := c.NewSession(nc)
	defer s.Close()
	bench.GrowPipe(e.stdout)
	if _, err := s.Fetch(fs.Arg(0), e.stdout); err != nil {
		e.errorf("bench: %s: %v", fs.Arg(0), err)
		return exitFail
	}
	return exitOK
}

// benchSelf returns the path of this program, which "stickykit bench"
// runs as its child processes. Tests replace it.
var benchSelf = func() string {
	self := os.Args[0]
	if !strings.ContainsRune(self, filepath.Separator) {
		if p, err := exec.LookPath(self); err == nil {
			self = p
		}
	}
	return self
}

// childCommands runs this very program's serve, get, naive-get and the
// hidden fetch child.
func childCommands(framing spec.Framing, naive bool) bench.Commands {
	self := benchSelf()
	f := framing.String()
	cmds := bench.Commands{
		Serve: func(root, addrFile string, maxConns int) *exec.Cmd {
			return exec.Command(self, "serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile,
				"--root", root, "--framing", f, "--max-conns", strconv.Itoa(maxConns))
		},
		Get: func(addr, name, out string) *exec.Cmd {
			return exec.Command(self, "get", "-q", "--addr", addr, "--framing", f, "-o", out, name)
		},
		Fetch: func(addr, name string) *exec.Cmd {
			return exec.Command(self, "bench", benchFetchChild, "--addr", addr, "--framing", f, name)
		},
	}
	if naive {
		cmds.Naive = func(addr, name, out string) *exec.Cmd {
			return exec.Command(self, "naive-get", "--variant", "article", "--addr", addr, "--framing", f, "-o", out, name)
		}
	}
	return cmds
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
