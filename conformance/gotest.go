package conformance

import (
	"strings"
	"testing"
)

// TestServer runs the server cases that opts selects against target as
// subtests of t, named by case ID. A FAIL of a MUST case fails the subtest;
// a FAIL of a SHOULD case is logged; HAZARD, INCONCLUSIVE and SKIP skip the
// subtest with the reason; an ERROR (the case could not run: the server
// could not be started or reached, or the run was interrupted) fails the
// subtest without naming a requirement. Each subtest runs under t's
// context, so a test deadline or an interrupt stops it.
//
// A failure means the server broke the requirement the case names, never a
// quirk of the kit; run it under the race detector when the server is Go.
// With target.Start or target.Command, each case gets a fresh server (see
// [ServerFactory]). A mistake in how target is described (see
// [PreflightServer]) fails t at once, before any case runs.
func TestServer(t *testing.T, target ServerTarget, opts Options) {
	t.Helper()
	if err := PreflightServer(t.Context(), target, opts); err != nil {
		t.Fatalf("stickykit check server: %v", err)
	}
	run := &serverRun{reads: newReadsRun(target.Reads && target.Start == nil && len(target.Command) > 0)}
	testEntries(t, serverEntries(target, opts, run))
	if note := run.reads.unsaid(); note != "" {
		t.Log(note)
	}
}

// TestClient runs the client cases that opts selects against target as
// subtests of t, with the same verdict rules as TestServer. A client
// command that cannot be started or never connects (see
// [PreflightClient]) fails t at once.
func TestClient(t *testing.T, target ClientTarget, opts Options) {
	t.Helper()
	if err := PreflightClient(t.Context(), target, opts); err != nil {
		t.Fatalf("stickykit check client: %v", err)
	}
	reads := newReadsRun(target.Reads && target.Func == nil && len(target.Command) > 0)
	testEntries(t, clientEntries(target, opts, reads))
	if note := reads.unsaid(); note != "" {
		t.Log(note)
	}
}

// testEntries runs es as subtests of t, named by case ID. Every function
// of the kit's on the way is a helper, so go test reports a verdict at the
// line of the caller's test that called TestServer or TestClient.
func testEntries(t *testing.T, es []entry) {
	t.Helper()
	for _, e := range es {
		t.Run(e.c.ID, func(t *testing.T) {
			t.Helper()
			reportTo(t, e.run(t.Context()))
		})
	}
}

// reportTo logs r's byte-level log to t and gives the subtest r's verdict.
func reportTo(t *testing.T, r Result) {
	t.Helper()
	for _, l := range r.Log {
		t.Log(l)
	}
	o, c := r.Outcome, r.Case
	ids := strings.Join(c.Requirements, " ")
	switch {
	case o.Verdict == Pass:
	case o.Verdict == Fail && c.Severity == Must:
		t.Errorf("%s FAIL (MUST, [%s]): %s", c.ID, ids, o.Detail)
	case o.Verdict == Fail:
		t.Logf("%s FAIL (SHOULD, [%s]): %s", c.ID, ids, o.Detail)
	case o.Verdict == Error:
		t.Errorf("%s ERROR (the case could not run): %s", c.ID, o.Detail)
	default:
		t.Skipf("%s %s: %s", c.ID, o.Verdict, o.Detail)
	}
}
