package spec_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/spec"
)

// The fuzz targets decode arbitrary input in both framings. The input is
// delivered in one read when chunk is 0, else in reads of chunk bytes; the
// line framing must decode the same messages either way. Each successful
// decode is checked against the bytes it consumed, re-encoded and decoded
// again. Decoding stops at the first error: after one the stream may be out
// of step, and a peer closes the connection.

// maxMessages bounds the messages decoded from one input.
const maxMessages = 64

func deliver(in []byte, chunk uint8) *chunkReader {
	if chunk == 0 {
		return newChunkReader(string(in))
	}
	return newChunkReader(cut(string(in), []int{int(chunk)})...)
}

// consumed returns how many bytes of in the Reader has consumed.
func consumed(in []byte, r *spec.Reader, src *chunkReader) int {
	return len(in) - r.Buffered() - src.left
}

// classify names an error for comparing two decodes of the same input.
func classify(err error) string {
	var er *spec.ErrorReply
	var pe *spec.ProtocolError
	var te *spec.TruncatedError
	switch {
	case err == nil:
		return "ok"
	case err == io.EOF:
		return "EOF"
	case errors.As(err, &er):
		return fmt.Sprintf("reply %q %q", er.Code, er.Text)
	case errors.Is(err, spec.ErrTooLong):
		return "too long"
	case errors.As(err, &pe):
		return "malformed: " + pe.Error()
	case errors.As(err, &te):
		return "truncated: " + te.Error()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	}
	return "other: " + err.Error()
}

// checkQuote fails if err is a ProtocolError quoting more than 80 bytes.
func checkQuote(t *testing.T, err error) {
	t.Helper()
	var pe *spec.ProtocolError
	if errors.As(err, &pe) && len(pe.Data) > 80 {
		t.Errorf("ProtocolError quotes %d bytes, want at most 80: %v", len(pe.Data), err)
	}
}

// lineSegment checks seg is zero or more lines equal to skip followed by
// one more line, and returns that last line without its terminator.
func lineSegment(t *testing.T, seg []byte, skip string) []byte {
	t.Helper()
	if len(seg) == 0 || seg[len(seg)-1] != '\n' {
		t.Fatalf("line framing consumed %q: not whole lines", seg)
	}
	lines := bytes.SplitAfter(seg, []byte("\n"))
	lines = lines[:len(lines)-1] // SplitAfter leaves an empty last element
	for _, l := range lines[:len(lines)-1] {
		if string(spec.TrimLine(l)) != skip {
			t.Fatalf("line framing skipped the line %q", l)
		}
	}
	last := lines[len(lines)-1]
	if len(last) > spec.MaxControlLen+2 {
		t.Fatalf("decoded a line of %d bytes, limit %d with terminator", len(last), spec.MaxControlLen+2)
	}
	return spec.TrimLine(last)
}

// content returns the control message a Reader decoded from seg.
func content(t *testing.T, f spec.Framing, seg []byte, skip string) []byte {
	t.Helper()
	if f == spec.Line {
		return lineSegment(t, seg, skip)
	}
	if len(seg) > spec.MaxControlLen {
		t.Fatalf("lockstep decoded %d bytes, limit %d", len(seg), spec.MaxControlLen)
	}
	return seg
}

var requestSeeds = []string{
	"get a.txt",
	"get a.txt\n",
	"get my file.txt\r\n",
	"get 视频.mp4\n",
	"get a.txt\n" + spec.AckText + "\n",
	spec.AckText + "\n" + spec.AckText + "\r\nget x\n",
	"get a\nget b\r\nget c\n",
	"",
	"\n",
	"get ",
	"get \n",
	"GET x\n",
	"get a\x00b\n",
	"get a\rb\n",
	"get a\r\r\n",
	"get \xff\n",
	"get " + strings.Repeat("n", spec.MaxNameLen),
	"get " + strings.Repeat("n", spec.MaxNameLen) + "\r\n",
	"get " + strings.Repeat("n", spec.MaxNameLen+1) + "\n",
	strings.Repeat("x", 2000),
	strings.Repeat("x", 2000) + "\nget y\n",
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range requestSeeds {
		for _, chunk := range []uint8{0, 1, 7} {
			f.Add([]byte(s), chunk)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		for _, fr := range spec.Framings {
			got := decodeRequests(t, fr, in, chunk)
			if fr == spec.Line && chunk != 0 {
				if whole := decodeRequests(t, fr, in, 0); !slices.Equal(got, whole) {
					t.Errorf("line framing in reads of %d bytes decoded %q, in one read %q", chunk, got, whole)
				}
			}
		}
	})
}

func decodeRequests(t *testing.T, f spec.Framing, in []byte, chunk uint8) []string {
	src := deliver(in, chunk)
	r := spec.NewReader(src, f)
	var out []string
	prev := 0
	for range maxMessages {
		name, err := r.ReadRequest()
		out = append(out, fmt.Sprintf("%q %s", name, classify(err)))
		checkQuote(t, err)
		if err != nil {
			return out
		}
		pos := consumed(in, r, src)
		c := content(t, f, in[prev:pos], spec.AckText)
		prev = pos
		if err := spec.ValidateName(name); err != nil {
			t.Fatalf("%v ReadRequest returned the invalid name %q: %v", f, name, err)
		}
		enc, err := spec.EncodeRequest(f, name)
		if err != nil {
			t.Fatalf("EncodeRequest(%v, %q) = %v", f, name, err)
		}
		if string(c) != string(spec.TrimLine(enc)) && string(c) != string(enc) {
			t.Fatalf("%v ReadRequest decoded %q from %q, which re-encodes as %q", f, name, c, enc)
		}
		if again, err := spec.NewReader(bytes.NewReader(enc), f).ReadRequest(); err != nil || again != name {
			t.Fatalf("ReadRequest(EncodeRequest(%q)) = %q, %v", name, again, err)
		}
	}
	return out
}

var replySeeds = []string{
	"0",
	"5\n",
	"5\r\n",
	"83886080",
	"9223372036854775807\n",
	"9223372036854775808\n",
	"99999999999999999999\n",
	"00\n",
	"-1",
	"+1\n",
	"ERR not-found no such file\n",
	"ERR busy",
	"ERR busy\r\n",
	"ERR \n",
	"ERR",
	"ERR X y\n",
	"ERR x a\rb\n",
	"ERR x \x00\x7f\xff",
	"1\n2\r\nERR x y\n3\n",
	"ERR x " + strings.Repeat("t", spec.MaxControlLen-6) + "\n",
	"ERR x " + strings.Repeat("t", spec.MaxControlLen),
}

func FuzzReadReply(f *testing.F) {
	for _, s := range replySeeds {
		for _, chunk := range []uint8{0, 1, 5} {
			f.Add([]byte(s), chunk)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		for _, fr := range spec.Framings {
			got := decodeReplies(t, fr, in, chunk)
			if fr == spec.Line && chunk != 0 {
				if whole := decodeReplies(t, fr, in, 0); !slices.Equal(got, whole) {
					t.Errorf("line framing in reads of %d bytes decoded %q, in one read %q", chunk, got, whole)
				}
			}
		}
	})
}

func decodeReplies(t *testing.T, f spec.Framing, in []byte, chunk uint8) []string {
	src := deliver(in, chunk)
	r := spec.NewReader(src, f)
	var out []string
	prev := 0
	for range maxMessages {
		size, err := r.ReadReply()
		out = append(out, fmt.Sprintf("%d %s", size, classify(err)))
		checkQuote(t, err)
		var er *spec.ErrorReply
		if err != nil && !errors.As(err, &er) {
			return out
		}
		pos := consumed(in, r, src)
		c := content(t, f, in[prev:pos], "\x00no line is skipped")
		prev = pos
		if er == nil {
			if want := strconv.FormatInt(size, 10); size < 0 || string(c) != want {
				t.Fatalf("%v ReadReply decoded %d from %q, want the canonical %q", f, size, c, want)
			}
			continue
		}
		// An error reply: "ERR code", "ERR code " or "ERR code text".
		if s := string(c); s != "ERR "+er.Code+" "+er.Text && !(er.Text == "" && s == "ERR "+er.Code) {
			t.Fatalf("%v ReadReply decoded %+v from %q", f, *er, c)
		}
		enc := spec.EncodeError(f, er.Code, er.Text)
		_, err = spec.NewReader(bytes.NewReader(enc), f).ReadReply()
		var again *spec.ErrorReply
		if !errors.As(err, &again) || again.Code != wantCode(er.Code) || again.Text != wantText(er.Text) {
			t.Fatalf("ReadReply(EncodeError(%q, %q)) = %v, want code %q, text %q", er.Code, er.Text, err, wantCode(er.Code), wantText(er.Text))
		}
	}
	return out
}

var digestSeeds = []string{
	digestHello,
	digestHello + "FOLLOWING DATA",
	digestHello + digestEmpty,
	strings.ToUpper(digestHello),
	digestHello[:31],
	digestHello[:5],
	"",
	"\n" + digestHello,
	digestHello + "\n",
}

func FuzzReadDigest(f *testing.F) {
	for _, s := range digestSeeds {
		for _, chunk := range []uint8{0, 1, 13} {
			f.Add([]byte(s), chunk)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		for _, fr := range spec.Framings {
			got := decodeDigests(t, fr, in, chunk)
			if chunk != 0 {
				if whole := decodeDigests(t, fr, in, 0); !slices.Equal(got, whole) {
					t.Errorf("%v in reads of %d bytes decoded %q, in one read %q", fr, chunk, got, whole)
				}
			}
		}
	})
}

func decodeDigests(t *testing.T, f spec.Framing, in []byte, chunk uint8) []string {
	src := deliver(in, chunk)
	r := spec.NewReader(src, f)
	var out []string
	prev := 0
	for range maxMessages {
		left := len(in) - prev
		d, err := r.ReadDigest()
		out = append(out, fmt.Sprintf("%q %s", d, classify(err)))
		checkQuote(t, err)
		var te *spec.TruncatedError
		switch {
		case left == 0:
			if !errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &te) {
				t.Fatalf("%v ReadDigest at the end = %v, want io.ErrUnexpectedEOF", f, err)
			}
			return out
		case left < spec.DigestLen:
			if !errors.As(err, &te) || te.Got != int64(left) || te.Want != spec.DigestLen {
				t.Fatalf("%v ReadDigest of %d bytes = %v, want a *TruncatedError with Got %d", f, left, err, left)
			}
			return out
		}
		pos := consumed(in, r, src)
		seg := in[prev:pos]
		prev = pos
		if len(seg) != spec.DigestLen {
			t.Fatalf("%v ReadDigest consumed %d bytes, want %d", f, len(seg), spec.DigestLen)
		}
		var pe *spec.ProtocolError
		if err != nil {
			if !errors.As(err, &pe) || !bytes.Equal(pe.Data, seg) {
				t.Fatalf("%v ReadDigest(%q) = %v, want a *ProtocolError quoting it", f, seg, err)
			}
			continue
		}
		sum, herr := hex.DecodeString(d)
		enc, eerr := spec.EncodeDigest(sum)
		if d != string(seg) || herr != nil || eerr != nil || string(enc) != d {
			t.Fatalf("%v ReadDigest(%q) = %q, re-encoded %q (%v, %v)", f, seg, d, enc, herr, eerr)
		}
	}
	return out
}

var errorReplySeeds = []string{
	"ERR not-found no such file",
	"ERR busy",
	"ERR busy ",
	"ERR busy  two",
	"ERR ",
	"ERR",
	"ERR  x",
	"ERR a b c",
	"ERR x \x00\r\n\x7f",
	"ERR x a\r",
	"ERR NOT-FOUND x",
	"ERR x " + strings.Repeat("t", 300),
	"ERR " + strings.Repeat("c", 2000),
	"123",
}

func FuzzParseErrorReply(f *testing.F) {
	for _, s := range errorReplySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := spec.ParseErrorReply(in)
		checkQuote(t, err)
		_, rerr := spec.ParseReply(in)
		if err != nil {
			var pe *spec.ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseErrorReply(%q) = %v, want a *ProtocolError", in, err)
			}
			var er *spec.ErrorReply
			if errors.As(rerr, &er) {
				t.Fatalf("ParseReply(%q) = %v, but ParseErrorReply refused it: %v", in, rerr, err)
			}
			return
		}
		var er *spec.ErrorReply
		if !errors.As(rerr, &er) || *er != *e {
			t.Fatalf("ParseReply(%q) = %v, want %+v", in, rerr, *e)
		}
		if s := string(in); s != "ERR "+e.Code+" "+e.Text && !(e.Text == "" && s == "ERR "+e.Code) {
			t.Fatalf("ParseErrorReply(%q) = %+v", in, *e)
		}
		if len(in) > spec.MaxControlLen {
			return // no Reader delivers it
		}
		for _, fr := range spec.Framings {
			// Re-encoded, it decodes the same, code and text cut and cleaned.
			enc := spec.EncodeError(fr, e.Code, e.Text)
			_, err := spec.NewReader(bytes.NewReader(enc), fr).ReadReply()
			var again *spec.ErrorReply
			if !errors.As(err, &again) || again.Code != wantCode(e.Code) || again.Text != wantText(e.Text) {
				t.Fatalf("%v ReadReply(EncodeError(%q, %q)) = %v, want code %q, text %q", fr, e.Code, e.Text, err, wantCode(e.Code), wantText(e.Text))
			}
			// Sent as it is, a Reader decodes what ParseErrorReply does.
			wire := in
			if fr == spec.Line {
				if bytes.ContainsRune(in, '\n') || bytes.HasSuffix(in, []byte("\r")) {
					continue // not one line
				}
				wire = append(slices.Clip(in), '\n')
			}
			_, err = spec.NewReader(bytes.NewReader(wire), fr).ReadReply()
			if !errors.As(err, &again) || *again != *e {
				t.Fatalf("%v ReadReply(%q) = %v, want %+v", fr, wire, err, *e)
			}
		}
	})
}
