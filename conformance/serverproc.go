package conformance

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The server under test as a process the kit starts itself, fresh for
// every case (ServerTarget.Command): in its own process group, with the
// case's root as its working directory (tutorial servers serve the
// directory they run in), stopped when the case ends. Starting it is
// startProc's (proc.go), as for a client; this file fills in its command
// line, waits until it listens, and says how it ended.

// serverStopGrace is how long a server has to end after SIGTERM before the
// kit sends SIGKILL.
const serverStopGrace = 2 * time.Second

// startWait bounds the wait for a program the kit started to listen (a
// server) or to connect (a client), whatever the timeout: starting a
// process, an interpreter or a runtime is the machine's work as much as
// the program's, and on a busy machine it takes seconds. The bound costs
// nothing when the program is quick: the kit waits for the event itself.
func startWait(timeout time.Duration) time.Duration { return max(2*timeout, 30*time.Second) }

// picksPort reports whether argv lets the kit choose the server's port:
// it holds {port} or {addr}.
func picksPort(argv []string) bool {
	return slices.ContainsFunc(argv, func(a string) bool {
		return strings.Contains(a, "{port}") || strings.Contains(a, "{addr}")
	})
}

// serverAddr returns the address the server of t will listen on: a free
// port on the host of t.Addr (127.0.0.1 by default) when the command
// takes {port} or {addr}, else t.Addr itself.
func serverAddr(t *ServerTarget) (string, error) {
	if !picksPort(t.Command) {
		if t.Addr == "" {
			return "", fmt.Errorf("the server's command takes no {port} or {addr}: say where it listens (Addr, --addr)")
		}
		return t.Addr, nil
	}
	host := "127.0.0.1"
	if t.Addr != "" {
		h, _, err := net.SplitHostPort(t.Addr)
		if err != nil {
			return "", err
		}
		host = h
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("cannot find a free port on %s: %w", host, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// serverProc is a server the kit started for one case.
type serverProc struct {
	p    *proc
	addr string
}

// startServerProc starts the server of t serving root, listening on addr
// (under strace when trace is not nil), and waits until it listens. On failure it says why, in a learner's
// words, with what the program printed.
func startServerProc(ctx context.Context, t *ServerTarget, root, addr string, timeout time.Duration, trace *programTrace) (*serverProc, error) {
	host, port, _ := net.SplitHostPort(addr)
	r := strings.NewReplacer("{host}", host, "{port}", port, "{addr}", addr, "{root}", root)
	argv := make([]string, len(t.Command))
	for i, a := range t.Command {
		argv[i] = r.Replace(a)
	}
	p, err := startProc(procSpec{argv: trace.wrap(argv), dir: root})
	if err != nil {
		return nil, fmt.Errorf("cannot start the server: %w", err)
	}
	sp := &serverProc{p: p, addr: addr}
	if err := sp.waitListening(ctx, startWait(timeout)); err != nil {
		if said, _ := straceSays(tail(p.stderr)); trace != nil && said != "" {
			err = &tracingError{said: said, err: err}
		}
		sp.stop()
		return nil, err
	}
	return sp, nil
}

// waitListening waits until the server listens on its address, without
// connecting to it; it fails when the server ends first, ctx ends, or
// wait passes. A socket on the address that belongs to another program
// (one that took the port the kit had found free) is not the server's.
func (sp *serverProc) waitListening(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	pace := time.Millisecond
	for {
		up, err := listening(sp.addr)
		if up {
			if pid, found := listenerPID(sp.addr); found && !sp.p.owns(pid) {
				up = false
			}
		}
		switch {
		case err != nil:
			return fmt.Errorf("cannot tell whether the server listens on %s: %w", sp.addr, err)
		case up:
			return nil
		case sp.p.ended():
			return fmt.Errorf("the server ended before it listened on %s: %s", sp.addr, sp.ending())
		case time.Now().After(deadline):
			return fmt.Errorf("the server did not listen on %s within %v: if it listens elsewhere, say where (--addr), or give it the kit's port with {port} or {addr}", sp.addr, wait)
		}
		if !pause(ctx, pace) {
			return ctx.Err()
		}
		pace = min(2*pace, 20*time.Millisecond)
	}
}

// ending says how the server's process ended, with the last lines of its
// stderr: "it exited with status 1; its stderr ends ...". Call it once
// the process has ended.
func (sp *serverProc) ending() string {
	code, sig := sp.p.status()
	how := fmt.Sprintf("its process exited with status %d", code)
	if sig != "" {
		how = "its process was killed by " + sig
	}
	if t := lastLines(tail(sp.p.stderr), 2); t != "" {
		how += "; its stderr ends " + t
	}
	return how
}

// killedOutside reports whether the server's process was ended by a
// signal that someone other than the kit sent and that is no crash (a
// SIGKILL, a SIGTERM, a Ctrl-C): then a case it was in could not finish.
func (sp *serverProc) killedOutside() (string, bool) {
	_, sig := sp.p.status()
	return sig, sig != "" && !sp.p.byKit() && !crashSignals[sig]
}

// stop ends the server (SIGTERM, then SIGKILL, the whole group, and every
// descendant the kit can find) and releases its files.
func (sp *serverProc) stop() {
	sp.p.stop(serverStopGrace)
	sp.p.closeFiles()
}

// freshRoot makes a fresh directory for a case's server to serve: "root"
// inside a new temporary directory of the kit's own (so that a file can
// be placed just outside the root), and returns the root and what removes
// it all.
func freshRoot() (root string, remove func(), err error) {
	d, err := os.MkdirTemp("", "stickykit-check-")
	if err != nil {
		return "", nil, err
	}
	// Open to all, as the root is: the server may run as another user.
	if err := os.Chmod(d, 0o755); err != nil {
		os.RemoveAll(d)
		return "", nil, err
	}
	root = filepath.Join(d, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		os.RemoveAll(d)
		return "", nil, err
	}
	return root, func() { os.RemoveAll(d) }, nil
}
