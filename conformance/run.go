package conformance

import (
	"context"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// DefaultTimeout bounds every single wait on the implementation under test
// (a reply, a read, a client's exit) unless Options.Timeout says otherwise.
const DefaultTimeout = 5 * time.Second

// ServerTarget is a server under test.
type ServerTarget struct {
	Addr    string       // host:port of the server
	Root    string       // the directory it serves: the kit writes its fixtures here and removes them afterwards
	Framing spec.Framing // the framing it speaks
}

// ClientFunc runs a client under test once: it must fetch name from the
// server at addr and leave the file at out only if it verified. Its error
// stands for a non-zero exit status.
type ClientFunc func(ctx context.Context, addr, name, out string) error

// ClientTarget is a client under test: a Go function, or a command line run
// in a fresh temporary directory with empty stdin.
type ClientTarget struct {
	Framing spec.Framing
	// Func is called for each case when it is not nil.
	Func ClientFunc
	// Command is the client's argv, used when Func is nil. Placeholders
	// {host} {port} {addr} {name} {out} in any argument are replaced. Exit
	// status 127 means the client does not support the case: SKIP.
	Command []string
}

// Options tune a run.
type Options struct {
	// Run selects the cases whose ID matches; nil selects all.
	Run *regexp.Regexp
	// Timeout bounds each wait on the implementation; 0 means DefaultTimeout.
	Timeout time.Duration
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

var registry []*Case

// register adds cases to the registry; case files call it from init.
func register(cs ...*Case) { registry = append(registry, cs...) }

// Cases returns every case of role r, sorted by ID.
func Cases(r Role) []*Case {
	var out []*Case
	for _, c := range registry {
		if c.Role == r {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AllCases returns every case, servers first, each sorted by ID.
func AllCases() []*Case { return append(Cases(RoleServer), Cases(RoleClient)...) }

// Lookup returns the case with the given ID, or nil.
func Lookup(id string) *Case {
	for _, c := range registry {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// RunServer runs the selected server cases against t, one after another,
// and returns one result per case (SKIP for a case whose framings exclude
// t.Framing).
func RunServer(ctx context.Context, t ServerTarget, o Options) []Result {
	return run(ctx, RoleServer, t.Framing, o, func(x *checker) { x.server = &t })
}

// RunClient runs the selected client cases against t.
func RunClient(ctx context.Context, t ClientTarget, o Options) []Result {
	return run(ctx, RoleClient, t.Framing, o, func(x *checker) { x.client = &t })
}

func run(ctx context.Context, r Role, f spec.Framing, o Options, setup func(*checker)) []Result {
	var results []Result
	for _, c := range Cases(r) {
		if o.Run != nil && !o.Run.MatchString(c.ID) {
			continue
		}
		results = append(results, runCase(ctx, c, f, o, setup))
	}
	return results
}

func runCase(ctx context.Context, c *Case, f spec.Framing, o Options, setup func(*checker)) Result {
	res := Result{Case: c, Framing: f}
	if !c.AppliesTo(f) {
		res.Outcome = skip("applies to the %s framing only", otherFraming(f))
		return res
	}
	x := &checker{framing: f, timeout: o.timeout()}
	setup(x)
	start := time.Now()
	res.Outcome = c.run(ctx, x)
	res.Duration = time.Since(start)
	res.Log = x.log
	if ctx.Err() != nil && res.Outcome.Verdict == Pass {
		res.Outcome = inconclusive("the run was interrupted: %v", ctx.Err())
	}
	return res
}

func otherFraming(f spec.Framing) spec.Framing {
	if f == spec.Line {
		return spec.Lockstep
	}
	return spec.Line
}

// TestServer runs every server case against t as subtests of tt, named by
// case ID. A FAIL of a MUST case fails the subtest; a FAIL of a SHOULD case
// is logged; HAZARD, INCONCLUSIVE and SKIP skip the subtest with the reason.
// A failure means the server broke the requirement the case names, never a
// quirk of the kit; run it under the race detector when the server is Go.
func TestServer(tt *testing.T, t ServerTarget) {
	tt.Helper()
	for _, c := range Cases(RoleServer) {
		tt.Run(c.ID, func(tt *testing.T) {
			report(tt, runCase(tt.Context(), c, t.Framing, Options{}, func(x *checker) { x.server = &t }))
		})
	}
}

// TestClient runs every client case against t as subtests of tt, with the
// same verdict rules as TestServer.
func TestClient(tt *testing.T, t ClientTarget) {
	tt.Helper()
	for _, c := range Cases(RoleClient) {
		tt.Run(c.ID, func(tt *testing.T) {
			report(tt, runCase(tt.Context(), c, t.Framing, Options{}, func(x *checker) { x.client = &t }))
		})
	}
}

func report(tt *testing.T, r Result) {
	tt.Helper()
	for _, l := range r.Log {
		tt.Log(l)
	}
	o := r.Outcome
	switch o.Verdict {
	case Pass:
		return
	case Fail:
		if r.Case.Severity == Must {
			tt.Errorf("%s FAIL (%s, %v): %s", r.Case.ID, r.Case.Severity, r.Case.Requirements, o.Detail)
		} else {
			tt.Logf("%s FAIL (SHOULD, %v): %s", r.Case.ID, r.Case.Requirements, o.Detail)
		}
	default:
		tt.Skipf("%s %s: %s", r.Case.ID, o.Verdict, o.Detail)
	}
}
