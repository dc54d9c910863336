package main

import (
	"context"
	"errors"
	"flag"
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
logged; their clients see a truncated transfer and keep no file).

Limits, and why each default (SPEC.md, Limits):
  --first-request-timeout 10s  a client sends its request as soon as it has
                connected; a connection that sends nothing costs a peer
                nothing, so it may hold a slot for seconds, not a minute
  --idle-timeout 60s      between requests a client may pause to think
  --max-conns 256         connections served at once (each costs ~12 KiB
                idle, two 256 KiB buffers in a large transfer)
  --max-pending 64        of those, connections that have not yet sent a
                request; at this budget, at --max-conns, and at
                --max-conns-per-addr, a newcomer pushes out the oldest
                connection that has sent nothing (answered "ERR busy"), so a
                crowd of idle connections never locks clients out; only when
                none can go is the newcomer answered "ERR busy"
  --max-conns-per-addr 32 from one IPv4 address or IPv6 /64: one host
                cannot take more than an eighth of the server
  --min-rate 16384 over --rate-window 30s   a client that takes less than
                16 KiB/s of data over a whole window is cut off: holding a
                slot then costs a peer real reading, not a trickle
  --ack-timeout, --write-timeout 30s   bound the wait for the ack and each
                write to a client that has stopped reading
Durations must lie between 1s and 10m (SPEC.md REQ-LIM-9), --grace between
0 and 10m. A connection that never sends a request is logged only with -v;
connections pushed out or refused are counted in one line every 5s at most.`)
	addr := fs.String("addr", defaultAddr, "`address` to listen on; port 0 picks a free port (see --addr-file)")
	root := fs.String("root", ".", "`directory` whose files are served")
	framing := spec.Lockstep
	framingFlag(fs, &framing, "`framing` of control messages: lockstep (the tutorial's bytes) or line (LF-terminated)")
	addrFile := fs.String("addr-file", "", "write the address actually bound to this `file` once listening (for scripts)")
	lim := defineLimits(fs)
	grace := durationFlag(fs, "grace", 10*time.Second, "on SIGINT/SIGTERM, how long (a `duration`) transfers in flight may take to finish")
	verbose := fs.Bool("v", false, "log every connection and request (to stderr)")
	quiet := fs.Bool("q", false, "log only errors")
	digestCache := fs.Bool("digest-cache", true, "remember the MD5 of each version of a file sent whole and send it again without rehashing (SPEC.md REQ-SRV-18); false hashes every transfer")

	digest := spec.DigestMD5
	fs.Var(&digest, "digest", "`digest` after the data: md5 (SPEC.md), or none (the tutorial's first version: the transfer ends with the data)")

	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected argument %q", pos[0])
	}
	if err := lim.check(); err != nil {
		return e.usageErr(fs, "%v", err)
	}
	if err := inRange("grace", *grace, 0, maxTimeout); err != nil {
		return e.usageErr(fs, "%v", err)
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
		e.errorf("serve: %s", describe(err))
		return exitUsage
	}
	defer srv.Close()
	srv.Framing = framing
	srv.Digest = digest
	srv.Logger = logger
	lim.apply(srv)
	srv.DisableDigestCache = !*digestCache

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		e.errorf("serve: %s", describe(err))
		return exitUsage
	}
	if *addrFile != "" {
		if err := writeAddrFile(*addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			e.errorf("serve: %s", describe(err))
			return exitUsage
		}
	}
	logger.Info("serving", "root", *root)
	return e.serveUntilSignal(srv, ln, logger, *grace)
}

// serveUntilSignal serves ln with srv until SIGINT or SIGTERM, then shuts
// down with the grace period, and returns the exit status.
func (e *env) serveUntilSignal(srv *ref.Server, ln net.Listener, logger *slog.Logger, grace time.Duration) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()

	select {
	case err := <-served:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			e.errorf("serve: %s", describe(err))
			return exitFail
		}
		return exitOK
	case <-ctx.Done():
	}
	stop()
	logger.Info("shutting down", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("shutdown: transfers cut off", "err", err)
	}
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		e.errorf("serve: %s", describe(err))
		return exitFail
	}
	fmt.Fprintln(e.stderr, "stickykit: server stopped")
	return exitOK
}

// The range of every timeout of serve (SPEC.md REQ-LIM-9).
const (
	minTimeout = time.Second
	maxTimeout = 10 * time.Minute
)

// limits are serve's flags for the server's limits and timeouts.
type limits struct {
	maxConns, maxPending, perAddr   *int
	first, idle, ack, write, window *time.Duration
	minRate                         *int64
}

func defineLimits(fs *flag.FlagSet) *limits {
	return &limits{
		maxConns:   fs.Int("max-conns", ref.DefaultMaxConns, "most connections served at once, `N`"),
		maxPending: fs.Int("max-pending", ref.DefaultMaxPending, "most connections at once that have not yet sent a request (`N`)"),
		perAddr:    fs.Int("max-conns-per-addr", ref.DefaultMaxConnsPerAddr, "most connections at once from one address, `N` (0: no limit)"),
		first:      durationFlag(fs, "first-request-timeout", ref.DefaultFirstRequestTimeout, "close a new connection that sends no request within this `duration`"),
		idle:       durationFlag(fs, "idle-timeout", ref.DefaultIdleTimeout, "close a connection that sends no further request within this `duration`"),
		ack:        durationFlag(fs, "ack-timeout", ref.DefaultAckTimeout, "close a connection whose ack does not come within this `duration` of the size"),
		write:      durationFlag(fs, "write-timeout", ref.DefaultWriteTimeout, "close a connection when one write does not complete within this `duration`"),
		minRate:    fs.Int64("min-rate", ref.DefaultServerMinRate, "cut off a client that takes fewer `bytes` per second of data over a whole --rate-window (0: no floor)"),
		window:     durationFlag(fs, "rate-window", ref.DefaultServerRateWindow, "the `duration` over which --min-rate is judged"),
	}
}

// check returns a usage error for the first flag out of its range.
func (l *limits) check() error {
	for _, err := range []error{
		inRange("max-conns", *l.maxConns, 1, 1<<20),
		inRange("max-pending", *l.maxPending, 1, 1<<20),
		inRange("max-conns-per-addr", *l.perAddr, 0, 1<<20),
		inRange("first-request-timeout", *l.first, minTimeout, maxTimeout),
		inRange("idle-timeout", *l.idle, minTimeout, maxTimeout),
		inRange("ack-timeout", *l.ack, minTimeout, maxTimeout),
		inRange("write-timeout", *l.write, minTimeout, maxTimeout),
		inRange("min-rate", *l.minRate, 0, 1<<40),
		inRange("rate-window", *l.window, minTimeout, maxTimeout),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// apply sets the limits on srv (0 turns the per-address limit and the
// minimum rate off).
func (l *limits) apply(srv *ref.Server) {
	srv.MaxConns, srv.MaxPending, srv.MaxConnsPerAddr = *l.maxConns, *l.maxPending, *l.perAddr
	if *l.perAddr == 0 {
		srv.MaxConnsPerAddr = -1
	}
	srv.FirstRequestTimeout, srv.IdleTimeout, srv.AckTimeout, srv.WriteTimeout = *l.first, *l.idle, *l.ack, *l.write
	srv.MinRate, srv.RateWindow = *l.minRate, *l.window
	if *l.minRate == 0 {
		srv.MinRate = -1
	}
}
