package main

import (
	"context"
	"fmt"
	"net"
	"os"
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
		if err == nil {
			variant = v
		}
		return err
	})
	addr := fs.String("addr", defaultAddr, "server `address` (host:port)")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "`framing` of control messages: lockstep or line")
	out := fs.String("o", "", "write what was read to `OUT` (default: the last element of NAME plus \".new\", as the tutorial did)")
	timeout := fs.Duration("timeout", ref.DefaultTimeout, "give up when the server is silent this `long` before the body is complete")
	wait := fs.Duration("digest-wait", time.Second, "how `long` the single digest read waits (the tutorial's client waited forever)")
	traceFile := fs.String("trace", "", "record every read and write of the connection to `FILE` as JSON (a stickykit demo trace)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	name, dst, err := nameAndOut(pos, *out, ".new")
	if err != nil {
		return e.usageErr(fs, "%v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", *addr)
	cancel()
	if err != nil {
		e.errorf("naive-get %s: %v", name, err)
		return exitFail
	}
	defer conn.Close()
	var rec shape.Recorder
	if *traceFile != "" {
		conn = shape.Record(conn, &rec)
	}
	f, err := os.Create(dst)
	if err != nil {
		e.errorf("naive-get %s: %v", name, err)
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
			e.errorf("naive-get %s: writing trace: %v", name, terr)
			if err == nil {
				return exitFail
			}
		}
	}
	if err != nil {
		e.errorf("naive-get %s: %v", name, err)
		return exitFail
	}
	server := res.Server
	if server == "" {
		server = "(nothing arrived)"
	}
	fmt.Fprintf(e.stdout, "variant  %s\n", variant)
	fmt.Fprintf(e.stdout, "size     %d bytes announced\n", res.Size)
	fmt.Fprintf(e.stdout, "written  %d bytes to %s\n", res.Written, dst)
	fmt.Fprintf(e.stdout, "local    %s  (MD5 of what was written)\n", res.Local)
	fmt.Fprintf(e.stdout, "server   %s  (what the digest read returned)\n", server)
	if res.Match {
		fmt.Fprintf(e.stdout, "result   digests match\n")
		return exitOK
	}
	fmt.Fprintf(e.stdout, "result   MISMATCH: %s\n", explainNaive(res))
	return exitFail
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
