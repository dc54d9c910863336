package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

const defaultAddr = "127.0.0.1:8888"

func runServe(e *env, args []string) int {
	fs := e.newFlags("serve", "[flags]", `
Serve the regular files under --root to any client of the exchange (SPEC.md),
until interrupted. Names are confined to the root: "..", absolute paths and
symlinks that leave it are refused with "ERR forbidden". A missing file gets
"ERR not-found", never silence. On SIGINT or SIGTERM the server stops
accepting, lets transfers in flight finish for up to --grace, then closes
and exits 0 (transfers still running when the grace ends are cut off and
logged; their clients see a truncated transfer and keep no file).`)
	addr := fs.String("addr", defaultAddr, "`address` to listen on; port 0 picks a free port (see --addr-file)")
	root := fs.String("root", ".", "`directory` whose files are served")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "`framing` of control messages: lockstep (the tutorial's bytes) or line (LF-terminated)")
	addrFile := fs.String("addr-file", "", "write the address actually bound to this `file` once listening (for scripts)")
	maxConns := fs.Int("max-conns", ref.DefaultMaxConns, "most connections served at once; more get \"ERR busy\"")
	idle := fs.Duration("idle-timeout", ref.DefaultIdleTimeout, "close a connection that sends no request for this `long`")
	grace := fs.Duration("grace", 10*time.Second, "on SIGINT/SIGTERM, how `long` transfers in flight may take to finish")
	verbose := fs.Bool("v", false, "log every connection and request (to stderr)")
	quiet := fs.Bool("q", false, "log only errors")

	digest := spec.DigestMD5
	fs.Var(&digest, "digest", "`digest` after the data: md5 (SPEC.md), or none (the tutorial's first version: the transfer ends with the data)")

	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected argument %q", pos[0])
	}
	if *maxConns < 1 {
		return e.usageErr(fs, "--max-conns must be at least 1")
	}

	level := slog.LevelInfo
	switch {
	case *verbose:
		level = slog.LevelDebug
	case *quiet:
		level = slog.LevelError
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	srv, err := ref.NewServer(*root)
	if err != nil {
		e.errorf("serve: %v", err)
		return exitUsage
	}
	defer srv.Close()
	srv.Framing = framing
	srv.Digest = digest
	srv.Logger = logger
	srv.MaxConns = *maxConns
	srv.IdleTimeout = *idle

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		e.errorf("serve: %v", err)
		return exitUsage
	}
	bound := ln.Addr().String()
	if *addrFile != "" {
		if err := writeAddrFile(*addrFile, bound); err != nil {
			ln.Close()
			e.errorf("serve: %v", err)
			return exitUsage
		}
	}
	logger.Info("serving", "root", *root)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()

	select {
	case err := <-served:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			e.errorf("serve: %v", err)
			return exitFail
		}
		return exitOK
	case <-ctx.Done():
	}
	stop()
	logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown: transfers cut off", "err", err)
	}
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		e.errorf("serve: %v", err)
		return exitFail
	}
	fmt.Fprintln(e.stderr, "stickykit: server stopped")
	return exitOK
}
