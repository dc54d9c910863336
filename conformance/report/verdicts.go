package report

import "github.com/stickykit/stickykit/conformance"

// junitKind is how a verdict maps onto JUnit.
type junitKind int

const (
	junitPass    junitKind = iota // a plain <testcase>
	junitFailure                  // <failure> for a MUST case; <system-out> for a SHOULD case
	junitSkipped                  // <skipped message="VERDICT: DETAIL">
	junitError                    // <error message=DETAIL>: the case could not run
)

// The exit statuses of a run (see ExitCode), from the most to the least
// pressing: a MUST case failed; a case could not run; nothing wrong.
const (
	exitFailed = 1
	exitErrors = 2
)

// verdictRule is how reports treat one verdict.
type verdictRule struct {
	verdict conformance.Verdict
	color   string    // ANSI colour of the verdict in a table; "" for none
	junit   junitKind // its JUnit element
	// failsMust is the exit status (see ExitCode) of a run in which a
	// MUST case got this verdict; 0 when it does not fail a run.
	failsMust int
	// failsAny is the exit status of a run in which any case, MUST or
	// SHOULD, got this verdict; 0 when it does not fail a run.
	failsAny int
}

// verdictRules are the rules of every verdict, in the order reports count
// them: conformance.Verdicts, each with how it is shown and weighed.
var verdictRules = []verdictRule{
	{conformance.Pass, ansiGreen, junitPass, 0, 0},
	{conformance.Fail, ansiRed, junitFailure, exitFailed, 0},
	{conformance.Hazard, ansiYellow, junitSkipped, 0, 0},
	{conformance.Inconclusive, ansiYellow, junitSkipped, 0, 0},
	{conformance.Skip, "", junitSkipped, 0, 0},
	{conformance.Error, ansiMagenta, junitError, exitErrors, exitErrors},
}

// ruleOf returns the rule of verdict v; an unknown verdict is shown plainly,
// skipped in JUnit and fails nothing.
func ruleOf(v conformance.Verdict) verdictRule {
	for _, r := range verdictRules {
		if r.verdict == v {
			return r
		}
	}
	return verdictRule{verdict: v, junit: junitSkipped}
}

// ANSI escapes for the verdicts of a table.
const (
	ansiReset   = "\x1b[0m"
	ansiRed     = "\x1b[31m"
	ansiGreen   = "\x1b[32m"
	ansiYellow  = "\x1b[33m"
	ansiMagenta = "\x1b[35m"
)
