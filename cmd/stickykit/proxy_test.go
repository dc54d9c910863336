package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// sinkConn is a net.Conn that counts what is written to it and nothing
// else: what a shaping wrapper has released.
type sinkConn struct {
	net.Conn
	mu sync.Mutex
	n  int
}

func (c *sinkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += len(p)
	return len(p), nil
}

func (c *sinkConn) written() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *sinkConn) SetWriteDeadline(time.Time) error { return nil }
func (c *sinkConn) SetDeadline(time.Time) error      { return nil }
func (c *sinkConn) Close() error                     { return nil }

// TestProxyCoalesceBounded: with --coalesce the relay never holds more than
// coalesceMax bytes of one direction, however much the sender sends without
// a pause (it used to hold up to 1 GiB per connection).
func TestProxyCoalesceBounded(t *testing.T) {
	d := &direction{name: "down", coalesce: true, cut: -1, reset: -1, stall: -1}
	must(t, d.check())
	sink := &sinkConn{}
	c := d.wrap(sink)
	chunk := make([]byte, 32<<10)
	var in, maxHeld int
	for range 64 { // 2 MiB, as fast as the relay's reads would come
		n, err := c.Write(chunk)
		must(t, err)
		in += n
		held := in - sink.written()
		maxHeld = max(maxHeld, held)
		if held >= coalesceMax {
			t.Fatalf("after %d bytes the relay holds %d, want less than %d", in, held, coalesceMax)
		}
	}
	t.Logf("%d bytes written, at most %d held", in, maxHeld)
}

// echoServer echoes each connection back until the test ends, and counts
// the connections it accepted.
func echoServer(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 100)
	addr = peer(t, spec.Lockstep, func(c net.Conn, _ *spec.Reader) {
		ch <- struct{}{}
		io.Copy(c, c)
	})
	return addr, ch
}

// startProxy relays to addr until the test ends.
func startProxy(t *testing.T, to string, idle time.Duration, maxConns int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	p := &proxy{to: to, down: &direction{name: "down", cut: -1, reset: -1, stall: -1},
		up: &direction{name: "up", cut: -1, reset: -1, stall: -1}, quiet: 50 * time.Millisecond,
		idle: idle, maxConns: maxConns, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// roundTrip writes b to c and reads it back from the echo server.
func roundTrip(c net.Conn, b []byte) error {
	c.SetDeadline(time.Now().Add(eventGuard))
	if _, err := c.Write(b); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, len(b)))
	return err
}

// TestProxyMaxConns: past --max-conns the relay closes a newcomer at once,
// without dialing the server; once a relayed connection ends, a newcomer is
// relayed again.
func TestProxyMaxConns(t *testing.T) {
	verifyNoLeaks(t)
	echo, accepted := echoServer(t)
	addr := startProxy(t, echo, time.Minute, 2)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		defer c.Close()
		must(t, roundTrip(c, []byte("ping")))
		<-accepted
		held = append(held, c)
	}
	extra, err := net.Dial("tcp", addr)
	must(t, err)
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(eventGuard))
	if n, err := extra.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Errorf("third connection: read %d, %v; want it closed at once", n, err)
	}
	select {
	case <-accepted:
		t.Errorf("the relay dialed the server for a connection over --max-conns")
	default:
	}
	held[0].Close()
	// The slot frees when the relay notices; a newcomer then is relayed.
	for attempt := 1; ; attempt++ {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		err = roundTrip(c, []byte("ping"))
		c.Close()
		if err == nil {
			break
		}
		if attempt == 1000 {
			t.Fatalf("after a relayed connection ended, no newcomer relayed in %d attempts: %v", attempt, err)
		}
	}
}

// TestProxyIdleCountsBothDirections: the idle timeout counts both
// directions together. The server side sends a byte at a time, each only
// after the client has the one before, for more than three idle timeouts,
// while the client sends nothing: the relay must not cut the connection
// (it used to, because the client's direction was silent). Each gap the
// relay sees is shorter than one the test measures, from a byte's write
// to the next byte's arrival; if one of those reaches the idle timeout
// (a starved machine), the run proves nothing and the test says so
// instead of failing. Then a connection silent both ways is cut.
func TestProxyIdleCountsBothDirections(t *testing.T) {
	verifyNoLeaks(t)
	const idle = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	addr := startProxy(t, ln.Addr().String(), idle, 10)

	prev := time.Now() // the relay's idle time counts from after this
	client, err := net.Dial("tcp", addr)
	must(t, err)
	defer client.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(eventGuard))
	server, err := ln.Accept()
	must(t, err)
	defer server.Close()

	// worst bounds every gap the relay saw: byte k reaches the client
	// after the relay read it, and the relay read byte k-1 after the test
	// wrote it.
	var worst time.Duration
	began := time.Now()
	cut := func(what string, err error) {
		t.Helper()
		if worst >= idle {
			t.Skipf("a gap of %v, beyond the idle timeout %v: this run proves nothing (%v)", worst, idle, err)
		}
		t.Fatalf("after %v of data one way only (gaps at most %v, idle timeout %v), %s: %v",
			time.Since(began).Round(time.Millisecond), worst, idle, what, err)
	}
	b := make([]byte, 1)
	for time.Since(began) < 3*idle+idle/2 {
		w := time.Now()
		must(t, write(server, []byte("x")))
		client.SetReadDeadline(time.Now().Add(eventGuard))
		_, err := io.ReadFull(client, b)
		worst = max(worst, time.Since(prev))
		prev = w
		if err != nil {
			cut("the relay cut the connection", err)
		}
	}
	// Both directions still work.
	worst = max(worst, time.Since(prev))
	if err := write(client, []byte("y")); err != nil {
		cut("the client could not send", err)
	}
	server.SetReadDeadline(time.Now().Add(eventGuard))
	if _, err := io.ReadFull(server, b); err != nil {
		cut("the client's first byte did not reach the server", err)
	}
	// Silent both ways: cut.
	client.SetReadDeadline(time.Now().Add(eventGuard))
	if _, err := client.Read(b); err == nil {
		t.Errorf("read a byte from a connection silent both ways, want it cut")
	}
}
