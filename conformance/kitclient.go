package conformance

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// The kit as a client of the server under test. A kitConn speaks the
// exchange message by message through the spec encoders and one
// spec.Reader per connection, bounds every read and write, logs every
// message at byte level, and turns every failure into a sentence a learner
// can act on. It cites no requirement: the case that reads its error knows
// which of its requirements the failure breaks.

// kitConn is one connection from the kit to the server under test. Every
// read and every write is bounded by timeout; a read that waits longer is
// the server's silence.
type kitConn struct {
	ctx     context.Context // the case's: its end closes the connection and ends every pause
	nc      net.Conn
	r       *spec.Reader
	f       spec.Framing
	digest  spec.DigestMode // spec.DigestNone: transfers end with the data
	timeout time.Duration
	logf    func(format string, a ...any)
	stop    func() bool
	ended   *atomic.Bool // set when the server ends or refuses a connection of the case's

	// slow, when set, makes the kit a slow reader (server/slow-reader).
	slow *slowRead
}

// slowRead paces the kit's socket reads: at most Chunk bytes per read, a
// pause of Pause after every Every reads, and one longer Stall once
// StallAfter bytes have arrived.
type slowRead struct {
	Chunk      int           // bytes per read, at most
	Every      int           // reads between pauses
	Pause      time.Duration // length of each pause
	StallAfter int64         // bytes read before the stall
	Stall      time.Duration // length of the stall

	reads   int
	bytes   int64
	stalled bool
}

// dial connects to the server under test, logging to x's log.
func (x *serverCheck) dial(ctx context.Context) (*kitConn, error) {
	return x.dialLog(ctx, x.logf)
}

// dialLog connects to the server under test and logs to logf, which lets
// concurrent clients keep separate logs. The connection is closed when ctx
// is done, so a case returns promptly once its run is cancelled.
func (x *serverCheck) dialLog(ctx context.Context, logf func(string, ...any)) (*kitConn, error) {
	return x.dialFrom(ctx, nil, logf)
}

// dialFrom is dialLog from the local address from (nil: the system's
// choice).
func (x *serverCheck) dialFrom(ctx context.Context, from *net.TCPAddr, logf func(string, ...any)) (*kitConn, error) {
	d := net.Dialer{Timeout: x.timeout}
	if from != nil {
		d.LocalAddr = from
	}
	return x.dialWith(ctx, &d, logf)
}

// dialWith connects to the server under test with d, logging to logf.
func (x *serverCheck) dialWith(ctx context.Context, d *net.Dialer, logf func(string, ...any)) (*kitConn, error) {
	nc, err := d.DialContext(ctx, "tcp", x.addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
			// Refused, or reset by a listener that closed with the
			// connection still in its queue: either way the server
			// ended it.
			x.serverEnded.Store(true)
		}
		return nil, err
	}
	x.connected.Store(true)
	k := &kitConn{ctx: ctx, nc: nc, f: x.framing, digest: x.digest, timeout: x.timeout, logf: logf, ended: &x.serverEnded}
	k.r = spec.NewReader(timedReader{k}, x.framing)
	k.stop = context.AfterFunc(ctx, func() { nc.Close() })
	logf("connected %s -> %s (%s framing)", nc.LocalAddr(), nc.RemoteAddr(), x.framing)
	return k, nil
}

// cannotConnect is the outcome of a case that could not reach the server.
func cannotConnect(err error) Outcome {
	return fail("cannot connect: %v", err)
}

// close closes the connection.
func (k *kitConn) close() {
	k.stop()
	k.nc.Close()
}

// timedReader reads from the connection under a fresh deadline per read.
type timedReader struct{ k *kitConn }

func (t timedReader) Read(p []byte) (int, error) {
	k := t.k
	if s := k.slow; s != nil {
		if len(p) > s.Chunk {
			p = p[:s.Chunk]
		}
		// The slowness is the condition under test, not synchronisation.
		if s.reads++; s.reads%s.Every == 0 {
			pause(k.ctx, s.Pause)
		}
		if !s.stalled && s.bytes >= s.StallAfter {
			s.stalled = true
			k.logf("(the kit stops reading for %v after %d bytes)", s.Stall, s.bytes)
			pause(k.ctx, s.Stall)
		}
	}
	k.nc.SetReadDeadline(time.Now().Add(k.timeout))
	n, err := k.nc.Read(p)
	if k.slow != nil {
		k.slow.bytes += int64(n)
	}
	k.saw(err)
	return n, err
}

// saw records, from the error of a read or a write, that the server ended
// the connection (a close or a reset): the runner then asks whether the
// server is still there.
func (k *kitConn) saw(err error) {
	if err != nil && k.ended != nil && k.ctx.Err() == nil &&
		(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		k.ended.Store(true)
	}
}

// write sends b in one write call under a deadline and logs it.
func (k *kitConn) write(b []byte) error {
	k.nc.SetWriteDeadline(time.Now().Add(k.timeout))
	n, err := k.nc.Write(b)
	k.nc.SetWriteDeadline(time.Time{})
	k.saw(err)
	k.logf("-> %s (%d bytes)", quote(b[:n]), n)
	if err != nil {
		return fmt.Errorf("the kit could not send %s: %s", quote(b), netWords(err))
	}
	return nil
}

// splitPause separates the one-byte writes of writeBytewise, so each byte
// travels in a segment of its own.
const splitPause = time.Millisecond

// writeBytewise sends b one byte per write, pausing between writes, and
// logs it as one line. It returns how many bytes were sent. Where the kit
// can see the server's socket, each byte waits until the server has read
// the one before or answered: a server starved of the CPU then still
// meets every byte in a read of its own, as the case means it to.
func (k *kitConn) writeBytewise(b []byte) (int, error) {
	tc, _ := k.nc.(*net.TCPConn)
	see := tc != nil
	for i := range b {
		// The pacing is the condition under test.
		if i > 0 && !pause(k.ctx, splitPause) {
			return i, k.ctx.Err()
		}
		if i > 0 && see {
			see = k.byteRead(tc)
		}
		k.nc.SetWriteDeadline(time.Now().Add(k.timeout))
		if _, err := k.nc.Write(b[i : i+1]); err != nil {
			k.logf("-> %s as one-byte writes: %d bytes sent, then %s", quote(b), i, netWords(err))
			return i, err
		}
	}
	k.nc.SetWriteDeadline(time.Time{})
	k.logf("-> %s (%d bytes) as %d one-byte writes, %v apart", quote(b), len(b), len(b), splitPause)
	return len(b), nil
}

// byteRead waits, at most the timeout, until the server has read every
// byte the kit wrote on tc (its socket's receive queue is empty) or has
// said something (bytes for the kit, or its end of the connection). It
// returns at once where the kit cannot see the server's socket, and
// false when the server neither read nor said anything in that time (the
// bytes that follow then go without waiting).
func (k *kitConn) byteRead(tc *net.TCPConn) bool {
	return pollUntil(k.ctx, time.Now().Add(k.timeout), func() bool {
		n, found, err := peerUnread(tc)
		if err != nil || !found || n == 0 {
			return true
		}
		if in, err := ownUnread(tc); err != nil || in > 0 {
			return true
		}
		ended, err := peerEnded(tc)
		return err != nil || ended
	})
}

// taken waits, at most the timeout, until the server has taken every byte
// the kit wrote: its kernel holds them all (the kit's send queue is
// empty), and, where the kit can see the server's socket (a server on
// this host), its program has read them all (that socket's receive queue
// is empty). It returns what it saw, for the log; read says whether the
// server was seen to read them.
func (k *kitConn) taken() (what string, read bool) {
	tc, ok := k.nc.(*net.TCPConn)
	if !ok {
		return "the kit cannot observe this connection's queues", false
	}
	start := time.Now()
	var n int
	var err error
	if !pollUntil(k.ctx, start.Add(k.timeout), func() bool { n, err = sendQueue(tc); return err != nil || n == 0 }) || err != nil {
		if err != nil {
			return fmt.Sprintf("the kit cannot observe its send queue here (%v)", err), false
		}
		return fmt.Sprintf("%d bytes were still unacknowledged after %v", n, k.timeout), false
	}
	found := true
	if !pollUntil(k.ctx, start.Add(k.timeout), func() bool {
		n, found, err = peerUnread(tc)
		return err != nil || !found || n == 0
	}) || err != nil || !found {
		return "the server's kernel holds every byte (the kit cannot see whether the server read them)", false
	}
	return fmt.Sprintf("the server had read every byte (its receive queue was empty after %v)", time.Since(start).Round(time.Microsecond)), true
}

// pollUntil calls done until it reports true, waiting a little longer
// each time (up to 5 ms), until deadline. It reports whether done did,
// and false at once when ctx ends.
func pollUntil(ctx context.Context, deadline time.Time, done func() bool) bool {
	wait := 50 * time.Microsecond
	for !done() {
		if time.Now().After(deadline) || !pause(ctx, wait) {
			return false
		}
		wait = min(2*wait, 5*time.Millisecond)
	}
	return true
}

// request sends "get NAME" in one write.
func (k *kitConn) request(name string) error {
	b, err := spec.EncodeRequest(k.f, name)
	if err != nil {
		return fmt.Errorf("the kit cannot encode a request for %q: %w", name, err)
	}
	return k.write(b)
}

// ack sends the acknowledgement in one write.
func (k *kitConn) ack() error { return k.write(spec.EncodeAck(k.f)) }

// halfClose ends the kit's sending side: the server reads end of stream
// while the kit can still read what it sends.
func (k *kitConn) halfClose() error {
	cw, ok := k.nc.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("a %T cannot be half-closed", k.nc)
	}
	k.logf("-> end of stream (the kit half-closes its side)")
	return cw.CloseWrite()
}

// reply reads the server's answer to `get name`. It returns the size, or
// the error reply as er; err describes any other outcome for a learner.
func (k *kitConn) reply(name string) (size int64, er *spec.ErrorReply, err error) {
	size, err = k.r.ReadReply()
	switch {
	case err == nil:
		b, _ := spec.EncodeSize(k.f, size)
		k.logf("<- %s (%d bytes)", quote(b), len(b))
		return size, nil, nil
	case errors.As(err, &er):
		b := spec.EncodeError(k.f, er.Code, er.Text)
		k.logf("<- %s (%d bytes)", quote(b), len(b))
		return 0, er, nil
	}
	k.logf("<- %s", netWords(err))
	return 0, nil, &transferError{fault: faultReply, err: err,
		msg: fmt.Sprintf("%s after `get %s`", describe(err, k.timeout, "a reply (a size or an error reply)"), name)}
}

// fault says what went wrong in a transfer, so that a case can cite the
// requirement it breaks.
type fault int

const (
	faultReply     fault = iota + 1 // no reply, or one that is neither a size nor an error reply
	faultRefused                    // an error reply for a file that exists
	faultSize                       // a size other than the file's
	faultData                       // data other than the file's
	faultTruncated                  // the stream ended inside the data
	faultStalled                    // the data or the digest stopped coming, or the connection broke
	faultNoDigest                   // no digest, or part of one, before the connection ended
	faultDigest                     // a digest that does not match the data, or is malformed
)

// transferError is a transfer that went wrong: what, in a learner's words,
// and the error behind it (so a case can tell a timeout from a close).
type transferError struct {
	fault fault
	msg   string
	err   error
}

func (e *transferError) Error() string { return e.msg }
func (e *transferError) Unwrap() error { return e.err }

// faultOf returns the fault of a transfer error, or 0.
func faultOf(err error) fault {
	var te *transferError
	if errors.As(err, &te) {
		return te.fault
	}
	return 0
}

// transferErr returns a transferError of fault f whose words are formatted
// from format and a.
func transferErr(f fault, err error, format string, a ...any) error {
	return &transferError{fault: f, err: err, msg: fmt.Sprintf(format, a...)}
}

// receive reads the data and the digest of a transfer whose size was
// announced as len(want), and checks both: the data must be want, and the
// digest the MD5 of the data actually received.
func (k *kitConn) receive(name string, want []byte) error {
	size := int64(len(want))
	h := md5.New()
	got, diff, err := k.readCompare(h, want)
	if err != nil {
		k.logf("<- data %d of %d bytes, then %s", got, size, netWords(err))
		var te *spec.TruncatedError
		if errors.As(err, &te) {
			return transferErr(faultTruncated, err, "the server announced %s for %q but closed the connection after sending %d", count(size, "byte"), name, got)
		}
		return transferErr(faultStalled, err, "%s (after %d of the %d data bytes of %q)", describe(err, k.timeout, "the rest of the data"), got, size, name)
	}
	local := hex.EncodeToString(h.Sum(nil))
	k.logf("<- data %d bytes, md5 %s", got, local)
	if diff >= 0 {
		verb := "differ"
		if size == 1 {
			verb = "differs"
		}
		return transferErr(faultData, nil, "the %s the server sent for %q %s from the file from byte %d on (the file hashes to %s, the data to %s)",
			count(size, "byte"), name, verb, diff, digestOf(want), local)
	}
	if k.digest == spec.DigestNone {
		return nil // the exchange ends with the data
	}
	d, err := k.r.ReadDigest()
	if err != nil {
		k.logf("<- digest: %s", netWords(err))
		var te *spec.TruncatedError
		switch {
		case errors.As(err, &te):
			return transferErr(faultNoDigest, err, "the server sent the %s of %q and closed the connection after %d of the 32 digest bytes", count(size, "byte"), name, te.Got)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return transferErr(faultNoDigest, err, "the server sent the %s of %q and closed the connection without a digest", count(size, "byte"), name)
		case isTimeout(err):
			return transferErr(faultNoDigest, err, "%s, after the %s of %q", describe(err, k.timeout, "the 32-byte digest"), count(size, "byte"), name)
		}
		return transferErr(faultDigest, err, "%s, after the %s of %q", describe(err, k.timeout, "the 32-byte digest"), count(size, "byte"), name)
	}
	k.logf("<- digest %q", d)
	if d != local {
		return transferErr(faultDigest, nil, "asked for the %d-byte file %q; the server announced %d and sent the right data, but the digest it sent does not match the data (sent %s, data hashes to %s)",
			size, name, size, d, local)
	}
	return nil
}

// readCompare reads len(want) data bytes into h, comparing them with want.
// It returns how many arrived, the offset of the first byte that differs
// (-1 for none) and the error that stopped it short.
func (k *kitConn) readCompare(h io.Writer, want []byte) (got, diff int64, err error) {
	body := k.r.Body(int64(len(want)))
	buf := make([]byte, 32<<10)
	diff = -1
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if diff < 0 {
				if i := firstDiff(buf[:n], want[got:got+int64(n)]); i < n {
					diff = got + int64(i)
				}
			}
			h.Write(buf[:n])
			got += int64(n)
		}
		if err == io.EOF {
			return got, diff, nil
		}
		if err != nil {
			return got, diff, err
		}
	}
}

// get performs one whole exchange for name and checks it against want.
func (k *kitConn) get(name string, want []byte) error {
	if err := k.request(name); err != nil {
		return err
	}
	return k.finish(name, want)
}

// finish is get after the request was sent: the reply, the ack, the data
// and the digest.
func (k *kitConn) finish(name string, want []byte) error {
	size, er, err := k.reply(name)
	if err != nil {
		return err
	}
	if err := announces(name, want, size, er); err != nil {
		return err
	}
	if err := k.ack(); err != nil {
		return err
	}
	return k.receive(name, want)
}

// announces checks a reply to `get name` for the file want: it must be
// its size.
func announces(name string, want []byte, size int64, er *spec.ErrorReply) error {
	if er != nil {
		return transferErr(faultRefused, nil, "the server refused `get %s` (a %d-byte file that exists): %v", name, len(want), er)
	}
	if size != int64(len(want)) {
		return transferErr(faultSize, nil, "asked for the %d-byte file %q; the server announced %d", len(want), name, size)
	}
	return nil
}

// quiet reports whether the server sends nothing more within d: it
// returns the bytes that arrived (already buffered or read), if any.
func (k *kitConn) quiet(d time.Duration) ([]byte, error) {
	if n := k.r.Buffered(); n > 0 {
		b := make([]byte, n)
		io.ReadFull(k.r.Body(int64(n)), b)
		return b, nil
	}
	k.nc.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 512)
	n, err := k.nc.Read(b)
	k.nc.SetReadDeadline(time.Time{})
	k.saw(err)
	if isTimeout(err) {
		return nil, nil
	}
	return b[:n], err
}

// closeWaitKeep bounds the bytes closeWait keeps.
const closeWaitKeep = 1024

// closeWait waits about k.timeout for the server to close the connection.
// It returns the bytes that arrived before (at most closeWaitKeep), how
// the connection ended, and closed=false if it was still open when the
// time ran out.
func (k *kitConn) closeWait() (extra []byte, how string, closed bool) {
	start := time.Now()
	body := k.r.Body(math.MaxInt64)
	buf := make([]byte, 512)
	for time.Since(start) < k.timeout && len(extra) < closeWaitKeep {
		n, err := body.Read(buf)
		extra = append(extra, buf[:n]...)
		switch {
		case err == nil:
			continue
		case isTimeout(err):
			k.logf("<- %s, and the connection still open after %v", quote(extra), k.timeout)
			return extra, "", false
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			how = "end of stream"
		case errors.Is(err, syscall.ECONNRESET):
			how = "connection reset"
		default:
			how = err.Error()
		}
		if len(extra) > 0 {
			k.logf("<- %s (%d bytes), then %s", quote(extra), len(extra), how)
		} else {
			k.logf("<- %s", how)
		}
		return extra, how, true
	}
	k.logf("<- %s (%d bytes), and the connection still open", quote(extra), len(extra))
	return extra, "", false
}

// rawLine reads one reply line as the server sent it, terminator
// included, through the connection's reader (see readRawLine).
func (k *kitConn) rawLine() ([]byte, error) {
	return readRawLine(k.r.Body(spec.MaxControlLen + 2))
}

// readUpTo reads at most n data bytes and returns them with the error
// that stopped it before n (nil when all n arrived).
func (k *kitConn) readUpTo(n int64) ([]byte, error) {
	var got bytes.Buffer
	_, err := io.Copy(&got, struct{ io.Reader }{k.r.Body(n)})
	if err != nil {
		k.logf("<- data %d of %d bytes (md5 %s), then %s", got.Len(), n, digestOf(got.Bytes()), netWords(err))
	} else {
		k.logf("<- data %d bytes (md5 %s)", got.Len(), digestOf(got.Bytes()))
	}
	return got.Bytes(), err
}

// begin writes the case's fixtures into the server's root and connects to
// the server. When it cannot, k is nil and o says why.
func (x *serverCheck) begin(ctx context.Context, want ...sized) (k *kitConn, fs []fixture, o Outcome) {
	fs, err := x.fx.files(want...)
	if err != nil {
		return nil, nil, setupFailed(err)
	}
	if k, err = x.dial(ctx); err != nil {
		return nil, nil, cannotConnect(err)
	}
	return k, fs, Outcome{}
}

// answer is the server's reply to a request: a size, an error reply, or
// the failure to read either.
type answer struct {
	size int64
	er   *spec.ErrorReply
	err  error
}

// opening is begin, then `get name` and the server's reply to it.
func (x *serverCheck) opening(ctx context.Context, name string, want ...sized) (*kitConn, []fixture, answer, Outcome) {
	k, fs, o := x.begin(ctx, want...)
	if k == nil {
		return nil, nil, answer{}, o
	}
	if err := k.request(name); err != nil {
		k.close()
		return nil, nil, answer{}, fail("%v", err)
	}
	var a answer
	a.size, a.er, a.err = k.reply(name)
	return k, fs, a, Outcome{}
}

// fetch fetches name on a fresh connection and checks it against data.
func (x *serverCheck) fetch(ctx context.Context, name string, data []byte) error {
	k, err := x.dial(ctx)
	if err != nil {
		return fmt.Errorf("cannot connect: %w", err)
	}
	defer k.close()
	return k.get(name, data)
}

// announced sends `get name` on a fresh connection and reads the size,
// which must be len(data). On failure k is nil and o says why.
func (x *serverCheck) announced(ctx context.Context, name string, data []byte) (k *kitConn, o Outcome) {
	k, err := x.dial(ctx)
	if err != nil {
		return nil, cannotConnect(err)
	}
	if err := k.request(name); err != nil {
		k.close()
		return nil, fail("%v", err)
	}
	size, er, err := k.reply(name)
	if err == nil {
		err = announces(name, data, size, er)
	}
	if err != nil {
		k.close()
		return nil, fail("%v", err)
	}
	return k, Outcome{}
}

// unread puts b back before what the kit reads next on k: bytes read from
// the connection itself (one read's worth, so that a lockstep message reads
// as it would have) while k's reader held none.
func (k *kitConn) unread(b []byte) {
	k.r = spec.NewReader(io.MultiReader(bytes.NewReader(b), timedReader{k}), k.f)
}
