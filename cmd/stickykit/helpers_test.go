package main

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// peer plays a server by hand on loopback: play runs for each connection,
// which is closed when it returns. It stops when the test ends.
func peer(t *testing.T, f spec.Framing, play func(c net.Conn, r *spec.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(eventGuard))
				play(c, spec.NewReader(c, f))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// write writes b to c within the event guard.
func write(c net.Conn, b []byte) error {
	c.SetWriteDeadline(time.Now().Add(eventGuard))
	_, err := c.Write(b)
	return err
}

// must fails the test at once when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
