//go:build unix

package ref_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// errorRoot builds a root holding one good file and every kind of name the
// server must refuse. Beside the root lies a real file that must never be
// served. It returns the root and the outside file's path.
func errorRoot(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside.txt")
	writeFiles(t, root, map[string][]byte{"good.txt": []byte("good"), "adir/inner.txt": []byte("inner")})
	if err := os.WriteFile(outside, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(root, "dirlink-out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("good.txt", filepath.Join(root, "link-in")); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

type refusal struct {
	name string
	code string
}

func refusals(outside string) []refusal {
	return []refusal{
		{"missing.txt", spec.CodeNotFound},
		{"adir/missing", spec.CodeNotFound},
		{"good.txt/below", spec.CodeNotFound},
		{"adir", spec.CodeNotRegular},
		{"adir/", spec.CodeNotRegular},
		{".", spec.CodeNotRegular},
		{"../outside.txt", spec.CodeForbidden},
		{"adir/../../outside.txt", spec.CodeForbidden},
		{outside, spec.CodeForbidden},
		{"/etc/passwd", spec.CodeForbidden},
		{"link-out", spec.CodeForbidden},
		{"dirlink-out/outside.txt", spec.CodeForbidden},
	}
}

// TestRefusals sends every refused name on one session: each gets the
// right error reply promptly, nothing is left at the destination, and the
// session goes on to serve the next request.
func TestRefusals(t *testing.T) {
	for _, tr := range transports {
		for _, f := range spec.Framings {
			t.Run(tr.name+"/"+f.String(), func(t *testing.T) {
				root, outside := errorRoot(t)
				cases := refusals(outside)
				if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err == nil {
					cases = append(cases, refusal{"fifo", spec.CodeNotRegular})
				} else {
					t.Logf("no FIFO case: mkfifo: %v", err)
				}
				srv := newServer(t, root, f)
				sess := (&ref.Client{Framing: f, Timeout: 10 * time.Second}).NewSession(tr.dial(t, srv))
				defer sess.Close()
				dstDir := t.TempDir()
				dst := filepath.Join(dstDir, "out")
				for _, c := range cases {
					_, err := sess.Get(c.name, dst)
					var er *spec.ErrorReply
					if !errors.As(err, &er) {
						t.Fatalf("Get(%q) error = %v, want *spec.ErrorReply", c.name, err)
					}
					if er.Code != c.code {
						t.Errorf("Get(%q): code %q, want %q", c.name, er.Code, c.code)
					}
					if strings.Contains(err.Error(), "SECRET") {
						t.Errorf("Get(%q): error leaks the outside file: %v", c.name, err)
					}
					if got := dirEntries(t, dstDir); len(got) != 0 {
						t.Fatalf("Get(%q) left %q in the destination", c.name, got)
					}
					// The session is still usable.
					res, err := sess.Get("link-in", dst)
					if err != nil || res.Digest != md5hex([]byte("good")) {
						t.Fatalf("Get(link-in) after %q = %+v, %v; want the good file", c.name, res, err)
					}
					os.Remove(dst)
				}
			})
		}
	}
}

// TestUnreadable checks a file the server may not read.
func TestUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions are not enforced")
	}
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"locked": []byte("x")})
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	sess := (&ref.Client{}).NewSession(servePipe(t, newServer(t, root, spec.Lockstep)))
	defer sess.Close()
	_, err := sess.Fetch("locked", &bytes.Buffer{})
	var er *spec.ErrorReply
	if !errors.As(err, &er) || er.Code != spec.CodeUnreadable {
		t.Fatalf("Fetch(locked) error = %v, want ERR %s", err, spec.CodeUnreadable)
	}
}

// TestBadRequests writes malformed and over-long requests as raw bytes:
// each gets its error reply, then the server closes that connection and
// serves the next client.
func TestBadRequests(t *testing.T) {
	long := "get " + strings.Repeat("a", 2000)
	tests := []struct {
		name     string
		framings []spec.Framing
		raw      string
		code     string
		noLF     bool // in the line framing, send no LF
	}{
		{"wrong verb", spec.Framings, "put good.txt", spec.CodeBadRequest, false},
		{"no space", spec.Framings, "getgood.txt", spec.CodeBadRequest, false},
		{"empty name", spec.Framings, "get ", spec.CodeBadRequest, false},
		{"NUL in name", spec.Framings, "get good\x00.txt", spec.CodeBadRequest, false},
		{"invalid UTF-8", spec.Framings, "get \xff\xfe", spec.CodeBadRequest, false},
		{"CR in name", spec.Framings, "get a\rb", spec.CodeBadRequest, false},
		{"over-long", spec.Framings, long, spec.CodeTooLong, true},
		{"one byte over", spec.Framings, "get " + strings.Repeat("b", spec.MaxNameLen+1), spec.CodeTooLong, false},
	}
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string][]byte{"good.txt": []byte("good")})
			addr := serveTCP(t, newServer(t, root, f))
			for _, tt := range tests {
				if !contains(tt.framings, f) {
					continue
				}
				t.Run(tt.name, func(t *testing.T) {
					c := dialTCP(t, addr)
					raw := tt.raw
					if f == spec.Line && !tt.noLF {
						raw += "\n"
					}
					if _, err := c.Write([]byte(raw)); err != nil {
						t.Fatal(err)
					}
					// No LF after the over-long line: the server must
					// refuse it without waiting for the end of the line.
					got := string(readAll(t, c))
					want := "ERR " + tt.code + " "
					if !strings.HasPrefix(got, want) {
						t.Errorf("reply %q, want prefix %q", got, want)
					}
					if (f == spec.Line) != strings.HasSuffix(got, "\n") {
						t.Errorf("reply %q: wrong termination for %s framing", got, f)
					}
					// The server serves the next client.
					res, err := (&ref.Client{Framing: f}).Get(context.Background(), addr, "good.txt", filepath.Join(t.TempDir(), "good"))
					if err != nil || res.Size != 4 {
						t.Errorf("next client: Get = %+v, %v; want the good file", res, err)
					}
				})
			}
		})
	}
}

func contains(fs []spec.Framing, f spec.Framing) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// TestClientRefusesBadName checks the client refuses a name it cannot send,
// without sending anything, and stays usable.
func TestClientRefusesBadName(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"good.txt": []byte("good")})
	sess := (&ref.Client{}).NewSession(servePipe(t, newServer(t, root, spec.Lockstep)))
	defer sess.Close()
	dstDir := t.TempDir()
	for _, name := range []string{strings.Repeat("n", spec.MaxNameLen+1), "", "a\nb"} {
		_, err := sess.Get(name, filepath.Join(dstDir, "out"))
		var pe *spec.ProtocolError
		if !errors.Is(err, spec.ErrTooLong) && !errors.As(err, &pe) {
			t.Errorf("Get(%.20q) error = %v, want ErrTooLong or *spec.ProtocolError", name, err)
		}
	}
	if got := dirEntries(t, dstDir); len(got) != 0 {
		t.Errorf("destination holds %q, want nothing", got)
	}
	if _, err := sess.Fetch("good.txt", &bytes.Buffer{}); err != nil {
		t.Errorf("Fetch after refused names: %v", err)
	}
}

// TestNoDataBeforeAck plays a client that reads the size and waits: the
// server must send nothing more until the ack.
func TestNoDataBeforeAck(t *testing.T) {
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			root := t.TempDir()
			want := content(t, 5000)
			writeFiles(t, root, map[string][]byte{"f": want})
			c := dialTCP(t, serveTCP(t, newServer(t, root, f)))
			req, _ := spec.EncodeRequest(f, "f")
			must(t, write(c, req))
			r := spec.NewReader(c, f)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			size, err := r.ReadReply()
			must(t, err)
			if size != int64(len(want)) {
				t.Fatalf("size %d, want %d", size, len(want))
			}
			// Anything arriving now is data sent before the ack. A slow
			// server could hide the bug here, but never fake it.
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			var one [1]byte
			if n, err := c.Read(one[:]); n > 0 || !isTimeout(err) {
				t.Fatalf("before the ack: Read = %d, %v; want a timeout", n, err)
			}
			must(t, write(c, spec.EncodeAck(f)))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var body bytes.Buffer
			if _, err := body.ReadFrom(r.Body(size)); err != nil {
				t.Fatal(err)
			}
			d, err := r.ReadDigest()
			must(t, err)
			if !bytes.Equal(body.Bytes(), want) || d != md5hex(want) {
				t.Errorf("body %d bytes digest %s, want %d bytes digest %s", body.Len(), d, len(want), md5hex(want))
			}
		})
	}
}
