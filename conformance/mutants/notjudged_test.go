package mutants_test

import (
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
)

// TestClientNotJudged checks the cases that judge only a client's report
// or the file it leaves when there is none to judge, and what
// IgnoreStatus leaves unjudged: the exit status, the report and a crash.
func TestClientNotJudged(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	tests := []struct {
		name    string
		id      string
		defect  clientDefect
		ignored bool
		want    conformance.Verdict
		words   string
	}{
		{"success without a digest", "client/truncation-report", okWithoutDigest(lk), false, conformance.Inconclusive,
			"reported success (exit status 0): there is no report of the failure to judge"},
		{"a crash on a truncation", "client/truncation-report", panics(healthyClient(ln)), false, conformance.Inconclusive,
			"crashed (a Go panic: spec: data truncated: got 50000 of 100000 bytes): there is no report"},
		{"the status ignored", "client/truncation-report", healthyClient(lk), true, conformance.Skip, "--ignore-status"},
		{"no file left", "client/file-mode", forgetsRename(ln), false, conformance.Inconclusive, "there is no file whose mode to judge"},
		{"a crash with the status ignored", "client/error-reply", panics(healthyClient(lk)), true, conformance.Pass,
			"ended: it crashed (a Go panic: server says not-found"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			target := conformance.ClientTarget{Framing: tt.defect.framing, Func: tt.defect.get, IgnoreStatus: tt.ignored}
			results := conformance.RunClient(t.Context(), target, conformance.Options{Run: regexp.MustCompile("^" + regexp.QuoteMeta(tt.id) + "$")})
			if len(results) != 1 {
				t.Fatalf("%d results, want 1", len(results))
			}
			r := results[0]
			casetest.CheckCitations(t, r)
			if r.Outcome.Verdict != tt.want || !strings.Contains(r.Outcome.Detail, tt.words) {
				t.Errorf("%s = %s: %s; want %s saying %q", tt.id, r.Outcome.Verdict, r.Outcome.Detail, tt.want, tt.words)
				casetest.LogResult(t, r)
			}
		})
	}
}
