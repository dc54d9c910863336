//go:build unix

package ref_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// The fuzz targets feed a reference peer arbitrary bytes over net.Pipe and
// check it against a model of what SPEC.md makes it do with them. An input
// is the framing, the bytes, and cuts: how the bytes are split into writes.
// Over net.Pipe one write is exactly one read at the peer, which is what
// delimits a control message in the lockstep framing, so the cuts make
// every lockstep input reproducible.
const (
	maxFuzzInput = 4096 // bytes fed to the peer; more are dropped
	maxFuzzCuts  = 64   // writes described by cuts; the rest goes in one
	// fuzzTimeout is every timeout of the fuzzed peer: short, so that a
	// peer waiting for bytes that never come costs little.
	fuzzTimeout = 100 * time.Millisecond
	// fuzzBound is how long one run may take before it counts as hung.
	fuzzBound = 10 * time.Second
)

// cutInput caps a fuzz input and splits it into writes. The sizes of the
// writes are the bytes of cuts, in order; a 0 byte, or the end of cuts,
// sends everything left as one write. No write is empty.
func cutInput(in, cuts []byte) [][]byte {
	if len(in) > maxFuzzInput {
		in = in[:maxFuzzInput]
	}
	if len(cuts) > maxFuzzCuts {
		cuts = cuts[:maxFuzzCuts]
	}
	var msgs [][]byte
	for _, c := range cuts {
		if len(in) == 0 || c == 0 {
			break
		}
		n := min(int(c), len(in))
		msgs = append(msgs, in[:n])
		in = in[n:]
	}
	if len(in) > 0 {
		msgs = append(msgs, in)
	}
	return msgs
}

// cutsOf returns the cuts that split a seed into exactly the given writes.
func cutsOf(parts ...string) (in, cuts []byte) {
	for _, p := range parts {
		if len(p) == 0 || len(p) > 255 {
			panic("cutsOf: part must be 1..255 bytes")
		}
		in = append(in, p...)
		cuts = append(cuts, byte(len(p)))
	}
	return in, cuts
}

func framingOf(line bool) spec.Framing {
	if line {
		return spec.Line
	}
	return spec.Lockstep
}

// halfConn is one end of a net.Pipe whose peer can half-close: after
// shutRead, a Read returns io.EOF once it has nothing more to return, while
// Writes still go through. net.Pipe itself has no half-close, and without
// one a fuzzed peer could only learn that the input ended by a timeout.
//
// shutRead must be called only once the other end has finished writing:
// net.Pipe hands over every written byte before Write returns, so then
// nothing is left in flight.
type halfConn struct {
	net.Conn
	mu  sync.Mutex
	eof bool
}

// shutRead ends the stream read from c: a blocked Read wakes (by a deadline
// in the past) and returns io.EOF, and so do all later Reads.
func (c *halfConn) shutRead() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eof = true
	c.Conn.SetReadDeadline(time.Unix(1, 0))
}

func (c *halfConn) ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eof
}

func (c *halfConn) Read(p []byte) (int, error) {
	if c.ended() {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && c.ended() {
		return 0, io.EOF
	}
	return n, err
}

// SetReadDeadline keeps the past deadline that shutRead set.
func (c *halfConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eof {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *halfConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// fuzzFixture is the root a fuzzed server serves.
type fuzzFixture struct {
	dir   string
	root  *os.Root // the same directory, for the model's own look-ups
	files map[string][]byte
}

func newFuzzFixture(f *testing.F) *fuzzFixture {
	f.Helper()
	base := f.TempDir()
	dir := filepath.Join(base, "root")
	big := make([]byte, 70000) // more than one body buffer
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	files := map[string][]byte{
		"a.txt":              []byte("hello\n"),
		"empty":              {},
		"dir/b.txt":          []byte("bbb"),
		" sp ace \u00e9.txt": []byte("spaces and UTF-8"),
		"big.bin":            big,
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "outside"), []byte(secret), 0o644); err != nil {
		f.Fatal(err)
	}
	for link, target := range map[string]string{"out": "../outside", "in": "a.txt", "dirin": "dir"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			f.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		f.Logf("no FIFO in the fuzz root: %v", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Close() })
	return &fuzzFixture{dir: dir, root: r, files: files}
}

// expect says what a server must reply to a well-formed request for name:
// an error code, or (code "") the content of a regular file. any means the
// model cannot tell the code and accepts every keep-open one.
func (fx *fuzzFixture) expect(name string) (code string, content []byte, any bool) {
	if b, ok := fx.files[name]; ok {
		return "", b, false
	}
	if !filepath.IsLocal(name) {
		return spec.CodeForbidden, nil, false
	}
	fi, err := fx.root.Stat(name)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return spec.CodeNotRegular, nil, false
	case err == nil:
		b, err := fx.root.ReadFile(name)
		if err != nil {
			return "", nil, true
		}
		return "", b, false
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR),
		errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP):
		return spec.CodeNotFound, nil, false
	case strings.Contains(err.Error(), "path escapes from parent"):
		return spec.CodeForbidden, nil, false
	}
	return "", nil, true
}

func keepOpen(code string) bool {
	switch code {
	case spec.CodeNotFound, spec.CodeForbidden, spec.CodeNotRegular, spec.CodeUnreadable:
		return true
	}
	return false
}

var serverSeeds = []struct {
	line  bool
	parts []string // one write each
}{
	{false, []string{"get a.txt", spec.AckText}},
	{false, []string{"get a.txt", spec.AckText, "get big.bin", spec.AckText, "get empty", "x"}},
	{false, []string{"get missing", "get a.txt", spec.AckText}},
	{false, []string{"get ../outside", "get out", "get /etc/passwd", "get fifo", "get dir", "get in", "ack"}},
	{false, []string{"get  sp ace \u00e9.txt", spec.AckText}},
	{false, []string{"get dir/../dir/b.txt", "whatever the ack says"}},
	{false, []string{"get a.txt" + spec.AckText}},
	{false, []string{"put a.txt"}},
	{false, []string{"get a\x00b"}},
	{false, []string{"get \xff"}},
	{false, []string{"get a.txt"}},
	{false, []string{"get "}},
	{true, []string{"get a.txt\nready to recv file\n"}},
	{true, []string{"get missing\nready to recv file\nget a.txt\r\nready to recv file\r\n"}},
	{true, []string{"g", "et big", ".bin\n", "ready to recv file\n", "get dirin/b.txt\n\n"}},
	{true, []string{"get out\nget fifo\nget ..\nget .\nget empty\nx\n"}},
	{true, []string{"ready to recv file\nget a.txt\nready to recv file\n"}},
	{true, []string{"get a.txt"}},
	{true, []string{"get a.txt\n"}},
	{true, []string{"get a\rb\n"}},
	{true, []string{"\n"}},
}

// FuzzServer feeds the reference server arbitrary client bytes, in either
// framing, cut into arbitrary writes, and then ends the stream. Properties:
// no panic; every reply is what SPEC.md says for the input (a model of the
// server's reads decides which bytes form which message); the server closes
// the connection within a bound; and afterwards the same server serves a
// fresh connection correctly.
func FuzzServer(f *testing.F) {
	fx := newFuzzFixture(f)
	for _, s := range serverSeeds {
		in, cuts := cutsOf(s.parts...)
		f.Add(s.line, in, cuts)
	}
	f.Add(false, []byte("get "+strings.Repeat("n", 1100)), []byte{})
	f.Add(true, []byte("get "+strings.Repeat("n", 1100)), []byte{})
	f.Add(true, []byte("get "+strings.Repeat("n", 1020)+"\r\n"), []byte{})

	f.Fuzz(func(t *testing.T, line bool, in, cuts []byte) {
		fr := framingOf(line)
		msgs := cutInput(in, cuts)
		srv, err := ref.NewServer(fx.dir)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		var logs logRecorder
		srv.Framing = fr
		srv.Logger = slog.New(&logs)
		srv.FirstRequestTimeout, srv.IdleTimeout, srv.AckTimeout, srv.WriteTimeout = fuzzTimeout, fuzzTimeout, fuzzTimeout, fuzzTimeout
		srv.MaxConns = 2

		c1, c2 := net.Pipe()
		sc := &halfConn{Conn: c2}
		served := make(chan struct{})
		go func() {
			defer close(served)
			srv.ServeConn(context.Background(), sc)
		}()
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			defer sc.shutRead()
			c1.SetWriteDeadline(time.Now().Add(fuzzBound))
			for _, m := range msgs {
				if _, err := c1.Write(m); err != nil {
					return
				}
			}
		}()
		c1.SetReadDeadline(time.Now().Add(fuzzBound))
		m := &serverModel{fx: fx, f: fr, msgs: msgs, out: spec.NewReader(c1, fr)}
		if line {
			m.stream = bytes.Join(msgs, nil)
		}
		mismatch := m.run()
		c1.Close()
		<-wrote
		select {
		case <-served:
		case <-time.After(fuzzBound):
			t.Fatalf("ServeConn still running %v after its connection closed", fuzzBound)
		}
		if p := logs.find("panic serving connection"); p != nil {
			t.Fatalf("server panicked: %v\ninput %q in %d writes", p.attrs["panic"], in, len(msgs))
		}
		if mismatch != "" {
			if r := logs.closeReasons(); strings.Contains(strings.Join(r, ";"), "timeout") {
				// Under load a 100ms timeout can fire between two of our
				// writes; the server then rightly closed early.
				t.Logf("server closed on a timeout (%q): %s", r, mismatch)
			} else {
				t.Fatalf("%s framing: %s\nwrites: %q\nserver closed: %q", fr, mismatch, msgs, r)
			}
		}
		checkNextConn(t, srv, fx)
	})
}

// checkNextConn fetches a file over a fresh connection to srv.
func checkNextConn(t *testing.T, srv *ref.Server, fx *fuzzFixture) {
	t.Helper()
	got, res, err := fetchFresh(srv, "a.txt", fuzzBound)
	if err != nil || !bytes.Equal(got, fx.files["a.txt"]) || res.Digest != md5hex(fx.files["a.txt"]) {
		t.Fatalf("next connection: Fetch(a.txt) = %q, %v; want %q", got, err, fx.files["a.txt"])
	}
}

// ctlEnd says how a model's read of a control message ended.
type ctlEnd int

const (
	ctlMsg        ctlEnd = iota // a whole message
	ctlEOF                      // the stream ended, before or inside the message
	ctlTooLong                  // over MaxControlLen
	ctlCutAtLimit               // the stream ended after MaxControlLen octets and a CR
)

// lineRead is what one read of a line-framed control message takes from
// the rest of a stream: the bytes up to LF, refused as too long as soon as
// the limit is passed (spec.Reader's rule: one CR may follow the 1024
// content bytes, before the LF). n is how many bytes it consumes. A line
// that ends after those 1024 bytes and the CR is, as received, too long.
func lineRead(rest []byte) (msg []byte, n int, end ctlEnd) {
	i := bytes.IndexByte(rest, '\n')
	l := rest
	if i >= 0 {
		l = rest[:i]
	}
	if len(l) > spec.MaxControlLen+1 || len(l) == spec.MaxControlLen+1 && l[spec.MaxControlLen] != '\r' {
		return nil, len(rest), ctlTooLong
	}
	if i < 0 && len(l) == spec.MaxControlLen+1 {
		return nil, len(rest), ctlCutAtLimit
	}
	if i < 0 {
		return nil, len(rest), ctlEOF
	}
	return spec.TrimLine(rest[:i+1]), i + 1, ctlMsg
}

// serverModel replays the client's bytes as the server reads them and
// reads the server's output alongside, message by message.
type serverModel struct {
	fx     *fuzzFixture
	f      spec.Framing
	msgs   [][]byte // lockstep: one control message per write
	stream []byte   // line: all the bytes
	out    *spec.Reader
}

func (m *serverModel) next() ([]byte, ctlEnd) {
	if m.f == spec.Line {
		msg, n, end := lineRead(m.stream)
		m.stream = m.stream[n:]
		return msg, end
	}
	if len(m.msgs) == 0 {
		return nil, ctlEOF
	}
	msg := m.msgs[0]
	m.msgs = m.msgs[1:]
	if len(msg) > spec.MaxControlLen {
		return nil, ctlTooLong
	}
	return msg, ctlMsg
}

// run returns "" if the server's output matches the model, else what went
// wrong.
func (m *serverModel) run() string {
	for n := 1; ; n++ {
		msg, end := m.next()
		switch end {
		case ctlEOF:
			return m.expectClose(fmt.Sprintf("after the input ended (request %d)", n))
		case ctlTooLong, ctlCutAtLimit:
			// A line cut after 1024 octets and a CR was, as received,
			// too long: the server answers so before it closes.
			return m.expectRefusal(n, spec.CodeTooLong)
		}
		if m.f == spec.Line && string(msg) == spec.AckText {
			n--
			continue // REQ-LINE-4
		}
		name, err := spec.ParseRequest(msg)
		if err != nil {
			code := spec.CodeBadRequest
			if errors.Is(err, spec.ErrTooLong) {
				code = spec.CodeTooLong
			}
			return m.expectRefusal(n, code)
		}
		wantCode, want, anyCode := m.fx.expect(name)
		size, err := m.out.ReadReply()
		var er *spec.ErrorReply
		switch {
		case errors.As(err, &er):
			if !keepOpen(er.Code) || !anyCode && er.Code != wantCode {
				return fmt.Sprintf("request %d %q: reply ERR %s %q, want %s", n, name, er.Code, er.Text, describe(wantCode, want, anyCode))
			}
			if strings.Contains(er.Text, secret) || strings.Contains(er.Text, m.fx.dir) {
				return fmt.Sprintf("request %d %q: error text %q discloses the server's files", n, name, er.Text)
			}
			continue
		case err != nil:
			return fmt.Sprintf("request %d %q: reading the reply: %v; want %s", n, name, err, describe(wantCode, want, anyCode))
		case wantCode != "" || anyCode || size != int64(len(want)):
			return fmt.Sprintf("request %d %q: reply size %d, want %s", n, name, size, describe(wantCode, want, anyCode))
		}
		if _, end := m.next(); end != ctlMsg {
			return m.expectClose(fmt.Sprintf("request %d %q: after the size, where the ack was due", n, name))
		}
		body, err := io.ReadAll(m.out.Body(size))
		if err != nil {
			return fmt.Sprintf("request %d %q: reading %d data bytes: %v (got %d)", n, name, size, err, len(body))
		}
		if !bytes.Equal(body, want) {
			return fmt.Sprintf("request %d %q: data differs from the file", n, name)
		}
		digest, err := m.out.ReadDigest()
		if err != nil || digest != md5hex(want) {
			return fmt.Sprintf("request %d %q: digest %q, %v; want %s", n, name, digest, err, md5hex(want))
		}
	}
}

func describe(code string, content []byte, any bool) string {
	switch {
	case any:
		return "a keep-open error reply"
	case code != "":
		return "ERR " + code
	}
	return fmt.Sprintf("size %d", len(content))
}

// expectRefusal reads the error reply code, after which the server must
// close the connection.
func (m *serverModel) expectRefusal(n int, code string) string {
	_, err := m.out.ReadReply()
	var er *spec.ErrorReply
	if !errors.As(err, &er) || er.Code != code {
		return fmt.Sprintf("request %d: reply %v, want ERR %s", n, err, code)
	}
	return m.expectClose(fmt.Sprintf("after ERR %s", code))
}

// expectClose checks the server closes the connection with nothing more.
func (m *serverModel) expectClose(when string) string {
	b, err := m.out.ReadRequest() // the one reader that reports a clean end as io.EOF
	if err == io.EOF {
		return ""
	}
	return fmt.Sprintf("%s: want the server to close, got %q, %v", when, b, err)
}

var clientSeeds = []struct {
	line  bool
	parts []string
}{
	{false, []string{"5", "hello5d41402abc4b2a76b9719d911017c592"}},
	{false, []string{"5", "he", "llo5d41402abc4b2a76b9719d911", "017c592"}},
	{false, []string{"5", "hello5d41402abc4b2a76b9719d911017c592", "0", "d41d8cd98f00b204e9800998ecf8427e"}},
	{false, []string{"5", "hello5d41402abc4b2a76b9719d911017c592ERR not-found no"}},
	{false, []string{"ERR not-found no such file", "0", "d41d8cd98f00b204e9800998ecf8427e"}},
	{false, []string{"ERR busy", "0"}},
	{false, []string{"5", "hellO5d41402abc4b2a76b9719d911017c592"}},
	{false, []string{"5", "hello5D41402ABC4B2A76B9719D911017C592"}},
	{false, []string{"5", "hello5d41402abc"}},
	{false, []string{"10", "hello"}},
	{false, []string{"-1"}},
	{false, []string{"9223372036854775807", "x"}},
	{false, []string{"ERR"}},
	{true, []string{"5\nhello5d41402abc4b2a76b9719d911017c592"}},
	{true, []string{"5\r", "\nhello5d41402abc4b2a76b9719d911017c5920\nd41d8cd98f00b204e9800998ecf8427e"}},
	{true, []string{"ERR forbidden\n5\nhello5d41402abc4b2a76b9719d911017c592"}},
	{true, []string{"ERR teapot \xff\x01\n", "5"}},
	{true, []string{"05\nhello"}},
	{true, []string{"5"}},
}

// FuzzClient feeds Session.Get arbitrary server bytes, in either framing,
// cut into arbitrary writes, for two requests on one session. Properties:
// no panic; each Get ends within a bound with the outcome a model of the
// exchange predicts; and a file is at a destination only when its Get
// succeeded, holding exactly the data the digest covered. A destination
// that existed before a failed Get keeps its old content.
func FuzzClient(f *testing.F) {
	for _, s := range clientSeeds {
		in, cuts := cutsOf(s.parts...)
		f.Add(s.line, false, in, cuts)
		f.Add(s.line, true, in, cuts)
	}
	f.Add(false, false, []byte("1"+strings.Repeat("9", 1030)), []byte{})
	f.Add(true, false, []byte(strings.Repeat("9", 1030)+"\n"), []byte{})

	f.Fuzz(func(t *testing.T, line, existing bool, in, cuts []byte) {
		fr := framingOf(line)
		msgs := cutInput(in, cuts)
		c1, c2 := net.Pipe()
		cc := &halfConn{Conn: c1}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // play the server: the fuzz bytes, then the end
			defer wg.Done()
			defer cc.shutRead()
			c2.SetWriteDeadline(time.Now().Add(fuzzBound))
			for _, m := range msgs {
				if _, err := c2.Write(m); err != nil {
					return
				}
			}
		}()
		go func() { // and swallow the requests and acks
			defer wg.Done()
			io.Copy(io.Discard, c2)
		}()
		watchdog := time.AfterFunc(fuzzBound, func() { c1.Close() })
		sess := (&ref.Client{Framing: fr, Timeout: fuzzTimeout}).NewSession(cc)
		dir := t.TempDir()
		var dsts [2]string
		var got [2]getOutcome
		for i := range dsts {
			dsts[i] = filepath.Join(dir, fmt.Sprintf("out%d", i))
			if existing {
				if err := os.WriteFile(dsts[i], []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := sess.Get("file.bin", dsts[i])
			got[i] = getOutcome{class: errClass(err), err: err, res: res}
		}
		sess.Close()
		hung := !watchdog.Stop()
		wg.Wait()
		c2.Close()
		if hung {
			t.Fatalf("Get still running after %v: %+v", fuzzBound, got)
		}

		m := &clientModel{f: fr, msgs: msgs, strict: true, free: freeSpace(t, dir)}
		stream := bytes.Join(msgs, nil)
		for i, g := range got {
			if g.class == "timeout" {
				// Only a starved test can make a 100ms timeout fire here:
				// the input always ends with a close.
				t.Logf("Get %d: %v (a timeout: the rest is not compared)", i, g.err)
				m.strict = false
			}
			want := m.get()
			if m.strict && g.class != want.class {
				t.Errorf("Get %d: %v (%s), model says %s", i, g.err, g.class, want.class)
			}
			if strings.HasPrefix(g.class, "untyped") {
				t.Errorf("Get %d: error %v is none of the documented kinds", i, g.err)
			}
			b, err := os.ReadFile(dsts[i])
			switch {
			case g.class == "ok":
				if err != nil {
					t.Fatalf("Get %d succeeded but %s: %v", i, dsts[i], err)
				}
				if m.strict && !bytes.Equal(b, want.data) {
					t.Errorf("Get %d: file holds %d bytes, model says %d", i, len(b), len(want.data))
				}
				if g.res.Size != int64(len(b)) || g.res.Digest != md5hex(b) {
					t.Errorf("Get %d: result %+v for a file of %d bytes with MD5 %s", i, g.res, len(b), md5hex(b))
				}
				if !bytes.Contains(stream, append(b, g.res.Digest...)) {
					t.Errorf("Get %d: the file followed by its digest is nowhere in what the server sent", i)
				}
			case existing:
				if string(b) != "old" {
					t.Errorf("Get %d failed (%v) but %s holds %q, %v; want %q", i, g.err, dsts[i], b, err, "old")
				}
			default:
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Get %d failed (%v) but left %s (%d bytes)", i, g.err, dsts[i], len(b))
				}
			}
		}
		for _, name := range dirEntries(t, dir) {
			if name != "out0" && name != "out1" {
				t.Errorf("directory holds %q after the Gets", name)
			}
		}
		if t.Failed() {
			t.Logf("%s framing, writes %q", fr, msgs)
		}
	})
}

type getOutcome struct {
	class string
	err   error
	res   *ref.Result
}

// clientModel replays the server's bytes as the reference client reads
// them. In the lockstep framing a control message is one read: the rest of
// the write a previous read left unfinished (the client keeps read-ahead
// bytes, REQ-GEN-2), or the next write. How much a client reads ahead is
// its own business (REQ-LOCK-3), so once a control message would begin
// inside a write the model stops predicting.
type clientModel struct {
	f      spec.Framing
	msgs   [][]byte
	off    int   // bytes of msgs[0] already read
	broken bool  // an earlier failure made the session unusable
	strict bool  // the model still predicts the outcome
	free   int64 // bytes free where the client stores the file
}

type modelOutcome struct {
	class string
	data  []byte
}

// take reads n bytes across writes, or all that is left.
func (m *clientModel) take(n int64) ([]byte, bool) {
	var b []byte
	for n > 0 && len(m.msgs) > 0 {
		rest := m.msgs[0][m.off:]
		k := int(min(n, int64(len(rest))))
		b = append(b, rest[:k]...)
		n -= int64(k)
		m.off += k
		if m.off == len(m.msgs[0]) {
			m.msgs, m.off = m.msgs[1:], 0
		}
	}
	return b, n == 0
}

func (m *clientModel) left() int64 {
	var n int64
	for i, b := range m.msgs {
		n += int64(len(b))
		if i == 0 {
			n -= int64(m.off)
		}
	}
	return n
}

func (m *clientModel) control() ([]byte, ctlEnd) {
	if m.f == spec.Line {
		rest, _ := m.take(m.left())
		msg, n, end := lineRead(rest)
		m.msgs, m.off = [][]byte{rest[n:]}, 0
		if len(rest[n:]) == 0 {
			m.msgs = nil
		}
		return msg, end
	}
	if len(m.msgs) == 0 {
		return nil, ctlEOF
	}
	if m.off > 0 {
		m.strict = false
	}
	msg := m.msgs[0][m.off:]
	m.msgs, m.off = m.msgs[1:], 0
	if len(msg) > spec.MaxControlLen {
		return nil, ctlTooLong
	}
	return msg, ctlMsg
}

// get predicts the outcome of the next Get.
func (m *clientModel) get() modelOutcome {
	if m.broken {
		return modelOutcome{class: "broken"}
	}
	o := m.exchange()
	if o.class != "ok" && !(strings.HasPrefix(o.class, "ERR ") && keepsSession(o.class[4:])) {
		m.broken = true
	}
	return o
}

func keepsSession(code string) bool {
	switch code {
	case spec.CodeBusy, spec.CodeBadRequest, spec.CodeTooLong:
		return false
	}
	return true
}

func (m *clientModel) exchange() modelOutcome {
	msg, end := m.control()
	switch end {
	case ctlEOF:
		return modelOutcome{class: "eof"}
	case ctlTooLong:
		return modelOutcome{class: "too-long"}
	}
	size, err := spec.ParseReply(msg)
	if err != nil {
		return modelOutcome{class: errClass(err)}
	}
	if size > m.free {
		return modelOutcome{class: "no-space"} // refused before the ack
	}
	if size > m.left() {
		m.take(m.left())
		return modelOutcome{class: "truncated-data"}
	}
	data, _ := m.take(size)
	d, ok := m.take(spec.DigestLen)
	if !ok {
		return modelOutcome{class: "truncated-digest"}
	}
	digest, err := spec.ParseDigest(d)
	if err != nil {
		return modelOutcome{class: errClass(err)}
	}
	if sum := md5.Sum(data); digest != hex.EncodeToString(sum[:]) {
		return modelOutcome{class: "digest-mismatch"}
	}
	return modelOutcome{class: "ok", data: data}
}
