package ref_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// TestFirstRequestTimeout: a connection that never sends a request is
// closed, without a reply, by the first-request timeout, however long the
// idle timeout between requests is (it used to wait the idle timeout, a
// minute by default).
func TestFirstRequestTimeout(t *testing.T) {
	srv := newServer(t, t.TempDir(), spec.Line)
	srv.FirstRequestTimeout = 200 * time.Millisecond
	srv.IdleTimeout = time.Hour
	c := dialTCP(t, serveTCP(t, srv))
	if got := readAll(t, c); len(got) != 0 {
		t.Errorf("silent connection got %q, want a close without a reply", got)
	}
}

// TestBareConnectionsLogNothing: at the default (info) level, connections
// that send no request, and connections pushed out to make room, cost the
// log nothing per connection (each used to cost two records, 222 bytes);
// crowds are counted in at most one record every few seconds.
func TestBareConnectionsLogNothing(t *testing.T) {
	root := t.TempDir()
	srv, err := ref.NewServer(root)
	must(t, err)
	t.Cleanup(func() { srv.Close() })
	var logs syncBuffer
	srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv.FirstRequestTimeout, srv.IdleTimeout = 50*time.Millisecond, 50*time.Millisecond
	srv.MaxPending = 5
	addr := serveTCP(t, srv)
	var conns []net.Conn
	for i := range 50 {
		c := dialTCP(t, addr)
		if i%2 == 0 {
			c.Close() // connects and leaves
			continue
		}
		conns = append(conns, c) // stays silent: pushed out or timed out
	}
	for _, c := range conns {
		readAll(t, c)
	}
	// One request, so that the log has a record to show it works.
	c := dialTCP(t, addr)
	must(t, write(c, []byte("get missing")))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := spec.NewReader(c, spec.Lockstep).ReadReply(); err == nil {
		t.Fatal("missing file: got a size")
	}
	c.Close()
	srv.Close()
	var per []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, "conn accepted") || strings.Contains(line, `msg="conn closed"`) && strings.Contains(line, "requests=0") {
			per = append(per, line)
		}
	}
	if len(per) > 0 {
		t.Errorf("%d records for connections without a request at info level, want none; first: %s", len(per), per[0])
	}
	if !strings.Contains(logs.String(), "result=not-found") {
		t.Errorf("the request is missing from the log:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "pushed out"); n > 1 {
		t.Errorf("%d records of connections pushed out, want at most one per interval", n)
	}
}

// smallBuffers is a listener whose connections have a small send buffer,
// so that a client that reads slowly makes the server's writes wait.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// TestServerMinRate: a client that takes the data at a crawl (1 KiB every
// 10ms, about 100 KB/s, under a floor of 1 MB/s over 200ms windows) is cut
// off: the transfer ends short, and the server logs why. (The server used
// to keep such a client for as long as each write completed within its
// write timeout: a 64 MiB file at 10 KB/s held a slot for two hours.)
//
// Both send paths keep the floor: the hashed copy, and sendfile from a
// remembered digest (the file fetched once whole, with the digest cache's
// clock set far enough ahead that its version has settled).
func TestServerMinRate(t *testing.T) {
	for _, remembered := range []bool{false, true} {
		t.Run(fmt.Sprintf("remembered=%v", remembered), func(t *testing.T) {
			testServerMinRate(t, remembered)
		})
	}
}

func testServerMinRate(t *testing.T, remembered bool) {
	root := t.TempDir()
	const size = 16 << 20
	writeFiles(t, root, map[string][]byte{"big.bin": content(t, size)})
	srv := newServer(t, root, spec.Lockstep)
	var logs syncBuffer
	srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if remembered {
		// The priming transfer runs before the floor is set: a reader at
		// full speed on a busy machine may itself fall below 1 MB/s for a
		// window, and this transfer is not the one under test.
		ref.SetDigestClock(srv, func() time.Time { return time.Now().Add(time.Hour) })
		if _, _, err := fetchFresh(srv, "big.bin", 30*time.Second); err != nil {
			t.Fatalf("fetching once to remember the digest: %v", err)
		}
		if n := ref.DigestCacheLen(srv); n != 1 {
			t.Fatalf("the server remembers %d digests after a whole transfer, want 1", n)
		}
	}
	srv.MinRate, srv.RateWindow = 1<<20, 200*time.Millisecond
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, smallBuffers{inner}) }()
	stop := sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)

	c := dialTCP(t, inner.Addr().String())
	c.(*net.TCPConn).SetReadBuffer(8 << 10)
	r := spec.NewReader(c, spec.Lockstep)
	must(t, write(c, []byte("get big.bin")))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := r.ReadReply()
	if err != nil || got != size {
		t.Fatalf("reply = %d, %v; want %d", got, err, size)
	}
	must(t, write(c, spec.EncodeAck(spec.Lockstep)))
	body := r.Body(size)
	buf := make([]byte, 1<<10)
	var n int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var rerr error
	for range tick.C {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		m, err := body.Read(buf)
		n += int64(m)
		if err != nil {
			rerr = err
			break
		}
		if n > 2<<20 {
			// A server that keeps the floor cuts the crawl within a
			// window or two: a few hundred KiB.
			t.Fatalf("read %d bytes at a crawl and the server goes on: want it cut short", n)
		}
	}
	if n >= size || isTimeout(rerr) {
		t.Fatalf("read %d of %d bytes, ending with %v: want the server to cut the crawl short", n, size, rerr)
	}
	stop()
	if !strings.Contains(logs.String(), "too slow") {
		t.Errorf("the log does not say the client was too slow:\n%s", logs.String())
	}
	if want := fmt.Sprintf("remembered=%v", remembered); !strings.Contains(logs.String(), want) {
		t.Errorf("the log of the cut transfer does not say %s:\n%s", want, logs.String())
	}
	t.Logf("cut off after %d of %d bytes: %v", n, size, rerr)
}

// TestTooLongAtTheEnd: in the line framing, 1,025 bytes ending with a CR
// could still be a 1,024-byte request and its CRLF, so the server waits for
// the LF. When the stream ends there instead, or the wait times out, the
// request was too long: it is answered "ERR too-long" before the close
// (it used to be closed without a reply).
func TestTooLongAtTheEnd(t *testing.T) {
	req := "get " + strings.Repeat("a", spec.MaxControlLen-4) + "\r"
	for _, end := range []string{"end of stream", "timeout"} {
		t.Run(end, func(t *testing.T) {
			srv := newServer(t, t.TempDir(), spec.Line)
			srv.FirstRequestTimeout, srv.IdleTimeout = 300*time.Millisecond, 300*time.Millisecond
			c := dialTCP(t, serveTCP(t, srv))
			must(t, write(c, []byte(req)))
			if end == "end of stream" {
				must(t, c.(*net.TCPConn).CloseWrite())
			}
			got := readAll(t, c)
			var er *spec.ErrorReply
			_, err := spec.ParseReply(bytes.TrimSuffix(got, []byte("\n")))
			if !errors.As(err, &er) || er.Code != spec.CodeTooLong {
				t.Errorf("after %d bytes and %s, got %q; want ERR too-long", len(req), end, got)
			}
		})
	}
}

var _ = io.EOF

// TestSymlinkChains: an in-root chain of symbolic links is followed as the
// kernel follows one, up to its limit of 40 (on Linux; elsewhere os.Root's
// limit of 8 applies), so a chain of 9 that resolves is served (it used to
// be answered not-found); a chain of 41 is not-found, and a chain whose
// last link leaves the root is forbidden.
func TestSymlinkChains(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"file.bin": []byte("hello")})
	chain := func(name string, n int, target string) {
		for i := n; i >= 1; i-- {
			link := fmt.Sprintf("%s%d", name, i)
			to := fmt.Sprintf("%s%d", name, i+1)
			if i == n {
				to = target
			}
			must(t, os.Symlink(to, filepath.Join(root, link)))
		}
	}
	chain("nine", 9, "file.bin")
	chain("forty", 40, "file.bin")
	chain("many", 41, "file.bin")
	chain("out", 9, "../outside")
	srv := newServer(t, root, spec.Lockstep)
	for _, tt := range []struct{ name, want string }{
		{"nine1", "size"},
		{"forty1", "size"},
		{"many1", spec.CodeNotFound},
		{"out1", spec.CodeForbidden},
	} {
		if runtime.GOOS != "linux" && tt.want == "size" {
			tt.want = spec.CodeNotFound
		}
		_, _, err := fetchFresh(srv, tt.name, 5*time.Second)
		got := "size"
		var er *spec.ErrorReply
		switch {
		case errors.As(err, &er):
			got = er.Code
		case err != nil:
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("get %s = %s, want %s", tt.name, got, tt.want)
		}
	}
}
