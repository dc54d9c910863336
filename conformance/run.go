package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// DefaultTimeout bounds every single wait on the implementation under test
// (a reply, a read, a client's exit) unless Options.Timeout says otherwise.
const DefaultTimeout = 5 * time.Second

// ServerTarget is a server under test: one already running at Addr and
// serving Root, or a fresh one for every case, started by Start or from
// Command.
//
// Whether the server is still there is asked of the kernel, without
// connecting (a connection is a client that leaves, which a fragile server
// may not survive): on a loopback address the kit reads the listening
// sockets. A server that stops listening during a case, after it closed
// or reset one of the case's connections, fails that case (REQ-SRV-16);
// a running server that is gone makes every later case ERROR.
type ServerTarget struct {
	Addr    string       // host:port of the server; with Start, unused; with Command, see Command
	Root    string       // the directory it serves: the kit writes its fixtures here and removes them afterwards
	Framing spec.Framing // the framing it speaks
	// Digest says whether its transfers end with a digest; the zero value
	// is spec.DigestMD5. With spec.DigestNone the cases about the digest
	// are SKIP and the others expect no digest.
	Digest spec.DigestMode

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

	// Command, when not empty and Start is nil, is the server's argv:
	// the kit runs it fresh for each case, as Start does, in a process
	// group of its own, with the directory it must serve as its working
	// directory, and stops it when the case ends (SIGTERM, then SIGKILL,
	// the whole group). Placeholders {host} {port} {addr} {root} in any
	// argument are replaced. With {port} or {addr} the kit picks a free
	// port on the host of Addr (127.0.0.1 when Addr is empty); without
	// them Addr is where the program listens. The kit waits until it
	// listens, without connecting. A server that ends during a case is
	// named, with its exit status and the end of its stderr: a crash
	// fails the case (REQ-SRV-16); a kill from outside makes it ERROR.
	Command []string
	// Reads, with Command, runs the server under strace and records its
	// read calls: a case whose request arrives in pieces
	// (server/split-request) names how the server read it ("the server
	// read 1 byte, `g`, and no more of the 47-byte request ..."). As for
	// ClientTarget.Reads, where strace cannot trace, the cases run
	// without it.
	Reads bool
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
// in a fresh temporary directory with empty stdin (or Stdin).
type ClientTarget struct {
	Framing spec.Framing
	// Digest says whether the client expects a digest after the data; the
	// zero value is spec.DigestMD5. With spec.DigestNone the cases about
	// the digest are SKIP and the kit sends none in the others.
	Digest spec.DigestMode
	// Func is called for each case when it is not nil.
	Func ClientFunc
	// Command is the client's argv, used when Func is nil. Placeholders
	// {host} {port} {addr} {name} {out} in any argument are replaced. Exit
	// status 127 means the client does not support the case: SKIP.
	Command []string

	// Listen, when set, is the loopback address (host:port) the kit's
	// server listens on in every case, for a client whose address is
	// written into it; the cases run one after another, as always. Empty
	// means a fresh loopback port per case.
	Listen string
	// Stdin, when set, is written to the command's stdin, which is then
	// closed, after the placeholders are replaced: for a client that
	// reads its commands from a prompt ("get {name}\n").
	Stdin string
	// Collect, when set, is where the client leaves its output: a file
	// name, placeholders replaced, in its working directory, judged
	// exactly as {out} is (for a client that names its output itself,
	// such as "{name}.new"). {out} is then that file too.
	Collect string
	// IgnoreStatus makes the exit status (or a Func's error) carry no
	// verdict: the output and the wire alone decide, for a client that
	// ends the same way every time (an end-of-input error at its prompt).
	IgnoreStatus bool
	// Reads, with a Command, runs the client under strace and records,
	// per case, each of its read calls on the kit's connection: what it
	// asked for, what it got, and where in the server-to-client stream
	// (Result.Reads). The verdicts then name the read that took the
	// digest as file data, the short read of half a digest, a size read
	// together with data, a digest read in part or not at all; a verdict
	// that rests on the reads says so. Where strace is missing or may not
	// trace (see ProbeReads), the cases run as without Reads, and the
	// first result's log says so; a tracing failure is never a verdict.
	Reads bool
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
	digest  spec.DigestMode
	timeout time.Duration
	log     []string
}

// caseEnv is what a run sets for each of its cases: the framing and the
// digest the implementation speaks.
type caseEnv struct {
	framing spec.Framing
	digest  spec.DigestMode
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
	// proc is the server's process, when the kit started it for the
	// case (check server -- CMD); nil otherwise.
	proc *serverProc
	// serverEnded is set when the server ended (closed or reset) a
	// connection of the case, or refused one: then the runner asks
	// whether it is still there.
	serverEnded atomic.Bool
	// connected is set when a connection of the case was accepted.
	connected atomic.Bool
	// prev is the case before this one against the same running server.
	prev string
	// canaryConn is the connection of the preflight's request.
	canaryConn *net.TCPConn

	trace     *programTrace    // the server's recorded reads, when recorded
	watched   []watchedRequest // requests whose reading the verdict names
	traceNote string           // why the server's reads were not recorded, when tracing failed here
}

// clientCheck is the run of one client case: the client under test.
type clientCheck struct {
	check
	target *ClientTarget

	reads       *readsRun // the run's recording of reads; nil when not asked for
	recorded    *Reads    // the client's reads in this case, when recorded
	traceFailed string    // what strace said when it could not run the client
}

// content returns n bytes of the case's seeded content for label.
func (x *clientCheck) content(label string, n int) []byte { return caseContent(x.c.ID, label, n) }

// RunServer runs the selected server cases against t, one after another,
// and returns one result per case (SKIP for a case whose framings exclude
// t.Framing).
//
// Before the first case, the kit removes from t.Root the fixtures that
// earlier runs, killed before they could clean up, provably left (see
// stale.go); the first result's log says what it removed.
func RunServer(ctx context.Context, t ServerTarget, o Options) []Result {
	var swept []string
	if t.Root != "" {
		sweepStale(t.Root, func(format string, a ...any) { swept = append(swept, fmt.Sprintf(format, a...)) })
	}
	run := &serverRun{reads: newReadsRun(t.Reads && t.Start == nil && len(t.Command) > 0)}
	results := runEntries(ctx, serverEntries(t, o, run))
	if note := run.reads.unsaid(); note != "" {
		swept = append(swept, note)
	}
	if len(results) > 0 {
		results[0].Log = append(swept, results[0].Log...)
	}
	return results
}

// RunClient runs the selected client cases against t, one after another.
//
// With t.Reads, each case records the client's read calls
// (Result.Reads); where strace is missing or may not trace, the cases run
// without them, and the first result's log says so.
func RunClient(ctx context.Context, t ClientTarget, o Options) []Result {
	reads := newReadsRun(t.Reads && t.Func == nil && len(t.Command) > 0)
	results := runEntries(ctx, clientEntries(t, o, reads))
	if note := reads.unsaid(); note != "" && len(results) > 0 {
		results[0].Log = append([]string{note}, results[0].Log...)
	}
	return results
}

// entry is a case of the catalogue that o selects, ready to run against a
// target in framing f.
type entry struct {
	c   *Case
	f   spec.Framing
	run func(ctx context.Context) Result
}

// notRun returns the result of e when it could not run at all, with the
// outcome o (an ERROR).
func (e entry) notRun(o Outcome) Result {
	return Result{Case: e.c.clone(), Framing: e.f, Outcome: o}
}

// serverEntries returns the server cases o selects, to run against t as
// parts of run.
func serverEntries(t ServerTarget, o Options, run *serverRun) []entry {
	return entriesOf(serverCatalogue, t.Framing, o, func(sc *serverCase) *Case { return &sc.Case },
		func(ctx context.Context, sc *serverCase) Result { return runServerCase(ctx, sc, t, o, run) })
}

// clientEntries returns the client cases o selects, to run against t.
func clientEntries(t ClientTarget, o Options, reads *readsRun) []entry {
	return entriesOf(clientCatalogue, t.Framing, o, func(cc *clientCase) *Case { return &cc.Case },
		func(ctx context.Context, cc *clientCase) Result { return runClientCase(ctx, cc, t, o, reads) })
}

// entriesOf returns an entry for each row of a catalogue that o selects:
// head gives the row's case, run runs it.
func entriesOf[R any](rows []R, f spec.Framing, o Options, head func(*R) *Case, run func(context.Context, *R) Result) []entry {
	var es []entry
	for i := range rows {
		r := &rows[i]
		if c := head(r); o.selects(c.ID) {
			es = append(es, entry{c, f, func(ctx context.Context) Result { return run(ctx, r) }})
		}
	}
	return es
}

// runEntries runs es one after another. Once ctx is done (the run was
// interrupted) the cases not yet run are ERROR at once.
func runEntries(ctx context.Context, es []entry) []Result {
	results := make([]Result, len(es))
	for i, e := range es {
		if ctx.Err() != nil {
			results[i] = e.notRun(interrupted(ctx, "the case did not run"))
			continue
		}
		results[i] = e.run(ctx)
	}
	return results
}

// interrupted is the outcome of a case the run's end stopped, or kept
// from running: what says so, and why the run ended.
func interrupted(ctx context.Context, what string) Outcome {
	return errored("the run was interrupted (%v): %s", context.Cause(ctx), what)
}

// serverRun is what the cases of one run against one server target
// share: whether the server is gone (a running server that stopped
// listening), and the last case it was seen in.
type serverRun struct {
	gone  string    // why the server is gone, or ""
	last  string    // the last case that found it listening
	reads *readsRun // the recording of the server's reads; nil when not asked for
}

// runServerCase runs one server case against t: it starts a fresh server
// when t says so, writes nothing itself (the case writes its fixtures
// through x.fx), removes every fixture afterwards, and judges what became
// of the server (afterCase).
func runServerCase(ctx context.Context, sc *serverCase, t ServerTarget, o Options, run *serverRun) Result {
	return runCase(ctx, &sc.Case, caseEnv{t.Framing, t.Digest}, o, func(ctx context.Context, base check) (Outcome, []string) {
		x := &serverCheck{check: base, addr: t.Addr, root: t.Root, files: t.Files}
		srv, out, ok := x.startServer(ctx, &t, run)
		if !ok {
			return out, x.log
		}
		defer srv.stop()
		defer func() { x.trace.remove() }()
		fx, err := newFixtures(&x.check, x.root)
		if err != nil {
			return setupFailed(err), x.log
		}
		x.fx = fx
		out = sc.run(ctx, x)
		x.fx.remove()
		if ctx.Err() == nil {
			out = x.afterCase(out, srv, run)
		}
		if x.trace != nil || x.traceNote != "" {
			srv.stop() // its trace is whole once it has ended
			out = x.withRequestReads(out)
		}
		return out, x.log
	})
}

// startedServer is the server a case talks to: one the kit started for
// it (a process, or through a ServerFactory) or the running one.
type startedServer struct {
	proc *serverProc // the process the kit started, or nil
	stop func()      // stops what the kit started, and removes its root
}

// startServer readies the server for x's case: a fresh one in a fresh
// root (unless x.root is set) when t says so, or else the running one,
// which must still be listening. When it cannot, the case is ERROR.
func (x *serverCheck) startServer(ctx context.Context, t *ServerTarget, run *serverRun) (*startedServer, Outcome, bool) {
	if t.Start == nil && len(t.Command) == 0 {
		if run.gone != "" {
			return nil, errored("the server is gone: %s", run.gone), false
		}
		if up, known := x.stillListening(); known && !up {
			run.gone = fmt.Sprintf("nothing listens on %s any more%s", x.addr, run.since())
			return nil, errored("the server is gone: %s", run.gone), false
		}
		x.prev, run.last = run.last, x.c.ID
		return &startedServer{stop: func() {}}, Outcome{}, true
	}
	remove := func() {}
	if x.root == "" {
		root, rm, err := freshRoot()
		if err != nil {
			return nil, errored("setting up: %v", err), false
		}
		x.root, remove = root, rm
	}
	if len(t.Command) > 0 && t.Start == nil {
		addr, err := serverAddr(t)
		if err != nil {
			remove()
			return nil, errored("setting up: %v", err), false
		}
		sp, err := x.startTracedServer(ctx, t, run, addr)
		if err != nil {
			x.trace.remove()
			remove()
			return nil, errored("the server under test could not be started: %v", err), false
		}
		x.addr, x.proc = addr, sp
		x.logf("kit: started %s, listening on %s, serving %s", quote([]byte(strings.Join(t.Command, " "))), addr, x.root)
		return &startedServer{proc: sp, stop: sync.OnceFunc(func() { sp.stop(); remove() })}, Outcome{}, true
	}
	addr, stopServer, err := t.Start(ctx, x.root)
	if err != nil {
		remove()
		return nil, errored("the server under test could not be started: %v", err), false
	}
	x.addr = addr
	x.logf("kit: started a fresh server on %s serving %s", addr, x.root)
	return &startedServer{stop: func() { stopServer(); remove() }}, Outcome{}, true
}

// since says in which case the server was last seen, for a detail.
func (r *serverRun) since() string {
	if r.last == "" {
		return ""
	}
	return " (it did in " + r.last + ")"
}

// stillListening asks the kernel whether the server still listens on
// x.addr, without connecting: a server whose process (where the kit can
// find it) has begun to exit counts as gone, since its socket is about
// to be. known is false where the kit cannot tell: an address not on
// loopback.
func (x *serverCheck) stillListening() (up, known bool) {
	if loopbackAddr(x.addr) != nil {
		return false, false
	}
	up, err := listening(x.addr)
	if err != nil {
		return false, false
	}
	if up {
		if pid, ok := listenerPID(x.addr); ok && pidExiting(pid) {
			return false, true
		}
	}
	return up, true
}

// afterCase judges what became of the server during the case whose
// outcome is o, when the kit saw the server end (close, reset) or refuse
// one of the case's connections: a server the kit started whose process
// has ended crashed there (REQ-SRV-16), unless someone else killed it
// (then the case could not finish: ERROR); a server that no longer
// listens crashed there too, and a running one is then gone for every
// later case. A server that ends only once the case's last connection
// has closed did nothing the case saw: the next case, with a fresh
// server or not, tells.
func (x *serverCheck) afterCase(o Outcome, srv *startedServer, run *serverRun) Outcome {
	if o.Verdict == Error || !x.serverEnded.Load() {
		return o
	}
	// A process that is on its way out (its connections close before
	// the kernel has let go of all it holds) is waited for, briefly.
	if sp := srv.proc; sp != nil && (sp.p.ended() || sp.p.exiting()) && sp.p.wait(context.Background(), serverStopGrace) {
		return x.ended(o, sp)
	}
	if up, known := x.stillListening(); known && !up {
		// A process that stopped listening is usually on its way out:
		// wait for it (bounded) to say how it ended.
		if sp := srv.proc; sp != nil && sp.p.wait(context.Background(), serverStopGrace) {
			return x.ended(o, sp)
		}
		if srv.proc == nil && !x.connected.Load() && x.prev != "" {
			// The case never reached the server: it went away after the
			// case before, however long its exit took to show.
			run.gone = fmt.Sprintf("it stopped listening on %s after %s, before %s could connect", x.addr, x.prev, x.c.ID)
			return errored("the server is gone: %s", run.gone)
		}
		how := fmt.Sprintf("nothing listens on %s any more", x.addr)
		if srv.proc != nil {
			how += ", though its process is still running"
		}
		if run != nil && srv.proc == nil && len(x.c.ID) > 0 {
			run.gone = fmt.Sprintf("it stopped listening on %s during %s", x.addr, x.c.ID)
		}
		return crashed(x.c, o, how)
	}
	return o
}

// ended judges a case during which the server's process ended: a crash,
// unless someone other than the kit killed it.
func (x *serverCheck) ended(o Outcome, sp *serverProc) Outcome {
	if sig, outside := sp.killedOutside(); outside {
		return errored("the server's process was killed by %s during the case, not by the kit: the case could not finish", sig)
	}
	return crashed(x.c, o, sp.ending())
}

// crashed is the outcome of case c during which the server stopped
// accepting connections: a FAIL that leads with the crash and how it
// showed (citing REQ-SRV-16 where c lists it), then says what the kit saw
// before it.
func crashed(c *Case, o Outcome, how string) Outcome {
	f := finding("your server stopped accepting connections during this case: %s", how)
	if c.Declares("REQ-SRV-16") {
		f = finding("%s (%s: no bytes a client sends and no way it closes may end the server)", f, cite("REQ-SRV-16"))
	}
	if o.Detail == "" {
		return outcome(Fail, f)
	}
	return outcome(Fail, f, finding("before that the kit saw: %s", o))
}

// runClientCase runs one client case against t, recording the client's
// reads when reads is not nil.
func runClientCase(ctx context.Context, cc *clientCase, t ClientTarget, o Options, reads *readsRun) Result {
	var rec *Reads
	res := runCase(ctx, &cc.Case, caseEnv{t.Framing, t.Digest}, o, func(ctx context.Context, base check) (Outcome, []string) {
		o, log, r := runTracedClientCase(ctx, cc, &t, reads, base)
		if t.Collect != "" {
			o = o.renameOut(t.Collect)
		}
		rec = r
		return o, log
	})
	res.Reads = rec
	return res
}

// runCase runs one case in framing f under the case's deadline, timing it.
// A case the run's end interrupted is ERROR, whatever it had concluded; a
// case out of time is INCONCLUSIVE.
func runCase(ctx context.Context, c *Case, env caseEnv, o Options,
	run func(ctx context.Context, base check) (Outcome, []string)) Result {
	f := env.framing
	res := Result{Case: c.clone(), Framing: f}
	switch {
	case !c.AppliesTo(f):
		res.Outcome = skip("applies to the %s framing only", otherFraming(f))
		return res
	case env.digest == spec.DigestNone && digestCases[c.ID]:
		res.Outcome = skip("the case is about the digest, and the exchange has none (digest %s)", env.digest)
		return res
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if o.CaseTimeout > 0 {
		cctx, cancel = context.WithTimeoutCause(ctx, o.CaseTimeout, errCaseTimeout)
	}
	defer cancel()
	start := time.Now()
	res.Outcome, res.Log = run(cctx, check{c: c, framing: f, digest: env.digest, timeout: o.timeout()})
	res.Duration = time.Since(start)
	switch {
	case ctx.Err() != nil:
		res.Outcome = interrupted(ctx, "the case was stopped before it finished")
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
