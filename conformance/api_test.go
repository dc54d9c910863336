package conformance_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

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
		checkCitations(t, r)
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
// every case INCONCLUSIVE, never a FAIL.
func TestServerFactoryFails(t *testing.T) {
	start := func(ctx context.Context, root string) (string, func(), error) {
		return "", nil, errors.New("no such program")
	}
	for _, r := range conformance.RunServer(t.Context(), conformance.ServerTarget{Framing: spec.Line, Start: start}, conformance.Options{}) {
		if r.Outcome.Verdict != conformance.Inconclusive && r.Outcome.Verdict != conformance.Skip ||
			r.Outcome.Verdict == conformance.Inconclusive && !strings.Contains(r.Outcome.Detail, "could not be started: no such program") {
			t.Errorf("%s = %s: %s, want INCONCLUSIVE (could not be started)", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
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

// TestCaseTimeout checks that a case's deadline ends every wait of the
// kit, on the server's connection and on the client's, however long the
// per-wait timeout: with an hour for each wait, the cases below end only
// because their deadline cancels them. A case stopped that way is
// INCONCLUSIVE, since the kit, not the implementation, ran out of time.
func TestCaseTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	o := conformance.Options{Timeout: time.Hour, CaseTimeout: 300 * time.Millisecond}
	check := func(r conformance.Result) {
		t.Helper()
		if r.Outcome.Verdict != conformance.Inconclusive || !strings.Contains(r.Outcome.Detail, "did not finish within its 300ms") {
			t.Errorf("%s = %s: %s, want INCONCLUSIVE (did not finish within its 300ms)", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
		}
	}
	t.Run("server", func(t *testing.T) {
		// A server that never answers a request for a missing file.
		target := startMutant(t, spec.Line, silentOnMissing)
		o.Run = regexp.MustCompile(`^server/missing-file$`)
		for _, r := range conformance.RunServer(t.Context(), target, o) {
			check(r)
		}
	})
	t.Run("client", func(t *testing.T) {
		// A client that asks, then never acknowledges the size.
		o.Run = regexp.MustCompile(`^client/plain$`)
		for _, r := range conformance.RunClient(t.Context(), conformance.ClientTarget{Framing: spec.Line, Func: noAck(spec.Line).get}, o) {
			check(r)
		}
	})
}
