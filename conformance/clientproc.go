package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
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
	output      string // the tail of a command's stdout and stderr
	killed      bool   // the kit stopped it at the timeout
}

// String describes the exit in a few words, for a detail line.
func (e *clientExit) String() string {
	var s string
	var why []string
	switch {
	case e.setup != nil:
		return fmt.Sprintf("could not be started: %v", e.setup)
	case e.killed:
		s = "was killed at the timeout"
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
	if out := strings.TrimSpace(e.output); out != "" {
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
		return inconclusive("no client to check: the target has neither a Func nor a Command"), false
	}
	dir, err := os.MkdirTemp("", "stickykit-client-")
	if err != nil {
		return inconclusive("setting up: %v", err), false
	}
	s.dir = dir
	s.out = filepath.Join(dir, outName)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return inconclusive("setting up: cannot listen on loopback: %v", err), false
	}
	s.ln = ln
	addr := ln.Addr().String()
	x.logf("kit: listening on %s; running the client with name %s, out %s", addr, quote([]byte(s.name)), s.out)
	s.start(addr)
	return Outcome{}, true
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
		} else {
			e = runClientCommand(cctx, t.Command, s.dir, addr, s.name, s.out)
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
			e = clientExit{err: fmt.Errorf("panic: %v", v), status: 2}
		}
	}()
	err := f(ctx, addr, name, out)
	e = clientExit{err: err}
	if err != nil {
		e.status = 1
		e.unsupported = errors.Is(err, ErrClientUnsupported)
	}
	return e
}

// startWait is the least time the kit gives a client to connect, whatever
// the timeout: starting a process, an interpreter or a runtime is the
// machine's work as much as the client's, and on a busy machine it takes
// seconds. A client that has not connected by then hangs.
const startWait = 30 * time.Second

// connectWait bounds the wait for the client's connection: the timeout,
// or startWait if longer.
func (s *clientSession) connectWait() time.Duration { return max(s.x.timeout, startWait) }

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
}

// runClientCommand runs a client command once, as ClientTarget.Command
// documents: placeholders replaced, in dir, with empty stdin, killed (its
// whole process group, where the system has them) when ctx is done.
func runClientCommand(ctx context.Context, argv []string, dir, addr, name, out string) clientExit {
	host, port, _ := net.SplitHostPort(addr)
	r := strings.NewReplacer("{host}", host, "{port}", port, "{addr}", addr, "{name}", name, "{out}", out)
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = r.Replace(a)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdin = nil // reads from the null device: empty stdin
	tail := &tailBuffer{max: 4 << 10}
	cmd.Stdout = tail
	cmd.Stderr = tail
	cmd.WaitDelay = time.Second
	ownProcessGroup(cmd)
	err := cmd.Run()
	if cmd.Process != nil {
		killProcessGroup(cmd)
	}
	e := clientExit{output: tail.String(), command: true}
	switch {
	case cmd.Process == nil:
		e.setup = err
	case cmd.ProcessState != nil:
		e.status = cmd.ProcessState.ExitCode()
		if err != nil || e.status != 0 {
			e.err = fmt.Errorf("%s", cmd.ProcessState)
			if e.status == 0 { // an I/O error after a clean exit, e.g. ErrWaitDelay
				e.err = err
			}
		}
		e.unsupported = e.status == 127
	default:
		e.status = -1
		e.err = err
	}
	if e.err == nil && err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		e.err = err
	}
	return e
}

// tailBuffer keeps the last max bytes written to it. os/exec calls Write
// from one goroutine at a time when Stdout and Stderr are the same writer.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
