package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CompareOptions configures Lab.Compare. The zero value is usable.
type CompareOptions struct {
	// Runs is the number of runs of each program in each cache state; 0
	// means 3.
	Runs int
	// Python, if not nil, is a tutorial-style server to measure too
	// ("stickykit get" from it, warm only).
	Python *PythonServer
	// Note, if not nil, receives a line about each step, for progress.
	Note func(format string, args ...any)
}

// Comparison is the outcome of Lab.Compare for one file.
type Comparison struct {
	Size         int64
	Measurements []Measurement
	// Evicted says that the file was dropped from the page cache before
	// every cold run (Linux only); otherwise cold runs differ from warm
	// ones only by a new server.
	Evicted bool
	// Missing names the baseline programs that were not found.
	Missing []string
	// Remembered counts the warm transfers from the reference server that
	// it sent from a remembered digest, of Served (as its log says).
	Remembered, Served int
}

// Compare runs, on the file of size bytes, the programs a user would
// compare, each as a child process, the baseline just before each
// transfer, in both cache states (Cold, Warm):
//
//	md5sum FILE                        baseline of pipe (and naive)
//	the client streaming to a pipe     pipe: verified, to a pipe this process drains
//	dd if=FILE of=OUT bs=1M conv=fsync baseline of disk (and python)
//	stickykit get                      disk: temporary file, fsync, rename
//
// and, warm only, the naive client and the Python server (opts). The
// reference server runs as a child process too (cmds.Serve), so the CPU
// time of each end is measured apart. Warm runs wait, once, until the file
// is older than ref.DigestSettleTime, so that the server remembers its
// digest.
func (l *Lab) Compare(ctx context.Context, cmds Commands, size int64, opts CompareOptions) (*Comparison, error) {
	if opts.Runs <= 0 {
		opts.Runs = 3
	}
	if opts.Note == nil {
		opts.Note = func(string, ...any) {}
	}
	name, err := l.File(size)
	if err != nil {
		return nil, err
	}
	digest, err := l.digest(name)
	if err != nil {
		return nil, err
	}
	t := &trial{l: l, cmds: cmds, opts: opts, name: name, size: size, digest: digest,
		path: filepath.Join(l.root, name), cmp: &Comparison{Size: size}}
	t.md5sum, t.dd = lookTool(t.cmp, "md5sum"), lookTool(t.cmp, "dd")
	if err := t.cold(ctx); err != nil {
		return nil, err
	}
	if err := t.warm(ctx); err != nil {
		return nil, err
	}
	return t.cmp, nil
}

// lookTool returns the path of a baseline program, or "" after noting it
// missing.
func lookTool(c *Comparison, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		c.Missing = append(c.Missing, name)
		return ""
	}
	return p
}

// trial is the state of one Compare.
type trial struct {
	l                  *Lab
	cmds               Commands
	opts               CompareOptions
	name, path, digest string
	size               int64
	md5sum, dd         string // baseline programs; "" when missing
	cmp                *Comparison
}

// measurement returns the measurement of impl in cache state, adding it.
func (t *trial) measurement(impl, cache string) *Measurement {
	ms := t.cmp.Measurements
	for i := range ms {
		if ms[i].Impl == impl && ms[i].Cache == cache {
			return &ms[i]
		}
	}
	t.cmp.Measurements = append(ms, Measurement{Impl: impl, Cache: cache, Size: t.size})
	return &t.cmp.Measurements[len(t.cmp.Measurements)-1]
}

// add records r in the measurement of impl in cache state.
func (t *trial) add(impl, cache string, r Run) {
	m := t.measurement(impl, cache)
	m.Runs = append(m.Runs, r)
}

// cold makes the cold runs: each with the file dropped from the page
// cache, and each transfer from a new server.
func (t *trial) cold(ctx context.Context) error {
	t.opts.Note("%s cold: md5sum, pipe, dd, get; %d runs", FormatSize(t.size), t.opts.Runs)
	t.cmp.Evicted = true
	drop := func() { t.cmp.Evicted = evict(t.path) && t.cmp.Evicted }
	for range t.opts.Runs {
		drop()
		base, err := t.baselineMD5(ctx, Cold)
		if err != nil {
			return err
		}
		if t.cmds.Fetch != nil {
			drop()
			if err := t.coldTransfer(ctx, ImplPipe, base); err != nil {
				return err
			}
		}
		drop()
		if base, err = t.baselineDD(ctx, Cold); err != nil {
			return err
		}
		drop()
		if err := t.coldTransfer(ctx, ImplDisk, base); err != nil {
			return err
		}
	}
	return nil
}

// coldTransfer runs one transfer (ImplPipe or ImplDisk) from a new server.
func (t *trial) coldTransfer(ctx context.Context, impl string, base time.Duration) error {
	srv, err := t.l.startServer(ctx, t.cmds, 8)
	if err != nil {
		return err
	}
	r, err := t.transfer(ctx, srv, impl, base)
	if serr := srv.stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return err
	}
	t.add(impl, Cold, r)
	return nil
}

// transfer runs one transfer (ImplPipe or ImplDisk) from srv and returns
// the run, with the server's CPU time during it.
func (t *trial) transfer(ctx context.Context, srv *server, impl string, base time.Duration) (Run, error) {
	cpu0 := srv.cpu()
	var r run
	var err error
	if impl == ImplPipe {
		r, err = runChild(ctx, t.cmds.Fetch(srv.addr, t.name), true, t.size)
	} else {
		out := filepath.Join(t.l.out, "get-"+t.name)
		r, err = runChild(ctx, t.cmds.Get(srv.addr, t.name, out), false, 0)
		if err == nil {
			err = t.check(out)
		}
		os.Remove(out)
	}
	if err != nil {
		return Run{}, fmt.Errorf("%s %s: %w", impl, FormatSize(t.size), err)
	}
	return Run{Wall: r.wall, CPU: r.cpu, ServerCPU: srv.cpu() - cpu0, Base: base}, nil
}

// check makes sure the file at out is the lab's file: its size, since the
// client verified its digest.
func (t *trial) check(out string) error {
	fi, err := os.Stat(out)
	if err != nil {
		return err
	}
	if fi.Size() != t.size {
		return fmt.Errorf("%s holds %d bytes, want %d", out, fi.Size(), t.size)
	}
	return nil
}

// baselineMD5 runs md5sum on the file, checks its output, records the run
// and returns its wall time (0 when md5sum is missing).
func (t *trial) baselineMD5(ctx context.Context, cache string) (time.Duration, error) {
	if t.md5sum == "" {
		return 0, nil
	}
	r, err := runChild(ctx, exec.Command(t.md5sum, t.path), false, 0)
	if err == nil && !strings.HasPrefix(string(r.out), t.digest) {
		err = fmt.Errorf("printed %q, want the digest %s", r.out, t.digest)
	}
	if err != nil {
		return 0, fmt.Errorf("md5sum %s: %w", FormatSize(t.size), err)
	}
	t.add(ImplMD5sum, cache, Run{Wall: r.wall, CPU: r.cpu})
	return r.wall, nil
}

// baselineDD copies the file with dd conv=fsync, records the run and
// returns its wall time (0 when dd is missing).
func (t *trial) baselineDD(ctx context.Context, cache string) (time.Duration, error) {
	if t.dd == "" {
		return 0, nil
	}
	out := filepath.Join(t.l.out, "dd-"+t.name)
	r, err := runChild(ctx, exec.Command(t.dd, "if="+t.path, "of="+out, "bs=1M", "conv=fsync"), false, 0)
	if err == nil {
		err = t.check(out)
	}
	os.Remove(out)
	if err != nil {
		return 0, fmt.Errorf("dd %s: %w", FormatSize(t.size), err)
	}
	t.add(ImplDD, cache, Run{Wall: r.wall, CPU: r.cpu})
	return r.wall, nil
}
