package conformance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
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

// lineOnlyCases lists the client cases that apply to the line framing only.
var lineOnlyCases = map[string]bool{"client/crlf": true}

// shouldCases lists the client cases of severity SHOULD: those that judge
// only what a SHOULD requirement asks.
var shouldCases = map[string]bool{"client/file-mode": true, "client/paused-server": true, "client/truncation-report": true}

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
	if len(got) != len(casetest.ClientCaseIDs) {
		t.Fatalf("client cases = %q, want %q", got, casetest.ClientCaseIDs)
	}
	for i := range got {
		if got[i] != casetest.ClientCaseIDs[i] {
			t.Errorf("client case %d = %q, want %q", i, got[i], casetest.ClientCaseIDs[i])
		}
	}
}

// TestClientRef runs the kit against the reference client through the
// testing entry point: no MUST case may fail.
func TestClientRef(t *testing.T) {
	casetest.InEachFraming(t, func(t *testing.T, f spec.Framing) {
		conformance.TestClient(t, conformance.ClientTarget{Framing: f, Func: refClientFunc(f)}, conformance.Options{})
	})
}

// TestClientRefVerdicts checks the exact verdict of every case for the
// reference client: PASS everywhere, HAZARD for the split size in lockstep.
func TestClientRefVerdicts(t *testing.T) {
	casetest.InEachFraming(t, func(t *testing.T, f spec.Framing) { casetest.WantRefClientVerdicts(t, f, refClientFunc(f)) })
}
