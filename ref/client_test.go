package ref_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// script plays a server by hand: it gets the server end of a net.Pipe and
// a Reader on it, and writes raw bytes.
type script func(t *testing.T, c net.Conn, r *spec.Reader)

// scripted runs s as the server of a new session. The script may block on
// stop, which is closed when the test ends.
func scripted(t *testing.T, f spec.Framing, timeout time.Duration, s func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{})) *ref.Session {
	t.Helper()
	c1, c2 := net.Pipe()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c2.Close()
		s(t, c2, spec.NewReader(c2, f), stop)
	}()
	sess := (&ref.Client{Framing: f, Timeout: timeout}).NewSession(c1)
	t.Cleanup(func() {
		close(stop)
		sess.Close()
		<-done
	})
	return sess
}

// expectRequest reads one request and checks its name.
func expectRequest(t *testing.T, r *spec.Reader, want string) bool {
	name, err := r.ReadRequest()
	if err != nil || name != want {
		t.Errorf("script: ReadRequest = %q, %v; want %q", name, err, want)
		return false
	}
	return true
}

// send writes raw bytes; errors mean the client hung up, which the test
// itself judges.
func send(c net.Conn, parts ...string) {
	for _, p := range parts {
		if _, err := c.Write([]byte(p)); err != nil {
			return
		}
	}
}

// sendFile plays a server sending size, waiting for the ack, then parts.
func sendFile(size string, parts ...string) func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{}) {
	return func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{}) {
		if !expectRequest(t, r, "file.bin") {
			return
		}
		send(c, size)
		if err := r.ReadAck(); err != nil {
			return
		}
		send(c, parts...)
	}
}

func lf(f spec.Framing, s string) string {
	if f == spec.Line {
		return s + "\n"
	}
	return s
}

// TestClientAgainstBadServers checks the client's errors against servers
// that misbehave, and that it never leaves a file behind, nor touches an
// existing one.
func TestClientAgainstBadServers(t *testing.T) {
	hello := md5hex([]byte("hello"))
	tests := []struct {
		name  string
		size  string // the size reply, before framing
		parts []string
		check func(t *testing.T, err error)
	}{
		{"wrong digest", "5", []string{"hello", md5hex([]byte("hellx"))}, func(t *testing.T, err error) {
			var de *ref.DigestError
			if !errors.As(err, &de) {
				t.Fatalf("error = %v, want *ref.DigestError", err)
			}
			if de.Server != md5hex([]byte("hellx")) || de.Local != hello || de.Name != "file.bin" {
				t.Errorf("DigestError = %+v, want server %s local %s", de, md5hex([]byte("hellx")), hello)
			}
			want := "digest mismatch: server sent " + de.Server + ", data hashes to " + hello
			if err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
		}},
		{"truncated body", "10", []string{"hello"}, truncated(spec.PhaseData)},
		{"no body", "10", nil, truncated(spec.PhaseData)},
		{"truncated digest", "5", []string{"hello", hello[:10]}, truncated(spec.PhaseDigest)},
		{"no digest", "5", []string{"hello"}, truncated(spec.PhaseDigest)},
		{"tail and digest coalesced", "5", []string{"he", "llo" + hello[:3], hello[3:] + "x"}, nil},
		{"malformed size", "12a", nil, protocolError(spec.PhaseReply)},
		{"negative size", "-5", nil, protocolError(spec.PhaseReply)},
		{"leading zero", "05", nil, protocolError(spec.PhaseReply)},
		{"huge size", "99999999999999999999", nil, protocolError(spec.PhaseReply)},
		{"malformed digest", "5", []string{"hello", strings.ToUpper(hello)}, protocolError(spec.PhaseDigest)},
		{"ERR unknown code", "ERR teapot short and stout", nil, func(t *testing.T, err error) {
			var er *spec.ErrorReply
			if !errors.As(err, &er) || er.Code != "teapot" || er.Text != "short and stout" {
				t.Errorf("error = %#v, want ErrorReply{teapot, short and stout}", err)
			}
		}},
	}
	for _, f := range spec.Framings {
		for _, tt := range tests {
			t.Run(f.String()+"/"+tt.name, func(t *testing.T) {
				sess := scripted(t, f, 5*time.Second, sendFile(lf(f, tt.size), tt.parts...))
				dir := t.TempDir()
				dst := filepath.Join(dir, "out")
				existing := filepath.Join(dir, "existing")
				if err := os.WriteFile(existing, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				if tt.check == nil { // a good exchange, oddly segmented
					res, err := sess.Get("file.bin", dst)
					if err != nil || res.Digest != hello {
						t.Fatalf("Get = %+v, %v; want digest %s", res, err, hello)
					}
					return
				}
				_, err := sess.Get("file.bin", existing)
				if err == nil {
					t.Fatal("Get succeeded, want an error")
				}
				t.Logf("error: %v", err)
				tt.check(t, err)
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error text %q spans lines", err.Error())
				}
				if got := dirEntries(t, dir); len(got) != 1 || got[0] != "existing" {
					t.Errorf("directory holds %q, want only existing", got)
				}
				if b, _ := os.ReadFile(existing); string(b) != "old" {
					t.Errorf("existing file now %q, want %q", b, "old")
				}
				var er *spec.ErrorReply
				if !errors.As(err, &er) {
					if _, err := sess.Fetch("file.bin", io.Discard); !errors.Is(err, ref.ErrSessionBroken) {
						t.Errorf("Fetch after failure = %v, want ErrSessionBroken", err)
					}
				}
			})
		}
	}
}

func truncated(p spec.Phase) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		var te *spec.TruncatedError
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.As(err, &te) || te.Phase != p {
			t.Errorf("error = %v, want *spec.TruncatedError in %s matching io.ErrUnexpectedEOF", err, p)
		}
	}
}

func protocolError(p spec.Phase) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		var pe *spec.ProtocolError
		if !errors.As(err, &pe) || pe.Phase != p {
			t.Errorf("error = %v, want *spec.ProtocolError in %s", err, p)
		}
	}
}

// TestClientSilentServer checks that a silent server yields a timeout error
// within the client's bound, and that the session is then unusable.
func TestClientSilentServer(t *testing.T) {
	phases := []struct {
		name   string
		script func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{})
	}{
		{"before size", func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{}) {
			expectRequest(t, r, "file.bin")
			<-stop
		}},
		{"inside body", func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{}) {
			sendFile("10", "hello")(t, c, r, stop)
			<-stop
		}},
		{"before digest", func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{}) {
			sendFile("5", "hello")(t, c, r, stop)
			<-stop
		}},
	}
	for _, ph := range phases {
		t.Run(ph.name, func(t *testing.T) {
			sess := scripted(t, spec.Lockstep, 200*time.Millisecond, ph.script)
			dir := t.TempDir()
			_, err := sess.Get("file.bin", filepath.Join(dir, "out"))
			if !isTimeout(err) {
				t.Fatalf("error = %v, want a net.Error with Timeout()", err)
			}
			t.Logf("error: %v", err)
			if got := dirEntries(t, dir); len(got) != 0 {
				t.Errorf("directory holds %q, want nothing", got)
			}
			if _, err := sess.Fetch("file.bin", io.Discard); !errors.Is(err, ref.ErrSessionBroken) || isTimeout(err) {
				t.Errorf("Fetch after timeout = %v, want ErrSessionBroken and no timeout", err)
			}
		})
	}
}

// TestClientAfterErrorReply checks a refused request leaves the session
// usable: no ack is sent, and the next request succeeds.
func TestClientAfterErrorReply(t *testing.T) {
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			sess := scripted(t, f, 5*time.Second, func(t *testing.T, c net.Conn, r *spec.Reader, stop <-chan struct{}) {
				if !expectRequest(t, r, "missing") {
					return
				}
				send(c, string(spec.EncodeError(f, spec.CodeNotFound, "no such file")))
				// The next message must be a request, not an ack.
				sendFile(lf(f, "5"), "hello", md5hex([]byte("hello")))(t, c, r, stop)
			})
			_, err := sess.Fetch("missing", io.Discard)
			var er *spec.ErrorReply
			if !errors.As(err, &er) || er.Code != spec.CodeNotFound {
				t.Fatalf("Fetch(missing) = %v, want ERR not-found", err)
			}
			if want := "server says not-found: no such file"; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			var buf bytes.Buffer
			if _, err := sess.Fetch("file.bin", &buf); err != nil || buf.String() != "hello" {
				t.Errorf("Fetch(file.bin) = %q, %v; want hello", buf.String(), err)
			}
		})
	}
}
