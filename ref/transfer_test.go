package ref_test

import (
	"bytes"
	"context"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

var transferSizes = []int{0, 1, 1023, 1024, 1025, 3 << 20}

// testFiles returns the files every transfer test serves.
func testFiles(t *testing.T) map[string][]byte {
	files := map[string][]byte{
		"résumé final.txt":   []byte("curriculum vitae\n"),
		"视频.mp4":             content(t, 4096),
		"sub dir/a b.bin":    content(t, 77),
		"get get get":        []byte("the name looks like requests"),
		"ready to recv file": []byte("the name looks like the ack"),
	}
	for _, n := range transferSizes {
		files["size-"+strconv.Itoa(n)] = content(t, n)
	}
	return files
}

// TestTransfer downloads every test file over one session, in both
// framings, over net.Pipe and loopback TCP.
func TestTransfer(t *testing.T) {
	for _, tr := range transports {
		for _, f := range spec.Framings {
			t.Run(tr.name+"/"+f.String(), func(t *testing.T) {
				root := t.TempDir()
				files := testFiles(t)
				writeFiles(t, root, files)
				srv := newServer(t, root, f)
				sess := (&ref.Client{Framing: f, Timeout: 10 * time.Second}).NewSession(tr.dial(t, srv))
				defer sess.Close()

				dst := t.TempDir()
				names := slices.Sorted(maps.Keys(files))
				for i, name := range names {
					want := files[name]
					out := filepath.Join(dst, "out"+strconv.Itoa(i))
					res, err := sess.Get(name, out)
					if err != nil {
						t.Fatalf("Get(%q): %v", name, err)
					}
					got, err := os.ReadFile(out)
					must(t, err)
					if !bytes.Equal(got, want) {
						t.Fatalf("Get(%q): file has %d bytes (md5 %s), want %d bytes (md5 %s)", name, len(got), md5hex(got), len(want), md5hex(want))
					}
					if res.Name != name || res.Size != int64(len(want)) || res.Digest != md5hex(want) {
						t.Errorf("Get(%q) = %+v, want size %d digest %s", name, res, len(want), md5hex(want))
					}
				}
				// Fetch to a writer, on the same session.
				var buf bytes.Buffer
				res, err := sess.Fetch("视频.mp4", &buf)
				must(t, err)
				if !bytes.Equal(buf.Bytes(), files["视频.mp4"]) || res.Digest != md5hex(files["视频.mp4"]) {
					t.Errorf("Fetch: got %d bytes digest %s, want %d bytes digest %s", buf.Len(), res.Digest, len(files["视频.mp4"]), md5hex(files["视频.mp4"]))
				}
				if got := len(dirEntries(t, dst)); got != len(names) {
					t.Errorf("destination holds %d entries, want %d (no temporary files left)", got, len(names))
				}
			})
		}
	}
}

// TestClientGet dials with Client.Get, one connection per file.
func TestClientGet(t *testing.T) {
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			root := t.TempDir()
			want := content(t, 3<<20)
			writeFiles(t, root, map[string][]byte{"big file.bin": want, "small": []byte("x")})
			addr := serveTCP(t, newServer(t, root, f))
			c := &ref.Client{Framing: f}
			dst := filepath.Join(t.TempDir(), "out.bin")
			for range 2 { // the second Get replaces the first file
				res, err := c.Get(context.Background(), addr, "big file.bin", dst)
				must(t, err)
				got, err := os.ReadFile(dst)
				must(t, err)
				if !bytes.Equal(got, want) || res.Digest != md5hex(want) {
					t.Fatalf("got %d bytes (md5 %s), want %d (md5 %s)", len(got), md5hex(got), len(want), md5hex(want))
				}
			}
			_, err := c.Get(context.Background(), addr, "missing", dst)
			if err == nil {
				t.Fatal("Get(missing) = nil error")
			}
			got, _ := os.ReadFile(dst)
			if !bytes.Equal(got, want) {
				t.Errorf("a failed Get changed the existing destination")
			}
		})
	}
}

// TestProgress checks the progress callback reaches the total and never
// goes back.
func TestProgress(t *testing.T) {
	for _, size := range []int{0, 1025, 3 << 20} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, map[string][]byte{"f": content(t, size)})
			srv := newServer(t, root, spec.Lockstep)
			var calls [][2]int64
			c := &ref.Client{Progress: func(done, total int64) { calls = append(calls, [2]int64{done, total}) }}
			sess := c.NewSession(servePipe(t, srv))
			defer sess.Close()
			_, err := sess.Fetch("f", &bytes.Buffer{})
			must(t, err)
			if len(calls) == 0 {
				t.Fatal("Progress never called")
			}
			last := calls[len(calls)-1]
			if last != [2]int64{int64(size), int64(size)} {
				t.Errorf("last progress call = %v, want [%d %d]", last, size, size)
			}
			for i := 1; i < len(calls); i++ {
				if calls[i][0] < calls[i-1][0] || calls[i][1] != int64(size) {
					t.Errorf("progress call %d = %v after %v", i, calls[i], calls[i-1])
				}
			}
		})
	}
}

// TestDebug checks the Debug writer shows the traffic in both directions.
func TestDebug(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"hello.txt": []byte("hello")})
	srv := newServer(t, root, spec.Lockstep)
	var dbg syncBuffer
	srv.Debug = &dbg
	c1, c2 := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), c2) }()
	sess := (&ref.Client{}).NewSession(c1)
	_, err := sess.Fetch("hello.txt", &bytes.Buffer{})
	sess.Close()
	must(t, <-done)
	must(t, err)
	for _, want := range []string{`< 13 bytes "get hello.txt"`, `> 1 bytes "5"`, `< 18 bytes "ready to recv file"`, `> 5 bytes "hello"`, `> 32 bytes "` + md5hex([]byte("hello")) + `"`} {
		if !strings.Contains(dbg.String(), want) {
			t.Errorf("debug output lacks %q; got:\n%s", want, dbg.String())
		}
	}
}
