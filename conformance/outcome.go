package conformance

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Verdict is the outcome of one case.
type Verdict string

// The verdicts, from best to worst for reporting order.
const (
	Pass         Verdict = "PASS"
	Fail         Verdict = "FAIL"
	Hazard       Verdict = "HAZARD"
	Inconclusive Verdict = "INCONCLUSIVE"
	Skip         Verdict = "SKIP"
)

// Verdicts lists every verdict in the order reports count them.
var Verdicts = []Verdict{Pass, Fail, Hazard, Inconclusive, Skip}

// Severity is the level of the strongest requirement a case checks.
type Severity string

// The severities.
const (
	Must   Severity = "MUST"
	Should Severity = "SHOULD"
)

// Role says which side of the exchange a case checks.
type Role string

// The roles.
const (
	RoleServer Role = "server"
	RoleClient Role = "client"
)

// Case is one conformance check.
type Case struct {
	ID           string         // stable slash path, e.g. "server/sizes"
	Title        string         // one line: what the case does
	Requirements []string       // SPEC.md requirement IDs it checks
	Severity     Severity       // MUST or SHOULD
	Framings     []spec.Framing // framings it applies to; nil means both
	Role         Role

	// run performs the case. It returns the outcome; it must return
	// promptly once ctx is done.
	run func(ctx context.Context, x *checker) Outcome
}

// AppliesTo reports whether the case applies to framing f.
func (c *Case) AppliesTo(f spec.Framing) bool {
	if len(c.Framings) == 0 {
		return true
	}
	for _, g := range c.Framings {
		if g == f {
			return true
		}
	}
	return false
}

// Outcome is what a case concluded.
type Outcome struct {
	Verdict Verdict
	Detail  string // why, in a learner's words; empty only for a plain PASS
}

// pass, fail, hazard, inconclusive and skip build outcomes.
func pass(format string, a ...any) Outcome { return Outcome{Pass, fmt.Sprintf(format, a...)} }
func fail(format string, a ...any) Outcome { return Outcome{Fail, fmt.Sprintf(format, a...)} }
func hazard(format string, a ...any) Outcome {
	return Outcome{Hazard, fmt.Sprintf(format, a...)}
}
func inconclusive(format string, a ...any) Outcome {
	return Outcome{Inconclusive, fmt.Sprintf(format, a...)}
}
func skip(format string, a ...any) Outcome { return Outcome{Skip, fmt.Sprintf(format, a...)} }

// Result is one case's outcome in a run.
type Result struct {
	Case     *Case
	Framing  spec.Framing
	Outcome  Outcome
	Duration time.Duration
	Log      []string // byte-level log of the case (shown with -v)
}

// checker is the context one case runs in: its target, its framing, and its
// log. The server and client runners fill the fields they need.
type checker struct {
	framing spec.Framing
	timeout time.Duration // bound for any single wait on the peer
	log     []string

	server *ServerTarget // server cases
	client *ClientTarget // client cases
}

// logf appends one line to the case's byte-level log.
func (x *checker) logf(format string, a ...any) {
	x.log = append(x.log, fmt.Sprintf(format, a...))
}

// quote renders at most 80 bytes of b for a log or a detail.
func quote(b []byte) string {
	const max = 80
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// reqs joins requirement IDs for a detail line: "REQ-CLI-1, REQ-CLI-2".
func reqs(ids ...string) string { return strings.Join(ids, ", ") }
