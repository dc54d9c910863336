package conformance_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// RunServer checks any server reachable over TCP; here, the reference
// server on a free loopback port.
func ExampleRunServer() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	srv, _ := ref.NewServer(root)
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	results := conformance.RunServer(ctx, conformance.ServerTarget{
		Addr:    ln.Addr().String(),
		Root:    root, // the kit writes its fixtures here, and removes them
		Framing: spec.Lockstep,
	}, conformance.Options{Run: regexp.MustCompile(`^server/(sizes|missing-file|split-request)$`)})
	for _, r := range results {
		fmt.Println(r.Case.ID, r.Outcome.Verdict)
	}
	// Output:
	// server/missing-file PASS
	// server/sizes PASS
	// server/split-request HAZARD
}

// TestClient runs every client case as a subtest of a test of yours; the
// client under test is any function that fetches name from addr into out
// (or, with ClientTarget.Command, any program).
func ExampleTestClient() {
	// In a _test.go file: func TestMyClient(t *testing.T) { ... }
	testMyClient := func(t *testing.T) {
		conformance.TestClient(t, conformance.ClientTarget{
			Framing: spec.Line,
			Func: func(ctx context.Context, addr, name, out string) error {
				c := &ref.Client{Framing: spec.Line}
				_, err := c.Get(ctx, addr, name, out)
				return err
			},
		}, conformance.Options{})
	}
	_ = testMyClient
}
