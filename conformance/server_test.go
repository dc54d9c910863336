package conformance_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// refTarget serves a fresh root (a subdirectory of a temporary directory,
// so the kit can place a file just outside it) with the reference server
// until the test ends. The root holds files of the user's, named in Files.
func refTarget(t *testing.T, f spec.Framing) conformance.ServerTarget {
	t.Helper()
	srv := reftest.NewServer(t, "", reftest.Options{Framing: f})
	return conformance.ServerTarget{Addr: srv.Addr, Root: srv.Root, Framing: f, Files: casetest.UserFiles(t, srv.Root)}
}

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
	"server/steady-reader",
	"server/split-request",
	"server/bad-request",
	"server/too-long",
	"server/special-files",
	"server/unreadable",
	"server/file-changes",
	"server/line-endings",
	"server/end-of-stream",
	"server/conn-limit",
	"server/named-files",
	"server/longest-name",
	"server/default-limit",
	"server/makes-room",
	"server/out-of-descriptors",
	"server/refusal-close",
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
	casetest.InEachFraming(t, func(t *testing.T, f spec.Framing) {
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
				casetest.CheckCitations(t, r)
				want := casetest.WantRefVerdict(r.Case.ID, f)
				t.Logf("%-28s %-6s %8v  %s", r.Case.ID, r.Outcome.Verdict, r.Duration.Round(time.Millisecond), r.Outcome.Detail)
				if r.Outcome.Verdict != want {
					t.Errorf("%s (%s): verdict %s, want %s: %s\n%s", r.Case.ID, f, r.Outcome.Verdict, want, r.Outcome.Detail, strings.Join(r.Log, "\n"))
				}
				if r.Outcome.Verdict != conformance.Skip && len(r.Log) == 0 {
					t.Errorf("%s (%s): empty log, want the byte-level exchange", r.Case.ID, f)
				}
			}
		})
		casetest.AssertNoFixtures(t, target.Root)
	})
}

// TestRemoteRefServer checks the reference server as a server on another
// host: no root for the kit. Each case that needs one is a SKIP that says
// why; the others get the verdicts they get with a root, on names that
// cannot exist and the files named; nothing is written anywhere.
func TestRemoteRefServer(t *testing.T) {
	casetest.InEachFraming(t, func(t *testing.T, f spec.Framing) {
		target := refTarget(t, f)
		root := target.Root
		target.Root = ""
		before, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		results := conformance.RunServer(t.Context(), target, conformance.Options{})
		if len(results) != len(serverCaseIDs) {
			t.Fatalf("RunServer returned %d results, want %d", len(results), len(serverCaseIDs))
		}
		ran := 0
		for _, r := range results {
			casetest.CheckCitations(t, r)
			t.Logf("%-28s %-6s %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
			if r.Case.NeedsRoot && r.Case.AppliesTo(f) {
				if r.Outcome.Verdict != conformance.Skip || !strings.HasPrefix(r.Outcome.Detail, "needs --root: the kit must write fixtures") {
					t.Errorf("%s (%s) without a root = %s: %s, want SKIP (needs --root)", r.Case.ID, f, r.Outcome.Verdict, r.Outcome.Detail)
				}
				continue
			}
			ran++
			if want := casetest.WantRefVerdict(r.Case.ID, f); r.Outcome.Verdict != want {
				t.Errorf("%s (%s) without a root = %s, want %s: %s\n%s", r.Case.ID, f, r.Outcome.Verdict, want, r.Outcome.Detail, strings.Join(r.Log, "\n"))
			}
		}
		if ran < 8 {
			t.Errorf("%d cases ran without a root, want at least the 8 that need none", ran)
		}
		after, err := os.ReadDir(root)
		if err != nil || len(after) != len(before) {
			t.Errorf("the root held %d entries before and %d (%v) after, want no change", len(before), len(after), err)
		}
		casetest.AssertNoFixtures(t, root)
	})
}

// TestServerCannotConnect checks that an address nobody listens on makes
// every case ERROR ("the server is gone"), never a FAIL, a panic or a
// hang: a server that is not there breaks no requirement.
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
	target := conformance.ServerTarget{Addr: addr, Root: root, Framing: spec.Line, Files: []string{"a.txt"}}
	for _, r := range conformance.RunServer(t.Context(), target, conformance.Options{Timeout: time.Second}) {
		casetest.CheckCitations(t, r)
		if r.Outcome.Verdict != conformance.Error || !strings.Contains(r.Outcome.Detail, "the server is gone") {
			t.Errorf("%s: got %s %q, want ERROR with \"the server is gone\"", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
		}
	}
	casetest.AssertNoFixtures(t, root)
}

// refFactory returns a ServerFactory that starts a fresh reference server
// for each case, and the roots it was asked to serve, in order.
func refFactory(t *testing.T, f spec.Framing) (conformance.ServerFactory, func() []string) {
	var mu sync.Mutex
	var roots []string
	start := func(ctx context.Context, root string) (string, func(), error) {
		mu.Lock()
		roots = append(roots, root)
		mu.Unlock()
		addr, stop, err := reftest.Start(ctx, root, reftest.Options{Framing: f})
		return addr, func() {
			if err := stop(); err != nil {
				t.Errorf("the reference server for %s stopped with %v, want nil", root, err)
			}
		}, err
	}
	return start, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), roots...)
	}
}

// TestServerFactory checks that a target with Start gets a fresh server,
// in a fresh root of its own, for each case, and that the roots are gone
// afterwards.
func TestServerFactory(t *testing.T) {
	defer goleak.VerifyNone(t)
	start, roots := refFactory(t, spec.Line)
	o := conformance.Options{Run: regexp.MustCompile(`^server/(sizes|missing-file|path-escape)$`)}
	results := conformance.RunServer(t.Context(), conformance.ServerTarget{Framing: spec.Line, Start: start}, o)
	if len(results) != 3 {
		t.Fatalf("RunServer gave %d results, want 3", len(results))
	}
	for _, r := range results {
		casetest.CheckCitations(t, r)
		if r.Outcome.Verdict != conformance.Pass {
			t.Errorf("%s = %s: %s, want PASS\n%s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, strings.Join(r.Log, "\n"))
		}
	}
	got := roots()
	if len(got) != len(results) {
		t.Fatalf("the factory started %d servers, want one per case (%d)", len(got), len(results))
	}
	seen := map[string]bool{}
	for _, root := range got {
		if seen[root] {
			t.Errorf("root %s served two cases, want a fresh one each", root)
		}
		seen[root] = true
		if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("root %s still there after its case (%v), want it removed", root, err)
		}
	}
}

// TestTestServerFactory runs every server case through the testing entry
// point with a fresh reference server per case.
func TestTestServerFactory(t *testing.T) {
	defer goleak.VerifyNone(t)
	start, _ := refFactory(t, spec.Lockstep)
	conformance.TestServer(t, conformance.ServerTarget{Framing: spec.Lockstep, Start: start},
		conformance.Options{Skip: regexp.MustCompile(`^server/(conn-limit|unreadable)$`)})
}

// TestServerFactoryFails checks that a server that cannot be started makes
// every case ERROR, never a FAIL.
func TestServerFactoryFails(t *testing.T) {
	start := func(ctx context.Context, root string) (string, func(), error) {
		return "", nil, errors.New("no such program")
	}
	for _, r := range conformance.RunServer(t.Context(), conformance.ServerTarget{Framing: spec.Line, Start: start}, conformance.Options{}) {
		casetest.CheckCitations(t, r)
		if r.Outcome.Verdict != conformance.Error && r.Outcome.Verdict != conformance.Skip ||
			r.Outcome.Verdict == conformance.Error && !strings.Contains(r.Outcome.Detail, "could not be started: no such program") {
			t.Errorf("%s = %s: %s, want ERROR (could not be started)", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
		}
	}
}

// TestOptionsSkip checks that Skip leaves out the cases it matches, and
// Run keeps only those it matches.
func TestOptionsSkip(t *testing.T) {
	target := conformance.ClientTarget{Framing: spec.Line, Command: []string{"sh", "-c", "exit 127"}}
	o := conformance.Options{Run: regexp.MustCompile(`^client/(plain|sticky|crlf)$`), Skip: regexp.MustCompile(`sticky`)}
	var ids []string
	for _, r := range conformance.RunClient(t.Context(), target, o) {
		ids = append(ids, r.Case.ID)
	}
	if got := strings.Join(ids, " "); got != "client/crlf client/plain" {
		t.Errorf("cases run = %q, want %q", got, "client/crlf client/plain")
	}
}
