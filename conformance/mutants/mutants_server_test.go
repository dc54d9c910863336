package mutants_test

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
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/spec"
)

// A server mutant is a small hand-written server with exactly one defect,
// each the kind of mistake the tutorial's server makes or a learner's
// server might. The healthy server is a few steps (read a message, refuse
// or resolve a request, open the file, send the size, wait for the ack,
// send the data and the digest); a defect replaces one or two of those
// steps with a small function. Each is caught by the cases meant for it
// (serverMutantTests); the healthy server passes every case, so what a
// case catches is the defect, not the mutant's frame.

// serverDefect is the one thing a mutant server gets wrong: the steps it
// does differently, each nil where the mutant is healthy.
type serverDefect struct {
	name string
	// quiet marks a defect that shows only as a silence: the kit's bound
	// on a wait is what proves it (see options).
	quiet bool

	serial  bool // serves one connection at a time (the tutorial)
	queues  bool // stops accepting at its limit: the rest wait unanswered
	noLimit bool // serves every connection: no limit at all
	limit   int  // its connection limit; 0: mutantMaxConns
	perAddr int  // its limit per client address; 0: mutantPerAddr, -1: none
	pending int  // its budget of connections without a request; 0: mutantPending, -1: none
	prefix  int  // the prefix length it counts an address's connections under; 0: 32
	leaks   bool // a connection that made room frees its slot again when it ends
	// keepsAtLimit: at its connection limit it refuses the newcomer, even
	// when a connection that sent nothing could make room.
	keepsAtLimit bool
	// room picks the connection that makes room for c at a limit (of c's
	// address, when sameAddr), or nil: none can; nil is oldestSilent.
	room     func(m *mutant, c *mconn, sameAddr bool) *mconn
	busy     func(c *mconn) // answers a connection over the limit
	keepsAck bool           // line framing: does not skip an ack line after a refusal
	read     func(c *mconn) (string, error)
	refuse   func(c *mconn, code, text, msg string) (readOn bool) // a request that closes the connection
	resolve  func(c *mconn, name string) (path, code string)
	open     func(c *mconn, path string, fi os.FileInfo) (data []byte, code string)
	openErr  func(c *mconn, code, name string) (readOn bool) // a keep-open error reply
	missing  func(c *mconn) (data []byte, code string)       // a name that does not exist
	size     func(c *mconn, n int64) []byte
	ack      func(c *mconn) error
	reread   func(c *mconn, path string, data []byte) []byte
	send     func(c *mconn, data []byte) error
	digest   func(c *mconn, data []byte) []byte
	after    func(c *mconn) (readOn bool)
}

// codeDrop is the code of a request after which the mutant drops the
// connection without a word.
const codeDrop = "(drop)"

// healthy is the mutant without a defect.
var healthy = &serverDefect{name: "healthy"}

// The defects. Each is what one small mistake looks like in code.
var (
	// It never waits for the ack: the size and the data leave in one
	// write, so the data is there before the ack however busy the machine.
	dataBeforeAck = &serverDefect{name: "data-before-ack",
		size: func(c *mconn, n int64) []byte {
			c.held, _ = spec.EncodeSize(c.f, n)
			return nil
		},
		ack:   func(c *mconn) error { return nil },
		send:  func(c *mconn, data []byte) error { return c.write(append(c.held, data...)) },
		after: func(c *mconn) bool { _, err := c.readMessage(); return err == nil }}
	wrongDigest = &serverDefect{name: "wrong-digest", digest: func(c *mconn, data []byte) []byte {
		d := c.sum(data)
		d[31] = "10"[boolInt(d[31] == '1')]
		return d
	}}
	truncatedBody = &serverDefect{name: "truncated-body", send: func(c *mconn, data []byte) error {
		if len(data) == 0 {
			return nil
		}
		c.write(data[:len(data)/2])
		return errors.New("closes after half the data")
	}}
	corruptsData = &serverDefect{name: "corrupts-data", send: func(c *mconn, data []byte) error {
		bad := bytes.Clone(data)
		if len(bad) > 0 {
			bad[0] ^= 0x20
		}
		return c.write(bad)
	}}
	sizeOffByOne = &serverDefect{name: "size-off-by-one", quiet: true, size: func(c *mconn, n int64) []byte {
		b, _ := spec.EncodeSize(c.f, n+1)
		return b
	}}
	sizeWithLF = &serverDefect{name: "size-with-lf", size: func(c *mconn, n int64) []byte {
		b, _ := spec.EncodeSize(c.f, n)
		return append(b, '\n')
	}}
	repliesWithoutLF = &serverDefect{name: "replies-without-lf", quiet: true, size: func(c *mconn, n int64) []byte {
		b, _ := spec.EncodeSize(spec.Lockstep, n)
		return b
	}}
	silentOnMissing = &serverDefect{name: "silent-on-missing", quiet: true, openErr: func(c *mconn, code, name string) bool {
		if code == spec.CodeNotFound {
			return true // says nothing and reads on: the tutorial's server
		}
		return c.openErrDefault(code, name)
	}}
	servesEmptyForMissing = &serverDefect{name: "serves-empty-for-missing",
		missing: func(c *mconn) ([]byte, string) { return nil, "" }}
	closesAfterRefusal = &serverDefect{name: "closes-after-refusal", openErr: func(c *mconn, code, name string) bool {
		c.openErrDefault(code, name)
		return false
	}}
	servesOutsideRoot = &serverDefect{name: "serves-outside-root", resolve: func(c *mconn, name string) (string, string) {
		if filepath.IsAbs(name) {
			return name, ""
		}
		return filepath.Join(c.m.root, filepath.FromSlash(name)), "" // "../x" climbs out
	}}
	notFoundOutside = &serverDefect{name: "not-found-outside", resolve: func(c *mconn, name string) (string, string) {
		if !filepath.IsLocal(name) {
			target := name
			if !filepath.IsAbs(name) {
				target = filepath.Join(c.m.root, name)
			}
			if _, err := os.Stat(target); err != nil {
				return "", spec.CodeNotFound // looks before it confines
			}
		}
		return c.resolveDefault(name)
	}}
	leaksPathInError = &serverDefect{name: "leaks-path-in-error", openErr: func(c *mconn, code, name string) bool {
		if code == spec.CodeForbidden {
			c.write(spec.EncodeError(c.f, code, name+" is outside "+c.m.root))
			c.refused = true
			return true
		}
		return c.openErrDefault(code, name)
	}}
	closesOnSpace = &serverDefect{name: "closes-on-space", resolve: func(c *mconn, name string) (string, string) {
		if strings.Contains(name, " ") {
			return "", codeDrop // the tutorial's cmd, filename = data.split() raises here
		}
		return c.resolveDefault(name)
	}}
	flatNames = &serverDefect{name: "flat-names", resolve: func(c *mconn, name string) (string, string) {
		if strings.Contains(name, "/") {
			return "", spec.CodeForbidden // serves the top level only
		}
		return c.resolveDefault(name)
	}}
	oneAtATime        = &serverDefect{name: "one-at-a-time", quiet: true, serial: true}
	oneRequestPerConn = &serverDefect{name: "one-request-per-conn", after: func(c *mconn) bool { return false }}
	readsLineOnce     = &serverDefect{name: "reads-line-once", read: func(c *mconn) (string, error) {
		b := make([]byte, spec.MaxControlLen+1)
		n, err := c.br.Read(b)
		return string(spec.TrimLine(b[:n])), err
	}}
	keepsPipelinedAck = &serverDefect{name: "keeps-pipelined-ack", keepsAck: true}
	stopsOnVanish     = &serverDefect{name: "stops-on-vanish", send: func(c *mconn, data []byte) error {
		err := c.write(data)
		if err != nil {
			c.m.ln.Close() // an exception that ends the whole server
		}
		return err
	}}
	blocksOnStalledWriter = &serverDefect{name: "blocks-on-stalled-writer", quiet: true, send: func(c *mconn, data []byte) error {
		c.m.writeMu.Lock() // one writer at a time: a reader that stalls holds them all
		defer c.m.writeMu.Unlock()
		return c.write(data)
	}}
	impatientWriter = &serverDefect{name: "impatient-writer", send: func(c *mconn, data []byte) error {
		if tc, ok := c.c.(*net.TCPConn); ok {
			tc.SetWriteBuffer(32 << 10) // no kernel buffer to hide in
		}
		c.c.SetWriteDeadline(time.Now().Add(250 * time.Millisecond))
		_, err := c.c.Write(data)
		return err
	}}
	// The next two keep a minimum rate over windows of rateWindow, with
	// each write's deadline at its window's end, as a server that keeps
	// one must; each then mishandles a write cut short by that end.
	dropsCutWrite = &serverDefect{name: "drops-cut-write", send: func(c *mconn, data []byte) error {
		err := windowedWrite(c, data)
		if isTimeout(err) {
			return nil // the rest of the write is dropped; the digest follows
		}
		return err
	}}
	failsCutWrite   = &serverDefect{name: "fails-cut-write", send: windowedWrite}
	silentOnRefusal = &serverDefect{name: "silent-on-refusal", quiet: true,
		refuse: func(c *mconn, code, text, msg string) bool { return true }}
	staysOpenAfterRefusal = &serverDefect{name: "stays-open-after-refusal", quiet: true, refuse: func(c *mconn, code, text, msg string) bool {
		c.write(spec.EncodeError(c.f, code, text))
		return true
	}}
	rawErrorText = &serverDefect{name: "raw-error-text", refuse: func(c *mconn, code, text, msg string) bool {
		if code == spec.CodeBadRequest {
			// Not through spec.EncodeError, which would clean it.
			return c.refuseDefault(string(c.terminate("ERR bad-request cannot parse " + msg)))
		}
		return c.refuseDefault(string(spec.EncodeError(c.f, code, text)))
	}}
	tooLongAsBadRequest = &serverDefect{name: "too-long-as-bad-request", refuse: func(c *mconn, code, text, msg string) bool {
		return c.refuseDefault(string(spec.EncodeError(c.f, spec.CodeBadRequest, "malformed request")))
	}}
	garbledRefusal = &serverDefect{name: "garbled-refusal", refuse: func(c *mconn, code, text, msg string) bool {
		return c.refuseDefault(string(c.terminate("cannot parse your request")))
	}}
	longErrorText = &serverDefect{name: "long-error-text", refuse: func(c *mconn, code, text, msg string) bool {
		// Not through spec.EncodeError, which would cut it.
		return c.refuseDefault(string(c.terminate("ERR " + code + " " + strings.Repeat("sorry ", 50))))
	}}
	looksUpBadNames = &serverDefect{name: "looks-up-bad-names", refuse: func(c *mconn, code, text, msg string) bool {
		if code == spec.CodeBadRequest && strings.HasPrefix(msg, spec.RequestVerb) {
			return c.openErrDefault(spec.CodeNotFound, msg) // no such file, it says
		}
		return c.refuseDefault(string(spec.EncodeError(c.f, code, text)))
	}}
	breaksAfterRefusal = &serverDefect{name: "breaks-after-refusal",
		refuse: func(c *mconn, code, text, msg string) bool {
			c.m.broken.Store(true) // a worker dies, and with it every later transfer
			return c.refuseDefault(string(spec.EncodeError(c.f, code, text)))
		},
		resolve: func(c *mconn, name string) (string, string) {
			if c.m.broken.Load() {
				return "", codeDrop
			}
			return c.resolveDefault(name)
		}}
	waitsForLF = &serverDefect{name: "waits-for-lf", quiet: true, read: func(c *mconn) (string, error) {
		line, err := c.br.ReadBytes('\n')
		return string(spec.TrimLine(line)), err
	}}
	rejectsCRLF = &serverDefect{name: "rejects-crlf", read: func(c *mconn) (string, error) {
		if c.f == spec.Lockstep {
			return c.readMessage()
		}
		line, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return "", errLineTooLong
		}
		return string(bytes.TrimSuffix(line, []byte("\n"))), err
	}}
	servesPartialLine = &serverDefect{name: "serves-partial-line", read: func(c *mconn) (string, error) {
		msg, err := c.readMessage()
		if err == io.ErrUnexpectedEOF {
			return msg, nil // acts on what came before the end of stream
		}
		return msg, err
	}}
	repliesToEOF = &serverDefect{name: "replies-to-eof", read: func(c *mconn) (string, error) {
		msg, err := c.readMessage()
		if err == io.EOF {
			c.write(spec.EncodeError(c.f, spec.CodeBadRequest, "empty request"))
		}
		return msg, err
	}}
	servesDirListing = &serverDefect{name: "serves-dir-listing", open: func(c *mconn, path string, fi os.FileInfo) ([]byte, string) {
		if fi.IsDir() {
			var data []byte
			entries, _ := os.ReadDir(path)
			for _, e := range entries {
				data = append(data, e.Name()+"\n"...)
			}
			return data, ""
		}
		return c.openDefault(path, fi)
	}}
	blocksOnFIFO = &serverDefect{name: "blocks-on-fifo", quiet: true, open: func(c *mconn, path string, fi os.FileInfo) ([]byte, string) {
		if fi.Mode()&fs.ModeNamedPipe != 0 {
			data, _ := os.ReadFile(path) // blocks in open until a writer comes
			return data, ""
		}
		return c.openDefault(path, fi)
	}}
	misnamesSpecialFiles = &serverDefect{name: "misnames-special-files", openErr: func(c *mconn, code, name string) bool {
		if code == spec.CodeNotRegular {
			code = spec.CodeNotFound
		}
		return c.openErrDefault(code, name)
	}}
	closesOnUnreadable = &serverDefect{name: "closes-on-unreadable", open: func(c *mconn, path string, fi os.FileInfo) ([]byte, string) {
		if fi.Mode().IsRegular() && fi.Mode().Perm()&0o444 == 0 {
			return nil, codeDrop // an unhandled PermissionError
		}
		return c.openDefault(path, fi)
	}}
	// The healthy mutant read the file before the ack; these two read it
	// again after the ack and mishandle a change of size.
	digestAfterShortBody = &serverDefect{name: "digest-after-short-body", quiet: true, reread: func(c *mconn, path string, data []byte) []byte {
		if now, err := os.ReadFile(path); err == nil && len(now) < len(data) {
			return now
		}
		return data
	}}
	sendsGrownBytes = &serverDefect{name: "sends-grown-bytes", reread: func(c *mconn, path string, data []byte) []byte {
		if now, err := os.ReadFile(path); err == nil && len(now) > len(data) {
			return now[:len(data)+1]
		}
		return data
	}}
	digestOnceOnly = forgetsDigestServedAgain()
	lfAfterDigest  = &serverDefect{name: "lf-after-digest",
		digest: func(c *mconn, data []byte) []byte { return append(c.sum(data), '\n') }}
	eofIsAck = &serverDefect{name: "eof-is-ack", ack: func(c *mconn) error {
		if _, err := c.readMessage(); err != nil && err != io.EOF {
			return err
		}
		return nil // the tutorial's recv(1024) returns b"" and it sends anyway
	}}
	// statsFirst takes the size from the file's metadata, then fails to
	// read a file it may not read, after the size: it closes.
	statsFirst = &serverDefect{name: "stats-first",
		open: func(c *mconn, path string, fi os.FileInfo) ([]byte, string) {
			if fi.Mode().IsRegular() && fi.Mode().Perm()&0o444 == 0 {
				c.failSend = true // its open fails only once the data is due
				return make([]byte, fi.Size()), ""
			}
			return c.openDefault(path, fi)
		},
		send: func(c *mconn, data []byte) error {
			if c.failSend {
				return errors.New("permission denied, after the size")
			}
			return c.write(data)
		}}
	// swapsFiles replaces every file it is asked for, once it has read it,
	// with a symbolic link to a file outside its root (its victim): a
	// tool that then writes to the name writes to the victim.
	swapsFiles = &serverDefect{name: "swaps-files", open: func(c *mconn, path string, fi os.FileInfo) ([]byte, string) {
		data, code := c.openDefault(path, fi)
		if fi.Mode().IsRegular() {
			os.Remove(path)
			os.Symlink(c.m.victim, path)
		}
		return data, code
	}}
	// diesOnRequest ends the whole server, as an uncaught exception ends a
	// tutorial-style program, when it reads its first request: it stops
	// listening, then its connections close.
	diesOnRequest = &serverDefect{name: "dies-on-request", read: func(c *mconn) (string, error) {
		msg, err := c.readMessage()
		if err == nil {
			c.m.crash()
			return "", errors.New("crashed")
		}
		return msg, err
	}}
	queuesOverLimit = &serverDefect{name: "queues-over-limit", quiet: true, queues: true}
	busyStaysOpen   = &serverDefect{name: "busy-stays-open", quiet: true, busy: func(c *mconn) {
		c.write(spec.EncodeError(c.f, spec.CodeBusy, "too many connections"))
		c.c.SetReadDeadline(time.Now().Add(mutantTimeout))
		io.Copy(io.Discard, io.LimitReader(c.c, 1<<20)) // and keeps the connection
	}}
	// It counts connections, and refuses none.
	noConnLimit = &serverDefect{name: "no-conn-limit", noLimit: true}
	// Its limits are one byte short: a 1024-octet request is refused.
	refusesLongestName = &serverDefect{name: "refuses-longest-name", read: func(c *mconn) (string, error) {
		msg, err := c.readMessage()
		if err == nil && len(msg) >= spec.MaxControlLen {
			return msg, errLineTooLong
		}
		return msg, err
	}}
	// A line of 1024 octets whose CR has come and whose LF has not yet
	// is refused as too long.
	refusesSplitCRLF = &serverDefect{name: "refuses-split-crlf", read: func(c *mconn) (string, error) {
		if c.f == spec.Lockstep {
			return c.readMessage()
		}
		c.c.SetReadDeadline(time.Now().Add(mutantTimeout))
		return c.readLine(func(partial []byte) bool { return len(partial) > spec.MaxControlLen })
	}}
	// A line of 1025 octets with no LF yet waits for one more octet.
	waitsAt1025 = &serverDefect{name: "waits-at-1025", read: func(c *mconn) (string, error) {
		if c.f == spec.Lockstep {
			return c.readMessage()
		}
		c.c.SetReadDeadline(time.Now().Add(mutantTimeout))
		return c.readLine(func(partial []byte) bool { return len(partial) > spec.MaxControlLen+1 })
	}}
	// Its check of the name's bytes starts at the second: a name that
	// begins with a NUL, CR or LF is looked up.
	checksFromSecondByte = &serverDefect{name: "checks-from-second-byte", refuse: func(c *mconn, code, text, msg string) bool {
		if name, ok := strings.CutPrefix(msg, spec.RequestVerb); ok && code == spec.CodeBadRequest &&
			len(name) > 1 && strings.ContainsRune("\x00\r\n", rune(name[0])) && spec.ValidateName(name[1:]) == nil {
			return c.openErrDefault(spec.CodeNotFound, name)
		}
		return c.refuseDefault(string(spec.EncodeError(c.f, code, text)))
	}}
	// It closes at once after a refusal, with the client's input unread.
	closesUnread = &serverDefect{name: "closes-unread", refuse: func(c *mconn, code, text, msg string) bool {
		c.write(spec.EncodeError(c.f, code, text))
		return false
	}}
	// It half-closes after a refusal, then closes at once, with the
	// client's input unread.
	halfClosesUnread = &serverDefect{name: "half-closes-unread", refuse: func(c *mconn, code, text, msg string) bool {
		if c.write(spec.EncodeError(c.f, code, text)) == nil {
			if tc, ok := c.c.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
		}
		return false
	}}
	// It closes at once after ERR busy, with the client's request unread.
	busyClosesUnread = &serverDefect{name: "busy-closes-unread", busy: func(c *mconn) {
		c.write(spec.EncodeError(c.f, spec.CodeBusy, "too many connections"))
	}}
)

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mutantTimeout bounds every read and write of a mutant, so every one of
// its goroutines ends even if a test forgets a connection.
const mutantTimeout = 10 * time.Second

// victimContent is the content of the file outside a mutant's root that
// swaps-files links to: nothing the kit does may change it.
const victimContent = "a file of the user's, outside the server's root\n"

// mutantMaxConns is a mutant's connection limit, the default of SPEC.md.
const mutantMaxConns = 256

// errLineTooLong is the mutant's over-long request line.
var errLineTooLong = errors.New("request line too long")

// mutant is a running mutant server.
type mutant struct {
	root    string
	victim  string // a file outside the root, for swaps-files
	framing spec.Framing
	d       *serverDefect
	ln      net.Listener

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]*mconn
	seq     int // connections accepted
	wg      sync.WaitGroup
	writeMu sync.Mutex    // blocks-on-stalled-writer
	broken  atomic.Bool   // breaks-after-refusal
	done    chan struct{} // closed by close
	slots   chan struct{} // queues-over-limit: one token per connection served
	leaked  int           // leaks-slots: slots freed twice, guarded by mu
}

// startMutant serves a fresh root with a mutant until the test ends. The
// root holds one file of the user's, named in the target's Files.
func startMutant(t *testing.T, f spec.Framing, d *serverDefect) conformance.ServerTarget {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	files := casetest.UserFiles(t, root)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(filepath.Dir(root), "victim.txt")
	if err := os.WriteFile(victim, []byte(victimContent), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &mutant{root: root, victim: victim, framing: f, d: d, ln: ln, conns: make(map[net.Conn]*mconn),
		done: make(chan struct{}), slots: make(chan struct{}, mutantMaxConns)}
	m.wg.Add(1)
	go m.serve()
	t.Cleanup(m.close)
	return conformance.ServerTarget{Addr: ln.Addr().String(), Root: root, Framing: f, Files: files}
}

func (m *mutant) serve() {
	defer m.wg.Done()
	for {
		if m.d.queues {
			// A slot before each accept: at the limit the server stops
			// accepting, and new connections wait in the listen queue.
			select {
			case m.slots <- struct{}{}:
			case <-m.done:
				return
			}
		}
		nc, err := m.ln.Accept()
		if err != nil {
			return
		}
		c := &mconn{m: m, d: m.d, c: nc, f: m.framing}
		c.br = bufio.NewReaderSize(countingReader{c}, spec.MaxControlLen+2)
		ok, over := m.track(c)
		if !ok {
			nc.Close()
			return
		}
		switch {
		case over && !m.d.queues:
			m.wg.Go(c.refuseBusy)
		case m.d.serial:
			c.handle()
		default:
			m.wg.Go(c.handle)
		}
	}
}

// untrack closes c and forgets it.
func (m *mutant) untrack(c net.Conn) {
	c.Close()
	m.mu.Lock()
	delete(m.conns, c)
	m.mu.Unlock()
}

// crash ends the mutant at once, as a process that dies: its listener
// first, then every connection.
func (m *mutant) crash() {
	m.ln.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	for c := range m.conns {
		c.Close()
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

// mconn is one connection of a mutant.
type mconn struct {
	m *mutant
	d *serverDefect
	c net.Conn
	f spec.Framing
	// Room for the longest line (1024 octets and CRLF): a longer one
	// fills the buffer and is refused without waiting for its LF.
	br       *bufio.Reader
	refused  bool   // the last request got a keep-open error reply
	failSend bool   // stats-first: the data of this transfer cannot be read
	held     []byte // data-before-ack: the size, sent with the data

	got    atomic.Int64 // bytes read from the client
	lastAt atomic.Int64 // when bytes last came, in Unix nanoseconds
	// Guarded by m.mu: its number in the order of accepting; whether
	// it waits for its first request, was refused over a limit, or was
	// pushed out to make room.
	seq                    int
	pending, over, evicted bool
}

// handle serves one connection.
func (c *mconn) handle() {
	defer c.m.untrack(c.c)
	defer c.goAway()
	if c.d.queues {
		defer func() { <-c.m.slots }()
	}
	for {
		msg, err := c.read()
		c.m.requested(c, err)
		if errors.Is(err, errLineTooLong) {
			if c.refuse(spec.CodeTooLong, "request too long", msg) {
				continue
			}
			return
		}
		if err != nil {
			return
		}
		if c.f == spec.Line && msg == spec.AckText && c.refused && !c.d.keepsAck {
			continue // the ack pipelined behind a refused request
		}
		c.refused = false
		if !c.exchange(msg) {
			return
		}
	}
}

// exchange answers one request; it reports whether to read on.
func (c *mconn) exchange(msg string) bool {
	name, err := spec.ParseRequest([]byte(msg))
	if err != nil {
		code, text := spec.CodeBadRequest, "malformed request"
		if errors.Is(err, spec.ErrTooLong) {
			code, text = spec.CodeTooLong, "request too long"
		}
		return c.refuse(code, text, msg)
	}
	path, code := c.resolve(name)
	var data []byte
	if code == "" {
		data, code = c.openPath(path)
	}
	switch {
	case code == codeDrop:
		return false
	case code != "":
		return c.openErr(code, name)
	}
	return c.transfer(path, data)
}

// transfer sends the size, waits for the ack, and sends the data and the
// digest; it reports whether to read on.
func (c *mconn) transfer(path string, data []byte) bool {
	if c.write(c.sizeOf(int64(len(data)))) != nil {
		return false
	}
	if c.awaitAck() != nil {
		return false
	}
	if c.d.reread != nil {
		data = c.d.reread(c, path, data)
	}
	if c.sendData(data) != nil {
		return false
	}
	d := c.sum(data)
	if c.d.digest != nil {
		d = c.d.digest(c, data)
	}
	if c.write(d) != nil {
		return false
	}
	if c.d.after != nil {
		return c.d.after(c)
	}
	return true
}

// The steps: each is the defect's, or the healthy default.

func (c *mconn) read() (string, error) {
	if c.d.read != nil {
		return c.d.read(c)
	}
	return c.readMessage()
}

func (c *mconn) refuse(code, text, msg string) bool {
	if c.d.refuse != nil {
		return c.d.refuse(c, code, text, msg)
	}
	return c.refuseDefault(string(spec.EncodeError(c.f, code, text)))
}

func (c *mconn) resolve(name string) (string, string) {
	if c.d.resolve != nil {
		return c.d.resolve(c, name)
	}
	return c.resolveDefault(name)
}

// openPath stats path first: that neither blocks on a FIFO nor reads a
// device.
func (c *mconn) openPath(path string) ([]byte, string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil && c.d.missing != nil:
		return c.d.missing(c)
	case err != nil:
		return nil, spec.CodeNotFound
	case c.d.open != nil:
		return c.d.open(c, path, fi)
	}
	return c.openDefault(path, fi)
}

func (c *mconn) openErr(code, name string) bool {
	if c.d.openErr != nil {
		return c.d.openErr(c, code, name)
	}
	return c.openErrDefault(code, name)
}

func (c *mconn) sizeOf(n int64) []byte {
	if c.d.size != nil {
		return c.d.size(c, n)
	}
	b, _ := spec.EncodeSize(c.f, n)
	return b
}

func (c *mconn) awaitAck() error {
	if c.d.ack != nil {
		return c.d.ack(c)
	}
	_, err := c.readMessage()
	return err
}

func (c *mconn) sendData(data []byte) error {
	if c.d.send != nil {
		return c.d.send(c, data)
	}
	return c.write(data)
}

// The healthy steps.

// readMessage reads one control message: one read in lockstep, else one
// line of at most MaxControlLen+2 octets. A line cut short by the end of
// stream is io.ErrUnexpectedEOF, with what came of it.
func (c *mconn) readMessage() (string, error) {
	c.armRead()
	if c.f == spec.Lockstep {
		b := make([]byte, spec.MaxControlLen+1)
		n, err := c.br.Read(b)
		return string(spec.TrimLine(b[:n])), err
	}
	return c.readLine(overLimit)
}

// overLimit reports whether a line of which partial (no LF yet) has
// arrived is already too long: past MaxControlLen octets only a CR, then
// the LF, may still come.
func overLimit(partial []byte) bool {
	n := len(partial)
	return n > spec.MaxControlLen+1 || n == spec.MaxControlLen+1 && partial[spec.MaxControlLen] != '\r'
}

// readLine reads one line and returns its content, refusing it as too
// long (errLineTooLong) as soon as tooLong says so of what has arrived
// without an LF, and when its content is over MaxControlLen octets. A
// line cut short by the end of stream is io.ErrUnexpectedEOF, with what
// came of it.
func (c *mconn) readLine(tooLong func(partial []byte) bool) (string, error) {
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line := string(spec.TrimLine(buf[:i+1]))
			c.br.Discard(i + 1)
			if len(line) > spec.MaxControlLen {
				return "", errLineTooLong
			}
			return line, nil
		}
		if tooLong(buf) || len(buf) == c.br.Size() {
			return "", errLineTooLong
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			rest, _ := c.br.Peek(c.br.Buffered())
			if err == io.EOF && len(rest) > 0 {
				return string(rest), io.ErrUnexpectedEOF
			}
			return "", err
		}
	}
}

// refuseDefault answers a request that leaves the stream out of step,
// then half-closes and drains briefly so the reply is not lost to a reset
// (REQ-ERR-5). It reports false: the connection is done.
func (c *mconn) refuseDefault(reply string) bool {
	if c.write([]byte(reply)) == nil {
		c.drainClose(time.Second)
	}
	return false
}

// drainClose half-closes the connection and discards what arrives for at
// most d.
func (c *mconn) drainClose(d time.Duration) {
	if tc, ok := c.c.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		c.c.SetReadDeadline(time.Now().Add(d))
		io.Copy(io.Discard, io.LimitReader(c.c, 1<<20))
	}
}

func (c *mconn) resolveDefault(name string) (string, string) {
	if !filepath.IsLocal(name) {
		return "", spec.CodeForbidden
	}
	return filepath.Join(c.m.root, filepath.FromSlash(name)), ""
}

func (c *mconn) openDefault(path string, fi os.FileInfo) ([]byte, string) {
	switch {
	case !fi.Mode().IsRegular():
		return nil, spec.CodeNotRegular
	case fi.Mode().Perm()&0o444 == 0:
		// What an unprivileged server finds, even when the tests run as
		// root.
		return nil, spec.CodeUnreadable
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, spec.CodeUnreadable
	}
	return data, ""
}

// openErrTexts are the texts of the keep-open error replies.
var openErrTexts = map[string]string{
	spec.CodeForbidden: "name leaves the root", spec.CodeNotFound: "no such file",
	spec.CodeNotRegular: "not a regular file", spec.CodeUnreadable: "cannot read file",
}

func (c *mconn) openErrDefault(code, name string) bool {
	c.write(spec.EncodeError(c.f, code, openErrTexts[code]))
	c.refused = true
	return true
}

// refuseBusy answers a connection over the limit with ERR busy,
// half-closes it and drains it briefly, then closes it.
func (c *mconn) refuseBusy() {
	defer c.m.untrack(c.c)
	if c.d.busy != nil {
		c.d.busy(c)
		return
	}
	if c.write(spec.EncodeError(c.f, spec.CodeBusy, "too many connections")) == nil {
		c.drainClose(500 * time.Millisecond)
	}
}

// write sends b under the mutant's deadline.
func (c *mconn) write(b []byte) error {
	c.c.SetWriteDeadline(time.Now().Add(mutantTimeout))
	_, err := c.c.Write(b)
	return err
}

// rateWindow is the window over which dropsCutWrite and failsCutWrite
// keep their minimum rate: as short as SPEC.md allows (REQ-LIM-9).
const rateWindow = time.Second

// windowedWrite writes data with the deadline at the end of the current
// rate window, and returns the error of a write cut short there: it never
// writes on into the next window, however much the window carried.
func windowedWrite(c *mconn, data []byte) error {
	c.c.SetWriteDeadline(time.Now().Add(rateWindow))
	_, err := c.c.Write(data)
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sum returns the digest of data as the wire carries it.
func (c *mconn) sum(data []byte) []byte {
	s := md5.Sum(data)
	d, _ := spec.EncodeDigest(s[:])
	return d
}

// terminate ends a control message s as the framing does.
func (c *mconn) terminate(s string) []byte {
	if c.f == spec.Line {
		return []byte(s + "\n")
	}
	return []byte(s)
}

// serverMutantTests name, for each defect, a case meant to catch it, the
// framings it applies to, and words the case's detail must contain. A
// defect may be caught by several cases; every case has a row, and every
// MUST requirement a case lists is cited by one of its rows' failures
// (TestMutantsCoverCases).
var serverMutantTests = append(serverMutantRows, crashRows()...)

// serverMutantTest is a row of the server mutant tables.
type serverMutantTest struct {
	d        *serverDefect
	caseID   string
	framings []spec.Framing // nil: both
	detail   string
}

// crashRows are a row per server case for the server that dies on its
// first request: every case names the crash (REQ-SRV-16), in one framing
// it applies to.
func crashRows() []serverMutantTest {
	var rows []serverMutantTest
	for _, c := range conformance.Cases(conformance.RoleServer) {
		if !c.Declares("REQ-SRV-16") {
			continue
		}
		f := lockstepOnly
		if !c.AppliesTo(spec.Lockstep) {
			f = lineOnly
		}
		rows = append(rows, serverMutantTest{diesOnRequest, c.ID, f, "your server stopped accepting connections during this case"})
	}
	return rows
}

// serverMutantRows are the server mutants and the cases meant for them.
var serverMutantRows = []serverMutantTest{
	{dataBeforeAck, "server/no-data-before-ack", nil, "before the kit's ack"},
	{wrongDigest, "server/sizes", nil, "the digest it sent does not match the data"},
	{truncatedBody, "server/sizes", nil, "closed the connection"},
	{corruptsData, "server/sizes", nil, "from the file from byte 0 on"},
	{sizeOffByOne, "server/sizes", nil, "the server announced"},
	{sizeWithLF, "server/sizes", lockstepOnly, "REQ-LOCK-1"},
	{silentOnMissing, "server/missing-file", nil, "a client would hang"},
	{servesEmptyForMissing, "server/missing-file", nil, "which does not exist"},
	{closesAfterRefusal, "server/missing-file", nil, "must stay usable"},
	{servesOutsideRoot, "server/path-escape", nil, "placed outside the root"},
	{leaksPathInError, "server/path-escape", nil, "discloses"},
	{notFoundOutside, "server/path-escape", nil, "whether or not the target exists"},
	{closesOnSpace, "server/names", nil, "closed the connection"},
	{flatNames, "server/names", nil, "separator"},
	{oneAtATime, "server/concurrent", nil, "one client at a time"},
	{oneRequestPerConn, "server/multi-request", nil, "request 2 of 5"},
	{silentOnMissing, "server/multi-request", nil, "for a missing file"},
	{servesEmptyForMissing, "server/multi-request", nil, "does not exist"},
	{closesAfterRefusal, "server/multi-request", nil, "right after a refused request"},
	{readsLineOnce, "server/split-request", lineOnly, "one byte per segment"},
	{keepsPipelinedAck, "server/pipelined-ack", lineOnly, "skip the ack line"},
	{stopsOnVanish, "server/abandoned-transfer", nil, "your server stopped accepting connections during this case"},
	// Its writer's lock may be held by a write to the client that left
	// mid-transfer (step 2) or to the one that stalled (step 3): which one
	// a busy machine shows first, a new client is not served.
	{blocksOnStalledWriter, "server/abandoned-transfer", nil, "a new client was not served"},
	{impatientWriter, "server/slow-reader", nil, "reading slowly"},
	{dropsCutWrite, "server/steady-reader", nil, "reading steadily"},
	{failsCutWrite, "server/steady-reader", nil, "closed the connection after sending"},
	{silentOnRefusal, "server/bad-request", nil, "sent nothing"},
	{staysOpenAfterRefusal, "server/bad-request", nil, "kept the connection open"},
	{rawErrorText, "server/bad-request", nil, "control byte 0x00"},
	{garbledRefusal, "server/bad-request", nil, "neither a size nor"},
	{longErrorText, "server/bad-request", nil, "over the 200 allowed"},
	{looksUpBadNames, "server/bad-request", nil, "want ERR bad-request"},
	{breaksAfterRefusal, "server/bad-request", nil, "a well-formed one on a new connection failed"},
	{tooLongAsBadRequest, "server/too-long", nil, "want ERR too-long"},
	{waitsForLF, "server/too-long", lineOnly, "without its LF"},
	{silentOnRefusal, "server/too-long", nil, "sent nothing"},
	{staysOpenAfterRefusal, "server/too-long", nil, "kept the connection open"},
	{garbledRefusal, "server/too-long", nil, "neither a size nor"},
	{longErrorText, "server/too-long", nil, "over the 200 allowed"},
	{breaksAfterRefusal, "server/too-long", nil, "a well-formed one on a new connection failed"},
	{servesDirListing, "server/special-files", nil, "for a directory"},
	{blocksOnFIFO, "server/special-files", nil, "a FIFO: it blocked"},
	{misnamesSpecialFiles, "server/special-files", nil, "want ERR not-regular"},
	{closesAfterRefusal, "server/special-files", nil, "the connection stays open"},
	{closesOnUnreadable, "server/unreadable", nil, "closed the connection"},
	{closesAfterRefusal, "server/unreadable", nil, "must stay usable"},
	{statsFirst, "server/unreadable", nil, "took the size from the file's metadata"},
	{swapsFiles, "server/unreadable", nil, "changed the files it serves"},
	{swapsFiles, "server/file-changes", nil, "the server had replaced it"},
	{digestAfterShortBody, "server/file-changes", nil, "a digest, the MD5"},
	{sendsGrownBytes, "server/file-changes", nil, "past the announced size"},
	{digestOnceOnly, "server/file-changes", nil, "the second time"},
	{rejectsCRLF, "server/line-endings", lineOnly, "CRLF"},
	{lfAfterDigest, "server/line-endings", lineOnly, "REQ-LINE-5"},
	{repliesWithoutLF, "server/line-endings", lineOnly, "no LF"},
	{wrongDigest, "server/named-files", nil, "is not the MD5"},
	{corruptsData, "server/named-files", nil, "is not the MD5"},
	{truncatedBody, "server/named-files", nil, "after 35000 of them the server closed the connection"},
	{sizeOffByOne, "server/named-files", nil, "32-byte digest"},
	{sizeWithLF, "server/named-files", lockstepOnly, "neither a size nor an error reply"},
	{eofIsAck, "server/end-of-stream", nil, "as an ack"},
	{repliesToEOF, "server/end-of-stream", nil, "that client left"},
	{servesPartialLine, "server/end-of-stream", lineOnly, "partial line"},
	{queuesOverLimit, "server/conn-limit", nil, "listen queue"},
	{busyStaysOpen, "server/conn-limit", nil, "stayed open"},
	{noConnLimit, "server/default-limit", nil, "more connections at once than the default limit of 256"},
	{refusesLongestName, "server/longest-name", nil, "got ERR too-long"},
	{refusesSplitCRLF, "server/longest-name", lineOnly, "its LF in a later segment"},
	{rejectsCRLF, "server/longest-name", lineOnly, "REQ-LINE-3"},
	{corruptsData, "server/longest-name", nil, "from the file from byte 0 on"},
	{waitsAt1025, "server/too-long", lineOnly, "a 1025-octet line without its LF"},
	{checksFromSecondByte, "server/bad-request", nil, "a name that begins with a NUL byte"},
	{closesUnread, "server/refusal-close", nil, "reset the connection"},
	{busyClosesUnread, "server/refusal-close", nil, "over the limit"},
	{halfClosesUnread, "server/refusal-close", nil, "ended its stream, then reset the connection"},
	{refusesNewcomer, "server/makes-room", nil, "the newcomer got ERR busy"},
	{pushesNewest, "server/makes-room", nil, "(the newest of those that had sent nothing), but not connection 3"},
	{pushesRequested, "server/makes-room", nil, "connection 2, whose request had arrived"},
	{noPerAddrLimit, "server/makes-room", nil, "it keeps no limit of 32 connections per address"},
	{noPendingBudget, "server/makes-room", nil, "it keeps no budget of 64"},
	{keepsStuck, "server/makes-room", lineOnly, "the oldest, was stuck inside a partial request"},
	{countsPrefix31, "server/makes-room", nil, "another address"},
	{leaksSlots, "server/makes-room", nil, "counting fewer than it held"},
	{keepsSilentAtLimit, "server/default-limit", nil, "sent nothing, and stayed open without a word"},
}

// remoteMutantTests are the mutants the cases that need no root catch
// when the kit has none (a server on another host): each case that runs
// without a root catches at least one, with what it can still see.
var remoteMutantTests = []serverMutantTest{
	{silentOnMissing, "server/missing-file", nil, "a client would hang"},
	{servesEmptyForMissing, "server/missing-file", nil, "which does not exist"},
	{closesAfterRefusal, "server/missing-file", nil, "must stay usable"},
	{notFoundOutside, "server/path-escape", nil, "whether or not the target exists"},
	{servesOutsideRoot, "server/path-escape", nil, "want ERR forbidden"},
	{silentOnRefusal, "server/bad-request", nil, "sent nothing"},
	{breaksAfterRefusal, "server/bad-request", nil, "a well-formed one on a new connection failed"},
	{tooLongAsBadRequest, "server/too-long", nil, "want ERR too-long"},
	{waitsForLF, "server/too-long", lineOnly, "without its LF"},
	{eofIsAck, "server/end-of-stream", nil, "as an ack"},
	{repliesToEOF, "server/end-of-stream", nil, "that client left"},
	{servesPartialLine, "server/end-of-stream", lineOnly, "on a partial line"},
	{readsLineOnce, "server/split-request", lineOnly, "one byte per segment"},
	{queuesOverLimit, "server/conn-limit", nil, "listen queue"},
	{busyStaysOpen, "server/conn-limit", nil, "stayed open"},
	{noConnLimit, "server/default-limit", nil, "more connections at once than the default limit of 256"},
	{closesUnread, "server/refusal-close", nil, "reset the connection"},
	{busyClosesUnread, "server/refusal-close", nil, "over the limit"},
	{checksFromSecondByte, "server/bad-request", nil, "a name that begins with a NUL byte"},
	{waitsAt1025, "server/too-long", lineOnly, "a 1025-octet line without its LF"},
	{wrongDigest, "server/named-files", nil, "is not the MD5"},
	{truncatedBody, "server/named-files", nil, "the server closed the connection"},
	{refusesNewcomer, "server/makes-room", nil, "the newcomer got ERR busy"},
	{pushesRequested, "server/makes-room", nil, "connection 2, whose request had arrived"},
	{noPerAddrLimit, "server/makes-room", nil, "it keeps no limit of 32 connections per address"},
}

// lockstepOnly and lineOnly are the framings of a row that applies to one.
var (
	lockstepOnly = []spec.Framing{spec.Lockstep}
	lineOnly     = []spec.Framing{spec.Line}
)

// silenceBound is the kit's bound on each wait where a mutant's defect is
// a silence: long enough for a reply from a mutant that has one to give,
// short enough that a silent mutant costs little.
const silenceBound = 2 * time.Second

// waitGuard is the kit's bound on each wait where no silence is to be
// proven: a reply that is late on a busy machine (many rows at once, under
// the race detector, beside other work) is still a reply, and only a hang
// meets this bound.
const waitGuard = 30 * time.Second

// options are the options a mutant's cases run with: the bound that proves
// a quiet defect's silence, or else one that only ends a hang.
func (d *serverDefect) options() conformance.Options {
	if d.quiet {
		return conformance.Options{Timeout: silenceBound}
	}
	return conformance.Options{Timeout: waitGuard}
}

// testServerMutants checks that each mutant of rows is caught (FAIL) by
// the case meant for its defect, with a detail that says what went wrong,
// and records what each failure cites in cov. With remote, the kit is
// given no root: it checks the mutant as a server on another host.
func testServerMutants(t *testing.T, cov *coverage, rows []serverMutantTest, remote bool) {
	type run struct {
		tc serverMutantTest
		f  spec.Framing
	}
	var runs []run
	var names []string
	body := func(t *testing.T, i int) {
		tc, f := runs[i].tc, runs[i].f
		target := startMutant(t, f, tc.d)
		root := target.Root
		if remote {
			target.Root = ""
		}
		r := runServerCase(t, tc.d, target, tc.caseID)
		cov.ran(tc.caseID)
		if r.Outcome.Verdict != conformance.Fail {
			t.Fatalf("%s against the %s mutant (%s): verdict %s, want FAIL: %s\n%s",
				tc.caseID, tc.d.name, f, r.Outcome.Verdict, r.Outcome.Detail, strings.Join(r.Log, "\n"))
		}
		cov.caught(tc.caseID, r.Outcome)
		if !strings.Contains(r.Outcome.Detail, tc.detail) {
			t.Errorf("%s detail = %q, want it to contain %q", tc.caseID, r.Outcome.Detail, tc.detail)
		}
		t.Logf("%s: FAIL: %s", tc.caseID, r.Outcome.Detail)
		casetest.AssertNoFixtures(t, root)
	}
	// The rows of quiet defects run first, in a batch of their own: their
	// neighbours then mostly wait, as they do, rather than hash and copy
	// megabytes, so that a reply the healthy part of their case waits for
	// is not starved past the bound that proves a silence.
	for _, quiet := range []bool{true, false} {
		runs, names = runs[:0], names[:0]
		for _, tc := range rows {
			framings := tc.framings
			if framings == nil {
				framings = spec.Framings
			}
			for _, f := range framings {
				if tc.d.quiet == quiet {
					runs = append(runs, run{tc, f})
					names = append(names, tc.d.name+"/"+tc.caseID+"/"+f.String())
				}
			}
		}
		runRows(t, names, body)
	}
}

// runServerCase runs the server case id against target, the mutant with
// defect d.
func runServerCase(t *testing.T, d *serverDefect, target conformance.ServerTarget, id string) conformance.Result {
	t.Helper()
	o := d.options()
	o.Run = regexp.MustCompile("^" + regexp.QuoteMeta(id) + "$")
	results := conformance.RunServer(t.Context(), target, o)
	if len(results) != 1 {
		t.Fatalf("RunServer(%s) returned %d results, want 1", id, len(results))
	}
	casetest.CheckCitations(t, results[0])
	return results[0]
}

// TestServerMutantHealthy checks that the mutant frame without a defect
// passes every case, so that each FAIL above is its defect's doing.
func TestServerMutantHealthy(t *testing.T) {
	casetest.InEachFraming(t, func(t *testing.T, f spec.Framing) {
		target := startMutant(t, f, healthy)
		for _, r := range conformance.RunServer(t.Context(), target, healthy.options()) {
			casetest.CheckCitations(t, r)
			want := casetest.WantRefVerdict(r.Case.ID, f)
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

// TestServerLimits checks what the cases about the connection limit say
// of servers that keep limits other than the default: one per address
// below the kit's share of each address, which the kit tells from the
// connection limit; and a connection limit above the default, which
// server/conn-limit finds and server/default-limit fails by design (the
// kit cannot see that it was configured).
func TestServerLimits(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tt := range []struct {
		d      *serverDefect
		id     string
		want   conformance.Verdict
		detail string
	}{
		{&serverDefect{name: "ten-per-address", perAddr: 10}, "server/conn-limit", conformance.Pass, "a limit of 10 per address"},
		{&serverDefect{name: "ten-per-address", perAddr: 10}, "server/default-limit", conformance.Pass, "no more connections at once than the default limit of 256"},
		{&serverDefect{name: "ten-per-address", perAddr: 10}, "server/refusal-close", conformance.Pass, "answered ERR busy and closed"},
		{&serverDefect{name: "limit-300", limit: 300}, "server/conn-limit", conformance.Pass, "the kit held 300 connections"},
		{&serverDefect{name: "limit-300", limit: 300}, "server/default-limit", conformance.Fail, "more connections at once than the default limit of 256"},
		{noConnLimit, "server/conn-limit", conformance.Inconclusive, "its limit is above 1100, or it has none, and no client can tell which"},
		// Limits other than the defaults fail server/makes-room by design:
		// below them, more connections are pushed out than a newcomer needs;
		// above them, none.
		{&serverDefect{name: "ten-per-address", perAddr: 10}, "server/makes-room", conformance.Fail, "its limit per address is below 32"},
		{&serverDefect{name: "budget-40", pending: 40}, "server/makes-room", conformance.Fail, "its budget of connections without a request below 64"},
		{&serverDefect{name: "budget-65", quiet: true, pending: 65}, "server/makes-room", conformance.Fail, "it keeps no budget of 64"},
		{&serverDefect{name: "forty-per-address", quiet: true, perAddr: 40}, "server/makes-room", conformance.Fail, "it keeps no limit of 32 connections per address"},
	} {
		t.Run(tt.d.name+"/"+tt.id, func(t *testing.T) {
			target := startMutant(t, spec.Lockstep, tt.d)
			r := runServerCase(t, tt.d, target, tt.id)
			t.Logf("%s: %s: %s", tt.id, r.Outcome.Verdict, r.Outcome.Detail)
			if r.Outcome.Verdict != tt.want || !strings.Contains(r.Outcome.Detail, tt.detail) {
				t.Errorf("%s against the %s mutant: %s: %s; want %s saying %q\n%s",
					tt.id, tt.d.name, r.Outcome.Verdict, r.Outcome.Detail, tt.want, tt.detail, strings.Join(r.Log, "\n"))
			}
		})
	}
}

// TestRemoteNoFiles checks the cases that run without a root when the
// user names no file either: server/named-files is a SKIP that says how to
// name one; server/end-of-stream checks what it can, says what it could
// not, and still catches a server that acts on a partial line (it looks
// up a name that cannot exist).
func TestRemoteNoFiles(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, tt := range []struct {
		d      *serverDefect
		id     string
		want   conformance.Verdict
		detail string
	}{
		{healthy, "server/named-files", conformance.Skip, "no file was named: name files the server serves with --file NAME"},
		{healthy, "server/end-of-stream", conformance.Pass, "so it did not end its stream where an ack is due"},
		{servesPartialLine, "server/end-of-stream", conformance.Fail, "a name that cannot exist; the server answered \"ERR not-found"},
	} {
		t.Run(tt.d.name+"/"+tt.id, func(t *testing.T) {
			target := startMutant(t, spec.Line, tt.d)
			target.Root, target.Files = "", nil
			r := runServerCase(t, tt.d, target, tt.id)
			t.Logf("%s: %s: %s", tt.id, r.Outcome.Verdict, r.Outcome.Detail)
			if r.Outcome.Verdict != tt.want || !strings.Contains(r.Outcome.Detail, tt.detail) {
				t.Errorf("%s against the %s mutant, no root and no file: %s: %s; want %s saying %q",
					tt.id, tt.d.name, r.Outcome.Verdict, r.Outcome.Detail, tt.want, tt.detail)
			}
		})
	}
}

// forgetsDigestServedAgain returns a mutant that sends data it has sent
// whole before, on any connection, without its digest and then closes, as
// a server does whose remembered digest is lost between the lookup and the
// send.
func forgetsDigestServedAgain() *serverDefect {
	var mu sync.Mutex
	sent := map[*mutant]map[string]bool{}
	return &serverDefect{name: "digest-once-only", digest: func(c *mconn, data []byte) []byte {
		d := c.sum(data)
		mu.Lock()
		defer mu.Unlock()
		if sent[c.m] == nil {
			sent[c.m] = map[string]bool{}
		}
		if sent[c.m][string(d)] {
			c.c.Close()
			return nil
		}
		sent[c.m][string(d)] = true
		return d
	}}
}
