package casetest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/spec"
)

// WantRefVerdict is the verdict the reference server earns for case id in
// framing f.
func WantRefVerdict(id string, f spec.Framing) conformance.Verdict {
	switch {
	case id == "server/split-request" && f == spec.Lockstep:
		return conformance.Hazard
	case id == "server/pipelined-ack" && f == spec.Lockstep:
		return conformance.Skip
	case id == "server/line-endings" && f == spec.Lockstep:
		return conformance.Skip
	case id == "server/unreadable" && CanReadMode000():
		// The reference server runs in this process: as root it reads
		// a file with mode 000, and the case cannot say anything.
		return conformance.Inconclusive
	case id == "server/out-of-descriptors":
		// It needs a server the kit starts as a process: the reference
		// server runs in this process.
		return conformance.Skip
	case id == "server/special-files" && runtime.GOOS == "windows":
		return conformance.Inconclusive // no FIFOs
	}
	return conformance.Pass
}

// CanReadMode000 reports whether this process can open a file with mode
// 000 for reading (it runs as root, or on a system without such bits).
var CanReadMode000 = sync.OnceValue(func() bool {
	f, err := os.CreateTemp("", "stickykit-mode000-")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	if os.Chmod(name, 0) != nil {
		return false
	}
	g, err := os.Open(name)
	if err != nil {
		return false
	}
	g.Close()
	return true
})

// UserFiles writes the files a user names to server/named-files into
// root (one of them with a space in its name, one empty) and returns
// their names.
func UserFiles(t *testing.T, root string) []string {
	t.Helper()
	files := map[string][]byte{"report 2024.bin": seeded.Bytes(2024, 70001), "empty.txt": nil}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"report 2024.bin", "empty.txt"}
}

// AssertNoFixtures fails if a kit fixture is left in root or beside it. A
// symbolic link with a fixture's name is the server's doing (it replaced
// the kit's file), and the kit leaves what is not its own.
func AssertNoFixtures(t *testing.T, root string) {
	t.Helper()
	for _, dir := range []string{root, filepath.Dir(root)} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), "stickykit-check-") && e.Type()&os.ModeSymlink == 0 {
				t.Errorf("fixture %q left in %s, want it removed", e.Name(), dir)
			}
		}
	}
}
