package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// DefaultTimeout bounds every single wait on the implementation under test
// (a reply, a read, a client's exit) unless Options.Timeout says otherwise.
const DefaultTimeout = 5 * time.Second

// ServerTarget is a server under test: one already running at Addr and
// serving Root, or, with Start, a fresh one for every case.
type ServerTarget struct {
	Addr    string       // host:port of the server; unused with Start
	Root    string       // the directory it serves: the kit writes its fixtures here and removes them afterwards
	Framing spec.Framing // the framing it speaks

	// Files names files the server serves, which server/named-files
	// fetches and checks for self-consistency. Without Root and Start
	// the kit cannot write fixtures: only the cases that need none run
	// (server_remote.go), and these are the only files it can fetch.
	Files []string

	// Start, when not nil, starts a fresh server for each case and stops
	// it when the case ends. The kit calls it with the directory the
	// server must serve: Root when set, or else a fresh temporary
	// directory of the case's own (inside another, so that the kit can
	// place a file just outside it), removed afterwards.
	Start ServerFactory
}

// ServerFactory starts a server under test that serves root and returns
// the address it listens on and a function that stops it; stop must not
// return before the server has let go of root. ctx is the case's context:
// the server need not outlive it.
type ServerFactory func(ctx context.Context, root string) (addr string, stop func(), err error)

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

// Options tune a run. The zero value runs every case with DefaultTimeout.
type Options struct {
	// Run selects the cases whose ID matches; nil selects all.
	Run *regexp.Regexp
	// Skip leaves out the cases whose ID matches; nil leaves out none.
	Skip *regexp.Regexp
	// Timeout bounds each wait on the implementation; 0 means DefaultTimeout.
	Timeout time.Duration
	// CaseTimeout bounds each whole case; 0 means no bound but the waits'.
	// A case still running when it expires is stopped (its pauses and
	// reads end at once) and is INCONCLUSIVE: the kit ran out of time, and
	// that says nothing about the implementation.
	CaseTimeout time.Duration
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

// selects reports whether the options select case id.
func (o Options) selects(id string) bool {
	return (o.Run == nil || o.Run.MatchString(id)) && (o.Skip == nil || !o.Skip.MatchString(id))
}

// check is what every run of a case has: the case, the framing, the bound
// of each wait and the byte-level log.
type check struct {
	c       *Case
	framing spec.Framing
	timeout time.Duration
	log     []string
}

// logf appends one line to the case's byte-level log.
func (x *check) logf(format string, a ...any) {
	x.log = append(x.log, fmt.Sprintf(format, a...))
}

// serverCheck is the run of one server case: the server under test and the
// case's fixtures in its root.
type serverCheck struct {
	check
	addr  string
	root  string   // "" when the kit cannot write the server's root
	files []string // ServerTarget.Files
	fx    *fixtures
}

// clientCheck is the run of one client case: the client under test.
type clientCheck struct {
	check
	target *ClientTarget
}

// content returns n bytes of the case's seeded content for label.
func (x *clientCheck) content(label string, n int) []byte { return caseContent(x.c.ID, label, n) }

// RunServer runs the selected server cases against t, one after another,
// and returns one result per case (SKIP for a case whose framings exclude
// t.Framing).
func RunServer(ctx context.Context, t ServerTarget, o Options) []Result {
	return runEntries(ctx, serverEntries(t, o))
}

// RunClient runs the selected client cases against t, one after another.
func RunClient(ctx context.Context, t ClientTarget, o Options) []Result {
	return runEntries(ctx, clientEntries(t, o))
}

// entry is a case of the catalogue that o selects, ready to run against a
// target.
type entry struct {
	c   *Case
	run func(ctx context.Context) Result
}

// serverEntries returns the server cases o selects, to run against t.
func serverEntries(t ServerTarget, o Options) []entry {
	return entriesOf(serverCatalogue, o, func(sc *serverCase) *Case { return &sc.Case },
		func(ctx context.Context, sc *serverCase) Result { return runServerCase(ctx, sc, t, o) })
}

// clientEntries returns the client cases o selects, to run against t.
func clientEntries(t ClientTarget, o Options) []entry {
	return entriesOf(clientCatalogue, o, func(cc *clientCase) *Case { return &cc.Case },
		func(ctx context.Context, cc *clientCase) Result { return runClientCase(ctx, cc, t, o) })
}

// entriesOf returns an entry for each row of a catalogue that o selects:
// head gives the row's case, run runs it.
func entriesOf[R any](rows []R, o Options, head func(*R) *Case, run func(context.Context, *R) Result) []entry {
	var es []entry
	for i := range rows {
		r := &rows[i]
		if c := head(r); o.selects(c.ID) {
			es = append(es, entry{c, func(ctx context.Context) Result { return run(ctx, r) }})
		}
	}
	return es
}

// runEntries runs es one after another.
func runEntries(ctx context.Context, es []entry) []Result {
	results := make([]Result, len(es))
	for i, e := range es {
		results[i] = e.run(ctx)
	}
	return results
}

// runServerCase runs one server case against t: it starts a fresh server
// when t says so, writes nothing itself (the case writes its fixtures
// through x.fx) and removes every fixture afterwards.
func runServerCase(ctx context.Context, sc *serverCase, t ServerTarget, o Options) Result {
	return runCase(ctx, &sc.Case, t.Framing, o, func(ctx context.Context, base check) (Outcome, []string) {
		x := &serverCheck{check: base, addr: t.Addr, root: t.Root, files: t.Files}
		if t.Start != nil {
			stop, o, ok := x.startServer(ctx, t.Start)
			if !ok {
				return o, x.log
			}
			defer stop()
		}
		x.fx = newFixtures(&x.check, x.root)
		defer x.fx.remove()
		return sc.run(ctx, x), x.log
	})
}

// startServer starts a fresh server for the case, in a fresh root unless
// x.root is set. It returns what stops it and removes that root.
func (x *serverCheck) startServer(ctx context.Context, start ServerFactory) (stop func(), o Outcome, ok bool) {
	var dir string
	if x.root == "" {
		d, err := os.MkdirTemp("", "stickykit-check-")
		if err != nil {
			return nil, inconclusive("setting up: %v", err), false
		}
		dir, x.root = d, filepath.Join(d, "root")
		if err := os.Mkdir(x.root, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, inconclusive("setting up: %v", err), false
		}
	}
	addr, stopServer, err := start(ctx, x.root)
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir)
		}
		return nil, inconclusive("the server under test could not be started: %v", err), false
	}
	x.addr = addr
	x.logf("kit: started a fresh server on %s serving %s", addr, x.root)
	return func() {
		stopServer()
		if dir != "" {
			os.RemoveAll(dir)
		}
	}, Outcome{}, true
}

// runClientCase runs one client case against t.
func runClientCase(ctx context.Context, cc *clientCase, t ClientTarget, o Options) Result {
	return runCase(ctx, &cc.Case, t.Framing, o, func(ctx context.Context, base check) (Outcome, []string) {
		x := &clientCheck{check: base, target: &t}
		return cc.run(ctx, x), x.log
	})
}

// runCase runs one case in framing f under the case's deadline, timing it,
// and turns what the kit could not finish into INCONCLUSIVE: a run
// interrupted before a PASS, or a case out of time.
func runCase(ctx context.Context, c *Case, f spec.Framing, o Options,
	run func(ctx context.Context, base check) (Outcome, []string)) Result {
	res := Result{Case: c.clone(), Framing: f}
	if !c.AppliesTo(f) {
		res.Outcome = skip("applies to the %s framing only", otherFraming(f))
		return res
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if o.CaseTimeout > 0 {
		cctx, cancel = context.WithTimeoutCause(ctx, o.CaseTimeout, errCaseTimeout)
	}
	defer cancel()
	start := time.Now()
	res.Outcome, res.Log = run(cctx, check{c: c, framing: f, timeout: o.timeout()})
	res.Duration = time.Since(start)
	switch {
	case ctx.Err() != nil && res.Outcome.Verdict == Pass:
		res.Outcome = inconclusive("the run was interrupted: %v", ctx.Err())
	case ctx.Err() == nil && errors.Is(context.Cause(cctx), errCaseTimeout):
		res.Outcome = inconclusive("the case did not finish within its %v (the kit stopped it; this says nothing about the implementation)", o.CaseTimeout)
	}
	return res
}

// errCaseTimeout is the cause of a case's context that ran out of time.
var errCaseTimeout = errors.New("conformance: the case ran out of time")

func otherFraming(f spec.Framing) spec.Framing {
	if f == spec.Line {
		return spec.Lockstep
	}
	return spec.Line
}

// pause waits d, or less if ctx ends first; it reports whether it waited
// the whole time. Every pause in the kit is one of these, so a case's
// deadline or an interrupt ends it at once.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
