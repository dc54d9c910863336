package ref_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// Sizes around the buffers of a pipelined transfer (64KiB inline; the
// server's 256KiB buffers; the client's four of 512KiB; 8MiB write-behind
// chunks).
var pipeSizes = []int{64<<10 - 1, 64 << 10, 64<<10 + 1, 256 << 10, 256<<10 + 1, 512 << 10, 512<<10 + 1, 2 << 20, 2<<20 + 1, 4<<20 + 7, 9<<20 + 3}

// TestPipelinedSizes: files around the buffer sizes arrive byte for byte
// with the right digest, through Fetch and through Get.
func TestPipelinedSizes(t *testing.T) {
	root := t.TempDir()
	files := map[string][]byte{}
	for _, n := range pipeSizes {
		files["f"+strconv.Itoa(n)] = content(t, n)
	}
	writeFiles(t, root, files)
	srv := newServer(t, root, spec.Lockstep)
	sess := (&ref.Client{Timeout: 10 * time.Second}).NewSession(servePipe(t, srv))
	defer sess.Close()
	dst := t.TempDir()
	for _, n := range pipeSizes {
		name := "f" + strconv.Itoa(n)
		want := files[name]
		var buf bytes.Buffer
		res, err := sess.Fetch(name, &buf)
		must(t, err)
		if !bytes.Equal(buf.Bytes(), want) || res.Digest != md5hex(want) {
			t.Errorf("Fetch(%s): %d bytes digest %s, want %d bytes digest %s", name, buf.Len(), res.Digest, len(want), md5hex(want))
		}
		out := filepath.Join(dst, name)
		res, err = sess.Get(name, out)
		must(t, err)
		got, err := os.ReadFile(out)
		must(t, err)
		if !bytes.Equal(got, want) || res.Digest != md5hex(want) {
			t.Errorf("Get(%s): %d bytes digest %s, want %d bytes digest %s", name, len(got), res.Digest, len(want), md5hex(want))
		}
	}
}

// TestLargeFileChanges: a large file that shrinks after its size was sent
// ends the connection without a digest; one that grows is sent as
// announced, with the digest of what was sent.
func TestLargeFileChanges(t *testing.T) {
	root := t.TempDir()
	orig := content(t, 5<<20)
	writeFiles(t, root, map[string][]byte{"shrinks": orig, "grows": orig})
	addr := serveTCP(t, newServer(t, root, spec.Lockstep))

	t.Run("shrinks", func(t *testing.T) {
		rc := newRawClient(t, addr)
		size := rc.requestSize("shrinks")
		const left = 3<<20 + 100
		must(t, os.Truncate(filepath.Join(root, "shrinks"), left))
		body, _, err := rc.ackAndRead(size)
		var te *spec.TruncatedError
		if !errors.As(err, &te) || te.Phase != spec.PhaseData {
			t.Fatalf("reading a shrunk file: %v, want a data truncation", err)
		}
		if !bytes.Equal(body, orig[:left]) {
			t.Errorf("got %d bytes, want the first %d of the file", len(body), left)
		}
	})
	t.Run("grows", func(t *testing.T) {
		rc := newRawClient(t, addr)
		size := rc.requestSize("grows")
		f, err := os.OpenFile(filepath.Join(root, "grows"), os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		_, err = f.Write(content(t, 1<<20))
		must(t, err)
		must(t, f.Close())
		body, digest, err := rc.ackAndRead(size)
		must(t, err)
		if !bytes.Equal(body, orig) || digest != md5hex(orig) {
			t.Errorf("got %d bytes digest %s, want %d bytes digest %s", len(body), digest, len(orig), md5hex(orig))
		}
	})
}

// TestLargeTransferAbandoned: a client that leaves in the middle of a large
// transfer ends that connection only; the server's hashing goroutine ends
// with it (goleak in TestMain).
func TestLargeTransferAbandoned(t *testing.T) {
	root := t.TempDir()
	want := content(t, 8<<20)
	writeFiles(t, root, map[string][]byte{"big": want})
	addr := serveTCP(t, newServer(t, root, spec.Lockstep))

	rc := newRawClient(t, addr)
	size := rc.requestSize("big")
	must(t, write(rc.c, spec.EncodeAck(spec.Lockstep)))
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.CopyN(io.Discard, rc.r.Body(size), 1<<20); err != nil {
		t.Fatalf("reading the first MiB: %v", err)
	}
	rc.c.Close()

	res, err := (&ref.Client{Timeout: 10 * time.Second}).NewSession(dialTCP(t, addr)).Fetch("big", io.Discard)
	if err != nil || res.Digest != md5hex(want) {
		t.Fatalf("Fetch after an abandoned transfer = %+v, %v; want the file", res, err)
	}
}

// recordingWriter records the size of every write.
type recordingWriter struct {
	bytes.Buffer
	writes []int
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

// TestFetchWritesLargeBlocks: a large download reaches its writer in order,
// in writes of one size of at least 256KiB, but the last; however the
// data was segmented on the way (here in pieces of at most 1000 bytes).
func TestFetchWritesLargeBlocks(t *testing.T) {
	root := t.TempDir()
	want := content(t, 3<<20+5)
	writeFiles(t, root, map[string][]byte{"big": want})
	srv := newServer(t, root, spec.Lockstep)
	sess := (&ref.Client{Timeout: 10 * time.Second}).NewSession(&smallReads{servePipe(t, srv), 1000})
	defer sess.Close()
	var w recordingWriter
	if _, err := sess.Fetch("big", &w); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("got %d bytes, want the file's %d", w.Len(), len(want))
	}
	for i, n := range w.writes[:len(w.writes)-1] {
		if n != w.writes[0] || n < 256<<10 {
			t.Fatalf("write %d of %d is %d bytes (the first: %v); want all but the last of one size of at least 256KiB", i, len(w.writes), n, w.writes[:min(len(w.writes), 8)])
		}
	}
}

// smallReads returns at most n bytes from each Read.
type smallReads struct {
	net.Conn
	n int
}

func (c *smallReads) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), c.n)]) }

// failWriter fails once it has taken n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return w.n, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

// TestLargeFetchFailures: a failing writer and a server that cuts a large
// transfer short are reported, the session is unusable afterwards, and the
// client's hashing goroutine ends (goleak in TestMain).
func TestLargeFetchFailures(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"big": content(t, 4<<20)})
	srv := newServer(t, root, spec.Lockstep)

	t.Run("writer fails", func(t *testing.T) {
		sess := (&ref.Client{Timeout: 10 * time.Second}).NewSession(servePipe(t, srv))
		defer sess.Close()
		_, err := sess.Fetch("big", &failWriter{n: 1 << 20})
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("Fetch = %v, want %v", err, errDiskFull)
		}
		if _, err := sess.Fetch("big", io.Discard); !errors.Is(err, ref.ErrSessionBroken) {
			t.Errorf("Fetch after a failure = %v, want ErrSessionBroken", err)
		}
	})
	t.Run("server cuts", func(t *testing.T) {
		data := string(content(t, 3<<20))
		sess := scripted(t, spec.Lockstep, 10*time.Second, sendFile(strconv.Itoa(4<<20), data))
		_, err := sess.Fetch("file.bin", io.Discard)
		var te *spec.TruncatedError
		if !errors.As(err, &te) || te.Phase != spec.PhaseData || te.Got != 3<<20 {
			t.Fatalf("Fetch = %v, want a data truncation after %d bytes", err, 3<<20)
		}
	})
}
