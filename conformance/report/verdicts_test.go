package report

import (
	"testing"

	"github.com/stickykit/stickykit/conformance"
)

// TestVerdictRules checks that every verdict a case can give has exactly
// one rule, in the order of conformance.Verdicts, so that a new verdict
// cannot be reported by a default.
func TestVerdictRules(t *testing.T) {
	if len(verdictRules) != len(conformance.Verdicts) {
		t.Fatalf("%d verdict rules, want one for each of %v", len(verdictRules), conformance.Verdicts)
	}
	for i, v := range conformance.Verdicts {
		if got := verdictRules[i].verdict; got != v {
			t.Errorf("verdictRules[%d] is for %s, want %s", i, got, v)
		}
	}
}
