package conformance_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/spec"
)

// A mutant is a small hand-written server with exactly one defect, each the
// kind of mistake the tutorial's server makes or a learner's server might.
// Each is caught by the case meant for it; a healthy mutant passes every
// case, so what a case catches is the defect, not the mutant's frame.

// defect is the one thing a mutant server gets wrong.
type defect int

const (
	healthy           defect = iota
	dataBeforeAck            // sends the data right behind the size
	wrongDigest              // one digit of the digest is wrong
	truncatedBody            // closes after half the data
	sizeOffByOne             // announces SIZE+1
	silentOnMissing          // sends nothing for a missing file (the tutorial)
	servesOutsideRoot        // opens "../x" and absolute names (the tutorial)
	closesOnSpace            // drops the connection on a name with a space (the tutorial's split())
	oneAtATime               // serves one connection at a time (the tutorial)
	oneRequestPerConn        // closes after the first exchange
	readsLineOnce            // line framing: takes one read as the request line
	keepsPipelinedAck        // line framing: does not skip an ack line after a refusal
	stopsOnVanish            // stops accepting when a client vanishes mid-transfer
	impatientWriter          // gives a client 250 ms for the whole data

	silentOnBadRequest       // sends nothing for a malformed request and reads on
	staysOpenAfterBadRequest // answers ERR bad-request and reads on
	rawErrorText             // puts the raw request, control bytes and all, in the error text
	tooLongAsBadRequest      // answers an over-long request with ERR bad-request
	waitsForLF               // line framing: reads a request line to its LF, however long
	servesDirListing         // serves a directory's listing as if it were a file
	blocksOnFIFO             // opens a FIFO without O_NONBLOCK (blocks until a writer comes)
	closesOnUnreadable       // drops the connection on a file it may not read
	digestAfterShortBody     // sends a shrunk file's bytes and their digest
	sendsGrownBytes          // sends SIZE+1 bytes of a grown file
	rejectsCRLF              // line framing: keeps the CR of CRLF as part of the line
	lfAfterDigest            // line framing: sends LF after the digest
	eofIsAck                 // takes an end of stream as the ack (the tutorial's recv() == b"")
	sizeWithLF               // lockstep: sends the size with an LF behind it
	queuesOverLimit          // stops accepting at its connection limit: the rest wait unanswered
)

var defectNames = map[defect]string{
	healthy: "healthy", dataBeforeAck: "data-before-ack", wrongDigest: "wrong-digest",
	truncatedBody: "truncated-body", sizeOffByOne: "size-off-by-one", silentOnMissing: "silent-on-missing",
	servesOutsideRoot: "serves-outside-root", closesOnSpace: "closes-on-space", oneAtATime: "one-at-a-time",
	oneRequestPerConn: "one-request-per-conn", readsLineOnce: "reads-line-once",
	keepsPipelinedAck: "keeps-pipelined-ack", stopsOnVanish: "stops-on-vanish", impatientWriter: "impatient-writer",
	silentOnBadRequest: "silent-on-bad-request", staysOpenAfterBadRequest: "stays-open-after-bad-request",
	rawErrorText: "raw-error-text", tooLongAsBadRequest: "too-long-as-bad-request", waitsForLF: "waits-for-lf",
	servesDirListing: "serves-dir-listing", blocksOnFIFO: "blocks-on-fifo", closesOnUnreadable: "closes-on-unreadable",
	digestAfterShortBody: "digest-after-short-body", sendsGrownBytes: "sends-grown-bytes", rejectsCRLF: "rejects-crlf",
	lfAfterDigest: "lf-after-digest", eofIsAck: "eof-is-ack", sizeWithLF: "size-with-lf",
	queuesOverLimit: "queues-over-limit",
}

func (d defect) String() string { return defectNames[d] }

// mutantTimeout bounds every read and write of a mutant, so every one of
// its goroutines ends even if a test forgets a connection.
const mutantTimeout = 10 * time.Second

// mutantMaxConns is a mutant's connection limit, the default of SPEC.md.
const mutantMaxConns = 256

type mutant struct {
	root    string
	framing spec.Framing
	defect  defect
	ln      net.Listener

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup

	done  chan struct{} // closed by close
	slots chan struct{} // queuesOverLimit: one token per connection served
}

// startMutant serves a fresh root with a mutant until the test ends.
func startMutant(t *testing.T, f spec.Framing, d defect) conformance.ServerTarget {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mutant{root: root, framing: f, defect: d, ln: ln, conns: make(map[net.Conn]struct{}),
		done: make(chan struct{}), slots: make(chan struct{}, mutantMaxConns)}
	m.wg.Add(1)
	go m.serve()
	t.Cleanup(m.close)
	return conformance.ServerTarget{Addr: ln.Addr().String(), Root: root, Framing: f}
}

func (m *mutant) serve() {
	defer m.wg.Done()
	for {
		if m.defect == queuesOverLimit {
			// A slot before each accept: at the limit the server stops
			// accepting, and new connections wait in the listen queue.
			select {
			case m.slots <- struct{}{}:
			case <-m.done:
				return
			}
		}
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		ok, over := m.track(c)
		if !ok {
			c.Close()
			return
		}
		if over && m.defect != queuesOverLimit {
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				m.refuseBusy(c)
			}()
			continue
		}
		if m.defect == oneAtATime {
			m.handle(c)
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.handle(c)
		}()
	}
}

// track records c as open; over says it is past the connection limit.
func (m *mutant) track(c net.Conn) (ok, over bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, false
	}
	m.conns[c] = struct{}{}
	return true, len(m.conns) > mutantMaxConns
}

// untrack closes c and forgets it.
func (m *mutant) untrack(c net.Conn) {
	c.Close()
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// refuseBusy answers a connection over the limit with ERR busy,
// half-closes it and drains it briefly, then closes it.
func (m *mutant) refuseBusy(c net.Conn) {
	defer m.untrack(c)
	c.SetWriteDeadline(time.Now().Add(mutantTimeout))
	if _, err := c.Write(spec.EncodeError(m.framing, spec.CodeBusy, "too many connections")); err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
}

// close stops the mutant and waits for all its goroutines.
func (m *mutant) close() {
	close(m.done)
	m.ln.Close()
	m.mu.Lock()
	m.closed = true
	for c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// errLineTooLong is the mutant's over-long request line.
var errLineTooLong = errors.New("request line too long")

// handle serves one connection, with the mutant's defect.
func (m *mutant) handle(c net.Conn) {
	defer m.untrack(c)
	if m.defect == queuesOverLimit {
		defer func() { <-m.slots }()
	}
	// Room for the longest line (1024 octets and CRLF): a longer one
	// fills the buffer and is refused without waiting for its LF.
	br := bufio.NewReaderSize(c, spec.MaxControlLen+2)
	write := func(b []byte) error {
		c.SetWriteDeadline(time.Now().Add(mutantTimeout))
		_, err := c.Write(b)
		return err
	}
	// readControl reads one control message: one read in lockstep (and,
	// for readsLineOnce, in line framing too), else one line.
	readControl := func() (string, error) {
		c.SetReadDeadline(time.Now().Add(mutantTimeout))
		switch {
		case m.framing == spec.Lockstep || m.defect == readsLineOnce:
			b := make([]byte, spec.MaxControlLen+1)
			n, err := br.Read(b)
			return string(spec.TrimLine(b[:n])), err
		case m.defect == waitsForLF:
			line, err := br.ReadBytes('\n')
			return string(spec.TrimLine(line)), err
		}
		line, err := br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			return "", errLineTooLong
		case m.defect == rejectsCRLF:
			return string(bytes.TrimSuffix(line, []byte("\n"))), err
		}
		return string(spec.TrimLine(line)), err
	}
	// refuseAndClose answers a request that leaves the stream out of step,
	// then half-closes and drains briefly so the reply is not lost to a
	// reset (REQ-ERR-5).
	refuseAndClose := func(reply []byte) {
		if write(reply) != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok && tc.CloseWrite() == nil {
			c.SetReadDeadline(time.Now().Add(time.Second))
			io.Copy(io.Discard, io.LimitReader(c, 1<<20))
		}
	}
	refused := false
	for {
		msg, err := readControl()
		if errors.Is(err, errLineTooLong) {
			refuseAndClose(spec.EncodeError(m.framing, spec.CodeTooLong, "request too long"))
			return
		}
		if err != nil {
			return
		}
		if m.framing == spec.Line && msg == spec.AckText && refused && m.defect != keepsPipelinedAck {
			continue // the ack pipelined behind a refused request
		}
		refused = false
		name, err := spec.ParseRequest([]byte(msg))
		if err != nil {
			code, text := spec.CodeBadRequest, "malformed request"
			if errors.Is(err, spec.ErrTooLong) && m.defect != tooLongAsBadRequest {
				code, text = spec.CodeTooLong, "request too long"
			}
			reply := spec.EncodeError(m.framing, code, text)
			switch {
			case code == spec.CodeBadRequest && m.defect == silentOnBadRequest:
				continue
			case code == spec.CodeBadRequest && m.defect == rawErrorText:
				// Not through spec.EncodeError, which would clean it.
				reply = []byte("ERR bad-request cannot parse " + msg)
				if m.framing == spec.Line {
					reply = append(reply, '\n')
				}
			case code == spec.CodeBadRequest && m.defect == staysOpenAfterBadRequest:
				write(reply)
				continue
			}
			refuseAndClose(reply)
			return
		}
		if m.defect == closesOnSpace && strings.Contains(name, " ") {
			return // the tutorial's cmd, filename = data.split() raises here
		}
		path := filepath.Join(m.root, filepath.FromSlash(name))
		switch {
		case m.defect == servesOutsideRoot && filepath.IsAbs(name):
			path = name
		case m.defect != servesOutsideRoot && !filepath.IsLocal(name):
			write(spec.EncodeError(m.framing, spec.CodeForbidden, "name leaves the root"))
			refused = true
			continue
		}
		// Stat first: it neither blocks on a FIFO nor reads a device.
		fi, err := os.Stat(path)
		if err != nil {
			if m.defect == silentOnMissing {
				continue
			}
			write(spec.EncodeError(m.framing, spec.CodeNotFound, "no such file"))
			refused = true
			continue
		}
		var data []byte
		switch {
		case fi.IsDir() && m.defect == servesDirListing:
			entries, _ := os.ReadDir(path)
			for _, e := range entries {
				data = append(data, e.Name()+"\n"...)
			}
		case fi.Mode()&fs.ModeNamedPipe != 0 && m.defect == blocksOnFIFO:
			data, err = os.ReadFile(path) // blocks in open until a writer comes
		case !fi.Mode().IsRegular():
			write(spec.EncodeError(m.framing, spec.CodeNotRegular, "not a regular file"))
			refused = true
			continue
		case fi.Mode().Perm()&0o444 == 0:
			// What an unprivileged server finds, even when the tests
			// run as root.
			if m.defect == closesOnUnreadable {
				return // an unhandled PermissionError
			}
			write(spec.EncodeError(m.framing, spec.CodeUnreadable, "permission denied"))
			refused = true
			continue
		default:
			data, err = os.ReadFile(path)
		}
		if err != nil {
			write(spec.EncodeError(m.framing, spec.CodeUnreadable, "cannot read file"))
			refused = true
			continue
		}
		size := int64(len(data))
		if m.defect == sizeOffByOne {
			size++
		}
		b, _ := spec.EncodeSize(m.framing, size)
		if m.defect == sizeWithLF {
			b = append(b, '\n')
		}
		if write(b) != nil {
			return
		}
		if m.defect != dataBeforeAck {
			if _, err := readControl(); err != nil && !(m.defect == eofIsAck && err == io.EOF) {
				return
			}
		}
		// The healthy mutant read the file before the ack; these two read
		// it again after the ack and mishandle a change of size.
		if m.defect == digestAfterShortBody || m.defect == sendsGrownBytes {
			if now, err := os.ReadFile(path); err == nil {
				switch {
				case m.defect == digestAfterShortBody && len(now) < len(data):
					data = now
				case m.defect == sendsGrownBytes && len(now) > len(data):
					data = now[:len(data)+1]
				}
			}
		}
		if m.defect == truncatedBody {
			write(data[:len(data)/2])
			return
		}
		if m.defect == impatientWriter {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetWriteBuffer(32 << 10) // no kernel buffer to hide in
			}
			c.SetWriteDeadline(time.Now().Add(250 * time.Millisecond))
			if _, err := c.Write(data); err != nil {
				return
			}
		} else if err := write(data); err != nil {
			if m.defect == stopsOnVanish {
				m.ln.Close() // an exception that ends the whole server
			}
			return
		}
		sum := md5.Sum(data)
		d, _ := spec.EncodeDigest(sum[:])
		if m.defect == wrongDigest {
			d[31] = "10"[boolInt(d[31] == '1')]
		}
		if m.defect == lfAfterDigest {
			d = append(d, '\n')
		}
		if write(d) != nil {
			return
		}
		if m.defect == dataBeforeAck {
			if _, err := readControl(); err != nil {
				return
			}
		}
		if m.defect == oneRequestPerConn {
			return
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mutantTests name, for each defect, the case meant to catch it, the
// framings it applies to, and words the case's detail must contain.
var mutantTests = []struct {
	defect   defect
	caseID   string
	framings []spec.Framing // nil: both
	detail   string
}{
	{dataBeforeAck, "server/no-data-before-ack", nil, "before the kit's ack"},
	{wrongDigest, "server/sizes", nil, "the digest it sent does not match the data"},
	{truncatedBody, "server/sizes", nil, "closed the connection"},
	{sizeOffByOne, "server/sizes", nil, "the server announced"},
	{silentOnMissing, "server/missing-file", nil, "a client would hang"},
	{servesOutsideRoot, "server/path-escape", nil, "placed outside the root"},
	{closesOnSpace, "server/names", nil, "closed the connection"},
	{oneAtATime, "server/concurrent", nil, "one client at a time"},
	{oneRequestPerConn, "server/multi-request", nil, "request 2 of 5"},
	{readsLineOnce, "server/split-request", []spec.Framing{spec.Line}, "one byte per segment"},
	{keepsPipelinedAck, "server/pipelined-ack", []spec.Framing{spec.Line}, "skip the ack line"},
	{stopsOnVanish, "server/abandoned-transfer", nil, "vanished mid-transfer"},
	{impatientWriter, "server/slow-reader", nil, "reading slowly"},
	{silentOnBadRequest, "server/bad-request", nil, "sent nothing"},
	{staysOpenAfterBadRequest, "server/bad-request", nil, "kept the connection open"},
	{rawErrorText, "server/bad-request", nil, "control byte 0x00"},
	{tooLongAsBadRequest, "server/too-long", nil, "want ERR too-long"},
	{waitsForLF, "server/too-long", []spec.Framing{spec.Line}, "without its LF"},
	{servesDirListing, "server/special-files", nil, "for a directory"},
	{blocksOnFIFO, "server/special-files", nil, "a FIFO: it blocked"},
	{closesOnUnreadable, "server/unreadable", nil, "closed the connection"},
	{digestAfterShortBody, "server/file-changes", nil, "a digest, the MD5"},
	{sendsGrownBytes, "server/file-changes", nil, "past the announced size"},
	{rejectsCRLF, "server/line-endings", []spec.Framing{spec.Line}, "CRLF"},
	{lfAfterDigest, "server/line-endings", []spec.Framing{spec.Line}, "REQ-LINE-5"},
	{eofIsAck, "server/end-of-stream", nil, "as an ack"},
	{sizeWithLF, "server/sizes", []spec.Framing{spec.Lockstep}, "REQ-LOCK-1"},
	{queuesOverLimit, "server/conn-limit", nil, "listen queue"},
}

// mutantOptions keep the mutant runs short: a silent mutant costs one
// timeout.
var mutantOptions = conformance.Options{Timeout: 2 * time.Second}

// TestServerMutants checks that each mutant is caught (FAIL) by the case
// meant for its defect, with a detail that says what went wrong.
func TestServerMutants(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tc := range mutantTests {
		framings := tc.framings
		if framings == nil {
			framings = spec.Framings
		}
		for _, f := range framings {
			t.Run(tc.defect.String()+"/"+f.String(), func(t *testing.T) {
				target := startMutant(t, f, tc.defect)
				o := mutantOptions
				o.Run = regexp.MustCompile("^" + regexp.QuoteMeta(tc.caseID) + "$")
				results := conformance.RunServer(t.Context(), target, o)
				if len(results) != 1 {
					t.Fatalf("RunServer(%s) returned %d results, want 1", tc.caseID, len(results))
				}
				r := results[0]
				if r.Outcome.Verdict != conformance.Fail {
					t.Fatalf("%s against the %s mutant (%s): verdict %s, want FAIL: %s\n%s",
						tc.caseID, tc.defect, f, r.Outcome.Verdict, r.Outcome.Detail, strings.Join(r.Log, "\n"))
				}
				if !strings.Contains(r.Outcome.Detail, tc.detail) {
					t.Errorf("%s detail = %q, want it to contain %q", tc.caseID, r.Outcome.Detail, tc.detail)
				}
				t.Logf("%s: FAIL: %s", tc.caseID, r.Outcome.Detail)
				assertNoFixtures(t, target.Root)
			})
		}
	}
}

// TestServerMutantHealthy checks that the mutant frame without a defect
// passes every case, so that each FAIL above is its defect's doing.
func TestServerMutantHealthy(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			target := startMutant(t, f, healthy)
			for _, r := range conformance.RunServer(t.Context(), target, mutantOptions) {
				want := wantRefVerdict(r.Case.ID, f)
				if r.Case.ID == "server/unreadable" {
					want = conformance.Pass // the mutant refuses mode 000 even as root
				}
				if r.Outcome.Verdict != want {
					t.Errorf("%s against the healthy mutant (%s): verdict %s, want %s: %s\n%s",
						r.Case.ID, f, r.Outcome.Verdict, want, r.Outcome.Detail, strings.Join(r.Log, "\n"))
				}
			}
		})
	}
}
