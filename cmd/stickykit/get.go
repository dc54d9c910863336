package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path"
	"syscall"
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
file is written to a temporary file beside OUT and renamed into place only
when the digest matches: on any failure (error reply, truncated data, digest
mismatch, timeout) nothing is left at OUT and the exit status is 1. A
progress bar is shown on stderr when stderr is a terminal.`)
	addr := fs.String("addr", defaultAddr, "server `address` (host:port)")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "`framing` of control messages: lockstep (the tutorial's bytes) or line (LF-terminated)")
	out := fs.String("o", "", "write the file to `OUT` (default: the last element of NAME, in the current directory)")
	timeout := fs.Duration("timeout", ref.DefaultTimeout, "give up when the server is silent this `long` (per read or write)")
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

	c := &ref.Client{Framing: framing, Digest: digest, Timeout: *timeout}
	var bar *progressbar.ProgressBar
	if !*quiet && isTerminal(e.stderr) {
		c.Progress = func(done, total int64) {
			if bar == nil {
				bar = progressbar.NewOptions64(total,
					progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription(name),
					progressbar.OptionShowBytes(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
				)
			}
			bar.Set64(done)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var res *ref.Result
	if *traceFile == "" {
		res, err = c.Get(ctx, *addr, name, dst)
	} else {
		var rec shape.Recorder
		var size int64
		res, size, err = tracedGet(ctx, c, *addr, name, dst, &rec)
		if terr := writeTrace(*traceFile, &rec, framing, name, size); terr != nil {
			e.errorf("get %s: writing trace: %v", name, terr)
			if err == nil {
				return exitFail
			}
		}
	}
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		e.errorf("get %s: %v", name, err)
		return exitFail
	}
	if !*quiet {
		fmt.Fprintf(e.stdout, "%s: %d bytes, md5 %s, saved to %s\n", name, res.Size, res.Digest, dst)
	}
	return exitOK
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
		return "", "", fmt.Errorf("bad NAME: %v", err)
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
