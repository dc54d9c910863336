package mutants_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/spec"
)

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
