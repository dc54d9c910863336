//go:build linux

package ref_test

// Load tests: many concurrent clients, the connection limit, and slow-loris
// peers against one reference server on loopback. The default run keeps to
// a few seconds under -race; -stickykit.long (or STICKYKIT_LONG=1) runs
// more clients and more rounds.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

var longFlag = flag.Bool("stickykit.long", false, "run the long variants of the load tests (also STICKYKIT_LONG=1)")

// longRun reports whether the long variants were asked for.
func longRun() bool {
	return *longFlag || os.Getenv("STICKYKIT_LONG") == "1"
}

// raiseNoFile makes sure the process may hold need descriptors, raising
// the soft RLIMIT_NOFILE up to the hard limit; it skips the test when the
// hard limit is too low.
func raiseNoFile(t *testing.T, need uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if rl.Cur >= need {
		return
	}
	if rl.Max < need {
		t.Skipf("RLIMIT_NOFILE hard limit %d is below the %d descriptors this test needs", rl.Max, need)
	}
	old := rl.Cur
	rl.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skipf("cannot raise RLIMIT_NOFILE from %d to %d: %v", old, need, err)
	}
	t.Cleanup(func() {
		rl.Cur = old
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	})
}

// openFDs returns the descriptors the process holds, as "fd -> target".
// The descriptor os.ReadDir used to list them is closed by the time its
// link is read, and left out.
func openFDs(t *testing.T) map[string]string {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	fds := make(map[string]string, len(es))
	for _, e := range es {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			fds[e.Name()] = target
		}
	}
	return fds
}

// checkNoLeaks fails the test when goroutines outlive it or the process
// holds descriptors it did not hold at baseline. Call it after everything
// the test started has been stopped.
func checkNoLeaks(t *testing.T, baseline map[string]string) {
	t.Helper()
	goleak.VerifyNone(t)
	if baseline == nil {
		t.Log("no /proc/self/fd: descriptor check skipped")
		return
	}
	now := openFDs(t)
	var extra []string
	for fd, target := range now {
		if baseline[fd] != target {
			extra = append(extra, fd+" -> "+target)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("descriptors open after the test: %d at baseline, %d now; new: %v", len(baseline), len(now), extra)
	}
}

// fdBaseline records the descriptors open before a test, after making sure
// the network poller (which holds descriptors for the process's life) has
// started.
func fdBaseline(t *testing.T) map[string]string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return openFDs(t)
}

// countingListener counts the connections a server serves at once. A
// connection the server first reads from is being served (it waits for a
// request); one it first writes to was refused ("ERR busy" is written before
// any read). A served connection stops counting when the server answers it
// "ERR busy" (it was pushed out to make room) or closes it. The server
// frees a pushed-out connection's slot a moment before it writes that
// reply, so the count may run ahead of the server's own: the limit is
// checked against the server's own peak (ref.PeakConns).
type countingListener struct {
	net.Listener

	mu       sync.Mutex
	active   int // served connections not yet closed
	max      int // highest active
	served   int // connections ever served
	refused  int // connections whose first operation was a write
	busy     int // connections answered "ERR busy", refused or pushed out
	closed   int // served connections closed
	watchers []activeWatch
}

type activeWatch struct {
	n  int
	ch chan struct{}
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, l: l}, nil
}

// whenActive returns a channel closed once n connections are served at
// once.
func (l *countingListener) whenActive(n int) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch := make(chan struct{})
	if l.active >= n {
		close(ch)
		return ch
	}
	l.watchers = append(l.watchers, activeWatch{n, ch})
	return ch
}

type listenerCounts struct{ active, max, served, refused, busy, closed int }

func (l *countingListener) counts() listenerCounts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return listenerCounts{l.active, l.max, l.served, l.refused, l.busy, l.closed}
}

const (
	connNew = iota
	connServed
	connRefused
	connClosed
)

type countedConn struct {
	net.Conn
	l      *countingListener
	known  atomic.Bool // state has left connNew
	state  int         // guarded by l.mu
	closed bool        // guarded by l.mu
	busy   bool        // answered "ERR busy"; guarded by l.mu
}

func (c *countedConn) mark(served bool) {
	if c.known.Load() {
		return
	}
	l := c.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.state != connNew {
		return
	}
	c.known.Store(true)
	if c.closed {
		c.state = connClosed
		return
	}
	if !served {
		c.state = connRefused
		l.refused++
		return
	}
	c.state = connServed
	l.served++
	l.active++
	l.max = max(l.max, l.active)
	l.watchers = slices.DeleteFunc(l.watchers, func(w activeWatch) bool {
		if l.active >= w.n {
			close(w.ch)
			return true
		}
		return false
	})
}

func (c *countedConn) Read(p []byte) (int, error) {
	c.mark(true)
	return c.Conn.Read(p)
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.mark(false)
	if bytes.HasPrefix(p, []byte("ERR busy")) {
		l := c.l
		l.mu.Lock()
		if !c.busy {
			c.busy = true
			l.busy++
			if c.state == connServed && !c.closed {
				l.active--
			}
		}
		l.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// CloseWrite lets the server half-close, as it does on the bare TCP
// connection.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("CloseWrite not supported")
}

func (c *countedConn) Close() error {
	l := c.l
	l.mu.Lock()
	if !c.closed {
		c.closed = true
		if c.state == connServed {
			if !c.busy {
				l.active--
			}
			l.closed++
		}
	}
	l.mu.Unlock()
	return c.Conn.Close()
}

// loadServer is a reference server on a counting loopback listener.
type loadServer struct {
	srv  *ref.Server
	ln   *countingListener
	addr string
	stop func() // stops serving, waits, and releases the root; idempotent
}

// startLoadServer serves root on 127.0.0.1 with the server configured by
// setup. It logs nothing: with a thousand clients the log would drown the
// test's own report.
func startLoadServer(t *testing.T, root string, setup func(*ref.Server)) *loadServer {
	t.Helper()
	srv, err := ref.NewServer(root)
	if err != nil {
		t.Fatal(err)
	}
	setup(srv)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	ln := &countingListener{Listener: inner}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve = %v, want nil", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(stop)
	return &loadServer{srv: srv, ln: ln, addr: inner.Addr().String(), stop: stop}
}

// loadFile is a file every load client may fetch.
type loadFile struct {
	name string
	data []byte
}

// loadFiles writes files whose sizes straddle the boundaries a reader may
// trip on (0, 1, the tutorial's 1024, the server's 64 KiB buffer).
func loadFiles(t *testing.T, dir string) []loadFile {
	t.Helper()
	var fs []loadFile
	files := map[string][]byte{}
	for _, n := range []int{0, 1, 31, 1023, 1024, 1025, 4096 + 32, 65536 + 7, 100000} {
		f := loadFile{name: fmt.Sprintf("f%06d.bin", n), data: content(t, n)}
		fs = append(fs, f)
		files[f.name] = f.data
	}
	writeFiles(t, dir, files)
	return fs
}

// checkFile compares the downloaded file with what the server holds.
func checkFile(dst string, res *ref.Result, want loadFile) error {
	got, err := os.ReadFile(dst)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want.data) {
		return fmt.Errorf("%s: %d bytes differ from the %d served", dst, len(got), len(want.data))
	}
	if res.Size != int64(len(want.data)) || res.Digest != md5hex(want.data) {
		return fmt.Errorf("result = %d %s, want %d %s", res.Size, res.Digest, len(want.data), md5hex(want.data))
	}
	return nil
}

// isBusy reports whether err is the server's "ERR busy" reply.
func isBusy(err error) bool {
	var er *spec.ErrorReply
	return errors.As(err, &er) && er.Code == spec.CodeBusy
}

// summarise returns how many errors are not nil and the first few of them.
func summarise(errs []error) (int, string) {
	var n int
	var b strings.Builder
	for i, err := range errs {
		if err == nil {
			continue
		}
		n++
		if n <= 5 {
			fmt.Fprintf(&b, "\n  client %d: %v", i, err)
		}
	}
	return n, b.String()
}

// TestLoadConcurrentClients starts 1,000 clients at once against one server
// whose limit admits them all: every download must arrive byte-exact.
func TestLoadConcurrentClients(t *testing.T) {
	clients, rounds := 1000, 1
	if longRun() {
		// The race detector allows 8,128 live goroutines: 2,000 clients
		// and their 2,000 server goroutines stay well inside it.
		clients, rounds = 2000, 3
	}
	raiseNoFile(t, uint64(4*clients+256))
	baseline := fdBaseline(t)

	root, out := t.TempDir(), t.TempDir()
	files := loadFiles(t, root)
	ls := startLoadServer(t, root, func(s *ref.Server) {
		// All at once from one address: room for all, no one pushed out.
		s.MaxConns, s.MaxPending, s.MaxConnsPerAddr = clients+24, clients+24, -1
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl := &ref.Client{Timeout: 30 * time.Second}
	errs := make([]error, clients*rounds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			<-start
			for r := range rounds {
				k := i*rounds + r
				f := files[k%len(files)]
				dst := filepath.Join(out, fmt.Sprintf("c%05d.%d", i, r))
				res, err := cl.Get(ctx, ls.addr, f.name, dst)
				if err == nil {
					err = checkFile(dst, res, f)
				}
				errs[k] = err
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	ls.stop()

	c := ls.ln.counts()
	failed, first := summarise(errs)
	t.Logf("%d clients x %d rounds: %d downloads ok, %d failed in %v; served %d connections, at most %d at once (limit %d)",
		clients, rounds, len(errs)-failed, failed, took.Round(time.Millisecond), c.served, c.max, clients+24)
	if failed > 0 {
		t.Errorf("%d of %d downloads failed, want 0:%s", failed, len(errs), first)
	}
	if c.served != len(errs) || c.refused != 0 {
		t.Errorf("server served %d and refused %d connections, want %d and 0", c.served, c.refused, len(errs))
	}
	checkNoLeaks(t, baseline)
}

// TestLoadConnectionLimit: with MaxConns 50, 200 clients connect at once and
// each one that is served holds its connection until every client has an
// answer. Exactly 50 are served; the other 150 get "ERR busy" at once (none
// waits in the listen queue); no more than 50 are ever served together. Then
// the holders leave and the refused clients retry until served.
func TestLoadConnectionLimit(t *testing.T) {
	const limit = 50
	clients := 200
	if longRun() {
		clients = 1000
	}
	raiseNoFile(t, uint64(4*clients+256))
	baseline := fdBaseline(t)

	root, out := t.TempDir(), t.TempDir()
	files := loadFiles(t, root)
	ls := startLoadServer(t, root, func(s *ref.Server) {
		s.MaxConns = limit
		s.MaxConnsPerAddr = -1      // every client comes from 127.0.0.1
		s.IdleTimeout = time.Minute // the holders must keep their slots
	})

	cl := &ref.Client{Timeout: 30 * time.Second}
	dial := &net.Dialer{Timeout: 30 * time.Second}
	errs := make([]error, clients)
	busy := make([]bool, clients)
	answered := make(chan struct{}, clients)
	release := make(chan struct{})
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			<-start
			f := files[i%len(files)]
			dst := filepath.Join(out, fmt.Sprintf("c%05d", i))
			nc, err := dial.Dial("tcp", ls.addr)
			if err != nil {
				errs[i] = err
				answered <- struct{}{}
				return
			}
			s := cl.NewSession(nc)
			defer s.Close()
			res, err := s.Get(f.name, dst)
			switch {
			case isBusy(err):
				busy[i] = true
			case err == nil:
				err = checkFile(dst, res, f)
			}
			errs[i] = err
			answered <- struct{}{}
			if err == nil {
				<-release // hold the slot
			}
		})
	}
	began := time.Now()
	close(start)
	for range clients {
		<-answered
	}
	phase1 := time.Since(began)
	atFull := ls.ln.counts()
	close(release)
	wg.Wait()

	var nOK, nBusy int
	var retry []int
	for i := range clients {
		switch {
		case busy[i]:
			nBusy++
			retry = append(retry, i)
			errs[i] = nil
		case errs[i] == nil:
			nOK++
		}
	}
	failed, first := summarise(errs)
	t.Logf("phase 1: %d clients, limit %d: %d served, %d busy, %d failed in %v; at most %d served at once",
		clients, limit, nOK, nBusy, failed, phase1.Round(time.Millisecond), atFull.max)
	if failed > 0 {
		t.Errorf("%d clients neither succeeded nor got ERR busy:%s", failed, first)
	}
	if nOK != limit || nBusy != clients-limit {
		t.Errorf("got %d served and %d busy, want %d and %d", nOK, nBusy, limit, clients-limit)
	}
	if atFull.active != limit {
		t.Errorf("with every client answered, %d connections served at once, want %d (the holders)", atFull.active, limit)
	}

	// Phase 2: the holders have left; every refused client retries until
	// it is served. Each attempt is answered at once, busy or served.
	const maxAttempts = 200
	var busyAgain atomic.Int64
	errs2 := make([]error, len(retry))
	began = time.Now()
	for k, i := range retry {
		wg.Go(func() {
			f := files[i%len(files)]
			dst := filepath.Join(out, fmt.Sprintf("c%05d", i))
			for range maxAttempts {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				res, err := cl.Get(ctx, ls.addr, f.name, dst)
				cancel()
				if isBusy(err) {
					busyAgain.Add(1)
					continue
				}
				if err == nil {
					err = checkFile(dst, res, f)
				}
				errs2[k] = err
				return
			}
			errs2[k] = fmt.Errorf("still busy after %d attempts", maxAttempts)
		})
	}
	wg.Wait()
	phase2 := time.Since(began)
	ls.stop()

	c := ls.ln.counts()
	failed, first = summarise(errs2)
	t.Logf("phase 2: %d refused clients retried: %d served, %d failed, %d more busy replies, in %v; over the run %d read, %d answered ERR busy, at most %d admitted at once",
		len(retry), len(retry)-failed, failed, busyAgain.Load(), phase2.Round(time.Millisecond), c.served, c.busy, ref.PeakConns(ls.srv))
	if failed > 0 {
		t.Errorf("%d retrying clients failed:%s", failed, first)
	}
	if peak := ref.PeakConns(ls.srv); peak > limit {
		t.Errorf("%d connections served at once, limit %d", peak, limit)
	}
	if want := int(int64(clients-limit) + busyAgain.Load()); c.busy != want {
		t.Errorf("server answered %d connections ERR busy, clients saw %d busy replies", c.busy, want)
	}
	checkNoLeaks(t, baseline)
}

// loris is one slow-loris connection: it connects, then sends nothing, or
// a byte at a time and never a whole request.
type loris struct {
	c       net.Conn
	trickle bool
	opened  time.Time

	// Set by the reader once the server has ended the connection.
	reply  []byte        // what the server sent
	err    error         // how reading ended: nil for EOF
	lived  time.Duration // from connect to the server's close
	closed chan struct{} // closed when the reader is done
}

// dialLoris connects one slow-loris connection to addr and starts a
// goroutine that reads it until the server ends it or guard passes.
func dialLoris(t *testing.T, addr string, trickle bool, guard time.Duration, wg *sync.WaitGroup) *loris {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("slow-loris: %v", err)
	}
	l := &loris{c: c, trickle: trickle, opened: time.Now(), closed: make(chan struct{})}
	t.Cleanup(func() { c.Close() })
	wg.Go(func() {
		defer close(l.closed)
		c.SetReadDeadline(time.Now().Add(guard))
		var buf bytes.Buffer
		_, err := buf.ReadFrom(io.LimitReader(c, 4096))
		l.lived = time.Since(l.opened)
		l.reply, l.err = buf.Bytes(), err
	})
	return l
}

// trickle feeds every trickling loris one byte per tick until each has
// been ended by the server or stop is closed.
func trickle(ls []*loris, tick time.Duration, stop <-chan struct{}) {
	// A request that never ends: no LF in the line framing (in lockstep
	// the first byte would be read as a whole, bad, request).
	const drip = "get slowly-never-finishing"
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for k := 0; ; k++ {
		live := 0
		for _, l := range ls {
			if !l.trickle {
				continue
			}
			select {
			case <-l.closed:
				continue
			default:
			}
			live++
			l.c.SetWriteDeadline(time.Now().Add(tick))
			l.c.Write([]byte{drip[k%len(drip)]}) // fails once the server has closed
		}
		if live == 0 {
			return
		}
		select {
		case <-stop:
			return
		case <-tk.C:
		}
	}
}

// closedByServer reports whether the server ended l (end of stream or a
// reset), rather than the test's guard deadline.
func (l *loris) closedByServer() bool {
	var ne net.Error
	return !(errors.As(l.err, &ne) && ne.Timeout())
}

// TestLoadSlowloris: 300 connections that never complete a request (silent,
// or a byte every 50ms with no LF) sit beside well-behaved clients on a
// server with a 500ms idle timeout and room for all. Every well-behaved
// download succeeds within its client's 5s deadlines, and the server closes
// every slow-loris connection itself (REQ-LIM-5, REQ-SEC-9, REQ-SRV-14).
func TestLoadSlowloris(t *testing.T) {
	lorises, good, rounds := 300, 20, 10
	if longRun() {
		lorises, good, rounds = 1500, 50, 40
	}
	const idle = 500 * time.Millisecond
	raiseNoFile(t, uint64(2*lorises+4*good+256))
	baseline := fdBaseline(t)

	root, out := t.TempDir(), t.TempDir()
	files := loadFiles(t, root)
	ls := startLoadServer(t, root, func(s *ref.Server) {
		s.Framing = spec.Line
		s.FirstRequestTimeout, s.IdleTimeout = idle, idle
		// Room for every connection: this test is about the timeouts
		// (TestLoadCrowd is about pushing the idle out).
		s.MaxConns = lorises + good + 24
		s.MaxPending, s.MaxConnsPerAddr = s.MaxConns, -1
	})

	stop := make(chan struct{})
	var lwg sync.WaitGroup
	began := time.Now()
	var ls0 []*loris
	for i := range lorises {
		ls0 = append(ls0, dialLoris(t, ls.addr, i%3 == 2, 30*time.Second, &lwg))
	}
	lwg.Go(func() { trickle(ls0, 50*time.Millisecond, stop) })
	t.Logf("%d slow-loris connections open after %v", lorises, time.Since(began).Round(time.Millisecond))

	cl := &ref.Client{Framing: spec.Line, Timeout: 5 * time.Second}
	errs := make([]error, good*rounds)
	lat := make([]time.Duration, good*rounds)
	var wg sync.WaitGroup
	for i := range good {
		wg.Go(func() {
			for r := range rounds {
				k := i*rounds + r
				f := files[k%len(files)]
				dst := filepath.Join(out, fmt.Sprintf("g%03d.%03d", i, r))
				t0 := time.Now()
				res, err := cl.Get(context.Background(), ls.addr, f.name, dst)
				lat[k] = time.Since(t0)
				if err == nil {
					err = checkFile(dst, res, f)
				}
				errs[k] = err
			}
		})
	}
	wg.Wait()
	goodDone := time.Since(began)
	for _, l := range ls0 {
		<-l.closed
	}
	close(stop)
	lwg.Wait()
	for _, l := range ls0 {
		l.c.Close()
	}
	ls.stop()

	failed, first := summarise(errs)
	var byServer, silent, trickled int
	var minLife, maxLife time.Duration
	for i, l := range ls0 {
		if !l.closedByServer() {
			t.Errorf("slow-loris %d (trickle %v) still open after %v: the server did not enforce its idle timeout", i, l.trickle, l.lived)
			continue
		}
		if len(l.reply) != 0 {
			t.Errorf("slow-loris %d got %q, want the connection closed without a reply", i, l.reply)
		}
		byServer++
		if l.trickle {
			trickled++
		} else {
			silent++
		}
		if minLife == 0 || l.lived < minLife {
			minLife = l.lived
		}
		maxLife = max(maxLife, l.lived)
	}
	c := ls.ln.counts()
	t.Logf("%d well-behaved downloads: %d ok, %d failed, slowest %v, all done after %v", len(errs), len(errs)-failed, failed, slices.Max(lat).Round(time.Millisecond), goodDone.Round(time.Millisecond))
	t.Logf("%d slow-loris (%d silent, %d trickling) closed by the server after %v to %v (idle timeout %v); at most %d connections served at once",
		byServer, silent, trickled, minLife.Round(time.Millisecond), maxLife.Round(time.Millisecond), idle, c.max)
	if failed > 0 {
		t.Errorf("%d well-behaved downloads failed beside slow-loris peers:%s", failed, first)
	}
	checkNoLeaks(t, baseline)
}

// TestLoadIdleMakeRoom: 300 silent connections against MaxConns 100.
// The first 100 take every slot; from then on each newcomer pushes out the
// oldest silent one, which is answered "ERR busy" and closed, and a
// well-behaved client that comes while the slots are held is served at
// once, not refused (the server used to answer it ERR busy for as long as
// the idle connections lasted). Exactly 201 of the silent connections go
// (300 + the client - 100 slots); the others stay, each in its slot.
func TestLoadIdleMakeRoom(t *testing.T) {
	lorises, limit := 300, 100
	if longRun() {
		lorises, limit = 1500, 500
	}
	raiseNoFile(t, uint64(2*lorises+256))
	baseline := fdBaseline(t)

	root, out := t.TempDir(), t.TempDir()
	files := loadFiles(t, root)
	ls := startLoadServer(t, root, func(s *ref.Server) {
		s.MaxConns, s.MaxPending, s.MaxConnsPerAddr = limit, limit, -1
		s.FirstRequestTimeout = 10 * time.Minute // nobody leaves by a timeout here
	})

	var lwg sync.WaitGroup
	ended := make(chan *loris, lorises)
	began := time.Now()
	var ls0 []*loris
	for range lorises {
		l := dialLoris(t, ls.addr, false, time.Minute, &lwg)
		ls0 = append(ls0, l)
		lwg.Go(func() {
			<-l.closed
			ended <- l
		})
	}
	t.Logf("%d silent connections open after %v", lorises, time.Since(began).Round(time.Millisecond))

	// The client: served, byte-exact, while every slot is held.
	f := files[len(files)-1]
	dst := filepath.Join(out, "probe")
	cl := &ref.Client{Timeout: 30 * time.Second}
	t0 := time.Now()
	res, err := cl.Get(context.Background(), ls.addr, f.name, dst)
	took := time.Since(t0)
	if err == nil {
		err = checkFile(dst, res, f)
	}
	if err != nil {
		t.Errorf("client among %d silent connections, limit %d: %v, want served", lorises, limit, err)
	}

	// Exactly lorises+1-limit silent connections are pushed out, each
	// answered ERR busy and closed; the rest keep their slots.
	gone := lorises + 1 - limit
	for i := range gone {
		select {
		case l := <-ended:
			if !l.closedByServer() || !bytes.HasPrefix(l.reply, []byte("ERR busy ")) {
				t.Errorf("a silent connection ended with %q, %v; want ERR busy and a close", l.reply, l.err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("only %d of %d silent connections pushed out after a minute", i, gone)
		}
	}
	held := 0
	for _, l := range ls0 {
		select {
		case <-l.closed:
		default:
			held++
		}
	}
	peak := ref.PeakConns(ls.srv)
	for _, l := range ls0 {
		l.c.Close()
	}
	lwg.Wait()
	ls.stop()
	t.Logf("%d silent connections, limit %d: client served in %v; %d pushed out with ERR busy, %d held their slot; at most %d admitted at once",
		lorises, limit, took.Round(time.Millisecond), gone, held, peak)
	if held != limit-1 {
		t.Errorf("%d silent connections held a slot, want %d (the limit, less the client's)", held, limit-1)
	}
	if peak > limit {
		t.Errorf("%d connections admitted at once, limit %d", peak, limit)
	}
	checkNoLeaks(t, baseline)
}
