//go:build unix

package ref_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// dialCounter counts the connections a server accepts, so a test can tell
// that a client sent nothing at all.
type dialCounter struct {
	net.Listener
	n atomic.Int64
}

func (l *dialCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// destFixture is a reference server with one file, file.bin, and a second
// one, bad.bin, whose digest never matches (the server's root is changed
// under it: see corrupt).
type destFixture struct {
	addr string
	ln   *dialCounter
	data []byte
}

func newDestFixture(t *testing.T) *destFixture {
	t.Helper()
	root := t.TempDir()
	data := content(t, 100000)
	writeFiles(t, root, map[string][]byte{"file.bin": data})
	srv := newServer(t, root, spec.Lockstep)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &dialCounter{Listener: inner}
	serveOn(t, srv, ln)
	return &destFixture{addr: inner.Addr().String(), ln: ln, data: data}
}

// TestGetDestinationKinds: what Get does with each kind of destination.
// A regular file is replaced and keeps its mode; a new file gets 0666 less
// the umask; a symbolic link to a regular file keeps being a link and its
// target is replaced; a FIFO and a character device are written through,
// never replaced; a directory, a dangling link and a path in a missing
// directory are refused before anything is sent.
func TestGetDestinationKinds(t *testing.T) {
	fx := newDestFixture(t)
	cl := &ref.Client{Timeout: 10 * time.Second}
	get := func(t *testing.T, dst string) error {
		t.Helper()
		_, err := cl.Get(context.Background(), fx.addr, "file.bin", dst)
		return err
	}

	t.Run("new file", func(t *testing.T) {
		// A umask no download may ignore: the file must be 0640.
		defer syscall.Umask(syscall.Umask(0o027))
		dir := t.TempDir()
		dst := filepath.Join(dir, "out")
		must(t, get(t, dst))
		checkRegular(t, dst, fx.data, 0o640)
		checkOnly(t, dir, "out")
	})
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o755} {
		t.Run("replaced "+mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			dst := filepath.Join(dir, "out")
			must(t, os.WriteFile(dst, []byte("old"), 0o600))
			must(t, os.Chmod(dst, mode))
			must(t, get(t, dst))
			checkRegular(t, dst, fx.data, mode)
			checkOnly(t, dir, "out")
		})
	}
	t.Run("symlink to a regular file", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		target := filepath.Join(other, "target")
		must(t, os.WriteFile(target, []byte("old"), 0o600))
		dst := filepath.Join(dir, "link")
		must(t, os.Symlink(target, dst))
		must(t, get(t, dst))
		if fi, err := os.Lstat(dst); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("after Get, %s is %v, %v; want the symbolic link it was", dst, fi.Mode(), err)
		}
		checkRegular(t, target, fx.data, 0o600)
		checkOnly(t, dir, "link")
		checkOnly(t, other, "target")
	})
	t.Run("FIFO", func(t *testing.T) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "fifo")
		must(t, syscall.Mkfifo(dst, 0o600))
		// The test's reader opens without waiting, and the test holds a
		// writer of its own, so that the reader sees the end only once
		// the test lets go: what Get wrote through is what it reads.
		rd, err := os.OpenFile(dst, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		must(t, err)
		defer rd.Close()
		wr, err := os.OpenFile(dst, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		must(t, err)
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(rd)
			got <- b
		}()
		err = get(t, dst)
		wr.Close()
		must(t, err)
		if b := <-got; !bytes.Equal(b, fx.data) {
			t.Errorf("the FIFO's reader got %d bytes, want the %d of the file", len(b), len(fx.data))
		}
		checkKind(t, dst, fs.ModeNamedPipe)
		checkOnly(t, dir, "fifo")
	})
	t.Run("character device", func(t *testing.T) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "null")
		mknodNull(t, dst)
		must(t, get(t, dst))
		checkKind(t, dst, fs.ModeDevice|fs.ModeCharDevice)
		checkOnly(t, dir, "null")
	})

	refused := []struct {
		name   string
		setup  func(t *testing.T, dir string) string
		reason string
	}{
		{"directory", func(t *testing.T, dir string) string {
			must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
			return filepath.Join(dir, "sub")
		}, "is a directory"},
		{"missing directory", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "no", "such", "out")
		}, "directory that does not exist"},
		{"dangling symlink", func(t *testing.T, dir string) string {
			must(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "link")))
			return filepath.Join(dir, "link")
		}, "does not exist"},
		{"symlink to a directory", func(t *testing.T, dir string) string {
			must(t, os.Symlink(dir, filepath.Join(dir, "link")))
			return filepath.Join(dir, "link")
		}, "directory"},
	}
	for _, tt := range refused {
		t.Run("refused "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dst := tt.setup(t, dir)
			before := dirEntries(t, dir)
			dials := fx.ln.n.Load()
			err := get(t, dst)
			var de *ref.DestError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Get to %s = %v, want a *ref.DestError saying %q", tt.name, err, tt.reason)
			}
			if n := fx.ln.n.Load() - dials; n != 0 {
				t.Errorf("Get to %s made %d connections, want none: refused before anything is sent", tt.name, n)
			}
			if after := dirEntries(t, dir); !equalStrings(before, after) {
				t.Errorf("directory held %q, now %q", before, after)
			}
		})
	}
}

// TestGetDeviceMismatch: a device written through cannot be taken back;
// when the digest does not match, Get fails, says so, and the device is
// still a device.
func TestGetDeviceMismatch(t *testing.T) {
	sess := scripted(t, spec.Lockstep, 5*time.Second, sendFile("5", "hello", strings.Repeat("0", 32)))
	dir := t.TempDir()
	dst := filepath.Join(dir, "null")
	mknodNull(t, dst)
	_, err := sess.Get("file.bin", dst)
	var de *ref.DigestError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "cannot be taken back") {
		t.Errorf("Get = %v, want a *ref.DigestError saying the bytes cannot be taken back", err)
	}
	checkKind(t, dst, fs.ModeDevice|fs.ModeCharDevice)
	checkOnly(t, dir, "null")
}

// TestGetLongName: a destination name of 255 bytes, the most a file system
// allows, works: the temporary name never grows past it.
func TestGetLongName(t *testing.T) {
	fx := newDestFixture(t)
	cl := &ref.Client{Timeout: 10 * time.Second}
	for _, name := range []string{strings.Repeat("x", 255), strings.Repeat("é", 127) + "x"} {
		dir := t.TempDir()
		dst := filepath.Join(dir, name)
		for range 2 { // new, then replaced
			if _, err := cl.Get(context.Background(), fx.addr, "file.bin", dst); err != nil {
				t.Fatalf("Get to a %d-byte name: %v", len(name), err)
			}
			checkRegular(t, dst, fx.data, 0)
			checkOnly(t, dir, name)
		}
	}
}

// checkRegular fails unless path is a regular file holding want with
// permission bits mode (0: any).
func checkRegular(t *testing.T, path string, want []byte, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v, want a regular file", path, fi.Mode())
	}
	if mode != 0 && fi.Mode().Perm() != mode {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
	got, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes (md5 %s), want %d (md5 %s)", path, len(got), md5hex(got), len(want), md5hex(want))
	}
}

// checkKind fails unless path is (not through a link) of the type kind.
func checkKind(t *testing.T, path string, kind fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != kind {
		t.Errorf("%s is now %v, want it left a %v", path, fi.Mode().Type(), kind)
	}
}

// checkOnly fails unless dir holds exactly the names given: no temporary
// file is left.
func checkOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	if got := dirEntries(t, dir); !equalStrings(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
