// Package reftest starts the reference server (package
// github.com/stickykit/stickykit/ref) for a test, in the spirit of
// net/http/httptest: on a free loopback port, serving a directory, and
// stopped when the test ends.
//
//	srv := reftest.NewServer(t, "", reftest.Options{Framing: spec.Line})
//	conformance.TestServer(t, conformance.ServerTarget{Addr: srv.Addr, Root: srv.Root, Framing: spec.Line}, conformance.Options{})
//
// [Start] does the same without a test, for a function that starts a fresh
// server on demand (a conformance.ServerFactory).
package reftest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// Options tune a reference server. The zero value serves the lockstep
// framing with the reference server's defaults and logs nothing.
type Options struct {
	Framing spec.Framing
	// Logger, if not nil, receives the server's log (ref.Server.Logger).
	Logger *slog.Logger
	// Configure, if not nil, is called with the server before it starts,
	// to set any other field of ref.Server (timeouts, MaxConns, Debug).
	Configure func(*ref.Server)
}

// Server is a reference server started for a test.
type Server struct {
	Addr string      // host:port it listens on
	Root string      // the directory it serves
	Ref  *ref.Server // the server itself; do not change its fields

	once sync.Once
	stop func() error
	err  error
}

// NewServer starts a reference server serving root on 127.0.0.1:0 and
// stops it when t ends (Close stops it sooner). An empty root serves a
// fresh directory named "root" inside t.TempDir(), so that a test may
// place a file just outside it. A setup error fails t at once; an error
// from the server's Serve fails t when it stops.
func NewServer(t testing.TB, root string, opts Options) *Server {
	t.Helper()
	if root == "" {
		root = filepath.Join(t.TempDir(), "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatalf("reftest: %v", err)
		}
	}
	srv, addr, stop, err := start(context.Background(), root, opts)
	if err != nil {
		t.Fatalf("reftest: %v", err)
	}
	s := &Server{Addr: addr, Root: root, Ref: srv, stop: stop}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("reftest: the reference server's Serve returned %v, want nil", err)
		}
	})
	return s
}

// Close stops the server and waits until it has let go of every
// connection. It returns what the server's Serve returned (nil after a
// clean stop); calling it again returns the same.
func (s *Server) Close() error {
	s.once.Do(func() { s.err = s.stop() })
	return s.err
}

// Start starts a reference server serving root on 127.0.0.1:0 until ctx
// ends or stop is called. stop waits until the server has let go of every
// connection and returns what its Serve returned (nil after a clean stop).
func Start(ctx context.Context, root string, opts Options) (addr string, stop func() error, err error) {
	_, addr, stop, err = start(ctx, root, opts)
	return addr, stop, err
}

func start(ctx context.Context, root string, opts Options) (*ref.Server, string, func() error, error) {
	srv, err := ref.NewServer(root)
	if err != nil {
		return nil, "", nil, err
	}
	srv.Framing = opts.Framing
	srv.Logger = opts.Logger
	if opts.Configure != nil {
		opts.Configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, "", nil, fmt.Errorf("listening on loopback: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stop := func() error {
		cancel()
		err := <-done
		srv.Close()
		return err
	}
	return srv, ln.Addr().String(), stop, nil
}
