package conformance_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

// Names for the files of the server model. Directory names never occur as
// base names, so a file and a directory never want the same path.
var (
	modelDirs  = []string{"", "", "sub/", "dir with space/", "κατάλογος/"}
	modelBases = []string{"a.txt", "x", "my file.txt", "a  b", " leading space", "trailing space ",
		"фото 1.jpg", "数据.bin", "naïve résumé.pdf", "🙂", "-dash", "get x", "ERR not-found"}
	escapePrefixes = []string{"../", "../../", "/", "/tmp/", "sub/../../", "./../", "../sub/"}
)

// genName draws a file name under the root: an optional directory, a base
// name with spaces or non-ASCII letters, and an optional suffix.
func genName() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		dir := rapid.SampledFrom(modelDirs).Draw(t, "dir")
		base := rapid.SampledFrom(modelBases).Draw(t, "base")
		suffix := rapid.StringMatching(`[a-z0-9 é]{0,3}`).Draw(t, "suffix")
		return dir + base + suffix
	})
}

// genSmallFile draws the content of a small file.
func genSmallFile() *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		n := rapid.OneOf(rapid.SampledFrom([]int{0, 1, 1023, 1024, 1025, 2048}), rapid.IntRange(0, 4096)).Draw(t, "file size")
		return fileContent(rapid.Uint64().Draw(t, "content seed"), n)
	})
}

// serverModel drives the reference server over one connection and holds a
// plain model of its directory: name -> content.
type serverModel struct {
	dir     string
	outside string // a file outside the root
	files   map[string][]byte
	sess    *ref.Session
	done    chan error // ServeConn's result
}

// write creates or replaces the file name in the directory and the model.
func (m *serverModel) write(t *rapid.T, name string, data []byte) {
	p := filepath.Join(m.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m.files[name] = data
}

// names returns the model's names in a stable order (rapid draws from them).
func (m *serverModel) names() []string {
	return slices.Sorted(maps.Keys(m.files))
}

// dirs returns the directories that hold a file of the model.
func (m *serverModel) dirs() []string {
	set := map[string]bool{}
	for name := range m.files {
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			set[name[:i]] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// fetch requests name and returns what arrived and the error.
func (m *serverModel) fetch(name string) ([]byte, *ref.Result, error) {
	var b bytes.Buffer
	res, err := m.sess.Fetch(name, &b)
	return b.Bytes(), res, err
}

// expectRefusal fails t unless err is an error reply with the given code.
func expectRefusal(t *rapid.T, name string, err error, code string) {
	t.Helper()
	var er *spec.ErrorReply
	if !errors.As(err, &er) || er.Code != code {
		t.Fatalf("get %q: error %v, want an error reply %q", name, err, code)
	}
}

func (m *serverModel) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"get existing": func(t *rapid.T) {
			names := m.names()
			if len(names) == 0 {
				t.Skip("no file")
			}
			name := rapid.SampledFrom(names).Draw(t, "existing")
			got, res, err := m.fetch(name)
			if err != nil {
				t.Fatalf("get %q: %v", name, err)
			}
			checkReceived(t, got, m.files[name])
			if want := digestOf(m.files[name]); res.Digest != want {
				t.Fatalf("get %q: digest %s, want %s", name, res.Digest, want)
			}
		},
		"get missing": func(t *rapid.T) {
			name := genName().Draw(t, "missing")
			if _, ok := m.files[name]; ok {
				t.Skip("name exists")
			}
			_, _, err := m.fetch(name)
			expectRefusal(t, name, err, spec.CodeNotFound)
		},
		"get long name": func(t *rapid.T) {
			// A name up to the longest a request can carry: nothing exists
			// there, whatever limit the file system puts on a name.
			n := rapid.IntRange(200, spec.MaxNameLen).Draw(t, "long name bytes")
			name := rapid.SampledFrom([]string{"", "sub/"}).Draw(t, "long name dir") + strings.Repeat("n", n-4)
			_, _, err := m.fetch(name)
			expectRefusal(t, name, err, spec.CodeNotFound)
		},
		"get escaping": func(t *rapid.T) {
			name := rapid.SampledFrom(escapePrefixes).Draw(t, "escape") + genName().Draw(t, "name")
			_, _, err := m.fetch(name)
			expectRefusal(t, name, err, spec.CodeForbidden)
		},
		"get directory": func(t *rapid.T) {
			// The root itself, or a directory that holds a file, with or
			// without a trailing slash.
			name := rapid.SampledFrom(append(m.dirs(), ".")).Draw(t, "directory")
			name += rapid.SampledFrom([]string{"", "/"}).Draw(t, "slash")
			_, _, err := m.fetch(name)
			expectRefusal(t, name, err, spec.CodeNotRegular)
		},
		"get file as directory": func(t *rapid.T) {
			names := m.names()
			if len(names) == 0 {
				t.Skip("no file")
			}
			name := rapid.SampledFrom(names).Draw(t, "file") + rapid.SampledFrom([]string{"/", "/x"}).Draw(t, "below")
			_, _, err := m.fetch(name)
			expectRefusal(t, name, err, spec.CodeNotFound)
		},
		"get link in": func(t *rapid.T) {
			// A relative symbolic link to a file of the model, or to a
			// name that does not exist: judged by its target.
			names := m.names()
			if len(names) == 0 {
				t.Skip("no file")
			}
			target := rapid.SampledFrom(names).Draw(t, "link target")
			dangling := rapid.Bool().Draw(t, "dangling")
			if dangling {
				target += ".gone"
			}
			name := "link-in"
			p := filepath.Join(m.dir, name)
			os.Remove(p)
			if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(p)
			got, _, err := m.fetch(name)
			if dangling {
				expectRefusal(t, name, err, spec.CodeNotFound)
				return
			}
			if err != nil {
				t.Fatalf("get %q (link to %q): %v", name, target, err)
			}
			checkReceived(t, got, m.files[target])
		},
		"get link out": func(t *rapid.T) {
			// A symbolic link in the root to a file outside it.
			name := rapid.SampledFrom(modelDirs).Draw(t, "link dir") + "link-out-" + rapid.StringMatching(`[a-z]{1,3}`).Draw(t, "link")
			p := filepath.Join(m.dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(m.outside, p); err != nil && !errors.Is(err, os.ErrExist) {
				t.Fatal(err)
			}
			_, _, err := m.fetch(name)
			expectRefusal(t, name, err, spec.CodeForbidden)
		},
		"create": func(t *rapid.T) {
			name := genName().Draw(t, "new name")
			m.write(t, name, genSmallFile().Draw(t, "content"))
		},
		"remove": func(t *rapid.T) {
			names := m.names()
			if len(names) == 0 {
				t.Skip("no file")
			}
			name := rapid.SampledFrom(names).Draw(t, "removed")
			if err := os.Remove(filepath.Join(m.dir, filepath.FromSlash(name))); err != nil {
				t.Fatal(err)
			}
			delete(m.files, name)
		},
		"": func(t *rapid.T) {
			// The connection keeps serving: refusals of not-found,
			// forbidden and not-regular must not end it.
			select {
			case err := <-m.done:
				m.done <- err
				t.Fatalf("server ended the connection (ServeConn returned %v)", err)
			default:
			}
		},
	}
}

// TestPropertyServerModel drives the reference server over one connection
// with a random sequence of requests (existing names, with spaces and
// non-ASCII letters; missing and over-long names; names that escape the
// root, by "..", by an absolute path or by a symbolic link; directories;
// symbolic links inside the root), between which files are created and
// removed, and checks every answer against a plain model of the directory.
// In the line framing the client's writes are cut at random (the request
// and the ack arrive in pieces); in the lockstep framing they are whole, as
// that framing needs.
func TestPropertyServerModel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, f := range spec.Framings {
		t.Run(f.String(), func(tt *testing.T) {
			base := tt.TempDir()
			rapid.Check(tt, func(t *rapid.T) {
				dir, err := os.MkdirTemp(base, "root")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(dir)
				outside := filepath.Join(base, "outside.txt")
				if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
					t.Fatal(err)
				}
				m := &serverModel{dir: dir, outside: outside, files: map[string][]byte{}, done: make(chan error, 1)}
				for range rapid.IntRange(0, 4).Draw(t, "initial files") {
					m.write(t, genName().Draw(t, "name"), genSmallFile().Draw(t, "content"))
				}

				wrap := func(c net.Conn) net.Conn { return c }
				if f == spec.Line {
					seed := rapid.Int64().Draw(t, "fragment seed")
					maxSeg := rapid.IntRange(1, 16).Draw(t, "max segment")
					t.Logf("client writes through Fragment(Random(%d, 1, %d))", seed, maxSeg)
					wrap = func(c net.Conn) net.Conn { return shape.Fragment(c, shape.Random(seed, 1, maxSeg)) }
				}

				srv, err := ref.NewServer(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				srv.Framing = f
				// No draw between starting the server and deferring its
				// end: a draw may abort the check (while rapid shrinks).
				srvEnd, cliEnd := net.Pipe()
				go func() { m.done <- srv.ServeConn(context.Background(), srvEnd) }()
				m.sess = (&ref.Client{Framing: f, Timeout: pipeTimeout}).NewSession(wrap(cliEnd))
				defer func() {
					m.sess.Close()
					if err := <-m.done; err != nil {
						t.Errorf("ServeConn: %v", err)
					}
				}()
				t.Repeat(m.actions())
			})
		})
	}
}
