package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// The kit as the server of a client under test. For each client case the
// kit listens on a fresh loopback port, runs the client once
// (clientproc.go), serves one scripted exchange, and judges what the
// client left at {out} and how it exited (judge.go).
//
// Over TCP the kit controls segment boundaries with separate writes on a
// connection with TCP_NODELAY, and confirms them through the kernel: a
// drain waits until the send queue is empty (SIOCOUTQ on Linux), that is,
// until the client's kernel has acknowledged every byte written, and then
// until the client has read them: on loopback the kit asks the kernel for
// the client's socket (sock_diag, or /proc/net/tcp) and waits for its
// receive queue to empty; where it cannot (another host or system) it
// pauses instead. A condition the kit cannot
// confirm makes a would-be PASS INCONCLUSIVE; a FAIL stays a FAIL, since
// every segmentation is one a TCP stack may produce.

// catchUp is the pause after a drain: long enough for a running client to
// read what its kernel holds before the kit sends the next piece.
const catchUp = 200 * time.Millisecond

// bytePace is the pause between the single-byte segments of client/split-body.
const bytePace = time.Millisecond

// outName is the file name of {out} in the client's temporary directory.
const outName = "received.bin"

// clientSession is one run of the client under test against one scripted
// connection: the kit's side of a client case.
type clientSession struct {
	x     *clientCheck
	ctx   context.Context
	name  string      // the name the client is told to fetch
	dir   string      // the fresh temporary directory the client runs in
	out   string      // where the client must leave the file
	rules clientRules // what the case's judgement cites
	// prepare, when set, is called with out before the client starts:
	// to put something at its destination.
	prepare func(out string) error

	ln      *net.TCPListener
	conn    *net.TCPConn
	unwatch func() bool // stops closing conn when the run ends
	br      *bufio.Reader
	werr    error // first write error; later writes are skipped

	unconfirmed []string  // conditions the kit could not produce or confirm
	notes       []Finding // observations for the detail line
	// violations are what the kit saw on the wire that breaks one of the
	// case's requirements: they outrank the exit status and the output.
	violations []Finding

	digestSent  bool // the kit sent the digest (writeDigest)
	closedEarly bool // the client had closed the connection before the digest was sent

	// What the kit saw after its last byte (set by finish).
	closed  bool // the client closed the connection cleanly (EOF)
	reset   bool // the connection was reset: the client closed with bytes unread
	stillOn bool // the connection was still open when the kit gave up
	// finished is set once finish has asked the kernel, after the client
	// ended, whether it left bytes unread (unread).
	finished bool
	// unread is the kernel's word, once the client has ended, that it
	// left bytes the kit sent unread: the client's end reset the
	// connection (it closed with bytes unread, or bytes arrived after it
	// had closed).
	unread bool

	rd clientReads // the client's recorded reads (ClientTarget.Reads)
	// boundary asks for the read that ended where the data ends to be
	// named (client/sticky: the article's fix stops there).
	boundary bool
	// exactOut is set when the case judged the client's output and found
	// exactly the file.
	exactOut bool

	cancel context.CancelFunc
	exited chan struct{}
	exit   clientExit // valid once exited is closed
	killMu sync.Mutex
	killed bool // the kit cancelled the client because it hung
}

// newClientSession prepares a run of x's client, judged by rules; call
// open next and close when done, whatever happened.
func newClientSession(ctx context.Context, x *clientCheck, name string, rules clientRules) *clientSession {
	return &clientSession{x: x, ctx: ctx, name: name, rules: rules}
}

// session runs x's client once against one scripted connection, judged
// by rules: it opens the session (the client must connect and ask for
// name), runs script on it, and closes it, whatever happened.
func (x *clientCheck) session(ctx context.Context, name string, rules clientRules, script func(s *clientSession) Outcome) Outcome {
	return x.sessionOver(ctx, name, rules, nil, script)
}

// sessionOver is session with prepare, when not nil, making what is at
// {out} before the client starts.
func (x *clientCheck) sessionOver(ctx context.Context, name string, rules clientRules, prepare func(out string) error, script func(s *clientSession) Outcome) Outcome {
	s := newClientSession(ctx, x, name, rules)
	s.prepare = prepare
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	return s.withReads(script(s))
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
		return s.endedEarly(finding("the client exited without connecting to the kit")), false
	}
	b, err := s.readControl("request")
	if err != nil {
		return s.endedEarly(finding("the client sent no request (%s)", readWords(err, s.x.timeout))), false
	}
	name, err := spec.ParseRequest(b)
	if err != nil {
		return s.endedEarly(finding("the client's request %s is malformed: %v", quote(b), err)), false
	}
	if name != s.name {
		return s.endedEarly(finding("the client asked for %q; it was told to fetch %q", name, s.name)), false
	}
	return Outcome{}, true
}

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
	// The client's program may need a while to start on a busy machine:
	// the bound of a start, not of a single wait.
	connectWait := startWait(x.timeout)
	s.ln.SetDeadline(time.Now().Add(connectWait))
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
		return false, interrupted(s.ctx, "the kit stopped waiting for the client to connect"), false
	}
	if a.err != nil {
		x.logf("kit: no connection: %v", a.err)
		// Still running and not connected: it may be starting slowly on a
		// busy machine, or stuck before it connects. Nothing was seen of
		// the exchange: the case could not run.
		s.endedEarly(Finding{})
		return false, errored("the client had not connected to the kit after %v: the case could not run (a client that starts slowly on a busy machine looks the same as one stuck before it connects)", connectWait), false
	}
	s.conn = a.c
	s.traceConn(a.c)
	s.unwatch = context.AfterFunc(s.ctx, func() { a.c.Close() }) // the run's end ends every wait on the client
	x.logf("kit: accepted a connection from %s", a.c.RemoteAddr())
	if err := s.conn.SetNoDelay(true); err != nil {
		s.unconfirm(fmt.Sprintf("the kit could not set TCP_NODELAY (%v)", err))
	}
	s.br = bufio.NewReaderSize(s.conn, 64<<10)
	return true, Outcome{}, true
}

// unconfirm records a condition the kit could not produce or confirm.
func (s *clientSession) unconfirm(what string) {
	s.unconfirmed = append(s.unconfirmed, what)
	s.x.logf("kit: NOT CONFIRMED: %s", what)
}

// note records an observation for the detail line.
func (s *clientSession) note(format string, a ...any) {
	f := finding(format, a...)
	s.notes = append(s.notes, f)
	s.x.logf("kit: %s", f)
}

// noteReset notes what a reset of the connection after the kit's last
// byte means in this case.
func (s *clientSession) noteReset(format string, a ...any) {
	if s.reset {
		s.note(format, a...)
	}
}

// readControl reads one control message from the client as the framing
// says: one bounded read in lockstep, a line (up to LF, returned without
// it) in the line framing. The read is bounded by the timeout. On an error
// it returns the bytes of a partial line.
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
	line, err := readRawLine(s.br)
	switch {
	case err != nil && len(line) > 0:
		s.x.logf("client → kit: %s, %d bytes without LF: %s, then %v", what, len(line), quote(line), err)
		return line, err
	case err != nil:
		s.x.logf("client → kit: %s: %v", what, err)
		return nil, err
	}
	s.x.logf("client → kit: %s line, %d bytes: %s", what, len(line), quote(line))
	return spec.TrimLine(line), nil
}

// ackCheck is how much of the ack a case judges.
type ackCheck int

const (
	// ackAny takes whatever one ack delivers, as a server must
	// (REQ-MSG-8), and only notes an odd text.
	ackAny ackCheck = iota
	// ackTransfer is ackAny, but a missing ack, or a line-framing ack
	// without its LF, fails the case: the transfer cannot go on
	// (client/plain).
	ackTransfer
	// ackExact also fails an ack whose text is not exactly the ack's
	// (client/ack).
	ackExact
)

// readAck reads the client's ack after a size, and judges it as check
// says. When it returns false the case has ended with the outcome.
func (s *clientSession) readAck(check ackCheck) (Outcome, bool) {
	b, err := s.readControl("ack")
	if err != nil {
		return s.endedEarly(s.noAck(b, err, check)), false
	}
	if string(b) == spec.AckText {
		return Outcome{}, true
	}
	if check != ackExact {
		s.note("the ack was %s, not %q", quote(b), spec.AckText)
		return Outcome{}, true
	}
	return s.endedEarly(wrongAck(s.x.framing, b)), false
}

// wrongAck says how the ack b (its line terminator removed, in the line
// framing) differs from the ack's exact text.
func wrongAck(f spec.Framing, b []byte) Finding {
	if f == spec.Lockstep && string(spec.TrimLine(b)) == spec.AckText {
		return finding("the client's ack was %s, want %q (%s: a lockstep ack is its bare content, with no terminator)",
			quote(b), spec.AckText, cite("REQ-MSG-8", "REQ-LOCK-1"))
	}
	return finding("the client's ack was %s, want exactly %q (%s)", quote(b), spec.AckText, cite("REQ-MSG-8"))
}

// noAck says what it means that no ack came: partial is what arrived of
// one, err what ended the read.
func (s *clientSession) noAck(partial []byte, err error, check ackCheck) Finding {
	never := "the client never acknowledged the size: no ack arrived within %v, and the kit sends no data before the ack"
	switch {
	case check != ackAny && len(partial) > 0 && isTimeout(err):
		return finding("the client sent %s and no LF within %v (%s: every ack ends with a line terminator)",
			quote(partial), s.x.timeout, cite("REQ-LINE-1"))
	case check == ackTransfer && isTimeout(err):
		return finding(never+" (%s)", s.x.timeout, cite("REQ-GEN-4"))
	case check == ackExact && isTimeout(err):
		return finding(never+" (%s)", s.x.timeout, cite("REQ-MSG-8"))
	case isTimeout(err):
		return finding(never, s.x.timeout)
	case check == ackTransfer:
		return finding("the client sent no ack after the size (%s) (%s)", readWords(err, s.x.timeout), cite("REQ-GEN-4"))
	case check == ackExact:
		return finding("the client sent no ack after the size (%s) (%s)", readWords(err, s.x.timeout), cite("REQ-MSG-8"))
	}
	return finding("the client sent no ack after the size (%s)", readWords(err, s.x.timeout))
}

// sendSize writes the size of data in one write and reads the ack (see
// readAck for check).
func (s *clientSession) sendSize(size int, check ackCheck) (Outcome, bool) {
	b, err := spec.EncodeSize(s.x.framing, int64(size))
	if err != nil {
		return errored("setting up: %v", err), false
	}
	s.announce(len(b), size)
	s.write("size", b)
	if s.werr != nil {
		return s.endedEarly(finding("the kit could not send the size: %v", s.werr)), false
	}
	return s.readAck(check)
}

// writeDigest sends the digest of the data in one write, or nothing when
// the exchange has none (--digest none). A client that has already
// closed the connection when the digest is due has not read it: the kit
// records that as wire evidence.
func (s *clientSession) writeDigest(what string, digest []byte) {
	if s.x.digest == spec.DigestNone {
		return
	}
	if s.werr == nil {
		if _, closed := s.early(time.Millisecond); closed {
			s.closedEarly = true
			s.x.logf("kit: the client closed the connection before the digest was sent")
		}
	}
	s.digestSent = true
	s.write(what, digest)
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
	s.wrote(n)
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
		s.wrote(n)
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

// writeBytewise sends data one byte per write, bytePace apart, and
// reports how many of the bytes were confirmed to leave in a segment of
// their own.
func (s *clientSession) writeBytewise(data []byte) (confirmed int) {
	for i := range data {
		if s.werr != nil {
			break
		}
		s.conn.SetWriteDeadline(time.Now().Add(s.x.timeout))
		n, err := s.conn.Write(data[i : i+1])
		s.wrote(n)
		if err != nil {
			s.werr = err
			s.x.logf("kit → client: data byte %d: %v", i, err)
			break
		}
		if s.sent() {
			confirmed++
		}
		if !pause(s.ctx, bytePace) {
			break
		}
	}
	return confirmed
}

// drain waits until the client's kernel has acknowledged every byte the kit
// wrote (the send queue is empty), then until the client has read them all
// (its receive queue is empty, seen on loopback), or else pauses catchUp so
// that the client's reads catch up. why names the condition the drain
// establishes; if it cannot be confirmed, drain says so and returns false.
func (s *clientSession) drain(why string) bool { return s.drainPause(why, catchUp) }

// drainPause is drain with a pause of its own (0: none).
func (s *clientSession) drainPause(why string, wait time.Duration) bool {
	if s.werr != nil {
		return false
	}
	start := time.Now()
	if !s.acked(why, wait) {
		return false
	}
	took := time.Since(start).Round(time.Microsecond)
	if wait <= 0 {
		s.x.logf("kit: drained: send queue empty after %v (the client's kernel holds every byte sent)", took)
		return true
	}
	// On loopback the kit can see the client's own socket: wait until the
	// client has read every byte, rather than hoping a pause was enough.
	if s.readByPeer(start) {
		return true
	}
	s.x.logf("kit: drained: send queue empty after %v (the client's kernel holds every byte sent); pausing %v so its reads catch up", took, wait)
	return pause(s.ctx, wait)
}

// poll calls done until it reports true, waiting a little longer each time
// (up to 5 ms) and at most the timeout from start. It reports whether done
// did, and false at once when the run ends.
func (s *clientSession) poll(start time.Time, done func() bool) bool {
	deadline := start.Add(s.x.timeout)
	wait := 50 * time.Microsecond
	for !done() {
		if time.Now().After(deadline) || !pause(s.ctx, wait) {
			return false
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
	return true
}

// acked waits until the send queue is empty: the client's kernel has
// acknowledged every byte written. It records what it could not confirm.
func (s *clientSession) acked(why string, wait time.Duration) bool {
	var n int
	var err error
	ok := s.poll(time.Now(), func() bool {
		n, err = sendQueue(s.conn)
		return err != nil || n == 0
	})
	switch {
	case err != nil:
		s.unconfirm(fmt.Sprintf("%s: the kit cannot observe its send queue here (%v)", why, err))
		pause(s.ctx, max(wait, catchUp))
		return false
	case !ok && s.ctx.Err() == nil:
		s.unconfirm(fmt.Sprintf("%s: %d bytes were still unacknowledged %v later (the client stopped reading)", why, n, s.x.timeout))
		return false
	}
	return ok
}

// readByPeer waits until the client, on this host, has read every byte
// its kernel received (its receive queue in /proc/net/tcp is empty). It
// reports whether that was seen; false when the client's socket cannot be
// found or it still had bytes unread at the timeout.
func (s *clientSession) readByPeer(start time.Time) bool {
	var n int
	found := true
	ok := s.poll(start, func() bool {
		var err error
		n, found, err = peerUnread(s.conn)
		if err != nil {
			found = false
		}
		return !found || n == 0
	})
	switch {
	case ok && found:
		s.x.logf("kit: drained: the client has read every byte sent (its receive queue is empty, %v)", time.Since(start).Round(time.Microsecond))
		return true
	case found && s.ctx.Err() == nil:
		s.x.logf("kit: the client still had %d bytes unread after %v", n, s.x.timeout)
	}
	return false
}

// sent waits until every byte written has left as a segment (no unsent
// bytes in the send queue), without waiting for the client to acknowledge
// it. It reports whether that was confirmed.
func (s *clientSession) sent() bool {
	if s.werr != nil {
		return false
	}
	var err error
	ok := s.poll(time.Now(), func() bool {
		var n int
		n, err = unsentQueue(s.conn)
		return err != nil || n == 0
	})
	return ok && err == nil
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
	return false, !isTimeout(err)
}

// watch waits at most the timeout for the client to send something after
// a reply that must end the exchange (an error reply, a malformed size).
// If bytes arrive it reads them (one bounded read), sends then (when not
// nil), closes the connection so that a client waiting for more ends at
// once, and returns them; if the client closes the connection first it
// returns nil. then lets a client that took a malformed reply for a size
// show what it made of it: given the digest of no data, one that took it
// for size 0 saves an empty file.
func (s *clientSession) watch(then []byte) []byte {
	sent, _ := s.early(s.x.timeout)
	if !sent {
		return nil
	}
	s.conn.SetReadDeadline(time.Now().Add(s.x.timeout))
	buf := make([]byte, spec.MaxControlLen+2)
	n, _ := s.br.Read(buf)
	s.x.logf("client → kit: %d bytes: %s", n, quote(buf[:n]))
	if then != nil {
		s.write("after the client's answer", then)
	}
	s.x.logf("kit: closes the connection")
	s.conn.Close()
	return buf[:n]
}

// finish ends the kit's part of the exchange: it reads from the connection
// until the client closes it (or resets it, or the timeout passes), then
// ends its own side (a client waiting for more reads the end of stream)
// and waits for the client to end, killing it at the timeout. Only then
// does it close the connection: the client's end tells, through the
// kernel, whether it left bytes unread. It records what it saw in
// s.closed, s.reset, s.stillOn and s.unread.
func (s *clientSession) finish() {
	x := s.x
	grace := min(time.Second, x.timeout)
	if s.conn != nil {
		s.drainToEnd(grace)
		s.conn.CloseWrite()
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
	if s.conn != nil {
		if err := resetError(s.conn); err != nil {
			x.logf("kit: once the client had ended, the connection had been reset (%v): it left bytes the kit sent unread", err)
			s.reset = true
		}
		s.unread = s.reset
		s.finished = true
		s.conn.Close()
	}
}

// drainToEnd reads what the client sends until it closes the connection,
// at most the timeout, or grace once the client has ended.
func (s *clientSession) drainToEnd(grace time.Duration) {
	x := s.x
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
	defer wg.Wait()
	defer close(stop)
	buf := make([]byte, 32<<10)
	for {
		n, err := s.br.Read(buf)
		if n > 0 {
			x.logf("client → kit: %d more bytes: %s", n, quote(buf[:n]))
		}
		switch {
		case err == nil:
			continue
		case err == io.EOF:
			s.closed = true
			x.logf("client → kit: end of stream (the client closed the connection)")
		case errors.Is(err, syscall.ECONNRESET):
			s.reset = true
			x.logf("client → kit: connection reset (the client closed with bytes still unread)")
		case isTimeout(err):
			s.stillOn = true
			x.logf("kit: the connection is still open; stopped waiting")
		default:
			x.logf("client → kit: %v", err)
		}
		return
	}
}
