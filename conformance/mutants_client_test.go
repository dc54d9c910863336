package conformance_test

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/spec"
)

// clientMutant is a client built right except for one defect, each field
// one of them. Its zero value (with a framing) is a correct client.
type clientMutant struct {
	framing spec.Framing
	// wrongAck acknowledges the size with "ok" instead of the ack text.
	wrongAck bool
	// bodyOneRead reads the whole data with one read, as recv(SIZE) does,
	// and fails when the read is short.
	bodyOneRead bool
	// noEmpty refuses size 0 as invalid.
	noEmpty bool
	// maxSize, when not 0, refuses files larger than this many bytes.
	maxSize int64
	// lenientSize takes the leading digits of a malformed reply as the
	// size, as C's atoi does.
	lenientSize bool
	// foldDigest compares the digests ignoring case.
	foldDigest bool
	// noValidate sends any name, however long.
	noValidate bool
	// lfOnly ends a size line at LF and keeps a CR before it.
	lfOnly bool
	// sizeOneRead reads the size line with one read, as lockstep does,
	// instead of reading up to LF (the line framing's half packet).
	sizeOneRead bool
	// noCompare never compares the digests.
	noCompare bool
	// leaveCorrupt writes straight to out and leaves it there on failure.
	leaveCorrupt bool
	// okOnErrorReply exits 0 when the server refuses the request.
	okOnErrorReply bool
	// okOnUnknownCode exits 0 on an error reply whose code it does not
	// know, as if it were a warning.
	okOnUnknownCode bool
}

func (m clientMutant) get(ctx context.Context, addr, name, out string) (err error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(5 * time.Second))

	req, err := spec.EncodeRequest(m.framing, name)
	if m.noValidate {
		req, err = []byte(spec.RequestVerb+name), nil
		if m.framing == spec.Line {
			req = append(req, '\n')
		}
	}
	if err != nil {
		return err
	}
	if _, err := conn.Write(req); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	r := spec.NewReader(br, m.framing)
	var size int64
	var pe *spec.ProtocolError
	switch {
	case m.lfOnly:
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		size, err = spec.ParseReply([]byte(strings.TrimSuffix(line, "\n")))
		if err != nil {
			return err
		}
	case m.sizeOneRead:
		buf := make([]byte, spec.MaxControlLen+2)
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		size, err = spec.ParseReply(spec.TrimLine(buf[:n]))
		if err != nil && !m.okOnErrorReply {
			return err
		}
	default:
		size, err = r.ReadReply()
		if m.lenientSize && errors.As(err, &pe) {
			digits := strings.TrimRightFunc(string(pe.Data), func(c rune) bool { return c < '0' || c > '9' })
			size, err = strconv.ParseInt(strings.Fields(digits + " x")[0], 10, 64)
		}
	}
	var er *spec.ErrorReply
	if errors.As(err, &er) && (m.okOnErrorReply || m.okOnUnknownCode && !slices.Contains(spec.Codes, er.Code)) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.noEmpty && size == 0 {
		return errors.New("invalid size 0")
	}
	if m.maxSize > 0 && size > m.maxSize {
		return fmt.Errorf("file too large: %d bytes, limit %d", size, m.maxSize)
	}
	ack := spec.EncodeAck(m.framing)
	if m.wrongAck {
		ack = []byte("ok")
		if m.framing == spec.Line {
			ack = append(ack, '\n')
		}
	}
	if _, err := conn.Write(ack); err != nil {
		return err
	}

	var f *os.File
	if m.leaveCorrupt {
		f, err = os.Create(out)
	} else {
		f, err = os.CreateTemp(filepath.Dir(out), ".part-*")
	}
	if err != nil {
		return err
	}
	defer func() {
		f.Close()
		if err != nil && !m.leaveCorrupt {
			os.Remove(f.Name())
		}
	}()
	h := md5.New()
	if m.bodyOneRead && size > 0 {
		buf := make([]byte, size)
		n, err := r.Body(size).Read(buf)
		if err != nil {
			return err
		}
		if int64(n) < size {
			return fmt.Errorf("short read: %d of %d bytes", n, size)
		}
		f.Write(buf)
		h.Write(buf)
	} else if _, err := io.Copy(io.MultiWriter(f, h), r.Body(size)); err != nil {
		return err
	}
	var got string
	if m.foldDigest {
		b := make([]byte, spec.DigestLen)
		if _, err := io.ReadFull(r.Body(spec.DigestLen), b); err != nil {
			return err
		}
		got = strings.ToLower(string(b))
	} else if got, err = r.ReadDigest(); err != nil {
		return err
	}
	if local := hex.EncodeToString(h.Sum(nil)); got != local && !m.noCompare {
		return fmt.Errorf("digest mismatch: server %s, local %s", got, local)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if !m.leaveCorrupt {
		return os.Rename(f.Name(), out)
	}
	return nil
}

// clientMutantTest is one deliberately broken client and the case that
// must catch it. A mutant also passes the cases named in passes (mostly
// client/plain), so that the catch is the defect's and nothing else's.
type clientMutantTest struct {
	name    string
	framing spec.Framing
	client  conformance.ClientFunc
	caught  string   // the case that must FAIL it
	passes  []string // cases it must PASS
	detail  string   // words the FAIL detail must contain
}

var clientMutantTests = []clientMutantTest{
	{
		name:    "size read with one read in line framing",
		framing: spec.Line,
		client:  clientMutant{framing: spec.Line, sizeOneRead: true}.get,
		caught:  "client/split-size",
		passes:  []string{"client/plain"},
		detail:  "partial line",
	},
	{
		name:    "never compares digests",
		framing: spec.Lockstep,
		client:  clientMutant{framing: spec.Lockstep, noCompare: true}.get,
		caught:  "client/wrong-digest",
		passes:  []string{"client/plain"},
		detail:  "reported success (exit status 0) although the digest",
	},
	{
		name:    "leaves a corrupt file (wrong digest)",
		framing: spec.Line,
		client:  clientMutant{framing: spec.Line, leaveCorrupt: true}.get,
		caught:  "client/wrong-digest",
		passes:  []string{"client/plain"},
		detail:  "left a corrupt file at {out}",
	},
	{
		name:    "leaves a corrupt file (truncated)",
		framing: spec.Lockstep,
		client:  clientMutant{framing: spec.Lockstep, leaveCorrupt: true}.get,
		caught:  "client/truncated",
		passes:  []string{"client/plain"},
		detail:  "left a corrupt file at {out}",
	},
	{
		name:    "wrong ack text",
		framing: spec.Line,
		client:  clientMutant{framing: spec.Line, wrongAck: true}.get,
		caught:  "client/plain",
		passes:  []string{"client/sticky"},
		detail:  `ack was "ok"`,
	},
	{
		name:    "data read with one read",
		framing: spec.Lockstep,
		client:  clientMutant{framing: spec.Lockstep, bodyOneRead: true}.get,
		caught:  "client/split-body",
		passes:  []string{"client/empty-file"},
		detail:  "short read",
	},
	{
		name:    "refuses size 0",
		framing: spec.Lockstep,
		client:  clientMutant{framing: spec.Lockstep, noEmpty: true}.get,
		caught:  "client/empty-file",
		passes:  []string{"client/plain"},
		detail:  "invalid size 0",
	},
	{
		name:    "refuses files over 4 MiB",
		framing: spec.Line,
		client:  clientMutant{framing: spec.Line, maxSize: 4 << 20}.get,
		caught:  "client/large-file",
		passes:  []string{"client/plain"},
		detail:  "file too large",
	},
	{
		name:    "unknown error code taken as a warning",
		framing: spec.Line,
		client:  clientMutant{framing: spec.Line, okOnUnknownCode: true}.get,
		caught:  "client/unknown-error",
		passes:  []string{"client/plain", "client/error-reply"},
		detail:  "reported success (exit status 0) although the server refused",
	},
	{
		name:    "lenient size parser",
		framing: spec.Lockstep,
		client:  clientMutant{framing: spec.Lockstep, lenientSize: true}.get,
		caught:  "client/bad-size",
		passes:  []string{"client/plain"},
		detail:  "must not send the ack",
	},
	{
		name:    "digest compared ignoring case",
		framing: spec.Line,
		client:  clientMutant{framing: spec.Line, foldDigest: true}.get,
		caught:  "client/bad-digest",
		passes:  []string{"client/plain"},
		detail:  "reported success (exit status 0) although the digest",
	},
	{
		name:    "name not validated",
		framing: spec.Lockstep,
		client:  clientMutant{framing: spec.Lockstep, noValidate: true}.get,
		caught:  "client/bad-name",
		passes:  []string{"client/plain"},
		detail:  "sent a request with the 1021-byte name",
	},
	{
		name:    "size line ended at LF only",
		framing: spec.Line,
		client:  clientMutant{framing: spec.Line, lfOnly: true}.get,
		caught:  "client/crlf",
		passes:  []string{"client/plain"},
		detail:  "ended with CRLF, which a receiver must accept",
	},
	{
		name:    "exits 0 on an error reply",
		framing: spec.Lockstep,
		client:  clientMutant{framing: spec.Lockstep, okOnErrorReply: true}.get,
		caught:  "client/error-reply",
		passes:  []string{"client/plain"},
		detail:  "reported success (exit status 0) although the server refused",
	},
}

// TestClientMutants proves that each client case can fail: a client with
// one defect FAILs the case aimed at that defect and passes the others
// named.
func TestClientMutants(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	for _, mt := range clientMutantTests {
		t.Run(strings.ReplaceAll(mt.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			for _, id := range mt.passes {
				r := runClientCase(t, id, mt.framing, mt.client)
				if r.Outcome.Verdict != conformance.Pass {
					t.Errorf("%s (%v) = %s: %s, want PASS", id, mt.framing, r.Outcome.Verdict, r.Outcome.Detail)
					logClientResult(t, r)
				}
			}
			r := runClientCase(t, mt.caught, mt.framing, mt.client)
			if r.Outcome.Verdict != conformance.Fail {
				t.Errorf("%s (%v) = %s: %s, want FAIL", mt.caught, mt.framing, r.Outcome.Verdict, r.Outcome.Detail)
				logClientResult(t, r)
				return
			}
			if !strings.Contains(r.Outcome.Detail, mt.detail) {
				t.Errorf("%s FAIL detail = %q, want it to say %q", mt.caught, r.Outcome.Detail, mt.detail)
			}
			t.Logf("%s: FAIL: %s", mt.caught, r.Outcome.Detail)
		})
	}
}

func logClientResult(t *testing.T, r conformance.Result) {
	t.Helper()
	for _, l := range r.Log {
		t.Log(l)
	}
}
