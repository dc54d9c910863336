package ref_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/internal/testenv"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

func TestMain(m *testing.M) {
	if os.Getenv(getHelperEnv) != "" {
		os.Exit(runGetHelper())
	}
	if os.Getenv(serveHelperEnv) != "" {
		os.Exit(runServeHelper())
	}
	if os.Getenv(getsHelperEnv) != "" {
		os.Exit(runGetsHelper())
	}
	// The programs the tests start (helpers, Python peers) run without
	// what wraps them on this machine (internal/testenv).
	undo := testenv.Prepare()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { undo(); os.Exit(code) }))
}

// seed makes every generated file reproducible.
const seed = 20240611

// content returns n seeded random bytes; the seed also depends on n so
// that files of different sizes differ.
func content(t *testing.T, n int) []byte {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("file content: rand.NewPCG(%d, %d)", seed, n)
		}
	})
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// writeFiles creates files (name -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newServer returns a server for root that logs to the test's output.
func newServer(t *testing.T, root string, f spec.Framing) *ref.Server {
	t.Helper()
	srv, err := ref.NewServer(root)
	if err != nil {
		t.Fatal(err)
	}
	srv.Framing = f
	srv.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() { srv.Close() })
	return srv
}

// serveTCP runs srv on a loopback listener until the test ends and returns
// its address. The test fails if Serve returns an error.
func serveTCP(t *testing.T, srv *ref.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, srv, ln)
	return ln.Addr().String()
}

// serveOn runs srv on ln until the test ends. The test fails if Serve
// returns an error.
func serveOn(t *testing.T, srv *ref.Server, ln net.Listener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	})
}

// servePipe serves one end of a net.Pipe with srv and returns the other.
func servePipe(t *testing.T, srv *ref.Server) net.Conn {
	t.Helper()
	c1, c2 := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), c2) }()
	t.Cleanup(func() {
		c1.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeConn = %v, want nil", err)
		}
	})
	return c1
}

// transport connects a client to a server.
type transport struct {
	name string
	dial func(t *testing.T, srv *ref.Server) net.Conn
}

var transports = []transport{
	{"pipe", servePipe},
	{"tcp", func(t *testing.T, srv *ref.Server) net.Conn {
		t.Helper()
		return dialTCP(t, serveTCP(t, srv))
	}},
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// readAll reads from c until EOF or an error, within a generous bound.
func readAll(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf bytes.Buffer
	_, err := buf.ReadFrom(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after 10s; read so far %q", buf.Bytes())
	}
	return buf.Bytes()
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// must fails the test at once when err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// write writes b to c within 5 s.
func write(c net.Conn, b []byte) error {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Write(b)
	return err
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

const secret = "SECRET: outside the root"

// fetchFresh serves one new net.Pipe connection with srv and fetches name
// over it with the reference client, returning once both ends are done.
func fetchFresh(srv *ref.Server, name string, timeout time.Duration) ([]byte, *ref.Result, error) {
	c1, c2 := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeConn(context.Background(), c2)
	}()
	sess := (&ref.Client{Framing: srv.Framing, Timeout: timeout}).NewSession(c1)
	var buf bytes.Buffer
	res, err := sess.Fetch(name, &buf)
	sess.Close()
	<-done
	return buf.Bytes(), res, err
}

// getHelperEnv, when set in the environment of this test binary, makes it
// a download helper instead (see runGetHelper).
const getHelperEnv = "STICKYKIT_REF_GET_HELPER"

// runGetHelper downloads $ADDR's file.bin to $DST with the reference
// client, printing "receiving" once the first data has arrived; it is the
// process TestGetKilledLeavesNothing kills.
func runGetHelper() int {
	var printed bool
	cl := &ref.Client{Timeout: time.Minute, Progress: func(done, total int64) {
		if done > 0 && !printed {
			printed = true
			fmt.Println("receiving")
		}
	}}
	_, err := cl.Get(context.Background(), os.Getenv("ADDR"), "file.bin", os.Getenv("DST"))
	fmt.Println("get returned:", err)
	return 1
}
