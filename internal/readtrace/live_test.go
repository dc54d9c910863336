package readtrace_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/internal/testenv"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// refClientEnv makes the test binary the reference client: with it set,
// TestMain fetches os.Args[1:] = ADDR NAME OUT with ref.Client and exits
// (0 when the digest matched). A test runs it under strace as a program of
// its own, with its threads.
const refClientEnv = "READTRACE_TEST_REF_CLIENT"

func TestMain(m *testing.M) {
	if os.Getenv(refClientEnv) != "" {
		os.Exit(refClientMain(os.Args[1:]))
	}
	// The traced programs run without what wraps them on this machine
	// (internal/testenv): a shim in front of python3 would be traced too.
	undo := testenv.Prepare()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { undo(); os.Exit(code) }))
}

func refClientMain(args []string) int {
	if len(args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ADDR NAME OUT")
		return 2
	}
	c := &ref.Client{Framing: spec.Lockstep, Timeout: 30 * time.Second}
	if _, err := c.Get(context.Background(), args[0], args[1], args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "ref client:", err)
		return 1
	}
	return 0
}

var (
	probeOnce   sync.Once
	probeTracer *readtrace.Tracer
	probeErr    error
)

// tracer returns a Tracer, or skips the test saying why tracing does not
// work here.
func tracer(t *testing.T) *readtrace.Tracer {
	t.Helper()
	probeOnce.Do(func() { probeTracer, probeErr = readtrace.Probe(context.Background()) })
	if probeErr != nil {
		t.Skip(probeErr)
	}
	return probeTracer
}

// python returns the argv of the tutorial's client, or skips the test.
func python(t *testing.T, variant string, args ...string) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	client, err := filepath.Abs(filepath.Join("..", "..", "testdata", "python", "tutorial_client.py"))
	if err != nil {
		t.Fatal(err)
	}
	// -S: no site packages, which the client does not use.
	return append(append([]string{py, "-S", client}, args...), "--variant", variant)
}

// refClient returns the argv that runs the reference client (this test
// binary, see refClientEnv).
func refClient(t *testing.T, args ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{self}, args...)
}

// run runs argv under tr in dir, its trace written to dir/trace, and
// parses the trace. It returns the trace, the program's output and how it
// exited.
func run(t *testing.T, tr *readtrace.Tracer, dir string, env []string, argv []string) (*readtrace.Trace, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	file := filepath.Join(dir, "trace")
	args := tr.Command(file, argv)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// strace blocks SIGTERM with -o FILE, and a SIGKILL of strace alone
	// leaves the program running: stop the whole process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	trace, perr := readtrace.ReadFile(file)
	if perr != nil {
		t.Fatalf("%s: %v; output:\n%s", strings.Join(argv, " "), perr, out)
	}
	return trace, string(out), err
}

// delivery is how a test peer sends the data and the digest.
type delivery int

const (
	// sticky: the data and the digest in one write, then the end of the
	// stream. Under MSS bytes on loopback, one write is one segment, and a
	// read never sees part of it: every client's reads fall the same way.
	sticky delivery = iota
	// halfDigest: the data and the first 16 bytes of the digest in one
	// write; the other 16 only once the client has closed the connection.
	halfDigest
	// drained: the data, then the digest once the client has read every
	// byte of the data (its receive queue is empty).
	drained
)

// peer is a test server of the lockstep exchange: it serves one
// connection, one file, as its delivery says.
type peer struct {
	ln   *net.TCPListener
	data []byte
	how  delivery
	conn readtrace.Conn // the client's view of the connection, once served
	done chan error
}

// startPeer starts a peer that serves data; the test waits for it at its
// end.
func startPeer(t *testing.T, how delivery, data []byte) *peer {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{ln: ln, data: data, how: how, done: make(chan error, 1)}
	go func() { p.done <- p.serve() }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-p.done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("test peer: %v", err)
		}
	})
	return p
}

func (p *peer) addr() string { return p.ln.Addr().String() }

// wait waits for the peer to finish and returns the client's view of the
// connection it served.
func (p *peer) wait(t *testing.T) readtrace.Conn {
	t.Helper()
	err := <-p.done
	p.done <- nil
	if err != nil {
		t.Fatalf("test peer: %v", err)
	}
	return p.conn
}

func (p *peer) serve() error {
	p.ln.SetDeadline(time.Now().Add(time.Minute))
	c, err := p.ln.AcceptTCP()
	p.ln.Close()
	if err != nil {
		return err
	}
	defer c.Close()
	if p.conn, err = readtrace.Opposite(c); err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	r := spec.NewReader(c, spec.Lockstep)
	if _, err := r.ReadRequest(); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	size, _ := spec.EncodeSize(spec.Lockstep, int64(len(p.data)))
	if _, err := c.Write(size); err != nil {
		return err
	}
	if err := r.ReadAck(); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	sum := md5.Sum(p.data)
	digest := []byte(hex.EncodeToString(sum[:]))
	switch p.how {
	case sticky:
		if _, err := c.Write(append(append([]byte{}, p.data...), digest...)); err != nil {
			return err
		}
		c.CloseWrite()
	case halfDigest:
		if _, err := c.Write(append(append([]byte{}, p.data...), digest[:16]...)); err != nil {
			return err
		}
		io.Copy(io.Discard, c) // until the client closes
		c.Write(digest[16:])   // to a client that is gone, or reads on
		return nil
	case drained:
		if _, err := c.Write(p.data); err != nil {
			return err
		}
		if err := waitRead(c, p.conn, 30*time.Second); err != nil {
			return err
		}
		if _, err := c.Write(digest); err != nil {
			return err
		}
	}
	io.Copy(io.Discard, c)
	return nil
}

// waitRead waits until every byte written to c has been read by the
// program at the other end: none is left unacknowledged in c's send queue
// (SIOCOUTQ) nor in the receive queue of the other end's socket
// (/proc/net/tcp).
func waitRead(c *net.TCPConn, other readtrace.Conn, limit time.Duration) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	end := time.Now().Add(limit)
	for {
		var outq int
		var qerr error
		rc.Control(func(fd uintptr) { outq, qerr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		rxq, err := rxQueue(other)
		if qerr == nil && err == nil && outq == 0 && rxq == 0 {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("the client did not read the data within %v (send queue %d, its receive queue %d, %v %v)", limit, outq, rxq, qerr, err)
		}
		time.Sleep(time.Millisecond) // polling the queues for the event itself
	}
}

// rxQueue returns the bytes waiting in the receive queue of the IPv4 TCP
// socket c, from /proc/net/tcp.
func rxQueue(c readtrace.Conn) (int64, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	want := procAddr(c.Local) + " " + procAddr(c.Peer)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[1]+" "+fields[2] == want {
			_, rx, _ := strings.Cut(fields[4], ":")
			return strconv.ParseInt(rx, 16, 64)
		}
	}
	return 0, errors.Join(sc.Err(), fmt.Errorf("no socket %v in /proc/net/tcp", c))
}

// procAddr writes an IPv4 address as /proc/net/tcp does: the address in
// host (little-endian) order, then the port, in hex.
func procAddr(a netip.AddrPort) string {
	b := a.Addr().As4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], a.Port())
}

// liveSize is the file size of the live tests: data and digest fit in one
// segment on loopback, and 3000 is not a multiple of 1024.
const liveSize = 3000

func liveData() []byte { return seeded.Bytes(seeded.Seed("readtrace live"), liveSize) }

// findings returns the words of the findings of one kind.
func findingsOf(fs []readtrace.Finding, k readtrace.Kind) []string {
	var out []string
	for _, f := range fs {
		if f.Kind == k {
			out = append(out, f.Words())
		}
	}
	return out
}

// TestLiveNaiveSticky: the tutorial's naive client, under the sticky
// packet, traced: its third read after the size takes the file's last 952
// bytes and the whole digest, and those are the bytes its file ends with.
func TestLiveNaiveSticky(t *testing.T) {
	tr := tracer(t)
	data := liveData()
	p := startPeer(t, sticky, data)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	host, port, _ := net.SplitHostPort(p.addr())
	trace, output, err := run(t, tr, dir, nil, python(t, "naive", host, port, "f.bin", out))
	c := p.wait(t)
	if err == nil {
		t.Errorf("the naive client succeeded under the sticky packet; output:\n%s", output)
	}
	s := trace.Stream(c)
	fs := readtrace.Classify(s, readtrace.ExchangeLayout(spec.Lockstep, liveSize))
	want := "read 3 after the size asked for 1024 bytes and got 984: the last 952 bytes of the file and 32 bytes of the digest"
	if got := findingsOf(fs, readtrace.Sticky); len(got) != 1 || got[0] != want {
		t.Fatalf("sticky findings %q, want [%q]; all: %q; reads %+v", got, want, words(fs), s.Reads)
	}
	// The trace and the file agree: the 32 bytes the read took past the
	// data are the digest, at the end of what the client wrote.
	file, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if !bytes.Equal(file, append(append([]byte{}, data...), hex.EncodeToString(sum[:])...)) {
		t.Errorf("the client's file is %d bytes; want the %d of data and the digest", len(file), len(data))
	}
}

// TestLiveArticleHalfDigest: the article's fix, under the half packet: its
// data reads stop at the boundary, and its one digest read gets 16 bytes.
func TestLiveArticleHalfDigest(t *testing.T) {
	tr := tracer(t)
	p := startPeer(t, halfDigest, liveData())
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(p.addr())
	trace, output, err := run(t, tr, dir, nil, python(t, "article", host, port, "f.bin", filepath.Join(dir, "out")))
	c := p.wait(t)
	if err == nil {
		t.Errorf("the article's client succeeded with half a digest; output:\n%s", output)
	}
	fs := readtrace.Classify(trace.Stream(c), readtrace.ExchangeLayout(spec.Lockstep, liveSize))
	want := []string{
		"short-digest: read 4 after the size asked for 1024 bytes and got 16: the first 16 bytes of the digest",
		"part-digest: the client read 16 of the 32 bytes of the digest and no more (read 4 after the size asked for 1024 bytes and got 16)",
	}
	if got := words(fs); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\ngot  %q\nwant %q", got, want)
	}
}

// TestLiveRefClient: the reference client, a Go program with threads,
// traced. When the digest is sent once it has read the data, every one of
// its reads ends where a message ends. Under the sticky packet its reads
// may take data and digest together (it reads through a 64 KiB buffer and
// splits them itself), but it still reads the exchange exactly, and
// tracing does not change its verdict.
func TestLiveRefClient(t *testing.T) {
	tr := tracer(t)
	l := readtrace.ExchangeLayout(spec.Lockstep, liveSize)
	for _, how := range []delivery{drained, sticky} {
		t.Run(map[delivery]string{drained: "drained", sticky: "sticky"}[how], func(t *testing.T) {
			p := startPeer(t, how, liveData())
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			trace, output, err := run(t, tr, dir, []string{refClientEnv + "=1"}, refClient(t, p.addr(), "f.bin", out))
			c := p.wait(t)
			if err != nil {
				t.Fatalf("the reference client failed under strace: %v; output:\n%s", err, output)
			}
			if file, err := os.ReadFile(out); err != nil || !bytes.Equal(file, liveData()) {
				t.Errorf("the reference client's file: %d bytes, %v; want the %d bytes of data", len(file), err, liveSize)
			}
			s := trace.Stream(c)
			t.Logf("%d reads, failed calls %v", len(s.Reads), s.Failed)
			if s.Consumed() != l.End {
				t.Errorf("the reference client's reads took %d bytes, want exactly the %d of the exchange; reads %+v", s.Consumed(), l.End, s.Reads)
			}
			fs := readtrace.Classify(s, l)
			for _, f := range fs {
				if how == drained || f.Kind != readtrace.Sticky {
					t.Errorf("finding about the reference client: %s: %s", f.Kind, f.Words())
				} else {
					t.Logf("a buffered read: %s", f.Words())
				}
			}
		})
	}
}
