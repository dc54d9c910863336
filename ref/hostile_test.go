//go:build linux

package ref_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// hostileCase is one name sent to the server and what SPEC.md makes it
// reply: an error code, or (code "") the content it must serve.
type hostileCase struct {
	label string
	name  string
	code  string
	want  []byte
	why   string // the requirement that decides
}

// hostileRoot builds a root full of traps and returns the cases to send.
// Beside the root lie a secret file and a secret directory.
func hostileRoot(t *testing.T) (root string, cases []hostileCase) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside := filepath.Join(base, "outside.txt")
	good := []byte("good")
	writeFiles(t, root, map[string][]byte{"good.txt": good, "adir/inner.txt": []byte("inner")})
	writeFiles(t, base, map[string][]byte{"outside.txt": []byte(secret), "outdir/x": []byte(secret)})
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	link(outside, "link-out")
	link("../outside.txt", "link-up")
	link("link-out", "link-chain")
	link("/nonexistent/stickykit/x", "link-out-missing")
	link("../missing", "link-up-missing")
	link(filepath.Join(root, "good.txt"), "link-abs-in")
	link("missing", "link-dangling")
	link("link-loop", "link-loop")
	link("adir", "dirlink-in")
	link(filepath.Join(base, "outdir"), "dirlink-out")
	link("/dev/null", "link-devnull")
	link("/dev/zero", "link-devzero")
	must(t, os.Link(outside, filepath.Join(root, "hard-out")))
	must(t, os.Link(filepath.Join(root, "good.txt"), filepath.Join(root, "hard-in")))

	// A name of exactly MaxNameLen bytes that exists: components stay
	// within the file system's 255-byte limit.
	long := strings.Repeat(strings.Repeat("d", 200)+"/", 5)
	long += strings.Repeat("f", spec.MaxNameLen-len(long))
	writeFiles(t, root, map[string][]byte{long: []byte("at the limit")})
	euro := strings.Repeat("\u20ac", spec.MaxNameLen/3) // 3 bytes each: 1020

	cases = []hostileCase{
		// Confinement (REQ-SEC-1, REQ-SEC-3): refused before any look-up,
		// whatever exists outside, and without disclosing it.
		{"dotdot", "..", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"dotdot slash", "../", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"climb to a file", "../outside.txt", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"climb to nothing", "../missing", spec.CodeForbidden, nil, "REQ-SEC-3"},
		{"climb inside then out", "adir/../../outside.txt", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"dot then climb", "./../outside.txt", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"root dir", "/", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"absolute outside", outside, spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"absolute double slash", "//etc/passwd", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"absolute into the root", filepath.Join(root, "good.txt"), spec.CodeForbidden, nil, "REQ-SEC-1: absolute names are refused even when they point inside"},
		{"climb that stays inside", "adir/../good.txt", "", good, "REQ-SEC-2 (MAY refuse; the reference serves)"},
		{"climb to the root itself", "adir/..", spec.CodeNotRegular, nil, "REQ-SRV-8"},

		// Symbolic links (REQ-SEC-1, REQ-SEC-3, REQ-SRV-8).
		{"symlink out", "link-out", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"relative symlink out", "link-up", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"symlink chain out", "link-chain", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"symlink out to nothing", "link-out-missing", spec.CodeForbidden, nil, "REQ-SEC-3"},
		{"relative symlink out to nothing", "link-up-missing", spec.CodeForbidden, nil, "REQ-SEC-3"},
		{"absolute symlink into the root", "link-abs-in", spec.CodeForbidden, nil, "REQ-SEC-2 (MAY follow; os.Root treats an absolute target as leaving)"},
		{"dangling symlink inside", "link-dangling", spec.CodeNotFound, nil, "REQ-SRV-5"},
		{"symlink loop", "link-loop", spec.CodeNotFound, nil, "REQ-ERR-1: nothing exists at the name"},
		{"symlinked dir inside", "dirlink-in", spec.CodeNotRegular, nil, "REQ-SRV-8"},
		{"file below a symlinked dir inside", "dirlink-in/inner.txt", "", []byte("inner"), "REQ-SEC-2, REQ-SRV-8"},
		{"symlinked dir out", "dirlink-out", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"file below a symlinked dir out", "dirlink-out/x", spec.CodeForbidden, nil, "REQ-SEC-1"},
		{"symlink to /dev/null", "link-devnull", spec.CodeForbidden, nil, "REQ-SEC-1: outside the root"},
		{"symlink to /dev/zero", "link-devzero", spec.CodeForbidden, nil, "REQ-SEC-1: outside the root"},

		// Hard links (REQ-SEC-4). A hard link below the root is the file
		// itself as far as any path-based check can tell: SPEC.md says it
		// is served, and asks operators not to place such links. The
		// reference serves it; this case pins that decision.
		{"hard link to an outside file", "hard-out", "", []byte(secret), "REQ-SEC-4: served, indistinguishable by path"},
		{"hard link inside", "hard-in", "", good, "REQ-SEC-4"},

		// Kinds of file (REQ-SRV-8, REQ-SEC-5).
		{"directory", "adir", spec.CodeNotRegular, nil, "REQ-SRV-8"},
		{"directory with slash", "adir/", spec.CodeNotRegular, nil, "REQ-SRV-8"},
		{"file with slash", "good.txt/", spec.CodeNotFound, nil, "REQ-SRV-5"},

		// Bytes of the name (REQ-MSG-1, REQ-MSG-2), in REQ-ERR-1 order:
		// too-long, then bad-request, then forbidden.
		{"NUL alone", "\x00", spec.CodeBadRequest, nil, "REQ-MSG-2"},
		{"NUL at the end", "good.txt\x00", spec.CodeBadRequest, nil, "REQ-MSG-2"},
		{"NUL then climb", "\x00../outside.txt", spec.CodeBadRequest, nil, "REQ-ERR-1 order"},
		{"overlong slash", "adir\xc0\xafinner.txt", spec.CodeBadRequest, nil, "REQ-MSG-2"},
		{"UTF-16 surrogate", "\xed\xa0\x80", spec.CodeBadRequest, nil, "REQ-MSG-2"},
		{"invalid UTF-8 then climb", "../\xff", spec.CodeBadRequest, nil, "REQ-ERR-1 order"},
		{"leading space kept", " good.txt", spec.CodeNotFound, nil, "REQ-MSG-1"},
		{"trailing space kept", "good.txt ", spec.CodeNotFound, nil, "REQ-MSG-1"},
		{"at the length limit, existing", long, "", []byte("at the limit"), "REQ-MSG-2"},
		{"at the length limit, one component", strings.Repeat("n", spec.MaxNameLen), spec.CodeNotFound, nil, "REQ-MSG-2, REQ-SRV-5"},
		{"at the length limit, 3-byte runes", euro, spec.CodeNotFound, nil, "REQ-MSG-2, REQ-SRV-5"},
		{"one byte past the limit", strings.Repeat("n", spec.MaxNameLen+1), spec.CodeTooLong, nil, "REQ-LIM-1"},
		{"past the limit by a rune", strings.Repeat("n", spec.MaxNameLen-1) + "\u20ac", spec.CodeTooLong, nil, "REQ-LIM-1"},
		{"past the limit and invalid", strings.Repeat("\xff", spec.MaxNameLen+1), spec.CodeTooLong, nil, "REQ-ERR-1 order"},
	}
	if runtime.GOOS != "windows" {
		cases = append(cases, hostileCase{"backslash is an ordinary byte", `..\outside.txt`, spec.CodeNotFound, nil,
			"REQ-SEC-1: \\ has no path meaning here"})
	}

	// A FIFO, alone and behind a symbolic link: opening one must not block.
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Logf("no FIFO cases: mkfifo: %v", err)
	} else {
		link("fifo", "link-fifo")
		cases = append(cases,
			hostileCase{"FIFO", "fifo", spec.CodeNotRegular, nil, "REQ-SEC-5"},
			hostileCase{"symlink to a FIFO", "link-fifo", spec.CodeNotRegular, nil, "REQ-SEC-5, REQ-SRV-8"})
	}
	// A Unix socket.
	if ln, err := net.Listen("unix", filepath.Join(root, "sock")); err != nil {
		t.Logf("no socket case: %v", err)
	} else {
		t.Cleanup(func() { ln.Close() })
		cases = append(cases, hostileCase{"Unix socket", "sock", spec.CodeNotRegular, nil, "REQ-SRV-8"})
	}
	return root, cases
}

// TestHostileNames sends every hostile name as raw bytes, in both framings
// (the line framing with CRLF), and checks the exact reply: the error code
// SPEC.md defines, never a byte of anything outside the root except
// through a hard link, or exactly the file's content. After a keep-open
// code the same connection serves a good file; after a closing code the
// server closes it.
func TestHostileNames(t *testing.T) {
	root, cases := hostileRoot(t)
	checkHostile(t, root, cases)
}

// TestDevices puts character devices inside the root (/dev/null's and
// /dev/zero's twins; the second never ends, so a server that read it
// would never finish): both must get not-regular (REQ-SEC-5). Through a
// symbolic link /dev itself is outside the root; TestHostileNames covers
// that.
func TestDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mknod of a device needs root")
	}
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"good.txt": []byte("good")})
	var cases []hostileCase
	for _, d := range []struct {
		name       string
		maj, minor uint32
	}{{"dev-null", 1, 3}, {"dev-zero", 1, 5}} {
		if err := syscall.Mknod(filepath.Join(root, d.name), syscall.S_IFCHR|0o666, int(d.maj<<8|d.minor)); err != nil {
			t.Skipf("mknod %s: %v (no CAP_MKNOD?)", d.name, err)
		}
		cases = append(cases, hostileCase{"device " + d.name, d.name, spec.CodeNotRegular, nil, "REQ-SEC-5"})
	}
	checkHostile(t, root, cases)
}

// TestUnreadableKinds checks what cannot be opened for lack of permission:
// a regular file is unreadable (REQ-SRV-10); a directory or a FIFO is
// not-regular, since REQ-ERR-1 puts not-regular first.
func TestUnreadableKinds(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permission bits are not enforced, nothing is unreadable")
	}
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"good.txt": []byte("good"), "locked": []byte("x"), "locked-dir/x": []byte("x")})
	must(t, os.Chmod(filepath.Join(root, "locked"), 0))
	must(t, os.Chmod(filepath.Join(root, "locked-dir"), 0))
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked-dir"), 0o755) })
	cases := []hostileCase{
		{"unreadable file", "locked", spec.CodeUnreadable, nil, "REQ-SRV-10"},
		{"unreadable directory", "locked-dir", spec.CodeNotRegular, nil, "REQ-ERR-1 order: not-regular before unreadable"},
	}
	if err := syscall.Mkfifo(filepath.Join(root, "locked-fifo"), 0); err == nil {
		cases = append(cases, hostileCase{"unreadable FIFO", "locked-fifo", spec.CodeNotRegular, nil, "REQ-ERR-1 order"})
	}
	checkHostile(t, root, cases)
}

// checkHostile sends every case to a server for root (which must hold
// good.txt), in both framings.
func checkHostile(t *testing.T, root string, cases []hostileCase) {
	t.Helper()
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			srv := newServer(t, root, f)
			srv.Logger = nil
			for _, hc := range cases {
				c := servePipe(t, srv)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := spec.NewReader(c, f)
				code, body := rawGet(t, c, r, f, hc.name)
				switch {
				case code != hc.code:
					t.Errorf("%s: get %.40q: reply %s, want %s (%s)", hc.label, hc.name, show(code, body), show(hc.code, hc.want), hc.why)
				case code == "" && !bytes.Equal(body, hc.want):
					t.Errorf("%s: get %.40q: served %q, want %q", hc.label, hc.name, body, hc.want)
				case code != "" && (bytes.Contains(body, []byte(secret)) || bytes.Contains(body, []byte(filepath.Dir(root)))):
					t.Errorf("%s: get %.40q: error text %q discloses a file or a server path (REQ-ERR-7)", hc.label, hc.name, body)
				}
				if keepOpen(code) || code == "" {
					if code, body := rawGet(t, c, r, f, "good.txt"); code != "" || string(body) != "good" {
						t.Errorf("%s: next request on the connection: %s, want the good file", hc.label, show(code, body))
					}
				} else if b, err := io.ReadAll(c); len(b) > 0 || err != nil {
					t.Errorf("%s: after ERR %s: read %q, %v; want the server to close", hc.label, code, b, err)
				}
				c.Close()
			}
		})
	}
}

func show(code string, body []byte) string {
	if code == "" {
		return "the file (" + strconv.Itoa(len(body)) + " bytes)"
	}
	return "ERR " + code
}

// rawGet writes "get NAME" as raw bytes (CRLF-terminated in the line
// framing), bypassing the client's own checks, and reads the reply: the
// error code and its text, or "" and the data, checked against the digest.
func rawGet(t *testing.T, c net.Conn, r *spec.Reader, f spec.Framing, name string) (code string, body []byte) {
	t.Helper()
	req := "get " + name
	if f == spec.Line {
		req += "\r\n"
	}
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatalf("get %.40q: write: %v", name, err)
	}
	size, err := r.ReadReply()
	var er *spec.ErrorReply
	if errors.As(err, &er) {
		return er.Code, []byte(er.Text)
	}
	if err != nil {
		t.Fatalf("get %.40q: reply: %v", name, err)
	}
	if size > 1<<20 {
		t.Fatalf("get %.40q: size %d, far larger than any file here", name, size)
	}
	if _, err := c.Write(spec.EncodeAck(f)); err != nil {
		t.Fatalf("get %.40q: ack: %v", name, err)
	}
	body, err = io.ReadAll(r.Body(size))
	if err != nil {
		t.Fatalf("get %.40q: data: %v", name, err)
	}
	if d, err := r.ReadDigest(); err != nil || d != md5hex(body) {
		t.Fatalf("get %.40q: digest %q, %v; want %s", name, d, err, md5hex(body))
	}
	return "", body
}

// TestLongNameEndToEnd fetches a file whose name is exactly MaxNameLen
// bytes with the reference client, and checks the client refuses one byte
// more without sending anything.
func TestLongNameEndToEnd(t *testing.T) {
	long := strings.Repeat(strings.Repeat("e", 250)+"/", 4)
	long += strings.Repeat("g", spec.MaxNameLen-len(long))
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{long: []byte("long")})
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			sess := (&ref.Client{Framing: f, Timeout: 5 * time.Second}).NewSession(servePipe(t, newServer(t, root, f)))
			defer sess.Close()
			dst := filepath.Join(t.TempDir(), "out")
			if res, err := sess.Get(long, dst); err != nil || res.Size != 4 {
				t.Fatalf("Get(%d-byte name) = %+v, %v; want 4 bytes", len(long), res, err)
			}
			if _, err := sess.Get(long+"x", dst+"2"); !errors.Is(err, spec.ErrTooLong) {
				t.Errorf("Get(%d-byte name) error = %v, want spec.ErrTooLong", len(long)+1, err)
			}
			// Nothing was sent: the session is still in step.
			if res, err := sess.Get(long, dst); err != nil || res.Size != 4 {
				t.Errorf("Get after a refused name = %+v, %v", res, err)
			}
		})
	}
}

// hookConn calls fn once, on the server's goroutine, right after the
// Write that takes the bytes written past after: the server has not yet
// read any more of the file, so fn changes the file at a known point of
// the transfer. It reports how many bytes were written by then.
type hookConn struct {
	net.Conn
	after int64
	fn    func()

	mu      sync.Mutex
	written int64
	at      int64 // bytes written when fn ran
}

func (c *hookConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written += int64(n)
	if c.fn != nil && c.written > c.after {
		c.at = c.written
		c.fn()
		c.fn = nil
	}
	return n, err
}

func (c *hookConn) firedAt() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// TestFileChangesWhileSending changes a 4 MiB file while it is being sent
// (after the size, or after the first data write), in both framings. The
// server must never send a byte past the size it announced: a file that
// shrinks ends the connection without a digest after fewer bytes, all of
// them the file's; a file that grows is sent up to SIZE, with the digest of
// exactly what was sent; and then the connection is still in step.
func TestFileChangesWhileSending(t *testing.T) {
	orig := content(t, 4<<20)
	other := bytes.Repeat([]byte("new content "), 1<<20)
	tests := []struct {
		name       string
		afterData  bool // change the file after the first data write; else right after the size
		change     func(path string) error
		wantDigest bool // a digest must follow (the file did not shrink)
	}{
		{"shrinks to zero before the ack", false, func(p string) error { return os.Truncate(p, 0) }, false},
		{"shrinks mid-data", true, func(p string) error { return os.Truncate(p, 1000) }, false},
		{"grows mid-data", true, func(p string) error { return appendFile(p, other[:1<<20]) }, true},
		{"grows before the ack", false, func(p string) error { return appendFile(p, other[:1<<20]) }, true},
		{"rewritten longer mid-data", true, func(p string) error { return os.WriteFile(p, other, 0o644) }, true},
	}
	for _, f := range spec.Framings {
		for _, tt := range tests {
			t.Run(f.String()+"/"+tt.name, func(t *testing.T) {
				root := t.TempDir()
				path := filepath.Join(root, "f")
				must(t, os.WriteFile(path, orig, 0o644))
				srv := newServer(t, root, f)
				srv.Logger = nil
				sizeMsg, _ := spec.EncodeSize(f, int64(len(orig)))
				after := int64(len(sizeMsg)) - 1
				if tt.afterData {
					after = int64(len(sizeMsg))
				}
				c1, c2 := net.Pipe()
				hook := &hookConn{Conn: c2, after: after}
				hook.fn = func() {
					if err := tt.change(path); err != nil {
						t.Errorf("changing the file: %v", err)
					}
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					srv.ServeConn(context.Background(), hook)
				}()
				defer func() { c1.Close(); <-done }()
				c1.SetDeadline(time.Now().Add(20 * time.Second))
				r := spec.NewReader(c1, f)
				req, _ := spec.EncodeRequest(f, "f")
				must(t, write(c1, req))
				size, err := r.ReadReply()
				must(t, err)
				if size != int64(len(orig)) {
					t.Fatalf("size %d, want %d", size, len(orig))
				}
				must(t, write(c1, spec.EncodeAck(f)))
				body, err := io.ReadAll(r.Body(size))
				sent := hook.firedAt() - int64(len(sizeMsg)) // data bytes sent before the change
				if !bytes.Equal(body[:min(int64(len(body)), max(sent, 0))], orig[:min(int64(len(body)), max(sent, 0))]) {
					t.Errorf("the data sent before the change differs from the file")
				}
				if !tt.wantDigest {
					var te *spec.TruncatedError
					if !errors.As(err, &te) || int64(len(body)) >= size {
						t.Fatalf("got %d of %d bytes, %v; want fewer and then the end of the stream", len(body), size, err)
					}
					if !bytes.Equal(body, orig[:len(body)]) {
						t.Errorf("the %d bytes sent are not the start of the file", len(body))
					}
					if rest, err := io.ReadAll(c1); len(rest) > 0 || err != nil {
						t.Errorf("after the short data: %q, %v; want the connection closed", rest, err)
					}
					t.Logf("sent %d of %d bytes, then closed", len(body), size)
					return
				}
				must(t, err)
				d, err := r.ReadDigest()
				if err != nil || d != md5hex(body) {
					t.Fatalf("digest %q, %v; want %s, the MD5 of the %d bytes sent", d, err, md5hex(body), len(body))
				}
				if strings.HasPrefix(tt.name, "grows") && !bytes.Equal(body, orig) {
					t.Errorf("a file that grew: sent bytes differ from its first SIZE bytes")
				}
				// In step: the next request gets the new size.
				fi, err := os.Stat(path)
				must(t, err)
				must(t, write(c1, req))
				if next, err := r.ReadReply(); err != nil || next != fi.Size() {
					t.Errorf("next reply %d, %v; want size %d", next, err, fi.Size())
				}
			})
		}
	}
}

func appendFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
