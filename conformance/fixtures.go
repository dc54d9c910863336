package conformance

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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
type fixtures struct {
	x     *check
	root  string
	token string
	paths []string // created files, removed by remove (last first)
	dirs  []string // created directories, removed after the files
}

// newFixtures starts the fixtures of x's case in root.
func newFixtures(x *check, root string) *fixtures {
	var t [4]byte
	rand.Read(t[:])
	return &fixtures{x: x, root: root, token: hex.EncodeToString(t[:])}
}

// name returns the unique top-level name for label.
func (fx *fixtures) name(label string) string {
	return fixturePrefix + fx.token + "-" + label
}

// content returns the case's n deterministic bytes for label.
func (fx *fixtures) content(label string, n int) []byte { return caseContent(fx.x.c.ID, label, n) }

// path returns the path of name (relative to the root, "/" separated).
func (fx *fixtures) path(name string) string {
	return filepath.Join(fx.root, filepath.FromSlash(name))
}

// file writes n deterministic bytes at name (relative to the root, "/"
// separated) and returns them.
func (fx *fixtures) file(name string, n int) ([]byte, error) {
	// The token is left out of the label: the same case writes the same
	// bytes on every run.
	data := fx.content(strings.Replace(name, fx.token, "", 1), n)
	return data, fx.writeAt(fx.path(name), data)
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

// dir creates the directory name (relative to the root).
func (fx *fixtures) dir(name string) error {
	if fx.root == "" {
		return errNoRoot
	}
	p := fx.path(name)
	if err := os.Mkdir(p, 0o755); err != nil {
		return fmt.Errorf("cannot create the fixture directory: %w", err)
	}
	fx.dirs = append(fx.dirs, p)
	return nil
}

// errNoRoot is what a fixture gets when the kit has no root to write.
var errNoRoot = errors.New("the kit has no root of the server's to write fixtures into")

// writeAt creates the file at path exclusively, readable by all (the
// server may run as another user), and records it for removal.
func (fx *fixtures) writeAt(path string, data []byte) error {
	if fx.root == "" {
		return errNoRoot
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create a fixture in the server's root: %w", err)
	}
	fx.paths = append(fx.paths, path)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write the fixture %s: %w", path, err)
	}
	os.Chmod(path, 0o644) // undo the umask: the server may run as another user
	fx.x.logf("fixture %q: %d bytes, md5 %s", filepath.Base(path), len(data), digestOf(data))
	return nil
}

// fifo makes a named pipe at name (relative to the root) and records it
// for removal.
func (fx *fixtures) fifo(name string) error {
	if fx.root == "" {
		return errNoRoot
	}
	p := fx.path(name)
	if err := mkfifo(p); err != nil {
		return err
	}
	fx.paths = append(fx.paths, p)
	return nil
}

// remove deletes every fixture the case created.
func (fx *fixtures) remove() {
	for i := len(fx.paths) - 1; i >= 0; i-- {
		os.Remove(fx.paths[i])
	}
	for i := len(fx.dirs) - 1; i >= 0; i-- {
		os.Remove(fx.dirs[i])
	}
}

// setupFailed is the outcome of a case whose fixtures could not be made:
// the kit cannot say anything about the server.
func setupFailed(err error) Outcome {
	return inconclusive("%v (the kit writes its fixtures into the directory given as the server's root)", err)
}

// sizeName is a fixture label for a size: "1025-bytes.bin".
func sizeName(n int) string { return strconv.Itoa(n) + "-bytes.bin" }
