package conformance_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// refClientFunc runs the reference client as a client under test.
func refClientFunc(f spec.Framing) conformance.ClientFunc {
	return func(ctx context.Context, addr, name, out string) error {
		c := &ref.Client{Framing: f, Timeout: 5 * time.Second}
		_, err := c.Get(ctx, addr, name, out)
		return err
	}
}

// clientCaseIDs are the client cases this package promises.
var clientCaseIDs = []string{
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

// wantRefClient is the verdict the reference client must get for a case.
func wantRefClient(id string, f spec.Framing) conformance.Verdict {
	switch {
	case id == "client/split-size" && f == spec.Lockstep:
		return conformance.Hazard
	case id == "client/crlf" && f == spec.Lockstep:
		return conformance.Skip // a line-framing case
	}
	return conformance.Pass
}

// lineOnlyCases lists the client cases that apply to the line framing only.
var lineOnlyCases = map[string]bool{"client/crlf": true}

// shouldCases lists the client cases of severity SHOULD: those that judge
// only what a SHOULD requirement asks.
var shouldCases = map[string]bool{"client/file-mode": true, "client/truncation-report": true}

func TestClientCasesRegistered(t *testing.T) {
	cases := conformance.Cases(conformance.RoleClient)
	var got []string
	for _, c := range cases {
		got = append(got, c.ID)
		severity := conformance.Must
		if shouldCases[c.ID] {
			severity = conformance.Should
		}
		if len(c.Requirements) == 0 || c.Severity != severity || c.Title == "" {
			t.Errorf("%s: Requirements %v, Severity %q, Title %q: want requirements, %s and a title", c.ID, c.Requirements, c.Severity, c.Title, severity)
		}
		for _, f := range spec.Framings {
			want := f == spec.Line || !lineOnlyCases[c.ID]
			if got := c.AppliesTo(f); got != want {
				t.Errorf("%s.AppliesTo(%v) = %v, want %v", c.ID, f, got, want)
			}
		}
	}
	if len(got) != len(clientCaseIDs) {
		t.Fatalf("client cases = %q, want %q", got, clientCaseIDs)
	}
	for i := range got {
		if got[i] != clientCaseIDs[i] {
			t.Errorf("client case %d = %q, want %q", i, got[i], clientCaseIDs[i])
		}
	}
}

// inEachFraming runs test as a parallel subtest per framing and checks
// that no goroutine outlives them.
func inEachFraming(t *testing.T, test func(t *testing.T, f spec.Framing)) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			test(t, f)
		})
	}
}

// TestClientRef runs the kit against the reference client through the
// testing entry point: no MUST case may fail.
func TestClientRef(t *testing.T) {
	inEachFraming(t, func(t *testing.T, f spec.Framing) {
		conformance.TestClient(t, conformance.ClientTarget{Framing: f, Func: refClientFunc(f)}, conformance.Options{})
	})
}

// TestClientRefVerdicts checks the exact verdict of every case for the
// reference client: PASS everywhere, HAZARD for the split size in lockstep.
func TestClientRefVerdicts(t *testing.T) {
	inEachFraming(t, func(t *testing.T, f spec.Framing) { wantRefClientVerdicts(t, f, refClientFunc(f)) })
}

// wantRefClientVerdicts runs every client case against fn in framing f
// and checks each verdict is the reference client's.
func wantRefClientVerdicts(t *testing.T, f spec.Framing, fn conformance.ClientFunc) {
	t.Helper()
	results := conformance.RunClient(t.Context(), conformance.ClientTarget{Framing: f, Func: fn}, conformance.Options{})
	if len(results) != len(clientCaseIDs) {
		t.Errorf("%d results, want %d", len(results), len(clientCaseIDs))
	}
	for _, r := range results {
		checkCitations(t, r)
		if want := wantRefClient(r.Case.ID, f); r.Outcome.Verdict != want {
			t.Errorf("%s = %s: %s, want %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, want)
			logClientResult(t, r)
		}
		t.Logf("%-20s %-6s %7v  %s", r.Case.ID, r.Outcome.Verdict, r.Duration.Round(time.Millisecond), r.Outcome.Detail)
	}
}

// runClientCase runs the client case id against fn in framing f.
func runClientCase(t *testing.T, id string, f spec.Framing, fn conformance.ClientFunc) conformance.Result {
	t.Helper()
	o := conformance.Options{Run: regexp.MustCompile("^" + regexp.QuoteMeta(id) + "$")}
	results := conformance.RunClient(t.Context(), conformance.ClientTarget{Framing: f, Func: fn}, o)
	if len(results) != 1 {
		t.Fatalf("RunClient(%s) gave %d results, want 1", id, len(results))
	}
	checkCitations(t, results[0])
	return results[0]
}

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
			checkCitations(t, r)
			if r.Outcome.Verdict != tt.want || !strings.Contains(r.Outcome.Detail, tt.words) {
				t.Errorf("%s = %s: %s; want %s saying %q", tt.id, r.Outcome.Verdict, r.Outcome.Detail, tt.want, tt.words)
				logClientResult(t, r)
			}
		})
	}
}
