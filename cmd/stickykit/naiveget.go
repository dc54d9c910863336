package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

func runNaiveGet(e *env, args []string) int {
	fs := e.newFlags("naive-get", "[flags] NAME", `
Download NAME the way the tutorial's clients did, to show the sticky-packet
bug. It writes whatever its reads returned to OUT (even when that is wrong,
as the tutorial did), then prints the announced size, the bytes written, the
MD5 of what it wrote and the digest its single digest read returned. The
exit status is 1 when the two digests differ.

OUT is written in place, as the tutorial did: a new file gets 0666 less the
umask, an existing regular file is truncated and keeps its mode, a device
or FIFO is written to (never replaced). A directory, a path whose directory
does not exist, a dangling symbolic link and a socket are refused before
connecting (exit status 2).

Variants:
  naive    recv(1024) until at least SIZE bytes have arrived: when the file's
           tail and the digest arrive together, the digest is written as file
           data (the sticky packet, 粘包).
  article  the tutorial's fix: recv(min(1024, remaining)), then ONE recv(1024)
           for the digest: correct data, but a digest that arrives split is
           read in part (the half packet, 半包).`)
	variant := naive.Naive
	fs.Func("variant", "client `variant`: naive or article (default naive)", func(s string) error {
		v, err := naive.ParseVariant(s)
		if err != nil {
			return errors.New(stripPackages(err.Error()))
		}
		variant = v
		return nil
	})
	addr := fs.String("addr", defaultAddr, "server `address` (host:port)")
	framing := spec.Lockstep
	framingFlag(fs, &framing, "`framing` of control messages: lockstep or line")
	out := fs.String("o", "", "write what was read to `OUT` (default: the last element of NAME plus \".new\", as the tutorial did)")
	timeout := durationFlag(fs, "timeout", ref.DefaultTimeout, "give up when the server is silent for this `duration` before the body is complete")
	wait := durationFlag(fs, "digest-wait", time.Second, "how long (a `duration`) the single digest read waits (the tutorial's client waited forever)")
	traceFile := fs.String("trace", "", "record every read and write of the connection to `FILE` as JSON (a stickykit demo trace)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	name, dst, err := nameAndOut(pos, *out, ".new")
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}
	for _, err := range []error{
		inRange("timeout", *timeout, time.Millisecond, 24*time.Hour),
		inRange("digest-wait", *wait, time.Millisecond, 24*time.Hour),
	} {
		if err != nil {
			return e.usageErr(fs, "%v", err)
		}
	}
	qname := clean(name, maxMessage)
	if err := ref.CheckDest(dst); err != nil {
		e.errorf("naive-get %s: %s", qname, describe(err))
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", *addr)
	cancel()
	if err != nil {
		e.errorf("naive-get %s: %s", qname, describe(err))
		return exitFail
	}
	defer conn.Close()
	var rec shape.Recorder
	if *traceFile != "" {
		conn = shape.Record(conn, &rec)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOCTTY, 0o666)
	if err != nil {
		e.errorf("naive-get %s: %s", qname, describe(err))
		return exitFail
	}
	c := &naive.Client{Variant: variant, Framing: framing, Timeout: *timeout, DigestWait: *wait}
	res, err := c.Get(conn, name, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if *traceFile != "" {
		size := res.Size
		if err != nil && size == 0 && res.Written == 0 {
			size = -1 // no size arrived
		}
		if terr := writeTrace(*traceFile, &rec, framing, name, size); terr != nil {
			e.errorf("naive-get %s: writing trace: %s", qname, describe(terr))
			if err == nil {
				return exitFail
			}
		}
	}
	if err != nil {
		e.errorf("naive-get %s: %s", qname, describe(err))
		return exitFail
	}
	return e.printNaive(variant, dst, res)
}

// printNaive prints what a naive download did, and returns 0 when the
// digests match, 1 when they differ.
func (e *env) printNaive(variant naive.Variant, dst string, res *naive.Result) int {
	server := res.Server
	switch {
	case server == "":
		server = "(nothing arrived)"
	case !isHex(server):
		// Whatever the read returned, quoted: it may hold any bytes.
		server = strconv.Quote(server[:min(len(server), maxPeerText)])
	}
	fmt.Fprintf(e.stdout, "variant  %s\n", variant)
	fmt.Fprintf(e.stdout, "size     %d bytes announced\n", res.Size)
	fmt.Fprintf(e.stdout, "written  %d bytes to %s\n", res.Written, clean(dst, maxMessage))
	fmt.Fprintf(e.stdout, "local    %s  (MD5 of what was written)\n", res.Local)
	fmt.Fprintf(e.stdout, "server   %s  (what the digest read returned)\n", server)
	if res.Match {
		fmt.Fprintf(e.stdout, "result   digests match\n")
		return exitOK
	}
	fmt.Fprintf(e.stdout, "result   MISMATCH: %s\n", explainNaive(res))
	return exitFail
}

// isHex reports whether s is all lowercase hex digits.
func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// explainNaive says in one sentence why a naive transfer went wrong.
func explainNaive(r *naive.Result) string {
	switch {
	case r.Written > r.Size:
		return fmt.Sprintf("%d bytes more than the size were written: the last body read took digest bytes as file data (sticky packet)", r.Written-r.Size)
	case len(r.Server) > 0 && len(r.Server) < spec.DigestLen:
		return fmt.Sprintf("the digest read returned %d of %d bytes: the digest arrived split (half packet)", len(r.Server), spec.DigestLen)
	case r.Server == "":
		return "no digest arrived"
	default:
		return "the data differs from what the server hashed"
	}
}
