package conformance_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// RunServer checks any server reachable over TCP; here, the reference
// server on a free loopback port.
func ExampleRunServer() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	addr, stop, _ := reftest.Start(context.Background(), root, reftest.Options{})
	defer stop()

	results := conformance.RunServer(context.Background(), conformance.ServerTarget{
		Addr:    addr,
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

// Without a root, the kit checks a server it cannot write to (on another
// host, in a container): the cases that need no fixture run, the others
// are a SKIP that says why, and server/named-files checks the files the
// server is known to serve.
func ExampleRunServer_remote() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	os.WriteFile(filepath.Join(root, "report.pdf"), []byte("%PDF-1.7 ..."), 0o644)
	addr, stop, _ := reftest.Start(context.Background(), root, reftest.Options{})
	defer stop()

	results := conformance.RunServer(context.Background(), conformance.ServerTarget{
		Addr:    addr,
		Files:   []string{"report.pdf"},
		Framing: spec.Lockstep,
	}, conformance.Options{Run: regexp.MustCompile(`^server/(sizes|missing-file|named-files)$`)})
	for _, r := range results {
		fmt.Println(r.Case.ID, r.Outcome.Verdict)
	}
	// Output:
	// server/missing-file PASS
	// server/named-files PASS
	// server/sizes SKIP
}

// TestServer runs the server cases as subtests of a test of yours. With
// Start, every case gets a fresh server of its own; here the reference
// server, started by package reftest.
func ExampleTestServer() {
	// In a _test.go file: func TestMyServer(t *testing.T) { ... }
	testMyServer := func(t *testing.T) {
		start := func(ctx context.Context, root string) (string, func(), error) {
			addr, stop, err := reftest.Start(ctx, root, reftest.Options{Framing: spec.Line})
			return addr, func() { stop() }, err
		}
		conformance.TestServer(t, conformance.ServerTarget{Framing: spec.Line, Start: start},
			conformance.Options{Skip: regexp.MustCompile(`^server/conn-limit$`), CaseTimeout: time.Minute})
	}
	_ = testMyServer
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
