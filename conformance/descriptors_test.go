package conformance_test

import (
	"context"
	"flag"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// TestRefServerOutOfDescriptors runs server/out-of-descriptors against
// the reference server as a process the kit starts (this test binary, as
// TestRefServerProcessHelper), in each framing: it must pass. Against the
// reference server running in this process (TestRefServer) the case is a
// SKIP, and TestRefServer asserts that too.
func TestRefServerOutOfDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kit limits a server's descriptors on Linux only")
	}
	casetest.InEachFraming(t, func(t *testing.T, f spec.Framing) {
		target := conformance.ServerTarget{Framing: f,
			Command: []string{os.Args[0], "-test.run=^TestRefServerProcessHelper$", "--", "{addr}", "{root}", f.String()}}
		results := conformance.RunServer(t.Context(), target, runIDs(0, "server/out-of-descriptors"))
		if len(results) != 1 {
			t.Fatalf("RunServer returned %d results, want 1", len(results))
		}
		r := results[0]
		casetest.CheckCitations(t, r)
		if r.Outcome.Verdict != conformance.Pass || !strings.Contains(r.Outcome.Detail, "ERR busy") {
			t.Fatalf("%s: %s, want PASS after ERR busy\n%s", r.Outcome.Verdict, r.Outcome.Detail, strings.Join(r.Log, "\n"))
		}
		t.Logf("PASS: %s", r.Outcome.Detail)
	})
}

// TestRefServerProcessHelper is not a test: TestRefServerOutOfDescriptors
// runs it as the server under test, with its address, root and framing
// after "--". It serves until the kit stops it.
func TestRefServerProcessHelper(t *testing.T) {
	args := flag.Args()
	if len(args) != 3 {
		t.Skip("the reference server as a process; runs only as a child process of TestRefServerOutOfDescriptors")
	}
	f, err := spec.ParseFraming(args[2])
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ref.NewServer(args[1])
	if err != nil {
		t.Fatal(err)
	}
	srv.Framing = f
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Fatal(srv.Serve(context.Background(), ln)) // it serves until the kit ends the process
}
