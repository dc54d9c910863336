package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

func runGet(e *env, args []string) int {
	fs := e.newFlags("get", "[flags] NAME", `
Download NAME from a server of the exchange and verify its MD5 digest. The
exit status is 0 only when the file arrived whole and its digest matched.

What happens at OUT (-o) depends on what is there:
  nothing            the file is written to a temporary file in OUT's
                     directory (on Linux an unnamed one, which nothing can
                     leave behind) and put in place only when the digest
                     matched: on any failure nothing is left at OUT
  a regular file     replaced atomically, only when the digest matched; it
                     keeps its permission bits (a new file gets 0666 less
                     the umask)
  a symbolic link    to a regular file: that file is replaced atomically,
                     the link itself stays
  a device, a FIFO   written through as the data arrives, never replaced
  (or /dev/stdout)   (what was written cannot be taken back: the exit
                     status says whether the digest matched)
  a directory, or a path whose directory does not exist: refused before
                     anything is sent (exit status 2)
"-o -" writes the data to stdout, as it arrives.

Before it acknowledges the size, get refuses a size larger than the free
space at OUT, and reserves the space where the file system allows. A
progress bar is shown on stderr when stderr is a terminal. Ctrl-C (or
SIGTERM, SIGHUP, SIGQUIT) stops the download, removes what it wrote and
exits 128 plus the signal's number (130 for Ctrl-C).

Time bounds: --timeout bounds each read and write; --max-time bounds the
whole download; and a download slower than --speed-limit bytes/s over a
whole --speed-time fails, so that a server trickling a byte now and then
cannot hold get for ever (the default, 1024 bytes/s over 60s, suits any
real link; --speed-limit 0 turns it off).`)
	addr := fs.String("addr", defaultAddr, "server `address` (host:port)")
	framing := spec.Lockstep
	framingFlag(fs, &framing, "`framing` of control messages: lockstep (the tutorial's bytes) or line (LF-terminated)")
	out := fs.String("o", "", "write the file to `OUT`, or to stdout for \"-\" (default: the last element of NAME, in the current directory)")
	timeout := durationFlag(fs, "timeout", ref.DefaultTimeout, "give up when the server is silent for this `duration` (per read or write)")
	maxTime := durationFlag(fs, "max-time", 0, "give up when the whole download takes longer than this `duration` (0: no bound)")
	speedLimit := fs.Int64("speed-limit", ref.DefaultMinRate, "fail a download slower than this many `bytes` per second over a whole --speed-time (0: no floor)")
	speedTime := durationFlag(fs, "speed-time", ref.DefaultRateWindow, "the `duration` over which --speed-limit is judged")
	quiet := fs.Bool("q", false, "print nothing on success and no progress bar")
	traceFile := fs.String("trace", "", "record every read and write of the connection to `FILE` as JSON (a stickykit demo trace)")

	digest := spec.DigestMD5
	fs.Var(&digest, "digest", "`digest` the server sends after the data: md5, or none (the tutorial's first version: nothing verifies the file, and it is kept once SIZE bytes arrived)")

	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	name, dst, err := nameAndOut(pos, *out, "")
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	for _, err := range []error{
		inRange("timeout", *timeout, time.Millisecond, 24*time.Hour),
		inRange("max-time", *maxTime, 0, 1000*time.Hour),
		inRange("speed-limit", *speedLimit, 0, 1<<40),
		inRange("speed-time", *speedTime, time.Millisecond, 24*time.Hour),
	} {
		if err != nil {
			return e.usageErr(fs, "%v", err)
		}
	}

	c := &ref.Client{Framing: framing, Digest: digest, Timeout: *timeout, MaxTime: *maxTime, MinRate: *speedLimit, RateWindow: *speedTime}
	if *speedLimit == 0 {
		c.MinRate = -1
	}
	var bar progress
	if !*quiet && isTerminal(e.stderr) {
		c.Progress = bar.show(name)
	}
	ctx, caught, stop := interruptible(context.Background())
	defer stop()
	res, err := e.download(ctx, c, *addr, name, dst, *traceFile, framing)
	bar.finish()
	if s := caught(); s != nil {
		e.errorf("get %s: interrupted", clean(name, maxMessage))
		return exitSignal(s)
	}
	if err != nil {
		e.errorf("get %s: %s", clean(name, maxMessage), describeGet(err, framing))
		var de *ref.DestError
		if errors.As(err, &de) {
			return exitUsage
		}
		return exitFail
	}
	if !*quiet {
		e.report(name, dst, res)
	}
	return exitOK
}

// report says what was saved where: on stdout, or on stderr when the data
// itself went to stdout.
func (e *env) report(name, dst string, res *ref.Result) {
	out, where := e.stdout, "saved to "+clean(dst, maxMessage)
	if dst == "-" || e.isStdout(dst) {
		out, where = e.stderr, "written to stdout"
	}
	fmt.Fprintf(out, "%s: %d bytes, md5 %s, %s\n", clean(name, maxMessage), res.Size, res.Digest, where)
}

// progress is a progress bar on stderr, drawn once the size is known.
type progress struct{ bar *progressbar.ProgressBar }

// show returns a Client.Progress function that draws the bar for name.
func (p *progress) show(name string) func(done, total int64) {
	return func(done, total int64) {
		if p.bar == nil {
			p.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription(clean(name, 60)),
				progressbar.OptionShowBytes(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		p.bar.Set64(done)
	}
}

// finish clears the bar, if one was drawn.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// download fetches name to dst ("-" for stdout), recording the connection
// to traceFile when it is not empty.
func (e *env) download(ctx context.Context, c *ref.Client, addr, name, dst, traceFile string, f spec.Framing) (*ref.Result, error) {
	if dst == "-" {
		w := &countingWriter{w: e.stdout}
		var res *ref.Result
		var err error
		if traceFile == "" {
			res, err = c.Fetch(ctx, addr, name, w)
		} else {
			var rec shape.Recorder
			var size int64
			res, size, err = tracedFetch(ctx, c, addr, name, w, &rec)
			err = errors.Join(err, writeTrace(traceFile, &rec, f, name, size))
		}
		if err != nil && w.n > 0 {
			err = fmt.Errorf("%w (the %d bytes already written to stdout did not verify)", err, w.n)
		}
		return res, err
	}
	if traceFile == "" {
		return c.Get(ctx, addr, name, dst)
	}
	var rec shape.Recorder
	res, size, err := tracedGet(ctx, c, addr, name, dst, &rec)
	if terr := writeTrace(traceFile, &rec, f, name, size); terr != nil {
		return nil, errors.Join(err, fmt.Errorf("writing trace: %w", terr))
	}
	return res, err
}

// tracedFetch fetches name to w over a connection recorded in rec, and
// returns the size announced (-1 if none).
func tracedFetch(ctx context.Context, c *ref.Client, addr, name string, w io.Writer, rec *shape.Recorder) (*ref.Result, int64, error) {
	size := int64(-1)
	cc := *c
	cc.Progress = func(done, total int64) {
		size = total
		if c.Progress != nil {
			c.Progress(done, total)
		}
	}
	nc, err := (&net.Dialer{Timeout: c.Timeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, size, err
	}
	s := cc.NewSession(shape.Record(nc, rec))
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	res, err := s.Fetch(name, w)
	return res, size, err
}

// isStdout reports whether path is the file or device stdout writes to,
// as /dev/stdout is.
func (e *env) isStdout(path string) bool {
	f, ok := e.stdout.(*os.File)
	if !ok {
		return false
	}
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// nameAndOut checks the positional arguments of get and naive-get (exactly
// one NAME, valid on the wire) and returns the name and the output path: out
// if given, else the last element of the slash-separated name plus suffix.
func nameAndOut(pos []string, out, suffix string) (name, dst string, err error) {
	if len(pos) != 1 {
		return "", "", fmt.Errorf("want exactly one NAME, got %d arguments", len(pos))
	}
	name = pos[0]
	if err := spec.ValidateName(name); err != nil {
		return "", "", fmt.Errorf("bad NAME: %v", stripPackages(err.Error()))
	}
	if out != "" {
		return name, out, nil
	}
	base := path.Base(name)
	if base == "." || base == ".." || base == "/" {
		return "", "", fmt.Errorf("cannot derive an output file name from %q: give -o OUT", name)
	}
	return name, base + suffix, nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
