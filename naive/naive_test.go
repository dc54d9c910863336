package naive_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/spec"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testName = "video.mp4"

// file returns size bytes of content that differs along its length.
func file(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func digestOf(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// script is what a scripted server sends after the ack. Each segment is one
// Write; over net.Pipe a Read never spans two Writes, so the client's reads
// are cut exactly at segment boundaries (and wherever its buffer is full).
type script struct {
	reply    []byte   // the size or error reply, framed
	segments [][]byte // written after the ack, in order
	hold     <-chan struct{}
	noAck    bool // the client is expected to stop after the reply
}

// serve plays s on conn: it checks the request and the ack, writes the
// segments, then waits for hold (if set) and closes conn.
func serve(t *testing.T, conn net.Conn, f spec.Framing, s script) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer conn.Close()
		buf := make([]byte, 2*spec.MaxControlLen)
		n, err := conn.Read(buf)
		want, _ := spec.EncodeRequest(f, testName)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Errorf("server read request %q, %v, want %q", buf[:n], err, want)
			return
		}
		if s.reply == nil {
			return // close without replying
		}
		if _, err := conn.Write(s.reply); err != nil {
			t.Errorf("server write reply: %v", err)
			return
		}
		if s.noAck || bytes.HasPrefix(s.reply, []byte(spec.ErrorPrefix)) {
			return
		}
		n, err = conn.Read(buf)
		if want := spec.EncodeAck(f); err != nil || !bytes.Equal(buf[:n], want) {
			t.Errorf("server read ack %q, %v, want %q", buf[:n], err, want)
			return
		}
		for _, seg := range s.segments {
			if _, err := conn.Write(seg); err != nil {
				return // the client stopped reading: expected in some cases
			}
		}
		if s.hold != nil {
			<-s.hold
		}
	}()
	return done
}

func sizeReply(f spec.Framing, size int) []byte {
	b, _ := spec.EncodeSize(f, int64(size))
	return b
}

// Ways to cut the body and digest into segments: the body in chunks of
// chunk bytes, then
const (
	joined   = iota // the last chunk and the digest in one segment (sticky)
	separate        // the digest as its own segment
	split16         // the digest as two segments of 16 (half packet)
)

const chunk = 1000

func segments(body []byte, digest string, how int) [][]byte {
	var segs [][]byte
	for len(body) > chunk {
		segs = append(segs, body[:chunk])
		body = body[chunk:]
	}
	d := []byte(digest)
	switch how {
	case joined:
		segs = append(segs, append(append([]byte{}, body...), d...))
	case separate:
		if len(body) > 0 {
			segs = append(segs, body)
		}
		segs = append(segs, d)
	case split16:
		if len(body) > 0 {
			segs = append(segs, body)
		}
		segs = append(segs, d[:16], d[16:])
	}
	return segs
}

type getTest struct {
	variant   naive.Variant
	how       int
	size      int
	wantReads []int
	wantExtra int // digest bytes written as file data
	// the digest read returns digest[srvFrom:srvTo]
	srvFrom, srvTo int
}

var getTests = []getTest{
	// The tutorial's first client, tail and digest in one segment: the
	// last body read takes the digest, or as much of it as fits in 1024.
	{naive.Naive, joined, 0, nil, 0, 0, 32},
	{naive.Naive, joined, 1, []int{33}, 32, 32, 32},
	{naive.Naive, joined, 1024, []int{1000, 56}, 32, 32, 32},
	{naive.Naive, joined, 1025, []int{1000, 57}, 32, 32, 32},
	{naive.Naive, joined, 3000, []int{1000, 1000, 1024}, 24, 24, 32},
	// The same client, digest in a segment of its own: it works.
	{naive.Naive, separate, 0, nil, 0, 0, 32},
	{naive.Naive, separate, 1, []int{1}, 0, 0, 32},
	{naive.Naive, separate, 1024, []int{1000, 24}, 0, 0, 32},
	{naive.Naive, separate, 1025, []int{1000, 25}, 0, 0, 32},
	{naive.Naive, separate, 3000, []int{1000, 1000, 1000}, 0, 0, 32},
	// The article's fix survives the sticky packet.
	{naive.Article, joined, 0, nil, 0, 0, 32},
	{naive.Article, joined, 1, []int{1}, 0, 0, 32},
	{naive.Article, joined, 1024, []int{1000, 24}, 0, 0, 32},
	{naive.Article, joined, 1025, []int{1000, 25}, 0, 0, 32},
	{naive.Article, joined, 3000, []int{1000, 1000, 1000}, 0, 0, 32},
	// ... but not the half packet: its one digest read gets 16 digits.
	{naive.Article, split16, 0, nil, 0, 0, 16},
	{naive.Article, split16, 1, []int{1}, 0, 0, 16},
	{naive.Article, split16, 1024, []int{1000, 24}, 0, 0, 16},
	{naive.Article, split16, 1025, []int{1000, 25}, 0, 0, 16},
	{naive.Article, split16, 3000, []int{1000, 1000, 1000}, 0, 0, 16},
}

var howNames = []string{"joined", "separate", "split16"}

func TestGet(t *testing.T) {
	for _, f := range spec.Framings {
		for _, tt := range getTests {
			name := fmt.Sprintf("%s/%s/%s/%d", f, tt.variant, howNames[tt.how], tt.size)
			t.Run(name, func(t *testing.T) {
				body := file(tt.size)
				digest := digestOf(body)
				a, b := net.Pipe()
				done := serve(t, b, f, script{
					reply:    sizeReply(f, tt.size),
					segments: segments(body, digest, tt.how),
				})
				var out bytes.Buffer
				c := &naive.Client{Variant: tt.variant, Framing: f}
				res, err := c.Get(a, testName, &out)
				a.Close()
				<-done
				if err != nil {
					t.Fatalf("Get: %v", err)
				}

				wantOut := append(append([]byte{}, body...), digest[:tt.wantExtra]...)
				if !bytes.Equal(out.Bytes(), wantOut) {
					t.Errorf("output is %d bytes, want %d (the file plus %d digest bytes)", out.Len(), len(wantOut), tt.wantExtra)
				}
				if res.Size != int64(tt.size) {
					t.Errorf("Size = %d, want %d", res.Size, tt.size)
				}
				if want := int64(tt.size + tt.wantExtra); res.Written != want {
					t.Errorf("Written = %d, want %d", res.Written, want)
				}
				if !slices.Equal(res.Reads, tt.wantReads) {
					t.Errorf("Reads = %v, want %v", res.Reads, tt.wantReads)
				}
				if want := digestOf(wantOut); res.Local != want {
					t.Errorf("Local = %q, want %q", res.Local, want)
				}
				wantServer := digest[tt.srvFrom:tt.srvTo]
				if res.Server != wantServer {
					t.Errorf("Server = %q, want %q", res.Server, wantServer)
				}
				if res.DigestReads != len(wantServer) {
					t.Errorf("DigestReads = %d, want %d", res.DigestReads, len(wantServer))
				}
				wantMatch := tt.wantExtra == 0 && wantServer == digest
				if res.Match != wantMatch {
					t.Errorf("Match = %v, want %v", res.Match, wantMatch)
				}
			})
		}
	}
}

func TestGetErrorReply(t *testing.T) {
	for _, f := range spec.Framings {
		a, b := net.Pipe()
		done := serve(t, b, f, script{reply: spec.EncodeError(f, spec.CodeNotFound, "no such file")})
		var out bytes.Buffer
		res, err := (&naive.Client{Framing: f}).Get(a, testName, &out)
		a.Close()
		<-done
		var er *spec.ErrorReply
		if !errors.As(err, &er) || er.Code != spec.CodeNotFound {
			t.Errorf("%s: Get error = %v, want a *spec.ErrorReply with code %q", f, err, spec.CodeNotFound)
		}
		if res == nil || res.Written != 0 || out.Len() != 0 {
			t.Errorf("%s: after an error reply, Result %+v and %d bytes written, want nothing written", f, res, out.Len())
		}
	}
}

func TestGetBadSize(t *testing.T) {
	a, b := net.Pipe()
	done := serve(t, b, spec.Lockstep, script{reply: []byte("12x"), noAck: true})
	res, err := (&naive.Client{}).Get(a, testName, io.Discard)
	a.Close()
	<-done
	var pe *spec.ProtocolError
	if !errors.As(err, &pe) {
		t.Errorf("Get error = %v, want a *spec.ProtocolError", err)
	}
	if res.Size != 0 {
		t.Errorf("Size = %d, want 0", res.Size)
	}
}

func TestGetNoReply(t *testing.T) {
	a, b := net.Pipe()
	done := serve(t, b, spec.Lockstep, script{}) // closes after the request
	_, err := (&naive.Client{}).Get(a, testName, io.Discard)
	a.Close()
	<-done
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Get error = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestGetTruncatedBody(t *testing.T) {
	for _, v := range []naive.Variant{naive.Naive, naive.Article} {
		body := file(100)
		a, b := net.Pipe()
		done := serve(t, b, spec.Lockstep, script{reply: sizeReply(spec.Lockstep, 100), segments: [][]byte{body[:40]}})
		var out bytes.Buffer
		res, err := (&naive.Client{Variant: v}).Get(a, testName, &out)
		a.Close()
		<-done
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: Get error = %v, want io.ErrUnexpectedEOF", v, err)
		}
		if res.Written != 40 || !bytes.Equal(out.Bytes(), body[:40]) {
			t.Errorf("%s: Written = %d, output %d bytes, want 40", v, res.Written, out.Len())
		}
	}
}

func TestGetTimeoutBeforeSize(t *testing.T) {
	a, b := net.Pipe()
	hold := make(chan struct{})
	done := make(chan struct{})
	go func() { // reads the request, then stays silent
		defer close(done)
		io.ReadAtLeast(b, make([]byte, 64), 1)
		<-hold
		b.Close()
	}()
	_, err := (&naive.Client{Timeout: 20 * time.Millisecond}).Get(a, testName, io.Discard)
	close(hold)
	a.Close()
	<-done
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Get error = %v, want a timeout", err)
	}
}

func TestGetDigestNeverComes(t *testing.T) {
	// The server sends the whole body and keeps the connection open without
	// a digest: the tutorial's client would hang; this one gives up after
	// DigestWait and reports that no digest came.
	body := file(50)
	a, b := net.Pipe()
	hold := make(chan struct{})
	done := serve(t, b, spec.Lockstep, script{reply: sizeReply(spec.Lockstep, 50), segments: [][]byte{body}, hold: hold})
	var out bytes.Buffer
	res, err := (&naive.Client{Variant: naive.Article, DigestWait: 20 * time.Millisecond}).Get(a, testName, &out)
	close(hold)
	a.Close()
	<-done
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if res.Server != "" || res.DigestReads != 0 || res.Match {
		t.Errorf("Server = %q, DigestReads = %d, Match = %v, want \"\", 0, false", res.Server, res.DigestReads, res.Match)
	}
	if !bytes.Equal(out.Bytes(), body) {
		t.Errorf("output is %d bytes, want the %d-byte body", out.Len(), len(body))
	}
}

func TestGetBadName(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := (&naive.Client{}).Get(a, "", io.Discard); err == nil {
		t.Errorf("Get with an empty name = nil error, want an error")
	}
}

func TestParseVariant(t *testing.T) {
	for _, v := range []naive.Variant{naive.Naive, naive.Article} {
		got, err := naive.ParseVariant(v.String())
		if err != nil || got != v {
			t.Errorf("ParseVariant(%q) = %v, %v, want %v, nil", v.String(), got, err, v)
		}
	}
	if _, err := naive.ParseVariant("exact"); err == nil {
		t.Errorf("ParseVariant(%q) = nil error, want an error", "exact")
	}
	if got := naive.Variant(7).String(); got != "Variant(7)" {
		t.Errorf("Variant(7).String() = %q, want %q", got, "Variant(7)")
	}
}
