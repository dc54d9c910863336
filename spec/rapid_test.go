package spec_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/stickykit/stickykit/spec"
)

// nameGen draws valid names: short ones of any runes but NUL, CR and LF,
// and long ones up to MaxNameLen bytes with spaces and non-ASCII.
var nameGen = rapid.OneOf(
	rapid.Map(rapid.StringN(1, 40, spec.MaxNameLen), func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == 0 || r == '\r' || r == '\n' {
				return '_'
			}
			return r
		}, s)
	}),
	rapid.Custom(func(t *rapid.T) string {
		n := rapid.IntRange(spec.MaxNameLen-40, spec.MaxNameLen).Draw(t, "longLen")
		s := rapid.StringOfN(rapid.RuneFrom([]rune("ab .-视频é")), 1, 40, -1).Draw(t, "longPart")
		return s + strings.Repeat("p", n-len(s)) // at most 120 bytes drawn: n-len(s) > 0
	}),
)

var codeGen = rapid.OneOf(rapid.SampledFrom(spec.Codes), rapid.StringMatching(`[a-z0-9-]{1,40}`))

// anyCodeGen also draws codes EncodeError must clean: empty, other bytes.
var anyCodeGen = rapid.OneOf(codeGen, rapid.Just(""), rapid.StringN(0, 40, -1))

var textGen = rapid.OneOf(
	rapid.Just(""),
	rapid.StringN(0, 60, spec.MaxErrorTextLen),
	rapid.StringN(190, 260, -1), // cut to MaxErrorTextLen on the wire
)

// wantText is what a decoder returns for a text given to EncodeError: cut
// to at most MaxErrorTextLen bytes on a character boundary, control bytes
// as spaces.
func wantText(text string) string {
	if len(text) > spec.MaxErrorTextLen {
		n := spec.MaxErrorTextLen
		for n > 0 && !utf8.RuneStart(text[n]) {
			n--
		}
		text = text[:n]
	}
	b := []byte(text) // bytewise: text may not be valid UTF-8
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// wantCode is the code a decoder returns for a code given to EncodeError:
// bad-request for none, cut to MaxCodeLen bytes, bytes outside [a-z0-9-]
// as '-'.
func wantCode(code string) string {
	if code == "" {
		return spec.CodeBadRequest
	}
	b := []byte(code[:min(len(code), spec.MaxCodeLen)])
	for i, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// cut splits s into chunks whose sizes cycle through sizes.
func cut(s string, sizes []int) []string {
	var out []string
	for i := 0; s != ""; i++ {
		n := min(sizes[i%len(sizes)], len(s))
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func drawSizes(t *rapid.T, label string) []int {
	return rapid.SliceOfN(rapid.IntRange(1, 300), 1, 16).Draw(t, label)
}

func drawFraming(t *rapid.T) spec.Framing {
	return rapid.SampledFrom(spec.Framings).Draw(t, "framing")
}

// stream collects one direction of an exchange as it would be delivered.
// Control messages are marked: in the lockstep framing each arrives in a
// read of its own (turn-taking), while the line framing and the data
// between control messages are cut at the drawn points.
type stream struct {
	f     spec.Framing
	parts []string
	ctl   []bool
}

func (s *stream) control(b []byte) { s.parts = append(s.parts, string(b)); s.ctl = append(s.ctl, true) }
func (s *stream) data(b []byte)    { s.parts = append(s.parts, string(b)); s.ctl = append(s.ctl, false) }

func (s *stream) chunks(t *rapid.T, label string) []string {
	sizes := drawSizes(t, label)
	if s.f == spec.Line {
		return cut(strings.Join(s.parts, ""), sizes)
	}
	var out []string
	var run strings.Builder
	flush := func() {
		out = append(out, cut(run.String(), sizes)...)
		run.Reset()
	}
	for i, p := range s.parts {
		if s.ctl[i] {
			flush()
			out = append(out, p)
			continue
		}
		run.WriteString(p)
	}
	flush()
	return out
}

type exchange struct {
	name       string
	refused    bool
	code, text string
	body       []byte
}

// TestRoundTripExchange encodes random exchanges in both directions and
// decodes them through Readers, delivered fragmented and coalesced at
// random points (within what the framing survives).
func TestRoundTripExchange(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := drawFraming(t)
		n := rapid.IntRange(1, 4).Draw(t, "exchanges")
		xs := make([]exchange, n)
		toServer := &stream{f: f}
		toClient := &stream{f: f}
		for i := range xs {
			x := &xs[i]
			x.name = nameGen.Draw(t, fmt.Sprintf("name%d", i))
			x.refused = rapid.Bool().Draw(t, fmt.Sprintf("refused%d", i))
			req, err := spec.EncodeRequest(f, x.name)
			if err != nil {
				t.Fatalf("EncodeRequest(%v, %q) = %v", f, x.name, err)
			}
			toServer.control(req)
			if x.refused {
				x.code = codeGen.Draw(t, fmt.Sprintf("code%d", i))
				x.text = textGen.Draw(t, fmt.Sprintf("text%d", i))
				toClient.control(spec.EncodeError(f, x.code, x.text))
				continue
			}
			x.body = rapid.SliceOfN(rapid.Byte(), 0, 3000).Draw(t, fmt.Sprintf("body%d", i))
			size, err := spec.EncodeSize(f, int64(len(x.body)))
			if err != nil {
				t.Fatalf("EncodeSize(%d) = %v", len(x.body), err)
			}
			toClient.control(size)
			toServer.control(spec.EncodeAck(f))
			sum := md5.Sum(x.body)
			digest, err := spec.EncodeDigest(sum[:])
			if err != nil {
				t.Fatalf("EncodeDigest = %v", err)
			}
			toClient.data(x.body)
			toClient.data(digest)
		}

		// The server's side.
		src := newChunkReader(toServer.chunks(t, "serverChunks")...)
		r := spec.NewReader(src, f)
		for i, x := range xs {
			got, err := r.ReadRequest()
			if err != nil || got != x.name {
				t.Fatalf("exchange %d: ReadRequest = %q, %v, want %q, nil", i, got, err, x.name)
			}
			if !x.refused {
				if err := r.ReadAck(); err != nil {
					t.Fatalf("exchange %d: ReadAck = %v", i, err)
				}
			}
		}
		if got, err := r.ReadRequest(); err != io.EOF {
			t.Fatalf("ReadRequest at the end = %q, %v, want io.EOF", got, err)
		}

		// The client's side.
		src = newChunkReader(toClient.chunks(t, "clientChunks")...)
		r = spec.NewReader(src, f)
		for i, x := range xs {
			size, err := r.ReadReply()
			if x.refused {
				var er *spec.ErrorReply
				if !errors.As(err, &er) || er.Code != wantCode(x.code) || er.Text != wantText(x.text) {
					t.Fatalf("exchange %d: ReadReply = %d, %v, want *ErrorReply{%q, %q}", i, size, err, wantCode(x.code), wantText(x.text))
				}
				continue
			}
			if err != nil || size != int64(len(x.body)) {
				t.Fatalf("exchange %d: ReadReply = %d, %v, want %d, nil", i, size, err, len(x.body))
			}
			body, err := io.ReadAll(r.Body(size))
			if err != nil || string(body) != string(x.body) {
				t.Fatalf("exchange %d: body = %d bytes, %v, want %d bytes, nil", i, len(body), err, len(x.body))
			}
			sum := md5.Sum(x.body)
			if d, err := r.ReadDigest(); err != nil || d != hex.EncodeToString(sum[:]) {
				t.Fatalf("exchange %d: ReadDigest = %q, %v, want %x, nil", i, d, err, sum)
			}
		}
		if r.Buffered() != 0 || src.left != 0 {
			t.Fatalf("after the last exchange: %d bytes buffered, %q undelivered, want none", r.Buffered(), src.remaining())
		}
	})
}

// TestRoundTripRequest checks ParseRequest and Reader.ReadRequest invert
// EncodeRequest for every valid name, in both framings.
func TestRoundTripRequest(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := drawFraming(t)
		name := nameGen.Draw(t, "name")
		b, err := spec.EncodeRequest(f, name)
		if err != nil {
			t.Fatalf("EncodeRequest(%v, %q) = %v", f, name, err)
		}
		content := b
		if f == spec.Line {
			content = spec.TrimLine(b)
		}
		if got, err := spec.ParseRequest(content); err != nil || got != name {
			t.Fatalf("ParseRequest(%q) = %q, %v, want %q, nil", content, got, err, name)
		}
		next, _ := spec.EncodeRequest(f, "following")
		s := &stream{f: f}
		s.control(b)
		s.control(next)
		r := spec.NewReader(newChunkReader(s.chunks(t, "chunks")...), f)
		if got, err := r.ReadRequest(); err != nil || got != name {
			t.Fatalf("ReadRequest = %q, %v, want %q, nil", got, err, name)
		}
		if got, err := r.ReadRequest(); err != nil || got != "following" {
			t.Fatalf("next ReadRequest = %q, %v, want %q, nil", got, err, "following")
		}
		if got, err := r.ReadRequest(); err != io.EOF {
			t.Fatalf("ReadRequest at the end = %q, %v, want io.EOF", got, err)
		}
	})
}

// TestRoundTripSize checks every non-negative int64 survives EncodeSize and
// ReadReply, and that ParseSize accepts exactly the canonical decimal form.
func TestRoundTripSize(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := drawFraming(t)
		size := rapid.OneOf(rapid.Int64Min(0), rapid.Int64Range(1<<63-1000, 1<<63-1)).Draw(t, "size")
		b, err := spec.EncodeSize(f, size)
		if err != nil {
			t.Fatalf("EncodeSize(%d) = %v", size, err)
		}
		s := &stream{f: f}
		s.control(b)
		s.data([]byte("FOLLOWING"))
		src := newChunkReader(s.chunks(t, "chunks")...)
		r := spec.NewReader(src, f)
		if got, err := r.ReadReply(); err != nil || got != size {
			t.Fatalf("ReadReply(%q) = %d, %v, want %d, nil", b, got, err, size)
		}
		if rest := r.Buffered() + src.left; rest != len("FOLLOWING") {
			t.Fatalf("after ReadReply %d bytes are unread, want %d", rest, len("FOLLOWING"))
		}
	})
}

func TestParseSizeCanonical(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := rapid.StringMatching(`[-+ 0-9a]{0,21}`).Draw(t, "in")
		n, err := spec.ParseSize([]byte(in))
		canonical := false
		if v, perr := strconv.ParseInt(in, 10, 64); perr == nil && v >= 0 && strconv.FormatInt(v, 10) == in {
			canonical = true
		}
		if (err == nil) != canonical {
			t.Fatalf("ParseSize(%q) = %d, %v; canonical decimal: %v", in, n, err, canonical)
		}
		var pe *spec.ProtocolError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("ParseSize(%q) error %v is not a *ProtocolError", in, err)
		}
	})
}

// TestRoundTripErrorReply checks an error reply decodes to the code and
// the (cut, cleaned) text it was encoded with, in both framings.
func TestRoundTripErrorReply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := drawFraming(t)
		code := anyCodeGen.Draw(t, "code")
		text := textGen.Draw(t, "text")
		b := spec.EncodeError(f, code, text)
		content := b
		if f == spec.Line {
			content = spec.TrimLine(b)
		}
		e, err := spec.ParseErrorReply(content)
		if err != nil || e.Code != wantCode(code) || e.Text != wantText(text) {
			t.Fatalf("ParseErrorReply(%q) = %+v, %v, want {%q %q}", content, e, err, wantCode(code), wantText(text))
		}
		s := &stream{f: f}
		zero, _ := spec.EncodeSize(f, 0)
		s.control(b)
		s.control(zero)
		src := newChunkReader(s.chunks(t, "chunks")...)
		r := spec.NewReader(src, f)
		_, err = r.ReadReply()
		var er *spec.ErrorReply
		if !errors.As(err, &er) || *er != *e {
			t.Fatalf("ReadReply(%q) = %v, want %+v", b, err, *e)
		}
		if n, err := r.ReadReply(); n != 0 || err != nil {
			t.Fatalf("next ReadReply = %d, %v, want 0, nil", n, err)
		}
	})
}
