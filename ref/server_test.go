package ref_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// rawClient is a test client that stops between the protocol's steps.
type rawClient struct {
	t *testing.T
	c net.Conn
	r *spec.Reader
}

func newRawClient(t *testing.T, addr string) *rawClient {
	c := dialTCP(t, addr)
	return &rawClient{t: t, c: c, r: spec.NewReader(c, spec.Lockstep)}
}

// requestSize sends a request and reads the size.
func (rc *rawClient) requestSize(name string) int64 {
	rc.t.Helper()
	req, err := spec.EncodeRequest(spec.Lockstep, name)
	must(rc.t, err)
	must(rc.t, write(rc.c, req))
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	size, err := rc.r.ReadReply()
	must(rc.t, err)
	return size
}

// ackAndRead sends the ack and reads the body and digest.
func (rc *rawClient) ackAndRead(size int64) (body []byte, digest string, err error) {
	rc.t.Helper()
	must(rc.t, write(rc.c, spec.EncodeAck(spec.Lockstep)))
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc.r.Body(size)); err != nil {
		return buf.Bytes(), "", err
	}
	digest, err = rc.r.ReadDigest()
	return buf.Bytes(), digest, err
}

// waitClosed waits until the server closes the connection.
func (rc *rawClient) waitClosed() {
	rc.t.Helper()
	if b := readAll(rc.t, rc.c); len(b) != 0 {
		rc.t.Errorf("read %q before close, want nothing", b)
	}
}

// startServe runs Serve on a loopback listener and returns its address and
// a channel that receives Serve's result.
func startServe(t *testing.T, srv *ref.Server, ctx context.Context) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return ln.Addr().String(), done
}

// TestShutdownLetsTransferFinish: Shutdown closes an idle connection at
// once, lets a transfer in flight finish, then closes that connection too.
func TestShutdownLetsTransferFinish(t *testing.T) {
	root := t.TempDir()
	want := content(t, 3<<20)
	writeFiles(t, root, map[string][]byte{"big": want})
	srv := newServer(t, root, spec.Lockstep)
	addr, served := startServe(t, srv, context.Background())

	busy := newRawClient(t, addr)
	size := busy.requestSize("big") // the server now waits for the ack
	idle := newRawClient(t, addr)

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	idle.waitClosed() // Shutdown has begun

	body, digest, err := busy.ackAndRead(size)
	must(t, err)
	if !bytes.Equal(body, want) || digest != md5hex(want) {
		t.Fatalf("transfer during shutdown: %d bytes digest %s, want %d bytes digest %s", len(body), digest, len(want), md5hex(want))
	}
	busy.waitClosed()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("dial after Shutdown succeeded, want refused")
	}
}

// TestShutdownDeadline: when Shutdown's context ends first, it closes the
// stalled connection and returns the context's error.
func TestShutdownDeadline(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"f": []byte("data")})
	srv := newServer(t, root, spec.Lockstep)
	addr, served := startServe(t, srv, context.Background())
	stalled := newRawClient(t, addr)
	stalled.requestSize("f") // and never ack

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	stalled.waitClosed()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// TestServeContext: when Serve's context ends, it closes every connection
// and returns nil once every goroutine has ended.
func TestServeContext(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"f": []byte("data")})
	srv := newServer(t, root, spec.Lockstep)
	ctx, cancel := context.WithCancel(context.Background())
	addr, served := startServe(t, srv, ctx)
	c := newRawClient(t, addr)
	c.requestSize("f") // proves the connection is being served
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	c.waitClosed()
}

// TestBusy: a connection over MaxConns gets "ERR busy" and is closed; the
// slot frees when the first connection ends.
func TestBusy(t *testing.T) {
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string][]byte{"f": []byte("data")})
			srv := newServer(t, root, f)
			srv.MaxConns = 1
			addr := serveTCP(t, srv)
			client := &ref.Client{Framing: f, Timeout: 5 * time.Second}

			first := client.NewSession(dialTCP(t, addr))
			if _, err := first.Fetch("f", io.Discard); err != nil {
				t.Fatalf("first Fetch: %v", err)
			}
			second := client.NewSession(dialTCP(t, addr))
			_, err := second.Fetch("f", io.Discard)
			var er *spec.ErrorReply
			if !errors.As(err, &er) || er.Code != spec.CodeBusy {
				t.Fatalf("second Fetch = %v, want ERR busy", err)
			}
			raw := dialTCP(t, addr)
			got := string(readAll(t, raw))
			if want := string(spec.EncodeError(f, spec.CodeBusy, "")); !strings.HasPrefix(got, strings.TrimSuffix(want, "\n")) || (f == spec.Line) != strings.HasSuffix(got, "\n") {
				t.Errorf("busy reply %q, want an ERR busy reply in %s framing", got, f)
			}
			first.Close()
			// The server notices the first client left in its own time;
			// retry until the slot is free.
			deadline := time.Now().Add(10 * time.Second)
			for {
				s := client.NewSession(dialTCP(t, addr))
				_, err := s.Fetch("f", io.Discard)
				s.Close()
				if err == nil {
					break
				}
				if !errors.As(err, &er) || er.Code != spec.CodeBusy || time.Now().After(deadline) {
					t.Fatalf("Fetch after the first client left = %v, want success", err)
				}
			}
		})
	}
}

// panicOnce panics on its first write.
type panicOnce struct{ done atomic.Bool }

func (p *panicOnce) Write(b []byte) (int, error) {
	if p.done.CompareAndSwap(false, true) {
		panic("boom")
	}
	return len(b), nil
}

// TestPanicRecovered: a panic while serving one connection is logged with
// its stack and ends that connection only.
func TestPanicRecovered(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"f": []byte("data")})
	srv := newServer(t, root, spec.Lockstep)
	var logs syncBuffer
	srv.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv.Debug = &panicOnce{}
	addr := serveTCP(t, srv)

	victim := newRawClient(t, addr)
	must(t, write(victim.c, []byte("get f")))
	victim.waitClosed()
	res, err := (&ref.Client{Timeout: 5 * time.Second}).Get(context.Background(), addr, "f", filepath.Join(t.TempDir(), "f"))
	if err != nil || res.Size != 4 {
		t.Fatalf("Get after a panic = %+v, %v; want the file", res, err)
	}
	for _, want := range []string{"panic serving connection", "boom", "goroutine "} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestFileChanges: a file that shrinks after its size was sent ends the
// connection without a digest; one that grows is sent as announced.
func TestFileChanges(t *testing.T) {
	root := t.TempDir()
	orig := content(t, 10000)
	writeFiles(t, root, map[string][]byte{"shrinks": orig, "grows": orig})
	addr := serveTCP(t, newServer(t, root, spec.Lockstep))

	t.Run("shrinks", func(t *testing.T) {
		rc := newRawClient(t, addr)
		size := rc.requestSize("shrinks")
		must(t, os.Truncate(filepath.Join(root, "shrinks"), 4000))
		body, _, err := rc.ackAndRead(size)
		var te *spec.TruncatedError
		if !errors.As(err, &te) || te.Phase != spec.PhaseData {
			t.Fatalf("reading a shrunk file: %v, want a data truncation", err)
		}
		if !bytes.Equal(body, orig[:4000]) {
			t.Errorf("got %d bytes, want the first 4000 of the file", len(body))
		}
	})
	t.Run("grows", func(t *testing.T) {
		rc := newRawClient(t, addr)
		size := rc.requestSize("grows")
		f, err := os.OpenFile(filepath.Join(root, "grows"), os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		_, err = f.Write([]byte("more data"))
		must(t, err)
		must(t, f.Close())
		body, digest, err := rc.ackAndRead(size)
		must(t, err)
		if !bytes.Equal(body, orig) || digest != md5hex(orig) {
			t.Errorf("got %d bytes digest %s, want %d bytes digest %s", len(body), digest, len(orig), md5hex(orig))
		}
		// The connection is still in step.
		if size := rc.requestSize("grows"); size != int64(len(orig))+9 {
			t.Errorf("next size %d, want %d", size, len(orig)+9)
		}
	})
}
