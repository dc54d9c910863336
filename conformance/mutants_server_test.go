package conformance_test

import (
	"bufio"
	"crypto/md5"
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
)

var defectNames = map[defect]string{
	healthy: "healthy", dataBeforeAck: "data-before-ack", wrongDigest: "wrong-digest",
	truncatedBody: "truncated-body", sizeOffByOne: "size-off-by-one", silentOnMissing: "silent-on-missing",
	servesOutsideRoot: "serves-outside-root", closesOnSpace: "closes-on-space", oneAtATime: "one-at-a-time",
	oneRequestPerConn: "one-request-per-conn", readsLineOnce: "reads-line-once",
	keepsPipelinedAck: "keeps-pipelined-ack", stopsOnVanish: "stops-on-vanish", impatientWriter: "impatient-writer",
}

func (d defect) String() string { return defectNames[d] }

// mutantTimeout bounds every read and write of a mutant, so every one of
// its goroutines ends even if a test forgets a connection.
const mutantTimeout = 10 * time.Second

type mutant struct {
	root    string
	framing spec.Framing
	defect  defect
	ln      net.Listener

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
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
	m := &mutant{root: root, framing: f, defect: d, ln: ln, conns: make(map[net.Conn]struct{})}
	m.wg.Add(1)
	go m.serve()
	t.Cleanup(m.close)
	return conformance.ServerTarget{Addr: ln.Addr().String(), Root: root, Framing: f}
}

func (m *mutant) serve() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		if !m.track(c) {
			c.Close()
			return
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

func (m *mutant) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

// close stops the mutant and waits for all its goroutines.
func (m *mutant) close() {
	m.ln.Close()
	m.mu.Lock()
	m.closed = true
	for c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// handle serves one connection, with the mutant's defect.
func (m *mutant) handle(c net.Conn) {
	defer func() {
		c.Close()
		m.mu.Lock()
		delete(m.conns, c)
		m.mu.Unlock()
	}()
	br := bufio.NewReaderSize(c, 4096)
	write := func(b []byte) error {
		c.SetWriteDeadline(time.Now().Add(mutantTimeout))
		_, err := c.Write(b)
		return err
	}
	// readControl reads one control message: one read in lockstep (and,
	// for readsLineOnce, in line framing too), else one line.
	readControl := func() (string, error) {
		c.SetReadDeadline(time.Now().Add(mutantTimeout))
		if m.framing == spec.Lockstep || m.defect == readsLineOnce {
			b := make([]byte, spec.MaxControlLen+1)
			n, err := br.Read(b)
			return string(spec.TrimLine(b[:n])), err
		}
		line, err := br.ReadSlice('\n')
		return string(spec.TrimLine(line)), err
	}
	refused := false
	for {
		msg, err := readControl()
		if err != nil {
			return
		}
		if m.framing == spec.Line && msg == spec.AckText && refused && m.defect != keepsPipelinedAck {
			continue // the ack pipelined behind a refused request
		}
		refused = false
		name, err := spec.ParseRequest([]byte(msg))
		if err != nil {
			write(spec.EncodeError(m.framing, spec.CodeBadRequest, "malformed request"))
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
		data, err := os.ReadFile(path)
		if err != nil {
			if m.defect == silentOnMissing {
				continue
			}
			write(spec.EncodeError(m.framing, spec.CodeNotFound, "no such file"))
			refused = true
			continue
		}
		size := int64(len(data))
		if m.defect == sizeOffByOne {
			size++
		}
		b, _ := spec.EncodeSize(m.framing, size)
		if write(b) != nil {
			return
		}
		if m.defect != dataBeforeAck {
			if _, err := readControl(); err != nil {
				return
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
				if want := wantRefVerdict(r.Case.ID, f); r.Outcome.Verdict != want {
					t.Errorf("%s against the healthy mutant (%s): verdict %s, want %s: %s\n%s",
						r.Case.ID, f, r.Outcome.Verdict, want, r.Outcome.Detail, strings.Join(r.Log, "\n"))
				}
			}
		})
	}
}
