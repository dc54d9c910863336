package bench_test

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
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/internal/testenv"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// childEnv makes the test binary act as a server or a client process for
// TestRSS and TestCompare instead of running the tests.
const childEnv = "STICKYKIT_BENCH_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "serve":
		os.Exit(childServe(os.Args[1:]))
	case "get":
		os.Exit(childGet(os.Args[1:]))
	case "fetch":
		os.Exit(childFetch(os.Args[1:]))
	}
	// The children measured run without the race detector's pause at
	// exit (internal/testenv).
	undo := testenv.Prepare()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { undo(); os.Exit(code) }))
}

// childServe serves like "stickykit serve" until SIGTERM.
func childServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	root := fs.String("root", "", "")
	addrFile := fs.String("addr-file", "", "")
	maxConns := fs.Int("max-conns", 0, "")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "")
	if fs.Parse(args) != nil {
		return 2
	}
	srv, err := ref.NewServer(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer srv.Close()
	srv.Framing, srv.MaxConns = framing, *maxConns
	srv.MaxPending, srv.MaxConnsPerAddr = *maxConns, -1 // every connection comes from 127.0.0.1
	srv.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	tmp := *addrFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()+"\n"), 0o644); err != nil || os.Rename(tmp, *addrFile) != nil {
		fmt.Fprintln(os.Stderr, "cannot write the address file")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// childGet downloads like "stickykit get".
func childGet(args []string) int {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	out := fs.String("o", "", "")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		return 2
	}
	c := &ref.Client{Framing: framing}
	if _, err := c.Get(context.Background(), *addr, fs.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// childFetch downloads like "stickykit bench"'s fetch child: the data to
// standard output, exit 0 only when the digest matched.
func childFetch(args []string) int {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	addr := fs.String("addr", "", "")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "")
	if fs.Parse(args) != nil || fs.NArg() != 1 {
		return 2
	}
	nc, err := net.Dial("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s := (&ref.Client{Framing: framing}).NewSession(nc)
	defer s.Close()
	if _, err := s.Fetch(fs.Arg(0), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
