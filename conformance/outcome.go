package conformance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Verdict is the outcome of one case: one of Verdicts.
type Verdict string

// The verdicts, from best to worst for reporting order.
const (
	Pass         Verdict = "PASS"
	Fail         Verdict = "FAIL"
	Hazard       Verdict = "HAZARD"
	Inconclusive Verdict = "INCONCLUSIVE"
	Skip         Verdict = "SKIP"
	// Error is a case that could not run: the target could not be started
	// or reached, it was already gone, the kit's own setup failed, or the
	// run was interrupted. It says nothing about the implementation, and
	// its findings cite no requirement.
	Error Verdict = "ERROR"
)

// Verdicts lists every verdict in the order reports count them.
var Verdicts = []Verdict{Pass, Fail, Hazard, Inconclusive, Skip, Error}

// Outcome is what a case concluded.
type Outcome struct {
	Verdict Verdict
	// Detail says why, in a learner's words: the words of the findings,
	// joined by "; ". It is empty only for a plain PASS.
	Detail string
	// Findings are what the kit saw, each with the requirements its words
	// cite. Every requirement ID in Detail is cited by a finding, and every
	// finding cites only requirements its case lists.
	Findings []Finding
}

// Finding is one observation behind a verdict: a sentence in a learner's
// words and the SPEC.md requirements it cites, in the order the words name
// them. A FAIL's findings say what the implementation did and which of its
// case's requirements that breaks.
type Finding struct {
	Words string
	Cites []string
}

// String returns the finding's words.
func (f Finding) String() string { return f.Words }

// String returns the outcome's detail.
func (o Outcome) String() string { return o.Detail }

// Cites returns the requirement IDs the outcome's findings cite, each once,
// in the order they are first cited.
func (o Outcome) Cites() []string {
	var ids []string
	for _, f := range o.Findings {
		for _, id := range f.Cites {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// renameOut returns o with "{out}" in its words replaced by name: where a
// client that names its output itself (ClientTarget.Collect) left it.
func (o Outcome) renameOut(name string) Outcome {
	fs := make([]Finding, len(o.Findings))
	for i, f := range o.Findings {
		fs[i] = Finding{Words: strings.ReplaceAll(f.Words, "{out}", name), Cites: f.Cites}
	}
	return outcome(o.Verdict, fs...)
}

// citation is a list of requirement IDs given to a finding's format: it
// prints as "REQ-A, REQ-B" and the finding records the IDs. It is the only
// way a finding names a requirement.
type citation []string

// cite returns the citation of the requirements ids.
func cite(ids ...string) citation { return citation(ids) }

func (c citation) String() string { return strings.Join(c, ", ") }

// finding formats the words of a finding, as fmt.Sprintf does, and records
// the requirements cited by its arguments: every citation, and the cites
// of every Finding and Outcome among them (which print as their words).
func finding(format string, a ...any) Finding {
	var ids []string
	for _, v := range a {
		switch v := v.(type) {
		case citation:
			ids = append(ids, v...)
		case Finding:
			ids = append(ids, v.Cites...)
		case Outcome:
			ids = append(ids, v.Cites()...)
		}
	}
	return Finding{Words: fmt.Sprintf(format, a...), Cites: ids}
}

// outcome returns the outcome of verdict v made of findings fs.
func outcome(v Verdict, fs ...Finding) Outcome {
	o := Outcome{Verdict: v}
	var words []string
	for _, f := range fs {
		if f.Words == "" && len(f.Cites) == 0 {
			continue
		}
		o.Findings = append(o.Findings, f)
		words = append(words, f.Words)
	}
	o.Detail = strings.Join(words, "; ")
	return o
}

// pass, fail, hazard, inconclusive and skip build outcomes of one finding,
// formatted as by finding.
func pass(format string, a ...any) Outcome { return outcome(Pass, finding(format, a...)) }
func fail(format string, a ...any) Outcome { return outcome(Fail, finding(format, a...)) }
func hazard(format string, a ...any) Outcome {
	return outcome(Hazard, finding(format, a...))
}
func inconclusive(format string, a ...any) Outcome {
	return outcome(Inconclusive, finding(format, a...))
}
func skip(format string, a ...any) Outcome { return outcome(Skip, finding(format, a...)) }

// errored builds the outcome of a case that could not run, formatted as by
// fmt.Sprintf. Its finding cites nothing, whatever its arguments: an
// ERROR never names a requirement as broken.
func errored(format string, a ...any) Outcome {
	return outcome(Error, Finding{Words: fmt.Sprintf(format, a...)})
}

// Severity is the level of the strongest requirement a case checks.
type Severity string

// The severities.
const (
	Must   Severity = "MUST"
	Should Severity = "SHOULD"
)

// Result is one case's outcome in one run against one target: its case,
// the framing, the verdict and its findings, how long it took and its
// byte-level log. (It is not a transfer's result, as ref.Result and
// naive.Result are.)
type Result struct {
	Case     Case
	Framing  spec.Framing
	Outcome  Outcome
	Duration time.Duration
	Log      []string // byte-level log of the case (shown with -v)
	// Reads are the client's read calls in the case, when they were
	// recorded (ClientTarget.Reads); nil otherwise.
	Reads *Reads
}
