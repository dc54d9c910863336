package spec_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/spec"
)

// defaultRapidSeed makes property runs repeatable: rapid picks a random
// seed when -rapid.seed is 0. A failing run prints the seed it used, and
// -rapid.seed=N (or RAPID_SEED=N) explores another part of the space.
const defaultRapidSeed = "20240601"

func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("rapid.seed"); f != nil && f.Value.String() == "0" {
		if err := f.Value.Set(defaultRapidSeed); err != nil {
			fmt.Fprintln(os.Stderr, "setting -rapid.seed:", err)
			os.Exit(2)
		}
	}
	goleak.VerifyTestMain(m)
}

// chunkReader delivers its chunks one per Read call, as a TCP stack may
// deliver segments: a Read never returns bytes of two chunks. A chunk
// larger than the caller's buffer is split over several reads. After the
// last chunk it returns err (io.EOF when err is nil).
type chunkReader struct {
	chunks [][]byte
	err    error
	reads  int // Read calls that returned data
	left   int // bytes not yet delivered
}

func newChunkReader(chunks ...string) *chunkReader {
	c := &chunkReader{}
	for _, s := range chunks {
		if s != "" {
			c.chunks = append(c.chunks, []byte(s))
			c.left += len(s)
		}
	}
	return c
}

// thenFail makes the reader return err once its chunks are spent.
func (c *chunkReader) thenFail(err error) *chunkReader {
	c.err = err
	return c
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(c.chunks) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	c.reads++
	c.left -= n
	return n, nil
}

// remaining returns the bytes not yet delivered.
func (c *chunkReader) remaining() string {
	var sb strings.Builder
	for _, ch := range c.chunks {
		sb.Write(ch)
	}
	return sb.String()
}

// zeroReader returns 0, nil forever: a broken io.Reader.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// errBlocked stands for a peer that has stopped sending: a decoder that
// returns it instead of a verdict waited for bytes it did not need.
var errBlocked = errors.New("test: reader would block forever here")

var errBoom = errors.New("test: connection reset")

// checkFollowing asserts that the bytes a Reader has buffered, followed by
// those src has not delivered yet, are exactly following, then reads them
// back through the Reader and checks the stream ends cleanly after them.
func checkFollowing(t *testing.T, r *spec.Reader, src *chunkReader, following string) {
	t.Helper()
	if got := r.Buffered() + src.left; got != len(following) {
		t.Errorf("unread bytes = %d (buffered %d, undelivered %q), want %d (%q)",
			got, r.Buffered(), src.remaining(), len(following), following)
		return
	}
	got, err := io.ReadAll(r.Body(int64(len(following))))
	if err != nil || string(got) != following {
		t.Errorf("reading the following bytes back = %q, %v, want %q, nil", got, err, following)
	}
	if name, err := r.ReadRequest(); err != io.EOF {
		t.Errorf("ReadRequest after the following bytes = %q, %v, want io.EOF", name, err)
	}
}

// errKind classifies the error a table expects.
type errKind int

const (
	errNone     errKind = iota
	errProto            // *spec.ProtocolError
	errTooLong          // wraps spec.ErrTooLong
	errReply            // *spec.ErrorReply
	errUnexpEOF         // io.ErrUnexpectedEOF, not a TruncatedError
	errTrunc            // *spec.TruncatedError (also io.ErrUnexpectedEOF)
	errEOF              // exactly io.EOF
	errOther            // any non-nil error
)

func (k errKind) String() string {
	return [...]string{"nil", "*ProtocolError", "ErrTooLong", "*ErrorReply",
		"io.ErrUnexpectedEOF", "*TruncatedError", "io.EOF", "an error"}[k]
}

// checkErr asserts err is of kind want and returns false if it is not.
func checkErr(t *testing.T, what string, err error, want errKind) bool {
	t.Helper()
	var pe *spec.ProtocolError
	var er *spec.ErrorReply
	var te *spec.TruncatedError
	ok := false
	switch want {
	case errNone:
		ok = err == nil
	case errProto:
		ok = errors.As(err, &pe)
		if ok && len(pe.Data) > 80 {
			t.Errorf("%s: ProtocolError quotes %d bytes, want at most 80", what, len(pe.Data))
		}
	case errTooLong:
		ok = errors.Is(err, spec.ErrTooLong) && !errors.As(err, &pe)
	case errReply:
		ok = errors.As(err, &er)
	case errUnexpEOF:
		ok = errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &te)
	case errTrunc:
		ok = errors.As(err, &te) && errors.Is(err, io.ErrUnexpectedEOF)
	case errEOF:
		ok = err == io.EOF
	case errOther:
		ok = err != nil
	}
	if !ok {
		t.Errorf("%s: error = %v (%T), want %v", what, err, err, want)
	}
	return ok
}

// framed returns s followed by LF in the line framing.
func framed(f spec.Framing, s string) string {
	if f == spec.Line {
		return s + "\n"
	}
	return s
}

// splitBytes returns the bytes of s as one-byte strings.
func splitBytes(s string) []string {
	out := make([]string, len(s))
	for i := range len(s) {
		out[i] = s[i : i+1]
	}
	return out
}
