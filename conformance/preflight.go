package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Preflight: before any case runs, the kit checks that it has been pointed
// at the implementation the way it needs, so that a mistake of the user's
// (a root the server does not serve, the wrong framing, a client command
// that cannot start or never connects) is named once, as what it is,
// rather than as a table of failures of requirements nobody broke.

// SetupError is a mistake in how the kit was pointed at an implementation,
// found before any case ran: until it is fixed, no case can say anything.
type SetupError struct {
	Msg string
}

func (e *SetupError) Error() string { return e.Msg }

// setupError returns a *SetupError formatted as fmt.Sprintf does.
func setupError(format string, a ...any) error {
	return &SetupError{Msg: fmt.Sprintf(format, a...)}
}

// canaryLabel names the file of the preflight exchange.
const canaryLabel = "canary.txt"

// PreflightServer checks, before any case, that the kit can check the
// server of t: that it can be started (Command), that it listens where it
// should, that it serves the files of its root (the kit asks it for one,
// a canary), and that it seems to speak t.Framing. It returns a
// *SetupError for a mistake of the user's, and nil otherwise: a server
// that answers strangely in other ways is for the cases to judge.
//
// For a running server on loopback it also checks, without connecting
// again, that the server survived the kit's client leaving: a server that
// did not cannot be checked as it runs, only fresh for every case.
func PreflightServer(ctx context.Context, t ServerTarget, o Options) error {
	c := &check{c: &Case{ID: "preflight"}, framing: t.Framing, digest: t.Digest, timeout: o.timeout()}
	switch {
	case t.Start != nil:
		return nil // a Go function: nothing the user can have mistyped
	case len(t.Command) > 0:
		return preflightCommand(ctx, c, &t)
	}
	x := &serverCheck{check: *c, addr: t.Addr, root: t.Root}
	if t.Root == "" {
		// No root to put a file in for the canary: the kernel says
		// whether anything listens, and the cases say the rest.
		if up, known := x.stillListening(); known && !up {
			return setupError("cannot reach the server at %s: nothing listens there (start it first)", t.Addr)
		}
		return nil
	}
	sweepStale(t.Root, func(string, ...any) {})
	where := "the files in " + t.Root
	if err := x.canary(ctx, where); err != nil {
		return err
	}
	// Once the server has dealt with the canary's client leaving (it
	// closed its end, or it died), see whether it still listens.
	if x.canaryConn != nil {
		awaitPeerClose(ctx, x.canaryConn, x.timeout)
	}
	if up, known := x.stillListening(); known && !up {
		return setupError("the server at %s stopped listening once the kit's first client (one request for a file, then a clean close) had left: "+
			"it cannot be checked as it runs; let the kit start a fresh one for every case: stickykit check server -- CMD ARG...", t.Addr)
	}
	return nil
}

// preflightCommand checks a server command: it can be started, it
// listens, and it serves the files of its working directory.
func preflightCommand(ctx context.Context, c *check, t *ServerTarget) error {
	if err := lookCommand(t.Command[0], "server"); err != nil {
		return err
	}
	addr, err := serverAddr(t)
	if err != nil {
		return setupError("%v", err)
	}
	if !picksPort(t.Command) {
		if up, err := listening(addr); err == nil && up {
			return setupError("something already listens on %s before the kit started the server: stop it (the kit starts the server itself, fresh for every case)", addr)
		}
	}
	x := &serverCheck{check: *c, addr: addr, root: t.Root}
	remove := func() {}
	if x.root == "" {
		root, rm, err := freshRoot()
		if err != nil {
			return fmt.Errorf("setting up: %w", err)
		}
		x.root, remove = root, rm
	}
	defer remove()
	sp, err := startServerProc(ctx, t, x.root, addr, c.timeout, nil)
	if err != nil {
		return setupError("%v", err)
	}
	defer sp.stop()
	return x.canary(ctx, "the files in its working directory")
}

// lookCommand checks that the program argv0 of the role's command can be
// found, as it will be run: in a directory of the kit's choosing.
func lookCommand(argv0, role string) error {
	if strings.ContainsRune(argv0, filepath.Separator) && !filepath.IsAbs(argv0) {
		return setupError("the %s command %s is a relative path, and the kit runs the %s in a directory of its own: give its absolute path", role, argv0, role)
	}
	if _, err := exec.LookPath(argv0); err != nil {
		return setupError("cannot start the %s: %v", role, err)
	}
	return nil
}

// canary asks the server for a file the kit wrote into its root, and
// names the mistakes its answer shows: a server that cannot be reached,
// that does not serve the root (ERR not-found, or the silence of a
// tutorial-style server), or that speaks the other framing. where says
// what the server should serve, for the message. Any other answer is for
// the cases to judge.
func (x *serverCheck) canary(ctx context.Context, where string) error {
	fx, err := newFixtures(&x.check, x.root)
	if err != nil {
		return setupError("%v", err)
	}
	x.fx = fx
	defer fx.remove()
	fs, err := fx.files(sized{canaryLabel, 100})
	if err != nil {
		return setupError("%v", err)
	}
	name, data := fs[0].name, fs[0].data
	k, err := x.dial(ctx)
	if err != nil {
		return setupError("cannot reach the server at %s: %v", x.addr, err)
	}
	defer k.close()
	x.canaryConn, _ = k.nc.(*net.TCPConn)
	if err := k.request(name); err != nil {
		return nil // the cases will say
	}
	raw, err := x.rawReply(k)
	if len(raw) == 0 && isTimeout(err) && x.framing == spec.Lockstep {
		if err := x.lineProbe(ctx, name); err != nil {
			return err
		}
	}
	return x.judgeCanary(k, name, data, where, raw, err)
}

// lineProbe asks, on a second connection, for name as the line framing
// does, while the first connection (silent after its lockstep request)
// stays open: a line server that waits for an LF answers it, while a
// tutorial-style server, busy with the first connection, reads nothing.
// Nothing more is sent on the first connection: an LF there would be a
// request of its own to a lockstep server, and kill a fragile one.
func (x *serverCheck) lineProbe(ctx context.Context, name string) error {
	k2, err := x.dial(ctx)
	if err != nil {
		return nil
	}
	defer k2.close()
	req, err := spec.EncodeRequest(spec.Line, name)
	if err != nil || k2.write(req) != nil {
		return nil
	}
	line, _ := k2.rawLine()
	if bytes.HasSuffix(line, []byte("\n")) && parses(spec.TrimLine(line)) {
		return setupError("the server at %s sent nothing after the lockstep request `get %s`, and answered the same request ended by LF with %s: the server seems to speak line framing: add --framing line",
			x.addr, name, quote(line))
	}
	return nil
}

// judgeCanary judges the server's raw reply to the canary's request.
func (x *serverCheck) judgeCanary(k *kitConn, name string, data []byte, where string, raw []byte, err error) error {
	line := bytes.HasSuffix(raw, []byte("\n"))
	switch {
	case len(raw) == 0 && isTimeout(err):
		return setupError("the server at %s sent nothing for %v after `get %s`, a file the kit wrote among %s: it does not serve %s "+
			"(a tutorial-style server says nothing for a missing file), or it does not speak this exchange", x.addr, x.timeout, name, where, where)
	case len(raw) == 0:
		return nil // it closed: the cases will say
	case x.framing == spec.Lockstep && line && parses(spec.TrimLine(raw)):
		return setupError("the server at %s answered the lockstep request `get %s` with %s, a reply ending in LF: the server seems to speak line framing: add --framing line",
			x.addr, name, quote(raw))
	case x.framing == spec.Line && !line && parses(raw):
		return setupError("the server at %s answered `get %s` with %s and no LF (then %s): the server seems to speak lockstep framing: drop --framing line",
			x.addr, name, quote(raw), endWords(err))
	}
	size, perr := spec.ParseReply(spec.TrimLine(raw))
	var er *spec.ErrorReply
	switch {
	case errors.As(perr, &er) && er.Code == spec.CodeNotFound:
		return setupError("the server at %s does not serve %s: asked for %s, got %s", x.addr, where, name, quote(spec.TrimLine(raw)))
	case perr != nil || size != int64(len(data)):
		return nil // the cases will say
	}
	// Finish the exchange as a client does, so that a server that serves
	// one client at a time is free for the first case.
	if k.ack() == nil {
		io.Copy(io.Discard, io.LimitReader(k.r.Body(size), size))
		if k.digest != spec.DigestNone {
			k.r.ReadDigest()
		}
	}
	return nil
}

// parses reports whether b is a size or an error reply.
func parses(b []byte) bool {
	_, err := spec.ParseReply(b)
	var er *spec.ErrorReply
	return err == nil || errors.As(err, &er)
}

// rawReply reads the server's reply as it sent it: in lockstep one read,
// in the line framing up to and including an LF; at most a control
// message and its terminator, within the timeout.
func (x *serverCheck) rawReply(k *kitConn) ([]byte, error) {
	if x.framing == spec.Line {
		return k.rawLine()
	}
	buf := make([]byte, spec.MaxControlLen+2)
	k.nc.SetReadDeadline(time.Now().Add(x.timeout))
	n, err := k.nc.Read(buf)
	k.nc.SetReadDeadline(time.Time{})
	return buf[:n], err
}

// preflightName is the name the client is told to fetch in the preflight.
const preflightName = "preflight.bin"

// PreflightClient checks, before any case, that the client command of t
// can be started and connects to the kit's server: it runs it once, and
// stops it as soon as it has connected. It returns a *SetupError for a
// command that cannot be started, or a client that never connects (its
// address is written into it and needs Listen, or it takes it from another
// placeholder), and nil otherwise. A Func is not checked; a command that
// declares itself unsupported (exit status 127) is left to the cases.
func PreflightClient(ctx context.Context, t ClientTarget, o Options) error {
	if t.Func != nil || len(t.Command) == 0 {
		return nil
	}
	if err := lookCommand(t.Command[0], "client"); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "stickykit-client-")
	if err != nil {
		return fmt.Errorf("setting up: %w", err)
	}
	defer os.RemoveAll(dir)
	ln, err := listenFor(ctx, t.Listen, o.timeout())
	if err != nil {
		return setupError("%v", err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	out := filepath.Join(dir, outName)
	r := clientPlaceholders(addr, preflightName, out)
	ps := procSpec{argv: make([]string, len(t.Command)), dir: dir}
	for i, a := range t.Command {
		ps.argv[i] = r.Replace(a)
	}
	if t.Stdin != "" {
		in := r.Replace(t.Stdin)
		ps.stdin = &in
	}
	p, err := startProc(ps)
	if err != nil {
		return setupError("cannot start the client: %v", err)
	}
	defer func() {
		p.kill()
		p.finish()
		p.closeFiles()
	}()
	return awaitClient(ctx, ln, p, addr, startWait(o.timeout()))
}

// awaitClient waits for the client p to connect to ln, at most timeout.
func awaitClient(ctx context.Context, ln *net.TCPListener, p *proc, addr string, timeout time.Duration) error {
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	ln.SetDeadline(time.Now().Add(timeout))
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	var a accepted
	select {
	case a = <-ch:
	case <-p.done:
		ln.Close()
		a = <-ch
	case <-ctx.Done():
		ln.Close()
		a = <-ch
	}
	if a.c != nil {
		a.c.Close()
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	how := fmt.Sprintf("within %v", timeout)
	if p.ended() {
		code, sig := p.status()
		if code == 127 {
			return nil // it declares the case unsupported: the cases will say
		}
		how = fmt.Sprintf("(it exited with status %d", code)
		if sig != "" {
			how = "(it was killed by " + sig
		}
		if t := lastLines(tail(p.stderr), 2); t != "" {
			how += "; its stderr ends " + t
		}
		how += ")"
	}
	return setupError("the client never connected to %s %s: does it take the address from {addr}/{port}, or need --listen?", addr, how)
}
