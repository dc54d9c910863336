package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stickykit/stickykit/conformance"
)

// Counts is the number of results of each verdict.
type Counts map[conformance.Verdict]int

// Count counts results by verdict. Every verdict has an entry, zero
// included.
func Count(results []conformance.Result) Counts {
	c := make(Counts, len(verdictRules))
	for _, r := range verdictRules {
		c[r.verdict] = 0
	}
	for _, r := range results {
		c[r.Outcome.Verdict]++
	}
	return c
}

// MarshalJSON writes the counts as one object with the verdicts in the
// order reports count them: {"PASS": 1, "FAIL": 0, ...}.
func (c Counts) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, r := range verdictRules {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", r.verdict, c[r.verdict])
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

var _ json.Marshaler = Counts(nil)

// SummaryLine returns the one-line summary a table ends with:
//
//	12 PASS, 1 FAIL, 1 HAZARD, 0 INCONCLUSIVE, 2 SKIP; 1 MUST case failed
//
// followed, when a SHOULD case failed, by ", 1 SHOULD case failed".
func SummaryLine(results []conformance.Result) string {
	c := Count(results)
	parts := make([]string, len(verdictRules))
	for i, r := range verdictRules {
		parts[i] = fmt.Sprintf("%d %s", c[r.verdict], r.verdict)
	}
	var must, should int
	for _, r := range results {
		if r.Outcome.Verdict == conformance.Fail {
			if r.Case.Severity == conformance.Must {
				must++
			} else {
				should++
			}
		}
	}
	s := strings.Join(parts, ", ") + "; " + plural(must, "MUST case") + " failed"
	if should > 0 {
		s += ", " + plural(should, "SHOULD case") + " failed"
	}
	return s
}

func plural(n int, noun string) string {
	switch n {
	case 0:
		return "no " + noun
	case 1:
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// exitStatus returns the exit status r alone deserves: that of its
// verdict's rule (for a MUST case, the stronger of its two).
func exitStatus(r conformance.Result) int {
	rule := ruleOf(r.Outcome.Verdict)
	if r.Case.Severity == conformance.Must {
		return worse(rule.failsMust, rule.failsAny)
	}
	return rule.failsAny
}

// worse returns the more pressing of two exit statuses: 1 (a MUST case
// failed) before 2 (a case could not run) before 0.
func worse(a, b int) int {
	if a == exitFailed || b == exitFailed {
		return exitFailed
	}
	return max(a, b)
}

// ExitCode returns the exit status a run deserves: 1 when a MUST case
// failed; otherwise 2 when a case could not run (ERROR); otherwise 0.
// With a baseline (not nil), 1 when [Baseline.Diff] finds a difference
// other than a case that could not run; otherwise 2 when a case could
// not run; otherwise 0.
func ExitCode(results []conformance.Result, b Baseline) int {
	code := 0
	for _, r := range results {
		if b == nil {
			code = worse(code, exitStatus(r))
		} else if r.Outcome.Verdict == conformance.Error {
			code = worse(code, exitErrors)
		}
	}
	if b != nil {
		for _, d := range b.diff(results) {
			if !d.errored {
				code = exitFailed
			}
		}
	}
	return code
}
