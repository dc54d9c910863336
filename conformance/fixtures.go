package conformance

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stickykit/stickykit/internal/seeded"
)

// fixturePrefix begins the name of every file the kit writes.
const fixturePrefix = ".stickykit-check-"

// caseContent returns n bytes of case id's deterministic content for
// label: the seeded stream of "ID LABEL" (package internal/seeded), the
// same on every run.
func caseContent(id, label string, n int) []byte {
	return seeded.Bytes(seeded.Seed(id+" "+label), int64(n))
}

// fixtures are the files one server case writes into (or, for
// path-escape, beside) the server's root. The runner makes them for the
// case and removes them when it ends. Their names carry a random token, so
// runs never collide with each other or with real files; their content is
// the case's seeded content, so the same case writes the same bytes on
// every run.
//
// The root belongs to the server under test, which may replace any name
// in it at any moment (a hostile server learns the names from the
// requests). So the kit changes only what it created, through what it
// created: every fixture is made inside the root opened once as an
// os.Root (nothing is followed out of it), exclusively (O_EXCL: never
// over something already there), and every later change (a truncation,
// an append, a change of mode) goes through the descriptor kept from its
// creation, never through its name. Before each change, and before each
// removal, the kit checks that the name still leads to the file it made
// (owned); a name that no longer does is left alone, and the case that
// changes fixtures reports the server's tampering. Each set of fixtures
// is recorded in a mark file first (stale.go), so that a later run can
// remove what a killed run left behind.
type fixtures struct {
	x     *check
	root  string   // the server's root, as given
	rt    *os.Root // the root, opened once
	token string
	made  []*made // everything created, in order; removed last first
	mark  *mark   // the record of what was made, for a later run's sweep
}

// made is one thing the kit created for a case: a file (with its
// descriptor, kept open until the case ends), a directory or a FIFO.
type made struct {
	in   *os.Root    // the directory it was made in (the root, or its parent)
	name string      // its name there, "/" separated
	kind string      // "file", "directory", "FIFO"
	info fs.FileInfo // what it was when made, to recognise it
	f    *os.File    // a regular file's descriptor; nil for the others
}

// newFixtures starts the fixtures of x's case in root. It fails when
// root cannot be opened. With no root (""), every fixture fails with
// errNoRoot.
func newFixtures(x *check, root string) (*fixtures, error) {
	var t [4]byte
	rand.Read(t[:])
	if root == "" {
		return &fixtures{x: x, token: hex.EncodeToString(t[:])}, nil
	}
	rt, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("cannot open the server's root: %w", err)
	}
	return &fixtures{x: x, root: root, rt: rt, token: hex.EncodeToString(t[:])}, nil
}

// name returns the unique top-level name for label.
func (fx *fixtures) name(label string) string {
	return fixturePrefix + fx.token + "-" + label
}

// content returns the case's n deterministic bytes for label.
func (fx *fixtures) content(label string, n int) []byte { return caseContent(fx.x.c.ID, label, n) }

// path returns the path of name (relative to the root, "/" separated), for
// logs and for the server: the kit itself reaches fixtures through fx.rt.
func (fx *fixtures) path(name string) string {
	return filepath.Join(fx.root, filepath.FromSlash(name))
}

// file writes n deterministic bytes at name (relative to the root, "/"
// separated) and returns them.
func (fx *fixtures) file(name string, n int) ([]byte, error) {
	// The token is left out of the label: the same case writes the same
	// bytes on every run.
	data := fx.content(strings.Replace(name, fx.token, "", 1), n)
	return data, fx.create(fx.rt, name, data)
}

// sized is a fixture a case asks for: its label and its size in bytes.
type sized struct {
	label string
	n     int
}

// fixture is a file written into the server's root: its name there and
// its content.
type fixture struct {
	name string
	data []byte
}

// files writes one fixture for each of want, in order: name(label), of
// the sizes asked.
func (fx *fixtures) files(want ...sized) ([]fixture, error) {
	fs := make([]fixture, len(want))
	for i, w := range want {
		fs[i].name = fx.name(w.label)
		var err error
		if fs[i].data, err = fx.file(fs[i].name, w.n); err != nil {
			return nil, err
		}
	}
	return fs, nil
}

// outside writes data at name in the directory that holds the root (for
// server/path-escape), as file does in the root.
func (fx *fixtures) outside(name string, data []byte) error {
	if fx.rt == nil {
		return errNoRoot
	}
	parent, err := os.OpenRoot(filepath.Dir(filepath.Clean(fx.root)))
	if err != nil {
		return fmt.Errorf("cannot open the directory that holds the server's root: %w", err)
	}
	// The descriptor keeps the parent open for the case; the file's record
	// closes it with the others (see remove).
	if err := fx.create(parent, name, data); err != nil {
		parent.Close()
		return err
	}
	return nil
}

// create makes the file name in dir exclusively (never over anything
// already there, a symbolic link included), readable by all (the server
// may run as another user), writes data through its descriptor and keeps
// the descriptor for later changes.
func (fx *fixtures) create(dir *os.Root, name string, data []byte) error {
	if err := fx.record(); err != nil {
		return err
	}
	f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create a fixture in the server's root: %w", err)
	}
	m := &made{in: dir, name: name, kind: "file", f: f}
	if m.info, err = f.Stat(); err != nil {
		f.Close()
		return fmt.Errorf("cannot create a fixture in the server's root: %w", err)
	}
	fx.made = append(fx.made, m)
	fx.mark.add(dir == fx.rt, m)
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("cannot write the fixture %s: %w", name, err)
	}
	// Undo the umask: the server may run as another user. Through the
	// descriptor: the name may already lead elsewhere.
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("cannot set the mode of the fixture %s: %w", name, err)
	}
	fx.x.logf("fixture %q: %d bytes, md5 %s", name, len(data), digestOf(data))
	return nil
}

// mkdir creates the directory name (relative to the root).
func (fx *fixtures) mkdir(name string) error {
	if err := fx.record(); err != nil {
		return err
	}
	if err := fx.rt.Mkdir(name, 0o755); err != nil {
		return fmt.Errorf("cannot create the fixture directory: %w", err)
	}
	return fx.made1(name, "directory")
}

// fifo makes a named pipe at name (a top-level name in the root).
func (fx *fixtures) fifo(name string) error {
	if err := fx.record(); err != nil {
		return err
	}
	if err := mkfifo(fx.path(name)); err != nil {
		return err
	}
	return fx.made1(name, "FIFO")
}

// made1 records name, just made in the root, as the kit's.
func (fx *fixtures) made1(name, kind string) error {
	fi, err := fx.rt.Lstat(name)
	if err != nil {
		return fmt.Errorf("cannot find the %s the kit just made: %w", kind, err)
	}
	m := &made{in: fx.rt, name: name, kind: kind, info: fi}
	fx.made = append(fx.made, m)
	fx.mark.add(true, m)
	return nil
}

// errNoRoot is what a fixture gets when the kit has no root to write.
var errNoRoot = errors.New("the kit has no root of the server's to write fixtures into")

// record writes the mark of this set of fixtures before its first one.
func (fx *fixtures) record() error {
	if fx.rt == nil {
		return errNoRoot
	}
	if fx.mark != nil {
		return nil
	}
	m, err := newMark(fx.rt, fx.token)
	if err != nil {
		return fmt.Errorf("cannot write the kit's mark in the server's root: %w", err)
	}
	fx.mark = m
	return nil
}

// lookup returns the record of the fixture name in the root.
func (fx *fixtures) lookup(name string) *made {
	for _, m := range fx.made {
		if m.in == fx.rt && m.name == name {
			return m
		}
	}
	return nil
}

// errTampered is the error of a change the kit refused to make because the
// fixture's name no longer leads to the file it made.
var errTampered = errors.New("the fixture is no longer the kit's file")

// owned reports whether m's name still leads to what the kit made, and
// if not, says what is there now.
func (m *made) owned() (ok bool, now string) {
	fi, err := m.in.Lstat(m.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, "gone (removed or renamed)"
	case err != nil:
		return false, "out of the kit's reach (" + err.Error() + ")"
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, "a symbolic link"
	case !os.SameFile(fi, m.info):
		return false, "another " + kindOf(fi.Mode())
	}
	return true, ""
}

// kindOf names the type of a file mode in a few words.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	}
	return "special file"
}

// change applies op to the descriptor of the fixture name, after checking
// that its name still leads to it. It returns errTampered (wrapped, with
// what is there now) when it does not: then nothing is changed.
func (fx *fixtures) change(name, what string, op func(f *os.File) error) error {
	m := fx.lookup(name)
	if m == nil || m.f == nil {
		return fmt.Errorf("the kit made no file %q", name)
	}
	if ok, now := m.owned(); !ok {
		fx.x.logf("kit: %s: %q is %s; the kit changes nothing", what, name, now)
		return fmt.Errorf("%w: it is %s", errTampered, now)
	}
	return op(m.f)
}

// truncate shrinks the fixture name to n bytes, through its descriptor.
func (fx *fixtures) truncate(name string, n int64) error {
	return fx.change(name, "truncating", func(f *os.File) error { return f.Truncate(n) })
}

// appendTo appends more to the fixture name, through its descriptor.
func (fx *fixtures) appendTo(name string, more []byte) error {
	return fx.change(name, "appending", func(f *os.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		_, err = f.WriteAt(more, fi.Size())
		return err
	})
}

// chmod sets the mode of the fixture name, through its descriptor.
func (fx *fixtures) chmod(name string, mode os.FileMode) error {
	return fx.change(name, "changing the mode", func(f *os.File) error { return f.Chmod(mode) })
}

// tampered lists, for a detail, the fixtures whose names no longer lead
// to what the kit made: "\"NAME\" is a symbolic link".
func (fx *fixtures) tampered() []string {
	var out []string
	for _, m := range fx.made {
		if ok, now := m.owned(); !ok {
			out = append(out, fmt.Sprintf("%q is %s", m.name, now))
		}
	}
	return out
}

// unblockFIFO opens the kit's FIFO name for writing without blocking, if
// it is still the kit's, and closes it at once (see unblockFIFOAt).
func (fx *fixtures) unblockFIFO(name string) bool {
	m := fx.lookup(name)
	if m == nil || m.kind != "FIFO" {
		return false
	}
	if ok, _ := m.owned(); !ok {
		return false
	}
	return unblockFIFOAt(fx.path(name), m.info)
}

// remove deletes what the case created and is still the kit's, last
// first, closes every descriptor, and then removes the mark. What the
// server replaced is left where it is: it is not the kit's.
func (fx *fixtures) remove() {
	roots := map[*os.Root]bool{}
	for i := len(fx.made) - 1; i >= 0; i-- {
		m := fx.made[i]
		roots[m.in] = true
		if m.f != nil {
			m.f.Close()
		}
		if ok, now := m.owned(); !ok {
			if !strings.HasPrefix(now, "gone") {
				fx.x.logf("kit: left %q in place: it is %s, no longer the kit's %s", m.name, now, m.kind)
			}
			continue
		}
		if err := m.in.Remove(m.name); err != nil {
			fx.x.logf("kit: cannot remove its %s %q: %v", m.kind, m.name, err)
		}
	}
	fx.mark.remove()
	for r := range roots {
		if r != fx.rt {
			r.Close()
		}
	}
	if fx.rt != nil {
		fx.rt.Close()
	}
}

// setupFailed is the outcome of a case whose fixtures could not be made:
// the kit cannot say anything about the server.
func setupFailed(err error) Outcome {
	return errored("%v (the kit writes its fixtures into the directory given as the server's root)", err)
}

// sizeName is a fixture label for a size: "1025-bytes.bin".
func sizeName(n int) string { return strconv.Itoa(n) + "-bytes.bin" }
