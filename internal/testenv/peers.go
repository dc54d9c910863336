package testenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stickykit/stickykit/conformance"
)

// RepoRoot returns the root of the stickykit module: the directory that
// holds go.mod, testdata/ and scripts/.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// PythonPeer returns the path of the Python peer testdata/python/NAME,
// skipping t without python3.
func PythonPeer(t testing.TB, name string) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	return filepath.Join(RepoRoot(), "testdata", "python", name)
}

// pythonExe returns the Python interpreter itself (not a wrapper script
// that finds it).
var pythonExe = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	return strings.TrimSpace(string(out)), err
})

// PeerArgv returns the argv of the Python peer testdata/python/NAME with
// args, run by the interpreter itself without site packages (-S), which
// starts it several times faster; it skips t without python3.
func PeerArgv(t testing.TB, name string, args ...string) []string {
	t.Helper()
	path := PythonPeer(t, name)
	py, err := pythonExe()
	if err != nil {
		t.Skipf("python3 does not run: %v", err)
	}
	return append([]string{py, "-S", path}, args...)
}

// probeReads asks once whether the reads of a program can be recorded here.
var probeReads = sync.OnceValue(func() error { return conformance.ProbeReads(context.Background()) })

// CanTrace skips t when the reads of a program cannot be recorded here
// (no strace, or tracing not permitted).
func CanTrace(t testing.TB) {
	t.Helper()
	if err := probeReads(); err != nil {
		t.Skip(err)
	}
}
