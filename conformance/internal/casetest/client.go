package casetest

import (
	"regexp"
	"testing"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/spec"
)

// ClientCaseIDs are the client cases package conformance promises.
var ClientCaseIDs = []string{
	"client/ack",
	"client/bad-digest",
	"client/bad-name",
	"client/bad-size",
	"client/crlf",
	"client/empty-file",
	"client/error-codes",
	"client/error-reply",
	"client/file-mode",
	"client/large-file",
	"client/longest-name",
	"client/paused-server",
	"client/plain",
	"client/sizes",
	"client/split-body",
	"client/split-digest",
	"client/split-size",
	"client/sticky",
	"client/truncated",
	"client/truncation-report",
	"client/unknown-error",
	"client/wrong-digest",
}

// WantRefClient is the verdict the reference client must get for a case.
func WantRefClient(id string, f spec.Framing) conformance.Verdict {
	switch {
	case id == "client/split-size" && f == spec.Lockstep:
		return conformance.Hazard
	case id == "client/crlf" && f == spec.Lockstep:
		return conformance.Skip // a line-framing case
	}
	return conformance.Pass
}

// WantRefClientVerdicts runs every client case against fn in framing f
// and checks each verdict is the reference client's.
func WantRefClientVerdicts(t *testing.T, f spec.Framing, fn conformance.ClientFunc) {
	t.Helper()
	results := conformance.RunClient(t.Context(), conformance.ClientTarget{Framing: f, Func: fn}, conformance.Options{})
	if len(results) != len(ClientCaseIDs) {
		t.Errorf("%d results, want %d", len(results), len(ClientCaseIDs))
	}
	for _, r := range results {
		CheckCitations(t, r)
		if want := WantRefClient(r.Case.ID, f); r.Outcome.Verdict != want {
			t.Errorf("%s = %s: %s, want %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, want)
			LogResult(t, r)
		}
		t.Logf("%-20s %-6s %7v  %s", r.Case.ID, r.Outcome.Verdict, r.Duration.Round(time.Millisecond), r.Outcome.Detail)
	}
}

// RunClientCase runs the client case id against fn in framing f.
func RunClientCase(t *testing.T, id string, f spec.Framing, fn conformance.ClientFunc) conformance.Result {
	t.Helper()
	o := conformance.Options{Run: regexp.MustCompile("^" + regexp.QuoteMeta(id) + "$")}
	results := conformance.RunClient(t.Context(), conformance.ClientTarget{Framing: f, Func: fn}, o)
	if len(results) != 1 {
		t.Fatalf("RunClient(%s) gave %d results, want 1", id, len(results))
	}
	CheckCitations(t, results[0])
	return results[0]
}
