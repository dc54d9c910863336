package ref_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

// errClass names the kind of error a reference client returned, as the
// fault matrix prints it. Every documented kind has a name; anything else
// is "untyped: ..." and fails the tests that see it.
func errClass(err error) string {
	var er *spec.ErrorReply
	var de *ref.DigestError
	var pe *spec.ProtocolError
	var te *spec.TruncatedError
	var se *ref.SpaceError
	var re *ref.RateError
	var tl *ref.TimeLimitError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		return "no-space"
	case errors.As(err, &re):
		return "too-slow"
	case errors.As(err, &tl):
		return "time-limit"
	case errors.Is(err, ref.ErrSessionBroken):
		return "broken"
	case errors.As(err, &er):
		return "ERR " + er.Code
	case errors.As(err, &de):
		return "digest-mismatch"
	case errors.As(err, &pe):
		return "malformed-" + string(pe.Phase)
	case errors.As(err, &te):
		return "truncated-" + string(te.Phase)
	case errors.Is(err, spec.ErrTooLong):
		return "too-long"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case isTimeout(err):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrClosedPipe), errors.Is(err, net.ErrClosed):
		return "closed"
	}
	return "untyped: " + err.Error()
}

// logRecorder is a slog.Handler that keeps every record a server logs, so
// a test can read what the server concluded about a connection.
type logRecorder struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	msg   string
	attrs map[string]string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(ctx context.Context, r slog.Record) error {
	return (&recHandler{l: l}).Handle(ctx, r)
}
func (l *logRecorder) WithAttrs(as []slog.Attr) slog.Handler { return &recHandler{l: l, attrs: as} }
func (l *logRecorder) WithGroup(string) slog.Handler         { return l }

type recHandler struct {
	l     *logRecorder
	attrs []slog.Attr
}

func (h *recHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	h.l.recs = append(h.l.recs, rec)
	return nil
}
func (h *recHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recHandler{l: h.l, attrs: append(slices.Clip(h.attrs), as...)}
}
func (h *recHandler) WithGroup(string) slog.Handler { return h }

// find returns the first record with message msg, or nil.
func (l *logRecorder) find(msg string) *logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.recs {
		if l.recs[i].msg == msg {
			return &l.recs[i]
		}
	}
	return nil
}

// values returns attribute key of every record with message msg.
func (l *logRecorder) values(msg, key string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var vs []string
	for _, r := range l.recs {
		if r.msg == msg {
			vs = append(vs, r.attrs[key])
		}
	}
	return vs
}

// closeReasons returns why the server closed each connection.
func (l *logRecorder) closeReasons() []string { return l.values("conn closed", "reason") }

// serverOutcome summarises one connection as the server saw it: the result
// of each request, then why it closed, e.g. "aborted→write-timeout".
func serverOutcome(l *logRecorder) string {
	reason := "open"
	if rs := l.closeReasons(); len(rs) > 0 {
		reason = closeClass(rs[0])
	}
	results := l.values("request", "result")
	if len(results) == 0 {
		return reason
	}
	return strings.ReplaceAll(strings.Join(results, ","), " ", "-") + "→" + reason
}

// closeClass names a server's reason for closing a connection.
func closeClass(r string) string {
	switch r {
	case "client left":
		return "left"
	case "client left inside a request":
		return "left-mid-request"
	case "idle timeout":
		return "idle-timeout"
	case "request too long":
		return "too-long"
	case "malformed request":
		return "bad-request"
	case "panic", "shutdown":
		return r
	}
	switch {
	case strings.HasPrefix(r, "reading request"):
		return "read-" + ioClass(r)
	case strings.HasPrefix(r, "waiting for ack"):
		return "ack-" + ioClass(r)
	case strings.Contains(r, "shrank"):
		return "shrank"
	}
	return "write-" + ioClass(r) // sending a reply, data or digest
}

func ioClass(r string) string {
	switch {
	case strings.Contains(r, "timeout"):
		return "timeout"
	case strings.Contains(r, "reset"):
		return "reset"
	case strings.Contains(r, "EOF"):
		return "eof"
	case strings.Contains(r, "closed"), strings.Contains(r, "broken pipe"):
		return "closed"
	}
	return "other(" + r + ")"
}

// faultKind is what a faulty peer does at the fault point.
type faultKind string

const (
	faultClose   faultKind = "close"   // close the connection
	faultReset   faultKind = "reset"   // abort it with RST (TCP only)
	faultStall   faultKind = "stall"   // stop reading and writing, keep it open
	faultGarbage faultKind = "garbage" // the bytes of the message are garbled
)

var faultKinds = []faultKind{faultClose, faultReset, faultStall, faultGarbage}

// wireLayout is where each message of one exchange lies in each direction
// of the stream: C→S holds request then ack, S→C size, data, digest.
type wireLayout struct {
	req, ack, size int64 // lengths on the wire, terminator included
	term           int64 // 1 in the line framing: the LF after each control message
	body           int64
}

func layout(f spec.Framing, name string, body int64) wireLayout {
	req, _ := spec.EncodeRequest(f, name)
	size, _ := spec.EncodeSize(f, body)
	w := wireLayout{req: int64(len(req)), ack: int64(len(spec.EncodeAck(f))), size: int64(len(size)), body: body}
	if f == spec.Line {
		w.term = 1
	}
	return w
}

// span is the part of one direction's stream a fault hits. A faulty sender
// stops at point: the middle of a control message, or the exact data or
// digest byte. A faulty receiver stops before it reads the start of a
// control message (stopping inside one would fragment it, a lockstep
// hazard, not a fault), or before the exact data or digest byte. Garbage
// flips every byte in [point, end): up to the end of the content, never the
// LF, so the framing holds and only the content is wrong.
type span struct {
	start, point, end int64
	control           bool
}

// faultPhase is one place in the exchange where a fault can hit.
type faultPhase struct {
	name string
	c2s  bool // the message goes from client to server
	span func(w wireLayout) span
}

func controlSpan(start, length, term int64) span {
	return span{start: start, point: start + (length-term)/2, end: start + length - term, control: true}
}

func byteSpan(at int64) span { return span{start: at, point: at, end: at + 1} }

var faultPhases = []faultPhase{
	{"request", true, func(w wireLayout) span { return controlSpan(0, w.req, w.term) }},
	{"ack", true, func(w wireLayout) span { return controlSpan(w.req, w.ack, w.term) }},
	{"size", false, func(w wireLayout) span { return controlSpan(0, w.size, w.term) }},
	{"data-first", false, func(w wireLayout) span { return byteSpan(w.size) }},
	{"data-middle", false, func(w wireLayout) span { return byteSpan(w.size + w.body/2) }},
	{"data-last", false, func(w wireLayout) span { return byteSpan(w.size + w.body - 1) }},
	{"digest", false, func(w wireLayout) span {
		d := w.size + w.body
		return span{start: d, point: d + spec.DigestLen/2, end: d + spec.DigestLen}
	}},
}

// inject wraps c so that it fails as kind says at s. sends says whether c's
// side sends the message s lies in.
func inject(c net.Conn, kind faultKind, sends bool, s span) net.Conn {
	if kind == faultGarbage {
		return &garbleConn{Conn: c, out: sends, lo: s.point, hi: s.end}
	}
	if sends {
		wrap := map[faultKind]func(net.Conn, int64) net.Conn{
			faultClose: shape.Cut, faultReset: shape.Reset, faultStall: shape.Stall,
		}[kind]
		return &lazyFault{Conn: c, at: s.point, wrap: wrap}
	}
	at := s.point
	if s.control {
		at = s.start
	}
	return &stopConn{Conn: c, kind: kind, at: at, done: make(chan struct{})}
}

// lazyFault applies a shape fault wrapper only once a Write carries byte
// at: shape.Cut(c, n) closes as soon as n bytes are out, which at a message
// boundary would be right after the previous message, before the peer's
// next turn. Here the fault hits when the byte is about to be sent.
type lazyFault struct {
	net.Conn
	at   int64
	wrap func(net.Conn, int64) net.Conn

	mu    sync.Mutex
	off   int64
	fault net.Conn // the shape wrapper, once engaged
}

func (c *lazyFault) Write(p []byte) (int, error) {
	// The lock is never held across a Write, which may block until Close.
	c.mu.Lock()
	if c.fault == nil && c.off+int64(len(p)) > c.at {
		c.fault = c.wrap(c.Conn, c.at-c.off)
	}
	f := c.fault
	c.mu.Unlock()
	if f != nil {
		return f.Write(p)
	}
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.off += int64(n)
	c.mu.Unlock()
	return n, err
}

func (c *lazyFault) Close() error {
	c.mu.Lock()
	f := c.fault
	c.mu.Unlock()
	if f != nil {
		return f.Close()
	}
	return c.Conn.Close()
}

// garbleConn flips (XOR 0xFF) the bytes at offsets [lo, hi) of what it
// writes (out) or reads. It never changes a caller's buffer on write.
type garbleConn struct {
	net.Conn
	out    bool
	lo, hi int64
	mu     sync.Mutex
	off    int64
}

func (c *garbleConn) garble(b []byte) {
	for i := range b {
		if o := c.off + int64(i); o >= c.lo && o < c.hi {
			b[i] ^= 0xff
		}
	}
	c.off += int64(len(b))
}

func (c *garbleConn) Write(p []byte) (int, error) {
	if !c.out {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := append([]byte(nil), p...)
	off := c.off
	c.garble(q)
	n, err := c.Conn.Write(q)
	c.off = off + int64(n)
	return n, err
}

func (c *garbleConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.out {
		c.mu.Lock()
		c.garble(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// stopConn fails its reading side at offset at of the stream it reads:
// reads end exactly there, and the Read that would return byte at closes
// the connection (faultClose), aborts it (faultReset, needs TCP), or blocks
// until Close while every later Write is swallowed (faultStall).
type stopConn struct {
	net.Conn
	kind faultKind
	at   int64

	mu      sync.Mutex
	off     int64
	stalled bool
	done    chan struct{}
	once    sync.Once
}

func (c *stopConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	left := c.at - c.off
	c.mu.Unlock()
	if left > 0 {
		if int64(len(p)) > left {
			p = p[:left]
		}
		n, err := c.Conn.Read(p)
		c.mu.Lock()
		c.off += int64(n)
		c.mu.Unlock()
		return n, err
	}
	switch c.kind {
	case faultStall:
		c.mu.Lock()
		c.stalled = true
		c.mu.Unlock()
		<-c.done
	case faultReset:
		if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
			l.SetLinger(0)
		}
		c.Close()
	default:
		c.Close()
	}
	return 0, fmt.Errorf("fault: %s before byte %d: %w", c.kind, c.at, net.ErrClosed)
}

func (c *stopConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	stalled := c.stalled
	c.mu.Unlock()
	if stalled {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *stopConn) Close() error {
	err := net.ErrClosed
	c.once.Do(func() {
		close(c.done)
		err = c.Conn.Close()
	})
	return err
}

// connPair returns two connected conns: a net.Pipe, or over loopback TCP
// when tcp is set (a reset needs TCP).
func connPair(t *testing.T, tcp bool) (client, server net.Conn) {
	t.Helper()
	if !tcp {
		return net.Pipe()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	server = <-accepted
	if err != nil || server == nil {
		t.Fatalf("loopback pair: dial %v, accepted %v", err, server)
	}
	return client, server
}

// The deadlines of the matrix. The observer (the reference peer under
// test) uses stallDeadline where the faulty peer stalls, so the stall is
// noticed by a timeout; elsewhere promptDeadline, which a prompt outcome
// never comes near, so a timeout there is a failure to notice the fault.
// The faulty peer's own timeouts are longer still: it never gives up first.
const (
	stallDeadline  = 300 * time.Millisecond
	promptDeadline = 5 * time.Second
	faultyDeadline = 20 * time.Second
	cellBound      = 10 * time.Second // a cell still running after this has hung
)

type faultCell struct {
	role  string // "server" (a faulty server, seen by the reference client) or "client"
	f     spec.Framing
	phase faultPhase
	kind  faultKind
}

func (c faultCell) key() string {
	return c.role + "/" + c.f.String() + "/" + c.phase.name + "/" + string(c.kind)
}

// faultWant is what each pipe cell must observe; see TestFaultMatrix.
// Reset cells are not listed: TCP may report an abort as a reset, as a
// closed pipe or as an end of stream, so they get the generic checks.
var faultWant = func() map[string]string {
	m := map[string]string{}
	for _, f := range []string{"lockstep", "line"} {
		// A faulty server, as the reference client reports it.
		for k, v := range map[string]string{
			"request/close": "closed", "request/stall": "timeout", "request/garbage": "ERR bad-request",
			"ack/close": "closed", "ack/stall": "timeout", "ack/garbage": "ok",
			"size/stall": "timeout", "size/garbage": "malformed-size",
			"digest/close": "truncated-digest", "digest/stall": "timeout", "digest/garbage": "malformed-digest",
		} {
			m["server/"+f+"/"+k] = v
		}
		for _, p := range []string{"data-first", "data-middle", "data-last"} {
			m["server/"+f+"/"+p+"/close"] = "truncated-data"
			m["server/"+f+"/"+p+"/stall"] = "timeout"
			m["server/"+f+"/"+p+"/garbage"] = "digest-mismatch"
		}
		// A faulty client, as the reference server reports it.
		for k, v := range map[string]string{
			"request/garbage": "bad-request→bad-request",
			"ack/garbage":     "ok→left",
			"size/close":      "write-closed", "size/stall": "write-timeout", "size/garbage": "no-ack→ack-eof",
			"digest/close": "write-closed", "digest/stall": "write-timeout", "digest/garbage": "ok→left",
		} {
			m["client/"+f+"/"+k] = v
		}
		for _, p := range []string{"data-first", "data-middle", "data-last"} {
			m["client/"+f+"/"+p+"/close"] = "aborted→write-closed"
			m["client/"+f+"/"+p+"/stall"] = "aborted→write-timeout"
			m["client/"+f+"/"+p+"/garbage"] = "ok→left"
		}
	}
	// Lockstep has no terminator: a request or size cut in the middle is a
	// shorter message, taken whole (HAZARD-FRAG-CONTROL), and so is an ack,
	// whose content the server ignores.
	m["server/lockstep/size/close"] = "closed" // size "40" read; the ack finds the pipe closed
	m["server/line/size/close"] = "eof"        // "40" and no LF
	m["client/lockstep/request/close"] = "not-found→write-closed"
	m["client/lockstep/request/stall"] = "not-found→left"
	m["client/lockstep/ack/close"] = "aborted→write-closed"
	m["client/lockstep/ack/stall"] = "ok→left"
	m["client/line/request/close"] = "left-mid-request"
	m["client/line/request/stall"] = "idle-timeout"
	m["client/line/ack/close"] = "no-ack→ack-eof"
	m["client/line/ack/stall"] = "no-ack→ack-timeout"
	return m
}()

// TestFaultMatrix injects every fault at every phase of an exchange, on the
// server's side (the reference client must fail with a typed error, leave
// no file, and not wait past its deadline) and on the client's side (the
// reference server must close the connection within its deadline, and go
// on serving), in both framings. Close, stall and garbage run over
// net.Pipe, where every byte count is exact; reset runs over loopback TCP.
// After every cell the same server serves a fresh request; after the whole
// matrix no goroutine is left. The observed outcome of every cell is logged
// as a table, and checked against faultWant.
func TestFaultMatrix(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	root := t.TempDir()
	data := content(t, 4096)
	writeFiles(t, root, map[string][]byte{"data.bin": data})

	var mu sync.Mutex
	observed := map[string]string{}
	t.Run("cells", func(t *testing.T) {
		for _, role := range []string{"server", "client"} {
			for _, f := range spec.Framings {
				for _, ph := range faultPhases {
					for _, k := range faultKinds {
						c := faultCell{role, f, ph, k}
						t.Run(c.key(), func(t *testing.T) {
							t.Parallel()
							var got string
							if role == "server" {
								got = faultyServerCell(t, c, root, data)
							} else {
								got = faultyClientCell(t, c, root, data)
							}
							mu.Lock()
							observed[c.key()] = got
							mu.Unlock()
							want, ok := faultWant[c.key()]
							switch {
							case ok && got != want:
								t.Errorf("observed %q, want %q", got, want)
							case !ok && k != faultReset:
								t.Errorf("observed %q; faultWant has no entry for %s", got, c.key())
							}
						})
					}
				}
			}
		}
	})
	goleak.VerifyNone(t, leaks)

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nfaulty side\tframing\tphase\tclose\treset (TCP)\tstall\tgarbage")
	for _, role := range []string{"server", "client"} {
		for _, f := range spec.Framings {
			for _, ph := range faultPhases {
				fmt.Fprintf(tw, "%s\t%s\t%s", role, f, ph.name)
				for _, k := range faultKinds {
					fmt.Fprintf(tw, "\t%s", observed[faultCell{role, f, ph, k}.key()])
				}
				fmt.Fprintln(tw)
			}
		}
	}
	tw.Flush()
	t.Logf("fault matrix: server rows show the reference client's error; client rows show the reference server's request results → why it closed%s", b.String())
}

func deadlineFor(k faultKind) time.Duration {
	if k == faultStall {
		return stallDeadline
	}
	return promptDeadline
}

// faultyServerCell runs a reference server whose connection fails as the
// cell says, and returns the class of the reference client's error.
func faultyServerCell(t *testing.T, c faultCell, root string, data []byte) string {
	srv := newServer(t, root, c.f)
	srv.Logger = nil
	srv.FirstRequestTimeout, srv.IdleTimeout, srv.AckTimeout, srv.WriteTimeout = faultyDeadline, faultyDeadline, faultyDeadline, faultyDeadline
	w := layout(c.f, "data.bin", int64(len(data)))
	cc, sc := connPair(t, c.kind == faultReset)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(ctx, inject(sc, c.kind, !c.phase.c2s, c.phase.span(w)))
	}()

	dir := t.TempDir()
	dst := filepath.Join(dir, "out")
	sess := (&ref.Client{Framing: c.f, Timeout: deadlineFor(c.kind)}).NewSession(cc)
	watchdog := time.AfterFunc(cellBound, func() { cc.Close() })
	start := time.Now()
	res, err := sess.Get("data.bin", dst)
	elapsed := time.Since(start)
	watchdog.Stop()
	sess.Close()
	cancel()
	<-served
	got := errClass(err)
	t.Logf("Get = %v after %v", err, elapsed.Round(time.Millisecond))

	if elapsed >= cellBound {
		t.Errorf("Get took %v, past every deadline", elapsed)
	}
	switch {
	case strings.HasPrefix(got, "untyped"):
		t.Errorf("Get error %v is none of the documented kinds", err)
	case c.kind == faultReset && (got == "ok" || got == "timeout"):
		t.Errorf("Get = %v after a reset, want a prompt failure", err)
	}
	b, rerr := os.ReadFile(dst)
	if got == "ok" {
		if !bytes.Equal(b, data) || res.Digest != md5hex(data) {
			t.Errorf("Get succeeded with %d bytes digest %v, want the file", len(b), res)
		}
	} else if !errors.Is(rerr, fs.ErrNotExist) {
		t.Errorf("Get failed but left %d bytes at the destination", len(b))
	}
	if es := dirEntries(t, dir); len(es) > 1 || len(es) == 1 && got != "ok" {
		t.Errorf("destination directory holds %q", es)
	}
	checkServes(t, srv, data)
	return got
}

// faultyClientCell runs a reference client whose connection fails as the
// cell says, and returns how the reference server saw the connection.
func faultyClientCell(t *testing.T, c faultCell, root string, data []byte) string {
	srv := newServer(t, root, c.f)
	var logs logRecorder
	srv.Logger = slog.New(&logs)
	d := deadlineFor(c.kind)
	srv.FirstRequestTimeout, srv.IdleTimeout, srv.AckTimeout, srv.WriteTimeout = d, d, d, d
	w := layout(c.f, "data.bin", int64(len(data)))
	cc, sc := connPair(t, c.kind == faultReset)
	start := time.Now()
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(context.Background(), sc)
	}()

	dir := t.TempDir()
	dst := filepath.Join(dir, "out")
	sess := (&ref.Client{Framing: c.f, Timeout: faultyDeadline}).NewSession(inject(cc, c.kind, c.phase.c2s, c.phase.span(w)))
	type outcome struct {
		res *ref.Result
		err error
	}
	fetched := make(chan outcome, 1)
	go func() {
		res, err := sess.Get("data.bin", dst)
		sess.Close()
		fetched <- outcome{res, err}
	}()
	select {
	case <-served:
	case <-time.After(cellBound):
		t.Errorf("server still serving the faulty connection after %v", cellBound)
	}
	elapsed := time.Since(start)
	sess.Close() // a stalled client waits for nothing else
	o := <-fetched
	<-served
	got := serverOutcome(&logs)
	t.Logf("server: %s after %v (reasons %q); faulty client: %v", got, elapsed.Round(time.Millisecond), logs.closeReasons(), o.err)

	switch {
	case strings.Contains(got, "panic") || strings.Contains(got, "other("):
		t.Errorf("server outcome %q", got)
	case c.kind == faultReset && strings.Contains(got, "timeout"):
		t.Errorf("server outcome %q after a reset, want a prompt close", got)
	}
	// The faulty client still never leaves a file it did not verify.
	b, rerr := os.ReadFile(dst)
	if o.err == nil {
		if !bytes.Equal(b, data) {
			t.Errorf("faulty client's Get succeeded with %d bytes, want the file", len(b))
		}
	} else if !errors.Is(rerr, fs.ErrNotExist) {
		t.Errorf("faulty client's Get failed (%v) but left %d bytes", o.err, len(b))
	}
	checkServes(t, srv, data)
	return got
}

// checkServes fetches data.bin from srv over a fresh connection.
func checkServes(t *testing.T, srv *ref.Server, data []byte) {
	t.Helper()
	got, _, err := fetchFresh(srv, "data.bin", promptDeadline)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("fresh request after the fault: Fetch = %d bytes, %v; want the file", len(got), err)
	}
}
