package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/shape"
)

// coalesceMax is the most bytes --coalesce holds for one direction of one
// connection: a segment is released when it reaches this size, or when the
// sender has been quiet for --quiet. Large enough that a file's tail and
// its digest usually arrive together, small enough that a thousand
// connections cannot make the relay hold gigabytes.
const coalesceMax = 64 << 10

// direction is the shaping of one direction of a relayed connection.
type direction struct {
	name     string // "down" (server to client) or "up" (client to server)
	prefix   string // of its flags: "" or "up-"
	fragment string // plan text for shape.ParsePlan, "" for none
	delay    time.Duration
	coalesce bool
	cut      int64 // -1 for none
	reset    int64
	stall    int64

	plan shape.Plan
}

func (d *direction) flags(fs *flag.FlagSet, prefix, what string) {
	d.prefix = prefix
	fs.StringVar(&d.fragment, prefix+"fragment", "", "cut every write "+what+" into segments by `PLAN`: N (fixed N bytes), fixed:N, sizes:A,B,C or random:SEED:MIN:MAX")
	fs.Var((*durationValue)(&d.delay), prefix+"delay", "pause for this `duration` between the segments "+what+" (default 2ms with --"+prefix+"fragment, so they usually reach the peer's reads apart)")
	fs.BoolVar(&d.coalesce, prefix+"coalesce", false, "hold the bytes "+what+" until the sender goes quiet (see --quiet) or 64 KiB are held, then deliver them as one segment")
	fs.Int64Var(&d.cut, prefix+"cut", -1, "deliver `N` bytes "+what+", then close the connection")
	fs.Int64Var(&d.reset, prefix+"reset", -1, "deliver `N` bytes "+what+", then reset the connection (RST)")
	fs.Int64Var(&d.stall, prefix+"stall", -1, "deliver `N` bytes "+what+", then deliver nothing more (the peer's deadline fires)")
}

func (d *direction) check() error {
	if d.fragment != "" {
		text := d.fragment
		if _, err := fmt.Sscanf(text, "%d", new(int)); err == nil && !containsColon(text) {
			text = "fixed:" + text
		}
		p, err := shape.ParsePlan(text)
		if err != nil {
			return fmt.Errorf("--%sfragment: %s", d.prefix, stripPackages(err.Error()))
		}
		d.plan = p
		if d.delay == 0 {
			d.delay = 2 * time.Millisecond
		}
	}
	if d.fragment != "" && d.coalesce {
		return fmt.Errorf("--%sfragment and --%scoalesce exclude each other", d.prefix, d.prefix)
	}
	if err := inRange(d.prefix+"delay", d.delay, 0, time.Minute); err != nil {
		return err
	}
	n := 0
	for _, v := range []int64{d.cut, d.reset, d.stall} {
		if v >= 0 {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("choose one of --%[1]scut, --%[1]sreset and --%[1]sstall", d.prefix)
	}
	return nil
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// wrap returns the sink conn for this direction: c shaped as configured.
func (d *direction) wrap(c net.Conn) net.Conn {
	switch {
	case d.cut >= 0:
		c = shape.Cut(c, d.cut)
	case d.reset >= 0:
		c = shape.Reset(c, d.reset)
	case d.stall >= 0:
		c = shape.Stall(c, d.stall)
	}
	switch {
	case d.plan != nil:
		c = shape.FragmentPaced(c, d.plan, d.delay)
	case d.coalesce:
		c = shape.Coalesce(c, shape.Fixed(coalesceMax))
	}
	return c
}

func (d *direction) String() string {
	s := ""
	add := func(f string, a ...any) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf(f, a...)
	}
	if d.plan != nil {
		add("fragment %v every %v", d.plan, d.delay)
	}
	if d.coalesce {
		add("coalesce")
	}
	if d.cut >= 0 {
		add("cut after %d bytes", d.cut)
	}
	if d.reset >= 0 {
		add("reset after %d bytes", d.reset)
	}
	if d.stall >= 0 {
		add("stall after %d bytes", d.stall)
	}
	if s == "" {
		return "as is"
	}
	return s
}

func runProxy(e *env, args []string) int {
	fs := e.newFlags("proxy", "--listen ADDR --to ADDR [shaping flags]", `
Relay TCP connections from --listen to --to, reshaping the byte stream on the
way, so that the sticky-packet and half-packet bugs show between any two
programs. The flags without a prefix shape the "down" direction (server to
client), where the bugs live; the same flags with "up-" shape client to
server. The relay knows nothing of the protocol: it cuts and joins bytes.

Examples:
  # the file's tail and the digest arrive together: the naive client fails
  stickykit proxy --listen 127.0.0.1:9999 --to 127.0.0.1:8888 --coalesce
  # 16-byte segments, 100ms apart: the digest arrives split
  stickykit proxy --listen 127.0.0.1:9999 --to 127.0.0.1:8888 --fragment 16 --delay 100ms

Over TCP a segment boundary is a strong hint, never a guarantee: a reader
that falls behind receives several segments in one read.`)
	listen := fs.String("listen", "", "`address` to accept clients on (port 0 picks a free port; see --addr-file)")
	to := fs.String("to", "", "server `address` to relay to")
	addrFile := fs.String("addr-file", "", "write the address actually bound to this `file` once listening")
	quiet := durationFlag(fs, "quiet", 50*time.Millisecond, "with --coalesce, release held bytes after the sender has been quiet for this `duration`")
	idle := durationFlag(fs, "idle-timeout", 2*time.Minute, "close a relayed connection when neither side has sent anything for this `duration`")
	maxConns := fs.Int("max-conns", defaultProxyConns, "relay at most `N` connections at once; more are closed at once")
	verbose := fs.Bool("v", false, "log each connection and its byte counts")
	down := &direction{name: "down"}
	up := &direction{name: "up"}
	down.flags(fs, "", "from the server to the client")
	up.flags(fs, "up-", "from the client to the server")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageErr(fs, "unexpected argument %q", pos[0])
	}
	if *listen == "" || *to == "" {
		return e.usageErr(fs, "both --listen and --to are required")
	}
	for _, err := range []error{
		down.check(), up.check(),
		inRange("quiet", *quiet, time.Millisecond, time.Minute),
		inRange("idle-timeout", *idle, time.Second, time.Hour),
		inRange("max-conns", *maxConns, 1, 1<<20),
	} {
		if err != nil {
			return e.usageErr(fs, "%v", err)
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		e.errorf("proxy: %s", describe(err))
		return exitUsage
	}
	if *addrFile != "" {
		if err := writeAddrFile(*addrFile, ln.Addr().String()); err != nil {
			ln.Close()
			e.errorf("proxy: %s", describe(err))
			return exitUsage
		}
	}
	log.Info("relaying", "listen", ln.Addr().String(), "to", *to, "down", down.String(), "up", up.String(), "max_conns", *maxConns)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &proxy{to: *to, down: down, up: up, quiet: *quiet, idle: *idle, maxConns: *maxConns, log: log}
	if err := p.serve(ctx, ln); err != nil {
		e.errorf("proxy: %s", describe(err))
	}
	fmt.Fprintln(e.stderr, "stickykit: proxy stopped")
	return exitOK
}

// defaultProxyConns is the default of --max-conns. Each relayed connection
// holds at most two 32 KiB copy buffers and, with --coalesce, 64 KiB per
// shaped direction: 256 connections stay within about 50 MiB.
const defaultProxyConns = 256

type proxy struct {
	to          string
	down, up    *direction
	quiet, idle time.Duration
	maxConns    int
	log         *slog.Logger
}

// serve relays every connection ln accepts until ctx is done, then closes
// them all and waits for them. It returns the error that made Accept fail,
// if ctx was not done.
func (p *proxy) serve(ctx context.Context, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := make(map[net.Conn]struct{}) // relayed now: closed on shutdown
	var refused int
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = aerr
			}
			break
		}
		mu.Lock()
		if len(conns) >= p.maxConns {
			mu.Unlock()
			c.Close() // the relay knows no protocol to say "busy" in
			if refused++; refused == 1 || refused%100 == 0 {
				p.log.Warn("connection closed: at --max-conns", "max_conns", p.maxConns, "closed_so_far", refused)
			}
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Go(func() {
			p.relay(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		})
	}
	ln.Close()
	mu.Lock()
	for c := range conns {
		c.Close()
	}
	mu.Unlock()
	wg.Wait()
	return err
}

// relay serves one client connection: it dials the server and copies both
// directions, each through its shaping, until both have ended.
func (p *proxy) relay(client net.Conn) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.to, 10*time.Second)
	if err != nil {
		p.log.Warn("cannot reach the server", "to", p.to, "err", err)
		return
	}
	defer server.Close()
	for _, c := range []net.Conn{client, server} {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
	}
	toClient := p.down.wrap(client)
	toServer := p.up.wrap(server)
	var wg sync.WaitGroup
	var nDown, nUp int64
	act := &activity{}
	act.touch()
	wg.Add(2)
	go func() {
		defer wg.Done()
		nDown = p.copy(toClient, client, server, p.down, act)
	}()
	go func() {
		defer wg.Done()
		nUp = p.copy(toServer, server, client, p.up, act)
	}()
	wg.Wait()
	toClient.Close()
	toServer.Close()
	p.log.Debug("connection done", "client", client.RemoteAddr().String(), "down_bytes", nDown, "up_bytes", nUp)
}

// activity is when either direction of a relayed connection last moved a
// byte: the idle timeout counts from it, so a download whose client says
// nothing for minutes is not cut while its data flows.
type activity struct{ last atomic.Int64 } // Unix nanoseconds

func (a *activity) touch()           { a.last.Store(time.Now().UnixNano()) }
func (a *activity) since() time.Time { return time.Unix(0, a.last.Load()) }

// copy relays src to dst (dst wraps dstRaw) until src ends, then half-closes
// dstRaw so the peer sees the end of stream. It returns the bytes relayed.
// Its reads wait at most until the connection has been idle, in both
// directions, for p.idle.
func (p *proxy) copy(dst, dstRaw, src net.Conn, d *direction, act *activity) int64 {
	buf := make([]byte, 32<<10)
	var total int64
	held := false
	flusher, _ := dst.(shape.Flusher)
	for {
		deadline := act.since().Add(p.idle)
		if held {
			deadline = time.Now().Add(p.quiet)
		}
		src.SetReadDeadline(deadline)
		n, err := src.Read(buf)
		if n > 0 {
			act.touch()
			total += int64(n)
			dst.SetWriteDeadline(time.Now().Add(p.idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return total
			}
			held = d.coalesce
		}
		var ne net.Error
		isTimeout := err != nil && errors.As(err, &ne) && ne.Timeout()
		if isTimeout && held {
			// The sender went quiet: deliver what is held as one segment.
			if flusher != nil {
				flusher.Flush()
			}
			held = false
			continue
		}
		if isTimeout && time.Since(act.since()) < p.idle {
			continue // the other direction moved meanwhile
		}
		if err != nil {
			if flusher != nil {
				flusher.Flush()
			}
			if !errors.Is(err, io.EOF) {
				// Idle in both directions, or a reset: end both.
				dstRaw.Close()
				src.Close()
				return total
			}
			if tc, ok := dstRaw.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return total
		}
	}
}

// writeAddrFile writes addr to file atomically, so a reader never sees a
// partial address.
func writeAddrFile(file, addr string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
