package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The client process: how the kit runs the client under test once per
// client case (a Go function, or a command in a fresh temporary directory
// with empty stdin), waits for it, stops it when it hangs, and says how it
// ended.

// ErrClientUnsupported is what a [ClientFunc] returns (or wraps) to declare
// that it does not support a case; the case is then a SKIP, as for a client
// command that exits with status 127.
var ErrClientUnsupported = errors.New("conformance: the client does not support this case")

// clientExit is how the client under test ended.
type clientExit struct {
	err         error  // nil means success (exit status 0)
	status      int    // a command's exit status (-1: ended by a signal); 0 or 1 for a Func
	command     bool   // the client is a command, not a Func
	unsupported bool   // exit status 127, or ErrClientUnsupported
	setup       error  // the client could not be started at all
	output      string // the tail of a command's stdout (or, when it printed nothing, stderr)
	report      string // what it said: a command's stdout and stderr (their tails), a Func's error
	crash       string // how it crashed (a signal, an uncaught exception), or ""
	killed      bool   // the kit stopped it at the timeout
	ignored     bool   // its exit status carries no verdict (ClientTarget.IgnoreStatus)
	leftovers   int    // descendants still running when it ended, which the kit ended
	straceSaid  string // under strace: the first line strace itself wrote to stderr, or ""
}

// String describes the exit in a few words, for a detail line. With the
// exit status ignored it never says the client reported success or
// failure.
func (e *clientExit) String() string {
	var s string
	var why []string
	switch {
	case e.setup != nil:
		return fmt.Sprintf("could not be started: %v", e.setup)
	case e.killed:
		s = "was killed at the timeout"
	case e.crash != "":
		s = "crashed (" + e.crash + ")"
		if e.ignored {
			s = "ended: it crashed (" + e.crash + ")"
		}
	case e.ignored:
		s = "ended (its exit status is not judged)"
	case e.err == nil:
		s = "reported success (exit status 0)"
	case e.command && e.status > 0:
		s = fmt.Sprintf("reported failure (exit status %d)", e.status)
	case e.command:
		s = "failed"
		why = append(why, oneLine(e.err.Error(), 120))
	default:
		s = "reported failure"
		why = append(why, oneLine(e.err.Error(), 120))
	}
	if out := strings.TrimSpace(e.output); out != "" && e.crash == "" && !e.ignored {
		why = append(why, "its output ends "+quote([]byte(lastLine(out))))
	}
	if len(why) > 0 {
		s += " (" + strings.Join(why, "; ") + ")"
	}
	return s
}

// launch makes the temporary directory and the listener and starts the
// client.
func (s *clientSession) launch() (Outcome, bool) {
	x := s.x
	if x.target == nil || (x.target.Func == nil && len(x.target.Command) == 0) {
		return errored("no client to check: the target has neither a Func nor a Command"), false
	}
	dir, err := os.MkdirTemp("", "stickykit-client-")
	if err != nil {
		return errored("setting up: %v", err), false
	}
	s.dir = dir
	s.out = filepath.Join(dir, outName)
	if c := x.target.Collect; c != "" {
		name := clientPlaceholders("", s.name, "").Replace(c)
		if !filepath.IsLocal(name) {
			return errored("setting up: the output to collect, %q, is not a name inside the client's directory", name), false
		}
		s.out = filepath.Join(dir, name)
	}
	if s.prepare != nil {
		if err := s.prepare(s.out); err != nil {
			return errored("setting up: %v", err), false
		}
	}
	if err := s.startTrace(); err != nil {
		return errored("setting up: %v", err), false
	}
	ln, err := listenFor(s.ctx, x.target.Listen, x.timeout)
	if err != nil {
		return errored("setting up: %v", err), false
	}
	s.ln = ln
	addr := ln.Addr().String()
	x.logf("kit: listening on %s; running the client with name %s, out %s", addr, quote([]byte(s.name)), s.out)
	s.start(addr)
	return Outcome{}, true
}

// listenFor listens where the kit's server of a client case must: on
// addr, which must be a loopback address, or on a fresh loopback port. A
// fixed address still in use is tried again for up to wait (the listener
// of the case before may not have let go of it yet on a busy machine);
// then the error names the process that holds it, where the kernel says.
func listenFor(ctx context.Context, addr string, wait time.Duration) (*net.TCPListener, error) {
	if addr == "" {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, fmt.Errorf("cannot listen on loopback: %w", err)
		}
		return ln, nil
	}
	if err := loopbackAddr(addr); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln.(*net.TCPListener), nil
		}
		if !isAddrInUse(err) {
			return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
		}
		select {
		case <-tick.C:
			continue
		case <-ctx.Done():
		}
		return nil, fmt.Errorf("cannot listen on %s: %w%s", addr, err, holder(addr))
	}
}

// holder says which process listens on addr, for an error that it is in
// use: the kit itself, another program, or nothing the kit can name.
func holder(addr string) string {
	pid, ok := listenerPID(addr)
	switch {
	case !ok:
		return ""
	case pid == os.Getpid():
		return " (by stickykit itself, still)"
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return fmt.Sprintf(" (process %d listens there)", pid)
	}
	return fmt.Sprintf(" (process %d, %s, listens there)", pid, strings.TrimSpace(string(comm)))
}

// CheckListen checks t.Listen: empty, or host:port on loopback.
func (t ClientTarget) CheckListen() error {
	if t.Listen == "" {
		return nil
	}
	return loopbackAddr(t.Listen)
}

// loopbackAddr checks that addr is host:port with a loopback IP host
// (127.0.0.0/8, ::1) or "localhost": the kit sends its traffic nowhere
// else.
func loopbackAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q: bad port: %w", addr, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8 or ::1): the kit listens and connects on loopback only", addr)
	}
	return nil
}

// start runs the client in its own goroutine; s.exited is closed when it
// has ended.
func (s *clientSession) start(addr string) {
	cctx, cancel := context.WithCancel(s.ctx)
	s.cancel = cancel
	s.exited = make(chan struct{})
	t := s.x.target
	go func() {
		defer close(s.exited)
		var e clientExit
		if t.Func != nil {
			e = runClientFunc(cctx, t.Func, addr, s.name, s.out)
			e.ignored = t.IgnoreStatus
		} else {
			e = runClientCommand(cctx, t, s.dir, addr, s.name, s.out, s.rd.trace)
		}
		s.killMu.Lock()
		e.killed = s.killed
		s.killMu.Unlock()
		s.exit = e
	}()
}

// runClientFunc runs a ClientFunc once, turning a panic into a failure.
func runClientFunc(ctx context.Context, f ClientFunc, addr, name, out string) (e clientExit) {
	defer func() {
		if v := recover(); v != nil {
			e = clientExit{err: fmt.Errorf("panic: %v", v), status: 2, crash: oneLine(fmt.Sprintf("a Go panic: %v", v), 160)}
		}
	}()
	err := f(ctx, addr, name, out)
	e = clientExit{err: err}
	if err != nil {
		e.status = 1
		e.unsupported = errors.Is(err, ErrClientUnsupported)
		e.report = err.Error()
	}
	return e
}

// killWait bounds the wait for a client command to end once the kit has
// killed it. A killed process always ends: how soon depends on how busy
// the machine is, not on the client, so this wait does not shrink with
// the timeout.
const killWait = 10 * time.Second

// kill stops a client that hung and waits for it to end, at most wait
// (for a command, at least killWait). It reports whether the client has
// ended.
func (s *clientSession) kill(wait time.Duration) bool {
	select {
	case <-s.exited:
		return true
	default:
	}
	s.killMu.Lock()
	s.killed = true
	s.killMu.Unlock()
	s.cancel()
	if s.conn != nil {
		s.conn.Close()
	}
	if t := s.x.target; t != nil && t.Func == nil {
		wait = max(wait, killWait)
	}
	return s.waitExit(wait)
}

// waitExit waits at most d for the client to end.
func (s *clientSession) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.exited:
		return true
	case <-t.C:
		return false
	case <-s.ctx.Done():
		return false
	}
}

// close ends the run: it stops a client still running, closes the
// connection and the listener, and removes the temporary directory. It
// waits for the client even when the run was interrupted, at most the
// timeout, so that the client does not outlive its directory.
func (s *clientSession) close() {
	if s.exited != nil {
		s.killMu.Lock()
		select {
		case <-s.exited:
		default:
			s.killed = true
		}
		s.killMu.Unlock()
		s.cancel()
		if s.conn != nil {
			s.conn.Close()
		}
		t := time.NewTimer(s.x.timeout)
		select {
		case <-s.exited:
		case <-t.C:
			s.x.logf("kit: the client has not returned %v after it was cancelled; leaving it", s.x.timeout)
		}
		t.Stop()
	}
	if s.conn != nil {
		s.unwatch()
		s.conn.Close()
	}
	if s.ln != nil {
		s.ln.Close()
	}
	if s.cancel != nil {
		s.cancel()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	s.keepReads()
	s.rd.trace.remove()
}

// runClientCommand runs a client command once, as ClientTarget.Command
// documents: placeholders replaced, in dir, with t.Stdin or empty stdin,
// under strace when trace is not nil, killed (its whole process group)
// when ctx is done. Its descendants are ended once it has ended (see
// proc.go); the verdict is the client's own exit, at once.
func runClientCommand(ctx context.Context, t *ClientTarget, dir, addr, name, out string, trace *programTrace) clientExit {
	r := clientPlaceholders(addr, name, out)
	args := make([]string, len(t.Command))
	for i, a := range t.Command {
		args[i] = r.Replace(a)
	}
	ps := procSpec{argv: trace.wrap(args), dir: dir}
	if t.Stdin != "" {
		in := r.Replace(t.Stdin)
		ps.stdin = &in
	}
	e := clientExit{command: true, ignored: t.IgnoreStatus}
	p, err := startProc(ps)
	if err != nil {
		e.setup = err
		return e
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
		<-p.done
	}
	p.finish()
	stdout, stderr := p.outputs()
	if trace != nil {
		e.straceSaid, stderr = straceSays(stderr)
	}
	e.output = stdout
	if strings.TrimSpace(stdout) == "" {
		e.output = stderr
	}
	e.report = stdout + "\n" + stderr
	code, sig := p.status()
	e.status = code
	e.crash = crashWords(sig, p.byKit(), stderr)
	if t.IgnoreStatus && endOfInput(stderr) {
		e.crash = "" // the way an interactive client always ends
	}
	e.leftovers = p.descendantsEnded()
	switch {
	case code == 0:
	case sig != "":
		e.err = fmt.Errorf("ended by %s", sig)
	default:
		e.err = fmt.Errorf("exit status %d", code)
	}
	e.unsupported = code == 127
	return e
}

// endOfInput reports whether stderr ends with the error of a prompt that
// read the end of its input (Python's EOFError), which is how an
// interactive client given --stdin ends every time.
func endOfInput(stderr string) bool {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	return strings.HasPrefix(strings.TrimSpace(lines[len(lines)-1]), "EOFError")
}

// clientPlaceholders replaces the placeholders of a client's command
// line, stdin and --collect pattern.
func clientPlaceholders(addr, name, out string) *strings.Replacer {
	host, port, _ := net.SplitHostPort(addr)
	return strings.NewReplacer("{host}", host, "{port}", port, "{addr}", addr, "{name}", name, "{out}", out)
}
