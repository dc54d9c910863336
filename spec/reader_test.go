package spec_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stickykit/stickykit/spec"
)

const (
	digestHello = "5d41402abc4b2a76b9719d911017c592" // MD5("hello")
	digestEmpty = "d41d8cd98f00b204e9800998ecf8427e" // MD5("")
	ack         = spec.AckText
)

// A step reads one message from r and checks it.
type step struct {
	desc string
	run  func(r *spec.Reader) error
}

func wantRequest(name string) step {
	return step{"ReadRequest", func(r *spec.Reader) error {
		got, err := r.ReadRequest()
		if err != nil || got != name {
			return fmt.Errorf("= %q, %v, want %q, nil", got, err, name)
		}
		return nil
	}}
}

func wantSize(size int64) step {
	return step{"ReadReply", func(r *spec.Reader) error {
		got, err := r.ReadReply()
		if err != nil || got != size {
			return fmt.Errorf("= %d, %v, want %d, nil", got, err, size)
		}
		return nil
	}}
}

func wantErrorReply(code, text string) step {
	return step{"ReadReply", func(r *spec.Reader) error {
		got, err := r.ReadReply()
		var er *spec.ErrorReply
		if !errors.As(err, &er) || er.Code != code || er.Text != text {
			return fmt.Errorf("= %d, %v, want *ErrorReply{%q, %q}", got, err, code, text)
		}
		return nil
	}}
}

func wantAck() step {
	return step{"ReadAck", func(r *spec.Reader) error {
		if err := r.ReadAck(); err != nil {
			return fmt.Errorf("= %v, want nil", err)
		}
		return nil
	}}
}

func wantBody(content string) step {
	return step{"Body", func(r *spec.Reader) error {
		// iotest.TestReader reads the body with several buffer sizes and
		// checks it ends with io.EOF exactly after content.
		return iotest.TestReader(r.Body(int64(len(content))), []byte(content))
	}}
}

func wantDigest(d string) step {
	return step{"ReadDigest", func(r *spec.Reader) error {
		got, err := r.ReadDigest()
		if err != nil || got != d {
			return fmt.Errorf("= %q, %v, want %q, nil", got, err, d)
		}
		return nil
	}}
}

// followTest is a decoder input in the manner of net/textproto's
// TestRFC959Lines: the messages are followed by bytes of the next message,
// which must still be unread after the steps.
type followTest struct {
	name      string
	f         spec.Framing
	chunks    []string // the stream, one string per read of the connection
	steps     []step
	following string // suffix of the stream the steps must leave unread
}

var followTests = []followTest{
	// Line framing: everything arrives in one read, the worst case for
	// reading too far.
	{"request then pipelined ack", spec.Line,
		[]string{"get a.txt\n" + ack + "\n"},
		[]step{wantRequest("a.txt")}, ack + "\n"},
	{"request with CRLF", spec.Line,
		[]string{"get a b\r\nget c\r\n"},
		[]step{wantRequest("a b")}, "get c\r\n"},
	{"ack lines skipped before a request", spec.Line,
		[]string{ack + "\n" + ack + "\r\nget x\n" + ack + "\n"},
		[]step{wantRequest("x")}, ack + "\n"},
	{"size then body", spec.Line,
		[]string{"5\r\nhello" + digestHello},
		[]step{wantSize(5)}, "hello" + digestHello},
	{"error reply then next reply", spec.Line,
		[]string{"ERR not-found no such file\n7\n"},
		[]step{wantErrorReply("not-found", "no such file")}, "7\n"},
	{"ack then body", spec.Line,
		[]string{ack + "\nhello"},
		[]step{wantAck()}, "hello"},
	{"empty line is an ack", spec.Line,
		[]string{"\r\nhello"},
		[]step{wantAck()}, "hello"},
	{"body then digest then request", spec.Line,
		[]string{"hello" + digestHello + "get next\n"},
		[]step{wantBody("hello"), wantDigest(digestHello)}, "get next\n"},
	{"digest then trailing data", spec.Line,
		[]string{digestHello + "FOLLOWING DATA"},
		[]step{wantDigest(digestHello)}, "FOLLOWING DATA"},
	{"whole exchange", spec.Line,
		[]string{"5\nhello" + digestHello + "ERR busy\n0\n" + digestEmpty + "FOLLOWING\n"},
		[]step{wantSize(5), wantBody("hello"), wantDigest(digestHello), wantErrorReply("busy", ""),
			wantSize(0), wantBody(""), wantDigest(digestEmpty)},
		"FOLLOWING\n"},

	// Lockstep: control messages arrive in reads of their own (turn-taking
	// guarantees it between conforming peers); data and digest may arrive
	// coalesced or split anywhere.
	{"request then ack", spec.Lockstep,
		[]string{"get a.txt", ack},
		[]step{wantRequest("a.txt")}, ack},
	{"request with spaces", spec.Lockstep,
		[]string{"get my file.txt", "get next"},
		[]step{wantRequest("my file.txt")}, "get next"},
	{"size then body", spec.Lockstep,
		[]string{"5", "hello" + digestHello},
		[]step{wantSize(5)}, "hello" + digestHello},
	{"ack then body", spec.Lockstep,
		[]string{ack, "hello" + digestHello},
		[]step{wantAck()}, "hello" + digestHello},
	{"error reply then request", spec.Lockstep,
		[]string{"ERR not-found x", "get y"},
		[]step{wantErrorReply("not-found", "x")}, "get y"},
	{"tail and digest coalesced (the sticky packet)", spec.Lockstep,
		[]string{"5", "hel", "lo" + digestHello, "get next"},
		[]step{wantSize(5), wantBody("hello"), wantDigest(digestHello)}, "get next"},
	{"body, digest and following data coalesced", spec.Lockstep,
		[]string{"5", "hello" + digestHello + "FOLLOWING DATA"},
		[]step{wantSize(5), wantBody("hello"), wantDigest(digestHello)}, "FOLLOWING DATA"},
	{"digest fragmented (the half packet)", spec.Lockstep,
		[]string{"5", "hello" + digestHello[:7], digestHello[7:20], digestHello[20:] + "FOLLOWING"},
		[]step{wantSize(5), wantBody("hello"), wantDigest(digestHello)}, "FOLLOWING"},
	{"zero size", spec.Lockstep,
		[]string{"0", digestEmpty + "get next"},
		[]step{wantSize(0), wantBody(""), wantDigest(digestEmpty)}, "get next"},
	{"two exchanges", spec.Lockstep,
		[]string{"5", "hello" + digestHello, "ERR forbidden outside the root", "0", digestEmpty, "FOLLOWING"},
		[]step{wantSize(5), wantBody("hello"), wantDigest(digestHello), wantErrorReply("forbidden", "outside the root"),
			wantSize(0), wantBody(""), wantDigest(digestEmpty)}, "FOLLOWING"},
}

func TestReaderLeavesFollowingData(t *testing.T) {
	for _, tt := range followTests {
		if !strings.HasSuffix(strings.Join(tt.chunks, ""), tt.following) {
			t.Fatalf("%s: bad test: stream does not end with %q", tt.name, tt.following)
		}
		deliveries := map[string][]string{"as given": tt.chunks}
		if tt.f == spec.Line {
			// The line framing must not care how the bytes arrive.
			deliveries["one byte per read"] = splitBytes(strings.Join(tt.chunks, ""))
		}
		for how, chunks := range deliveries {
			t.Run(fmt.Sprintf("%v/%s/%s", tt.f, tt.name, how), func(t *testing.T) {
				src := newChunkReader(chunks...)
				r := spec.NewReader(src, tt.f)
				if r.Framing() != tt.f {
					t.Errorf("Framing() = %v, want %v", r.Framing(), tt.f)
				}
				for i, s := range tt.steps {
					if err := s.run(r); err != nil {
						t.Fatalf("step %d: %s %v", i, s.desc, err)
					}
				}
				checkFollowing(t, r, src, tt.following)
			})
		}
	}
}

// TestLockstepOneRead shows that a lockstep control message is exactly one
// read: a fragmented one yields only its first fragment (the hazard no
// implementation can survive), and the rest stays unread.
func TestLockstepOneRead(t *testing.T) {
	t.Run("OneByteReader request", func(t *testing.T) {
		r := spec.NewReader(iotest.OneByteReader(strings.NewReader("get abc")), spec.Lockstep)
		_, err := r.ReadRequest()
		var pe *spec.ProtocolError
		if !errors.As(err, &pe) || string(pe.Data) != "g" {
			t.Fatalf("ReadRequest of a one-byte fragment = %v, want a *ProtocolError quoting %q", err, "g")
		}
		if r.Buffered() != 0 {
			t.Errorf("Buffered() = %d, want 0", r.Buffered())
		}
		rest, err := io.ReadAll(r.Body(6))
		if err != nil || string(rest) != "et abc" {
			t.Errorf("rest = %q, %v, want %q, nil", rest, err, "et abc")
		}
	})
	t.Run("OneByteReader size", func(t *testing.T) {
		r := spec.NewReader(iotest.OneByteReader(strings.NewReader("1234")), spec.Lockstep)
		if n, err := r.ReadReply(); n != 1 || err != nil {
			t.Errorf("ReadReply = %d, %v, want 1, nil (the first fragment)", n, err)
		}
	})
	for _, tt := range []struct {
		chunks []string
		steps  []step
		rest   string
	}{
		{[]string{"get ab", "c"}, []step{wantRequest("ab")}, "c"},
		{[]string{"get a", " b"}, []step{wantRequest("a")}, " b"},
		{[]string{"12", "34"}, []step{wantSize(12)}, "34"},
		{[]string{"ERR not-", "found x"}, []step{wantErrorReply("not-", "")}, "found x"},
		{[]string{"ready to", " recv file", "get a"}, []step{wantAck()}, " recv fileget a"},
	} {
		src := newChunkReader(tt.chunks...)
		r := spec.NewReader(src, spec.Lockstep)
		for _, s := range tt.steps {
			if err := s.run(r); err != nil {
				t.Errorf("chunks %q: %s %v", tt.chunks, s.desc, err)
			}
		}
		if src.reads != 1 {
			t.Errorf("chunks %q: the reader made %d reads, want 1", tt.chunks, src.reads)
		}
		checkFollowing(t, r, src, tt.rest)
	}
}

// TestLineReassembles shows that the line framing survives any
// fragmentation of a control message.
func TestLineReassembles(t *testing.T) {
	for _, tt := range []struct {
		chunks []string
		step   step
	}{
		{[]string{"get a", "b", "c\r", "\n"}, wantRequest("abc")},
		{[]string{"g", "et my ", "file\n"}, wantRequest("my file")},
		{[]string{"12", "34\r\n"}, wantSize(1234)},
		{[]string{"ERR not-", "found x", "\n"}, wantErrorReply("not-found", "x")},
		{[]string{"ready to", " recv file", "\n"}, wantAck()},
	} {
		src := newChunkReader(append(tt.chunks, "FOLLOWING")...)
		r := spec.NewReader(src, spec.Line)
		if err := tt.step.run(r); err != nil {
			t.Errorf("chunks %q: %s %v", tt.chunks, tt.step.desc, err)
		}
		checkFollowing(t, r, src, "FOLLOWING")
	}
	for _, in := range []string{"get abc\n", "get abc\r\n"} {
		r := spec.NewReader(iotest.OneByteReader(strings.NewReader(in)), spec.Line)
		if got, err := r.ReadRequest(); got != "abc" || err != nil {
			t.Errorf("ReadRequest(OneByteReader(%q)) = %q, %v, want %q, nil", in, got, err, "abc")
		}
	}
}

// Every control-message read, for the limit tests.
var controlReads = []struct {
	name  string
	phase string
	read  func(r *spec.Reader) error
}{
	{"ReadRequest", "request", func(r *spec.Reader) error { _, err := r.ReadRequest(); return err }},
	{"ReadReply", "size", func(r *spec.Reader) error { _, err := r.ReadReply(); return err }},
	{"ReadAck", "ack", func(r *spec.Reader) error { return r.ReadAck() }},
}

func TestControlLimit(t *testing.T) {
	max := spec.MaxControlLen
	for _, tt := range []struct {
		f    spec.Framing
		name string
		in   string
		want errKind
	}{
		{spec.Line, "ReadRequest", "get " + name1020 + "\n", errNone},
		{spec.Line, "ReadRequest", "get " + name1020 + "\r\n", errNone},
		{spec.Line, "ReadRequest", "get " + name1021 + "\n", errTooLong},
		{spec.Line, "ReadRequest", "get " + name1021 + "\r\n", errTooLong},
		{spec.Line, "ReadReply", "ERR x " + strings.Repeat("t", max-6) + "\n", errReply},
		{spec.Line, "ReadReply", "ERR x " + strings.Repeat("t", max-5) + "\n", errTooLong},
		{spec.Line, "ReadReply", strings.Repeat("1", max+1) + "\n", errTooLong},
		{spec.Line, "ReadAck", strings.Repeat("a", max) + "\r\n", errNone},
		{spec.Line, "ReadAck", strings.Repeat("a", max+1) + "\n", errTooLong},
		{spec.Line, "ReadAck", strings.Repeat("a", max) + "\r\r\n", errTooLong},
		{spec.Lockstep, "ReadRequest", "get " + name1020, errNone},
		{spec.Lockstep, "ReadRequest", "get " + name1021, errTooLong},
		{spec.Lockstep, "ReadRequest", strings.Repeat("x", 2000), errTooLong},
		{spec.Lockstep, "ReadReply", "ERR x " + strings.Repeat("t", max-6), errReply},
		{spec.Lockstep, "ReadReply", "ERR x " + strings.Repeat("t", max-5), errTooLong},
		{spec.Lockstep, "ReadAck", strings.Repeat("a", max), errNone},
		{spec.Lockstep, "ReadAck", strings.Repeat("a", max+1), errTooLong},
	} {
		for _, c := range controlReads {
			if c.name != tt.name {
				continue
			}
			what := fmt.Sprintf("%v %s(<%d bytes>)", tt.f, c.name, len(tt.in))
			err := c.read(spec.NewReader(newChunkReader(tt.in, "FOLLOWING"), tt.f))
			if checkErr(t, what, err, tt.want) && tt.want == errTooLong && !strings.Contains(err.Error(), c.phase) {
				t.Errorf("%s: error %q does not name the phase %q", what, err, c.phase)
			}
		}
	}
}

// TestLineLimitWithoutLF checks that a line longer than the limit is refused
// as soon as it passes the limit: the source stops with errBlocked after the
// long prefix, standing for a peer that never sends LF, and a reader that
// returns errBlocked instead of ErrTooLong waited for it.
func TestLineLimitWithoutLF(t *testing.T) {
	max := spec.MaxControlLen
	for _, tt := range []struct {
		desc   string
		prefix string
		want   error // ErrTooLong, or errBlocked where more input may still make a valid line
	}{
		{"2000 bytes", strings.Repeat("x", 2000), spec.ErrTooLong},
		{"1026 bytes", strings.Repeat("x", max+2), spec.ErrTooLong},
		{"1025 bytes, the last not CR", strings.Repeat("x", max+1), spec.ErrTooLong},
		{"1024 bytes and CR: LF may follow", strings.Repeat("x", max) + "\r", errBlocked},
		{"1024 bytes: LF may follow", strings.Repeat("x", max), errBlocked},
	} {
		for _, c := range controlReads {
			for _, oneByte := range []bool{false, true} {
				chunks := []string{tt.prefix}
				if oneByte {
					chunks = splitBytes(tt.prefix)
				}
				src := newChunkReader(chunks...).thenFail(errBlocked)
				err := c.read(spec.NewReader(src, spec.Line))
				what := fmt.Sprintf("%s on %s (one byte per read: %v)", c.name, tt.desc, oneByte)
				if !errors.Is(err, tt.want) {
					t.Errorf("%s = %v, want %v", what, err, tt.want)
				}
				if oneByte && tt.want == spec.ErrTooLong && src.reads > max+2 {
					t.Errorf("%s: made %d one-byte reads, want at most %d", what, src.reads, max+2)
				}
			}
		}
	}
}

type eofTest struct {
	f    spec.Framing
	read string // ReadRequest, ReadReply, ReadAck, ReadDigest
	in   string
	want errKind
}

var eofTests = []eofTest{
	{spec.Lockstep, "ReadRequest", "", errEOF},
	{spec.Line, "ReadRequest", "", errEOF},
	{spec.Line, "ReadRequest", ack + "\n", errEOF}, // the client left after a refused request
	{spec.Line, "ReadRequest", "get a", errUnexpEOF},
	{spec.Line, "ReadRequest", "get a\r", errUnexpEOF},
	{spec.Line, "ReadRequest", ack, errUnexpEOF},
	{spec.Lockstep, "ReadReply", "", errUnexpEOF},
	{spec.Line, "ReadReply", "", errUnexpEOF},
	{spec.Line, "ReadReply", "123", errUnexpEOF},
	{spec.Line, "ReadReply", "ERR busy", errUnexpEOF},
	{spec.Lockstep, "ReadAck", "", errUnexpEOF},
	{spec.Line, "ReadAck", "", errUnexpEOF},
	{spec.Line, "ReadAck", "ready", errUnexpEOF},
	{spec.Lockstep, "ReadDigest", "", errUnexpEOF},
	{spec.Line, "ReadDigest", "", errUnexpEOF},
	{spec.Lockstep, "ReadDigest", digestHello[:5], errTrunc},
	{spec.Line, "ReadDigest", digestHello[:31], errTrunc},
	// Data right before the end is still delivered.
	{spec.Lockstep, "ReadRequest", "get a", errNone},
	{spec.Line, "ReadRequest", "get a\n", errNone},
	{spec.Lockstep, "ReadReply", "5", errNone},
	{spec.Line, "ReadReply", "5\n", errNone},
	{spec.Lockstep, "ReadAck", ack, errNone},
	{spec.Line, "ReadAck", ack + "\n", errNone},
	{spec.Line, "ReadDigest", digestHello, errNone},
}

func readBy(name string, r *spec.Reader) error {
	var err error
	switch name {
	case "ReadRequest":
		_, err = r.ReadRequest()
	case "ReadReply":
		_, err = r.ReadReply()
	case "ReadAck":
		err = r.ReadAck()
	case "ReadDigest":
		_, err = r.ReadDigest()
	default:
		panic("bad read " + name)
	}
	return err
}

func TestReaderEOF(t *testing.T) {
	for _, tt := range eofTests {
		for _, wrap := range []struct {
			name string
			fn   func(io.Reader) io.Reader
		}{
			{"plain", func(r io.Reader) io.Reader { return r }},
			{"one byte", iotest.OneByteReader},
			{"data with EOF", iotest.DataErrReader},
		} {
			if tt.f == spec.Lockstep && tt.read != "ReadDigest" && wrap.name == "one byte" {
				continue // a fragmented lockstep control message is a hazard, tested apart
			}
			r := spec.NewReader(wrap.fn(strings.NewReader(tt.in)), tt.f)
			err := readBy(tt.read, r)
			checkErr(t, fmt.Sprintf("%v %s(%q) (%s)", tt.f, tt.read, tt.in, wrap.name), err, tt.want)
		}
	}
}

// TestReaderErrors checks a connection error reaches the caller as is,
// at the start of a message and inside one.
func TestReaderErrors(t *testing.T) {
	for _, f := range spec.Framings {
		for _, name := range []string{"ReadRequest", "ReadReply", "ReadAck", "ReadDigest"} {
			for _, prefix := range []string{"", "1"} {
				if prefix != "" && f == spec.Lockstep && name != "ReadDigest" {
					continue // a lockstep control message is whatever one read returns
				}
				err := readBy(name, spec.NewReader(newChunkReader(prefix).thenFail(errBoom), f))
				if !errors.Is(err, errBoom) {
					t.Errorf("%v %s on %q then a connection error = %v, want %v", f, name, prefix, err, errBoom)
				}
			}
			if name == "ReadDigest" {
				continue // io.ReadFull does not guard against 0, nil
			}
			err := readBy(name, spec.NewReader(zeroReader{}, f))
			if !errors.Is(err, io.ErrNoProgress) {
				t.Errorf("%v %s on a reader that returns 0, nil = %v, want io.ErrNoProgress", f, name, err)
			}
		}
	}
}

// TestLockstepErrorDataIsCopied checks a ProtocolError keeps its bytes when
// the Reader reuses its buffer for the next message.
func TestLockstepErrorDataIsCopied(t *testing.T) {
	r := spec.NewReader(newChunkReader("put a", "put b"), spec.Lockstep)
	_, err1 := r.ReadRequest()
	_, err2 := r.ReadRequest()
	var pe1, pe2 *spec.ProtocolError
	if !errors.As(err1, &pe1) || !errors.As(err2, &pe2) {
		t.Fatalf("ReadRequest twice = %v, %v, want two *ProtocolError", err1, err2)
	}
	if string(pe1.Data) != "put a" || string(pe2.Data) != "put b" {
		t.Errorf("Data = %q, %q, want %q, %q", pe1.Data, pe2.Data, "put a", "put b")
	}
	if pe1.Phase != spec.PhaseRequest {
		t.Errorf("Phase = %q, want %q", pe1.Phase, spec.PhaseRequest)
	}
}

func TestReadRequestAck(t *testing.T) {
	// Line: a pipelined ack behind a refused request is skipped.
	r := spec.NewReader(strings.NewReader("get missing\n"+ack+"\nget b\n"), spec.Line)
	for _, want := range []string{"missing", "b"} {
		if got, err := r.ReadRequest(); got != want || err != nil {
			t.Errorf("line ReadRequest = %q, %v, want %q, nil", got, err, want)
		}
	}
	// Only an exact ack line is skipped.
	for _, in := range []string{ack + " \n", "Ready to recv file\n", ack + "\r\r\n"} {
		_, err := spec.NewReader(strings.NewReader(in+"get b\n"), spec.Line).ReadRequest()
		checkErr(t, fmt.Sprintf("line ReadRequest(%q)", in), err, errProto)
	}
	// Lockstep has no lines: an ack where a request belongs is malformed.
	_, err := spec.NewReader(strings.NewReader(ack), spec.Lockstep).ReadRequest()
	checkErr(t, "lockstep ReadRequest(ack)", err, errProto)
}

func TestReadAckIgnoresContent(t *testing.T) {
	for _, f := range spec.Framings {
		for _, in := range []string{ack, "ok", "anything at all \x00\xff", "x"} {
			src := newChunkReader(framed(f, in), "hello")
			r := spec.NewReader(src, f)
			if err := r.ReadAck(); err != nil {
				t.Errorf("%v ReadAck(%q) = %v, want nil", f, in, err)
			}
			checkFollowing(t, r, src, "hello")
		}
	}
}

func TestBody(t *testing.T) {
	t.Run("exact", func(t *testing.T) {
		for _, f := range spec.Framings {
			src := newChunkReader("hel", "lo"+digestHello+"FOLLOWING")
			r := spec.NewReader(src, f)
			if err := iotest.TestReader(r.Body(5), []byte("hello")); err != nil {
				t.Errorf("%v Body(5): %v", f, err)
			}
			checkFollowing(t, r, src, digestHello+"FOLLOWING")
		}
	})
	t.Run("size zero", func(t *testing.T) {
		src := newChunkReader("FOLLOWING")
		r := spec.NewReader(src, spec.Line)
		n, err := r.Body(0).Read(make([]byte, 10))
		if n != 0 || err != io.EOF {
			t.Errorf("Body(0).Read = %d, %v, want 0, io.EOF", n, err)
		}
		if src.reads != 0 {
			t.Errorf("Body(0) made %d reads of the connection, want 0", src.reads)
		}
		checkFollowing(t, r, src, "FOLLOWING")
	})
	t.Run("one byte reads", func(t *testing.T) {
		content := strings.Repeat("0123456789", 1000)
		r := spec.NewReader(iotest.OneByteReader(strings.NewReader(content+"FOLLOWING")), spec.Lockstep)
		if err := iotest.TestReader(r.Body(int64(len(content))), []byte(content)); err != nil {
			t.Errorf("Body over one-byte reads: %v", err)
		}
	})
	t.Run("large", func(t *testing.T) {
		content := bytes.Repeat([]byte("stickykit"), 300_000)
		want := md5.Sum(content)
		src := newChunkReader(string(content[:1000]), string(content[1000:70_000]), string(content[70_000:])+"FOLLOWING")
		r := spec.NewReader(src, spec.Line)
		h := md5.New()
		n, err := io.Copy(h, r.Body(int64(len(content))))
		if n != int64(len(content)) || err != nil || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Errorf("io.Copy(md5, Body) = %d, %v, sum %x, want %d, nil, %x", n, err, h.Sum(nil), len(content), want)
		}
		checkFollowing(t, r, src, "FOLLOWING")
	})
	for _, tt := range []struct {
		in   string
		size int64
	}{
		{"hel", 5},
		{"", 5},
		{"", 1 << 40},
		{strings.Repeat("x", 100_000), 100_001},
	} {
		r := spec.NewReader(newChunkReader(tt.in), spec.Lockstep)
		got, err := io.ReadAll(r.Body(tt.size))
		var te *spec.TruncatedError
		if string(got) != tt.in || !errors.As(err, &te) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadAll(Body(%d)) of %d bytes = %d bytes, %v, want %d bytes, *TruncatedError",
				tt.size, len(tt.in), len(got), err, len(tt.in))
			continue
		}
		if te.Phase != spec.PhaseData || te.Got != int64(len(tt.in)) || te.Want != tt.size {
			t.Errorf("Body(%d) of %d bytes: %+v, want Phase data, Got %d, Want %d", tt.size, len(tt.in), *te, len(tt.in), tt.size)
		}
	}
	t.Run("connection error", func(t *testing.T) {
		r := spec.NewReader(newChunkReader("hel").thenFail(errBoom), spec.Lockstep)
		got, err := io.ReadAll(r.Body(5))
		if string(got) != "hel" || !errors.Is(err, errBoom) {
			t.Errorf("ReadAll(Body(5)) = %q, %v, want %q, %v", got, err, "hel", errBoom)
		}
	})
}

type readDigestTest struct {
	chunks []string
	want   string
	err    errKind
	got    int64 // TruncatedError.Got
	rest   string
}

var readDigestTests = []readDigestTest{
	{[]string{digestHello + "FOLLOWING"}, digestHello, errNone, 0, "FOLLOWING"},
	{[]string{digestHello[:1], digestHello[1:], "get a"}, digestHello, errNone, 0, "get a"},
	{[]string{digestHello}, digestHello, errNone, 0, ""},
	{[]string{strings.ToUpper(digestHello) + "FOLLOWING"}, "", errProto, 0, "FOLLOWING"},
	{[]string{digestHello[:31] + "g" + "FOLLOWING"}, "", errProto, 0, "FOLLOWING"},
	{[]string{digestHello[:31] + "\n" + "FOLLOWING"}, "", errProto, 0, "FOLLOWING"},
	{[]string{"\n" + digestHello}, "", errProto, 0, digestHello[31:]},
	{[]string{digestHello[:5]}, "", errTrunc, 5, ""},
	{[]string{digestHello[:10], digestHello[10:31]}, "", errTrunc, 31, ""},
	{[]string{""}, "", errUnexpEOF, 0, ""},
}

func TestReadDigest(t *testing.T) {
	for _, tt := range readDigestTests {
		for _, f := range spec.Framings {
			src := newChunkReader(tt.chunks...)
			r := spec.NewReader(src, f)
			got, err := r.ReadDigest()
			what := fmt.Sprintf("%v ReadDigest(%q)", f, tt.chunks)
			if !checkErr(t, what, err, tt.err) {
				continue
			}
			if got != tt.want {
				t.Errorf("%s = %q, want %q", what, got, tt.want)
			}
			var te *spec.TruncatedError
			if errors.As(err, &te) && (te.Got != tt.got || te.Want != spec.DigestLen || te.Phase != spec.PhaseDigest) {
				t.Errorf("%s: %+v, want Phase digest, Got %d, Want %d", what, *te, tt.got, spec.DigestLen)
			}
			checkFollowing(t, r, src, tt.rest)
		}
	}
	// The digest of real data, checked against crypto/md5.
	sum := md5.Sum([]byte("hello"))
	if hex.EncodeToString(sum[:]) != digestHello {
		t.Fatalf("digestHello is wrong")
	}
}

// TestNewReaderBufio checks a *bufio.Reader handed to NewReader loses none
// of the bytes it has buffered, whatever its size.
func TestNewReaderBufio(t *testing.T) {
	for _, size := range []int{16, spec.MaxControlLen + 2, 4096, 1 << 20} {
		br := bufio.NewReaderSize(strings.NewReader("get a\nget b\n"), size)
		if _, err := br.Peek(1); err != nil {
			t.Fatal(err)
		}
		r := spec.NewReader(br, spec.Line)
		for _, want := range []string{"a", "b"} {
			if got, err := r.ReadRequest(); got != want || err != nil {
				t.Errorf("bufio size %d: ReadRequest = %q, %v, want %q, nil", size, got, err, want)
			}
		}
		if _, err := r.ReadRequest(); err != io.EOF {
			t.Errorf("bufio size %d: ReadRequest at the end = %v, want io.EOF", size, err)
		}
	}
}
