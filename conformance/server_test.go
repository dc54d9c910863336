package conformance_test

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// refTarget serves a fresh root (a subdirectory of a temporary directory,
// so the kit can place a file just outside it) with the reference server
// until the test ends.
func refTarget(t *testing.T, f spec.Framing) conformance.ServerTarget {
	t.Helper()
	srv := reftest.NewServer(t, "", reftest.Options{Framing: f})
	return conformance.ServerTarget{Addr: srv.Addr, Root: srv.Root, Framing: f}
}

// wantRefVerdict is the verdict the reference server earns for case id in
// framing f.
func wantRefVerdict(id string, f spec.Framing) conformance.Verdict {
	switch {
	case id == "server/split-request" && f == spec.Lockstep:
		return conformance.Hazard
	case id == "server/pipelined-ack" && f == spec.Lockstep:
		return conformance.Skip
	case id == "server/line-endings" && f == spec.Lockstep:
		return conformance.Skip
	case id == "server/unreadable" && canReadMode000():
		// The reference server runs in this process: as root it reads
		// a file with mode 000, and the case cannot say anything.
		return conformance.Inconclusive
	case id == "server/special-files" && runtime.GOOS == "windows":
		return conformance.Inconclusive // no FIFOs
	}
	return conformance.Pass
}

// canReadMode000 reports whether this process can open a file with mode
// 000 for reading (it runs as root, or on a system without such bits).
var canReadMode000 = sync.OnceValue(func() bool {
	f, err := os.CreateTemp("", "stickykit-mode000-")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	if os.Chmod(name, 0) != nil {
		return false
	}
	g, err := os.Open(name)
	if err != nil {
		return false
	}
	g.Close()
	return true
})

// serverCaseIDs are the server cases this package promises, by stable ID.
var serverCaseIDs = []string{
	"server/abandoned-transfer",
	"server/concurrent",
	"server/missing-file",
	"server/multi-request",
	"server/names",
	"server/no-data-before-ack",
	"server/path-escape",
	"server/pipelined-ack",
	"server/sizes",
	"server/slow-reader",
	"server/split-request",
	"server/bad-request",
	"server/too-long",
	"server/special-files",
	"server/unreadable",
	"server/file-changes",
	"server/line-endings",
	"server/end-of-stream",
	"server/conn-limit",
}

func TestServerCasesRegistered(t *testing.T) {
	for _, id := range serverCaseIDs {
		c, ok := conformance.Lookup(id)
		if !ok {
			t.Errorf("Lookup(%q) found nothing, want a case", id)
			continue
		}
		if c.Role() != conformance.RoleServer {
			t.Errorf("%s: Role() = %q, want %q", id, c.Role(), conformance.RoleServer)
		}
		if len(c.Requirements) == 0 || c.Title == "" {
			t.Errorf("%s: Requirements = %v, Title = %q, want both set", id, c.Requirements, c.Title)
		}
		for _, r := range c.Requirements {
			if !strings.HasPrefix(r, "REQ-") {
				t.Errorf("%s: requirement %q does not look like REQ-FAMILY-N", id, r)
			}
		}
		if c.Severity != conformance.Must && c.Severity != conformance.Should {
			t.Errorf("%s: Severity = %q", id, c.Severity)
		}
	}
	if got := len(conformance.Cases(conformance.RoleServer)); got != len(serverCaseIDs) {
		t.Errorf("len(Cases(RoleServer)) = %d, want %d", got, len(serverCaseIDs))
	}
}

// TestRefServer runs every server case against the reference server, in
// each framing, through TestServer and through RunServer with the verdicts
// asserted, and checks the kit leaves no fixture behind.
func TestRefServer(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			target := refTarget(t, f)
			t.Run("TestServer", func(t *testing.T) {
				conformance.TestServer(t, target, conformance.Options{})
			})
			t.Run("RunServer", func(t *testing.T) {
				results := conformance.RunServer(t.Context(), target, conformance.Options{})
				if len(results) != len(serverCaseIDs) {
					t.Fatalf("RunServer returned %d results, want %d", len(results), len(serverCaseIDs))
				}
				for _, r := range results {
					checkCitations(t, r)
					want := wantRefVerdict(r.Case.ID, f)
					t.Logf("%-28s %-6s %8v  %s", r.Case.ID, r.Outcome.Verdict, r.Duration.Round(time.Millisecond), r.Outcome.Detail)
					if r.Outcome.Verdict != want {
						t.Errorf("%s (%s): verdict %s, want %s: %s\n%s", r.Case.ID, f, r.Outcome.Verdict, want, r.Outcome.Detail, strings.Join(r.Log, "\n"))
					}
					if r.Outcome.Verdict != conformance.Skip && len(r.Log) == 0 {
						t.Errorf("%s (%s): empty log, want the byte-level exchange", r.Case.ID, f)
					}
				}
			})
			assertNoFixtures(t, target.Root)
		})
	}
}

// assertNoFixtures fails if a kit fixture is left in root or beside it.
func assertNoFixtures(t *testing.T, root string) {
	t.Helper()
	for _, dir := range []string{root, filepath.Dir(root)} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), "stickykit-check-") {
				t.Errorf("fixture %q left in %s, want it removed", e.Name(), dir)
			}
		}
	}
}

// TestServerCannotConnect checks that an address nobody listens on is a
// FAIL with "cannot connect" for every case that needs a connection, not a
// panic or a hang.
func TestServerCannotConnect(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	target := conformance.ServerTarget{Addr: addr, Root: root, Framing: spec.Line}
	for _, r := range conformance.RunServer(t.Context(), target, conformance.Options{Timeout: time.Second}) {
		if r.Outcome.Verdict != conformance.Fail || !strings.Contains(r.Outcome.Detail, "cannot connect") {
			t.Errorf("%s: got %s %q, want FAIL with \"cannot connect\"", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
		}
	}
	assertNoFixtures(t, root)
}
