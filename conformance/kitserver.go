package conformance

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/spec"
)

// ErrClientUnsupported is what a [ClientFunc] returns (or wraps) to declare
// that it does not support a case; the case is then a SKIP, as for a client
// command that exits with status 127.
var ErrClientUnsupported = errors.New("conformance: the client does not support this case")

// The client cases play the server. For each case the kit listens on a
// fresh loopback port, runs the client under test once, serves one scripted
// exchange, and judges what the client left at {out} and how it exited.
//
// Over TCP the kit controls segment boundaries with separate writes on a
// connection with TCP_NODELAY, and confirms them through the kernel: a
// drain waits until the send queue is empty (SIOCOUTQ on Linux), that is,
// until the client's kernel has acknowledged every byte written, and then
// until the client has read them: on loopback the kit finds the client's
// socket in /proc/net/tcp and waits for its receive queue to empty; where it
// cannot (another host or system) it pauses instead. A condition the kit cannot
// confirm makes a would-be PASS INCONCLUSIVE; a FAIL stays a FAIL, since
// every segmentation is one a TCP stack may produce.

// catchUp is the pause after a drain: long enough for a running client to
// read what its kernel holds before the kit sends the next piece.
const catchUp = 200 * time.Millisecond

// bytePace is the pause between the single-byte segments of client/split-body.
const bytePace = time.Millisecond

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

// clientSession is one run of the client under test against one scripted
// connection: the kit's side of client case.
type clientSession struct {
	x    *checker
	ctx  context.Context
	name string // the name the client is told to fetch
	dir  string // the fresh temporary directory the client runs in
	out  string // where the client must leave the file

	ln   *net.TCPListener
	conn *net.TCPConn
	br   *bufio.Reader
	werr error // first write error; later writes are skipped

	unconfirmed []string // conditions the kit could not produce or confirm
	notes       []string // observations for the detail line

	// What the kit saw after its last byte (set by finish).
	closed   bool   // the client closed the connection cleanly (EOF)
	reset    bool   // the connection was reset: the client closed with bytes unread
	stillOn  bool   // the connection was still open when the kit gave up
	trailing []byte // bytes the client sent after the exchange (first 80)
	trailN   int64  // how many

	cancel context.CancelFunc
	exited chan struct{}
	exit   clientExit // valid once exited is closed
	killMu sync.Mutex
	killed bool // the kit cancelled the client because it hung
}

// newClientSession prepares a run of x's client; call open next and close
// when done, whatever happened.
func newClientSession(ctx context.Context, x *checker, name string) *clientSession {
	return &clientSession{x: x, ctx: ctx, name: name}
}

// open makes the temporary directory and the listener, starts the client,
// accepts its connection and reads its request, which must ask for s.name.
// When it returns false the outcome says why the case ended.
func (s *clientSession) open() (Outcome, bool) {
	if o, ok := s.launch(); !ok {
		return o, false
	}
	connected, o, ok := s.acceptConn()
	if !ok {
		return o, false
	}
	if !connected {
		return s.endedEarly("the client exited without connecting to the kit"), false
	}
	b, err := s.readControl("request")
	if err != nil {
		return s.endedEarly(fmt.Sprintf("the client sent no request (%s)", readWords(err, s.x.timeout))), false
	}
	name, err := spec.ParseRequest(b)
	if err != nil {
		return s.endedEarly(fmt.Sprintf("the client's request %s is malformed: %v (REQ-MSG-1)", quote(b), err)), false
	}
	if name != s.name {
		return s.endedEarly(fmt.Sprintf("the client asked for %q; it was told to fetch %q (REQ-MSG-1)", name, s.name)), false
	}
	return Outcome{}, true
}

// launch makes the temporary directory and the listener and starts the
// client.
func (s *clientSession) launch() (Outcome, bool) {
	x := s.x
	if x.client == nil || (x.client.Func == nil && len(x.client.Command) == 0) {
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

// outName is the file name of {out} in the client's temporary directory.
const outName = "received.bin"

// acceptConn waits for the client's connection. connected is false when
// the client ended without connecting; ok is false when the case must end
// with the outcome returned.
func (s *clientSession) acceptConn() (connected bool, o Outcome, ok bool) {
	x := s.x
	type accepted struct {
		c   *net.TCPConn
		err error
	}
	ch := make(chan accepted, 1)
	s.ln.SetDeadline(time.Now().Add(x.timeout))
	go func() {
		c, err := s.ln.AcceptTCP()
		ch <- accepted{c, err}
	}()
	var a accepted
	select {
	case a = <-ch:
	case <-s.exited:
		s.ln.Close()
		a = <-ch
		if a.c == nil { // it may have connected just before it exited
			x.logf("kit: the client ended without connecting")
			return false, Outcome{}, true
		}
	case <-s.ctx.Done():
		s.ln.Close()
		if a = <-ch; a.c != nil {
			a.c.Close()
		}
		return false, inconclusive("the run was interrupted: %v", s.ctx.Err()), false
	}
	if a.err != nil {
		x.logf("kit: no connection: %v", a.err)
		return false, s.endedEarly(fmt.Sprintf("the client did not connect within %v", x.timeout)), false
	}
	s.conn = a.c
	x.logf("kit: accepted a connection from %s", a.c.RemoteAddr())
	if err := s.conn.SetNoDelay(true); err != nil {
		s.unconfirm(fmt.Sprintf("the kit could not set TCP_NODELAY (%v)", err))
	}
	s.br = bufio.NewReaderSize(s.conn, 64<<10)
	return true, Outcome{}, true
}

// start runs the client in its own goroutine; s.exited is closed when it
// has ended.
func (s *clientSession) start(addr string) {
	cctx, cancel := context.WithCancel(s.ctx)
	s.cancel = cancel
	s.exited = make(chan struct{})
	t := s.x.client
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

// kill stops a client that hung and waits for it to end, at most wait.
// It reports whether the client has ended.
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

// endedEarly ends a case the client broke before the scripted exchange was
// over: it closes the connection, waits for the client to end (killing it
// at the timeout), and fails with why, unless the client declared the case
// unsupported.
func (s *clientSession) endedEarly(why string) Outcome {
	if s.conn != nil {
		s.conn.Close()
	}
	if !s.waitExit(s.x.timeout) {
		s.kill(s.x.timeout)
	}
	select {
	case <-s.exited:
	default:
		return fail("%s; the client was still running %v later and did not stop when cancelled", why, s.x.timeout)
	}
	e := &s.exit
	switch {
	case e.setup != nil:
		return inconclusive("the client could not be started: %v", e.setup)
	case e.unsupported:
		return skip("the client does not support this case (%s)", e)
	case s.ctx.Err() != nil:
		return inconclusive("the run was interrupted: %v", s.ctx.Err())
	}
	s.x.logf("kit: the client %s", e)
	return fail("%s; the client %s", why, e)
}

// unconfirm records a condition the kit could not produce or confirm.
func (s *clientSession) unconfirm(what string) {
	s.unconfirmed = append(s.unconfirmed, what)
	s.x.logf("kit: NOT CONFIRMED: %s", what)
}

// note records an observation for the detail line.
func (s *clientSession) note(format string, a ...any) {
	n := fmt.Sprintf(format, a...)
	s.notes = append(s.notes, n)
	s.x.logf("kit: %s", n)
}

// noteReset notes what a reset of the connection after the kit's last
// byte means in this case.
func (s *clientSession) noteReset(what string) {
	if s.reset {
		s.note("%s", what)
	}
}

// readControl reads one control message from the client as the framing
// says: one bounded read in lockstep, a line (up to LF, without it) in the
// line framing. The read is bounded by the timeout.
func (s *clientSession) readControl(what string) ([]byte, error) {
	s.conn.SetReadDeadline(time.Now().Add(s.x.timeout))
	defer s.conn.SetReadDeadline(time.Time{})
	if s.x.framing == spec.Lockstep {
		buf := make([]byte, spec.MaxControlLen+1)
		n, err := s.br.Read(buf)
		if n > 0 {
			s.x.logf("client → kit: %s, one read of %d bytes: %s", what, n, quote(buf[:n]))
			return buf[:n], nil
		}
		s.x.logf("client → kit: %s: %v", what, err)
		return nil, err
	}
	var line []byte
	for {
		frag, err := s.br.ReadSlice('\n')
		line = append(line, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) && len(line) <= spec.MaxControlLen+2 {
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			err = spec.ErrTooLong
		}
		if len(line) > 0 {
			s.x.logf("client → kit: %s, %d bytes without LF: %s, then %v", what, len(line), quote(line), err)
		} else {
			s.x.logf("client → kit: %s: %v", what, err)
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	s.x.logf("client → kit: %s line, %d bytes: %s", what, len(line), quote(line))
	if len(line) > spec.MaxControlLen+2 {
		return nil, spec.ErrTooLong
	}
	return spec.TrimLine(line), nil
}

// readAck reads the client's ack after a size. strict says whether an ack
// other than "ready to recv file" fails the case (REQ-MSG-8); otherwise it
// is only noted.
func (s *clientSession) readAck(strict bool) (Outcome, bool) {
	b, err := s.readControl("ack")
	if err != nil {
		if isNetTimeout(err) {
			return s.endedEarly(fmt.Sprintf("the client never acknowledged the size: no ack arrived within %v, and the kit sends no data before the ack (REQ-GEN-4, REQ-MSG-8)", s.x.timeout)), false
		}
		return s.endedEarly(fmt.Sprintf("the client sent no ack after the size (%s) (REQ-GEN-4, REQ-MSG-8)", readWords(err, s.x.timeout))), false
	}
	if string(b) != spec.AckText {
		if strict {
			return s.endedEarly(fmt.Sprintf("the client's ack was %s, want %q (REQ-MSG-8)", quote(b), spec.AckText)), false
		}
		s.note("the ack was %s, not %q", quote(b), spec.AckText)
	}
	return Outcome{}, true
}

// sendSize writes the size of data in one write and reads the ack.
func (s *clientSession) sendSize(size int, strict bool) (Outcome, bool) {
	b, err := spec.EncodeSize(s.x.framing, int64(size))
	if err != nil {
		return inconclusive("setting up: %v", err), false
	}
	s.write("size", b)
	if s.werr != nil {
		return s.endedEarly(fmt.Sprintf("the kit could not send the size: %v", s.werr)), false
	}
	return s.readAck(strict)
}

// write sends b in one write call, bounded by the timeout, and logs it.
// After a write error it does nothing: the client is gone, and the outcome
// is judged from what it left.
func (s *clientSession) write(what string, b []byte) {
	if s.werr != nil {
		return
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.x.timeout))
	n, err := s.conn.Write(b)
	switch {
	case err != nil:
		s.werr = err
		s.x.logf("kit → client: %s: wrote %d of %d bytes, then %v", what, n, len(b), err)
	case what == "data" || len(b) > 80:
		s.x.logf("kit → client: %s, %d bytes in one write", what, n)
	default:
		s.x.logf("kit → client: %s, %d bytes in one write: %s", what, n, quote(b))
	}
}

// writeData sends data in writes of at most chunk bytes, each bounded by the
// timeout.
func (s *clientSession) writeData(data []byte, chunk int) {
	writes := 0
	for off := 0; off < len(data) && s.werr == nil; off += chunk {
		end := min(off+chunk, len(data))
		s.conn.SetWriteDeadline(time.Now().Add(s.x.timeout))
		n, err := s.conn.Write(data[off:end])
		writes++
		if err != nil {
			s.werr = err
			s.x.logf("kit → client: data bytes %d–%d: wrote %d, then %v", off, end-1, n, err)
		}
	}
	if s.werr == nil {
		s.x.logf("kit → client: data, %d bytes in %d writes of up to %d", len(data), writes, chunk)
	}
}

// drain waits until the client's kernel has acknowledged every byte the kit
// wrote (the send queue is empty), then until the client has read them all
// (its receive queue is empty, seen on loopback), or else pauses catchUp so
// that the client's reads catch up. why names the condition the drain establishes; if it
// cannot be confirmed, drain says so and returns false.
func (s *clientSession) drain(why string) bool { return s.drainPause(why, catchUp) }

// drainPause is drain with a pause of its own (0: none).
func (s *clientSession) drainPause(why string, pause time.Duration) bool {
	if s.werr != nil {
		return false
	}
	start := time.Now()
	deadline := start.Add(s.x.timeout)
	wait := 50 * time.Microsecond
	for {
		n, err := sendQueue(s.conn)
		if err != nil {
			s.unconfirm(fmt.Sprintf("%s: the kit cannot observe its send queue here (%v)", why, err))
			s.pause(max(pause, catchUp))
			return false
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			s.unconfirm(fmt.Sprintf("%s: %d bytes were still unacknowledged %v later (the client stopped reading)", why, n, s.x.timeout))
			return false
		}
		if !s.pause(wait) {
			return false
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
	took := time.Since(start).Round(time.Microsecond)
	if pause <= 0 {
		s.x.logf("kit: drained: send queue empty after %v (the client's kernel holds every byte sent)", took)
		return true
	}
	// On loopback the kit can see the client's own socket: wait until the
	// client has read every byte, rather than hoping a pause was enough.
	for {
		n, found, err := peerUnread(s.conn)
		if err != nil || !found {
			break
		}
		if n == 0 {
			s.x.logf("kit: drained: the client has read every byte sent (its receive queue is empty, %v)", time.Since(start).Round(time.Microsecond))
			return true
		}
		if time.Now().After(deadline) {
			s.x.logf("kit: the client still had %d bytes unread after %v; pausing %v", n, s.x.timeout, pause)
			break
		}
		if !s.pause(wait) {
			return false
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
	s.x.logf("kit: drained: send queue empty after %v (the client's kernel holds every byte sent); pausing %v so its reads catch up", took, pause)
	return s.pause(pause)
}

// sent waits until every byte written has left as a segment (no unsent
// bytes in the send queue), without waiting for the client to acknowledge
// it. It reports whether that was confirmed.
func (s *clientSession) sent() bool {
	if s.werr != nil {
		return false
	}
	deadline := time.Now().Add(s.x.timeout)
	for {
		n, err := unsentQueue(s.conn)
		if err != nil || n == 0 {
			return err == nil
		}
		if time.Now().After(deadline) || !s.pause(50*time.Microsecond) {
			return false
		}
	}
}

// pause waits d, or less if the run is interrupted; it reports whether it
// waited the whole time.
func (s *clientSession) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// early waits at most d for the client to send something or close the
// connection, without consuming anything: a peek bounded by a deadline. It
// reports whether bytes arrived, and whether the client closed (or reset)
// the connection.
func (s *clientSession) early(d time.Duration) (sent, closed bool) {
	s.conn.SetReadDeadline(time.Now().Add(d))
	defer s.conn.SetReadDeadline(time.Time{})
	_, err := s.br.Peek(1)
	if err == nil {
		return true, false
	}
	return false, !isNetTimeout(err)
}

// watch waits at most the timeout for the client to send something after
// a reply that must end the exchange (an error reply, a malformed size).
// If bytes arrive it reads them (one bounded read), closes the connection
// so that a client waiting for more ends at once, and returns them; if the
// client closes the connection first it returns nil.
func (s *clientSession) watch() []byte {
	sent, _ := s.early(s.x.timeout)
	if !sent {
		return nil
	}
	s.conn.SetReadDeadline(time.Now().Add(s.x.timeout))
	buf := make([]byte, spec.MaxControlLen+2)
	n, _ := s.br.Read(buf)
	s.x.logf("client → kit: %d bytes: %s; the kit closes the connection", n, quote(buf[:n]))
	s.conn.Close()
	return buf[:n]
}

// finish ends the kit's part of the exchange: it reads from the connection
// until the client closes it (or resets it, or the timeout passes), then
// closes it and waits for the client to end, killing it at the timeout.
// It records what it saw in s.closed, s.reset, s.stillOn and s.trailing.
func (s *clientSession) finish() {
	x := s.x
	grace := min(time.Second, x.timeout)
	if s.conn != nil {
		s.conn.SetReadDeadline(time.Now().Add(x.timeout))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			select {
			case <-s.exited:
				// A process that exits closes its sockets; a Func that
				// returns should have closed its conn.
				s.conn.SetReadDeadline(time.Now().Add(grace))
			case <-s.ctx.Done():
				s.conn.SetReadDeadline(time.Now())
			case <-stop:
			}
		})
		buf := make([]byte, 32<<10)
		for {
			n, err := s.br.Read(buf)
			if n > 0 {
				if len(s.trailing) < 80 {
					s.trailing = append(s.trailing, buf[:min(n, 80-len(s.trailing))]...)
				}
				s.trailN += int64(n)
				x.logf("client → kit: %d more bytes: %s", n, quote(buf[:n]))
			}
			if err == nil {
				continue
			}
			switch {
			case err == io.EOF:
				s.closed = true
				x.logf("client → kit: end of stream (the client closed the connection)")
			case errors.Is(err, syscall.ECONNRESET):
				s.reset = true
				x.logf("client → kit: connection reset (the client closed with bytes still unread)")
			case isNetTimeout(err):
				s.stillOn = true
				x.logf("kit: the connection is still open; stopped waiting")
			default:
				x.logf("client → kit: %v", err)
			}
			break
		}
		close(stop)
		wg.Wait()
		s.conn.Close()
	}
	wait := x.timeout
	if s.stillOn {
		wait = grace
	}
	if !s.waitExit(wait) {
		if s.kill(x.timeout) {
			x.logf("kit: the client had not ended; killed it")
		}
	} else {
		x.logf("kit: the client %s", &s.exit)
	}
}

// output is what the client left at {out}.
type output struct {
	exists bool
	kind   string // "file", or what else is there ("directory", "symbolic link", ...)
	data   []byte // up to limit bytes of the file
	size   int64
	err    error
}

// readOutput reads what is at s.out, at most limit bytes of it.
func (s *clientSession) readOutput(limit int64) output {
	fi, err := os.Lstat(s.out)
	if errors.Is(err, os.ErrNotExist) {
		s.x.logf("kit: nothing at {out}")
		return output{}
	}
	if err != nil {
		return output{exists: true, kind: "something unreadable", err: err}
	}
	if !fi.Mode().IsRegular() {
		kind := "non-regular file"
		switch {
		case fi.IsDir():
			kind = "directory"
		case fi.Mode()&os.ModeSymlink != 0:
			kind = "symbolic link"
		}
		s.x.logf("kit: a %s at {out}", kind)
		return output{exists: true, kind: kind}
	}
	o := output{exists: true, kind: "file", size: fi.Size()}
	f, err := os.Open(s.out)
	if err != nil {
		o.err = err
		return o
	}
	defer f.Close()
	o.data, o.err = io.ReadAll(io.LimitReader(f, limit))
	s.x.logf("kit: a %d-byte file at {out}", o.size)
	return o
}

// verdictParts builds an outcome from a verdict and the sentences of its
// detail.
type verdictParts struct {
	v     Verdict
	parts []string
}

func (p *verdictParts) add(format string, a ...any) {
	p.parts = append(p.parts, fmt.Sprintf(format, a...))
}

func (p *verdictParts) outcome() Outcome {
	return Outcome{Verdict: p.v, Detail: strings.Join(p.parts, "; ")}
}

// exitVerdict handles the endings that decide a case whatever it checks:
// a client that declared the case unsupported, could not be started, was
// interrupted, or hung. ok is false when one of them applies.
func (s *clientSession) exitVerdict(after string) (Outcome, bool) {
	select {
	case <-s.exited:
	default:
		return fail("the client hung %s: it was still running %v later and did not stop when cancelled", after, s.x.timeout), false
	}
	e := &s.exit
	switch {
	case e.setup != nil:
		return inconclusive("the client could not be started: %v", e.setup), false
	case e.unsupported && !e.killed:
		return skip("the client does not support this case (%s)", e), false
	case s.ctx.Err() != nil:
		return inconclusive("the run was interrupted: %v", s.ctx.Err()), false
	case e.killed:
		what := "it neither closed the connection nor exited"
		if s.closed || s.reset {
			what = "it closed the connection but did not exit"
		}
		return fail("the client hung %s: %s within %v and was killed (REQ-CLI-11)", after, what, s.x.timeout), false
	}
	return Outcome{}, true
}

// judgeReceived judges a case in which the kit served data correctly: the
// client must report success and leave exactly data at {out}. cond says
// what condition the case produced, for a PASS.
func (s *clientSession) judgeReceived(data []byte, cond string, reqIDs ...string) Outcome {
	if o, ok := s.exitVerdict("after the kit's last byte"); !ok {
		return o
	}
	e := &s.exit
	out := s.readOutput(int64(len(data)) + 64<<10)
	digest := digestOf(data)
	p := verdictParts{v: Fail}
	switch {
	case e.err == nil && out.exists && out.kind == "file" && out.size == int64(len(data)) && bytes.Equal(out.data, data):
		if len(s.unconfirmed) > 0 {
			return inconclusive("the client received the file correctly, but the condition was not confirmed: %s", strings.Join(s.unconfirmed, "; "))
		}
		p.v = Pass
		p.add("%s; the client %s and left the exact file at {out}", cond, e)
	case e.err == nil && !out.exists:
		p.add("the client reported success but left no file at {out} (%s)", reqs("REQ-CLI-12"))
	case e.err == nil:
		p.add("the client reported success but %s (%s)", describeOutput(out, data, digest), reqs(reqIDs...))
	default:
		// Lead with what went wrong in the client's reading, then its exit.
		right := out.exists && out.kind == "file" && out.size == int64(len(data)) && bytes.Equal(out.data, data)
		p.parts = append(p.parts, s.notes...)
		s.notes = nil
		if out.exists && !right {
			p.add("%s", describeOutput(out, data, digest))
		}
		p.add("the client %s, on a transfer the kit served correctly (%s)", e, cond)
		switch {
		case right:
			p.add("it left the file at {out} although it reported failure: a file it did not verify must not be left (REQ-CLI-5)")
		case out.exists:
			p.add("it left that corrupt file at {out} (REQ-CLI-5)")
		}
	}
	p.parts = append(p.parts, s.notes...)
	if s.werr != nil && p.v != Pass {
		p.add("the kit could not send everything: %s", writeWords(s.werr))
	}
	return p.outcome()
}

// judgeRefused judges a case in which the transfer could not succeed: the
// client must report failure, promptly, and leave nothing at {out}. what
// says why it could not succeed ("the digest did not match the data").
func (s *clientSession) judgeRefused(what string, data []byte, reqIDs ...string) Outcome {
	if o, ok := s.exitVerdict("after " + what); !ok {
		return o
	}
	e := &s.exit
	out := s.readOutput(int64(len(data)) + 64<<10)
	p := verdictParts{v: Fail}
	switch {
	case e.err == nil && out.exists:
		p.add("the client reported success (exit status 0) although %s, and left a %d-byte %s at {out} (%s)", what, out.size, out.kind, reqs(reqIDs...))
	case e.err == nil:
		p.add("the client reported success (exit status 0) although %s (%s)", what, reqs(reqIDs...))
	case out.exists:
		p.add("the client reported failure, as it must, but left a corrupt %s at {out} (%d bytes): a file that did not verify must not be left (REQ-CLI-5)", out.kind, out.size)
	case len(s.leftovers()) > 0:
		p.add("the client reported failure and left nothing at {out}, but it left %s in its working directory: a temporary file must be removed on failure (REQ-CLI-5)", strings.Join(s.leftovers(), ", "))
	case s.stillOn:
		p.add("the client reported failure but did not close the connection (REQ-CLI-13)")
	default:
		p.v = Pass
		p.add("%s; the client %s and left nothing at {out}", what, e)
	}
	p.parts = append(p.parts, s.notes...)
	return p.outcome()
}

// leftovers lists, quoted, what is in the client's temporary directory
// besides {out}: at most five names.
func (s *clientSession) leftovers() []string {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.Name() == outName {
			continue
		}
		if len(names) == 5 {
			names = append(names, "...")
			break
		}
		names = append(names, quote([]byte(e.Name())))
	}
	return names
}

// describeOutput says in a learner's words how the output differs from the
// file the kit served.
func describeOutput(out output, data []byte, digest string) string {
	if out.kind != "file" {
		return fmt.Sprintf("there is a %s at {out}, not the file", out.kind)
	}
	if out.err != nil {
		return fmt.Sprintf("the file at {out} cannot be read: %v", out.err)
	}
	got, size, want := out.data, out.size, int64(len(data))
	switch {
	case size > want && bytes.HasPrefix(got, data):
		k := size - want
		extra := got[len(data):]
		if k <= spec.DigestLen && strings.HasPrefix(digest, string(extra)) {
			return fmt.Sprintf("the output is %d bytes longer than the file and ends with the digest: the last read took the digest as file data (sticky packet, REQ-CLI-2)", k)
		}
		return fmt.Sprintf("the output is the file followed by %d extra bytes %s: the client wrote bytes beyond SIZE (REQ-CLI-2)", k, quote(extra))
	case size == want && bytes.Equal(got, data):
		return "the file at {out} is the right one"
	case size < want && bytes.HasPrefix(data, got):
		return fmt.Sprintf("the output is only the first %d of %d bytes of the file", size, want)
	}
	i := 0
	for i < len(got) && i < len(data) && got[i] == data[i] {
		i++
	}
	if size == want {
		return fmt.Sprintf("the output has the right length (%d bytes) but differs from the file from byte %d on", size, i)
	}
	return fmt.Sprintf("the output is %d bytes, the file %d; they differ from byte %d on", size, want, i)
}

// fixture returns n deterministic pseudo-random bytes for the client case
// labelled label: the seeded stream of its ID.
func fixture(label string, n int) []byte {
	return seeded.Bytes(seeded.Seed("client/"+label), int64(n))
}

// digestOf returns the digest of b as the wire carries it.
func digestOf(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// isNetTimeout reports whether err is a timeout of a net.Conn deadline.
func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readWords says what a failed read of the client means.
func readWords(err error, timeout time.Duration) string {
	switch {
	case isNetTimeout(err):
		return fmt.Sprintf("nothing arrived within %v", timeout)
	case err == io.EOF:
		return "it closed the connection"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it closed the connection inside a line"
	case errors.Is(err, syscall.ECONNRESET):
		return "it reset the connection"
	case errors.Is(err, spec.ErrTooLong):
		return fmt.Sprintf("it sent a line longer than %d bytes", spec.MaxControlLen)
	}
	return err.Error()
}

// writeWords says what a failed write to the client means.
func writeWords(err error) string {
	switch {
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		return "the client had already closed the connection"
	case isNetTimeout(err):
		return "the client stopped reading"
	}
	return err.Error()
}

// oneLine returns s on one line, cut to max bytes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// lastLine returns the last non-empty line of s, cut to 160 bytes.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return oneLine(lines[len(lines)-1], 160)
}
