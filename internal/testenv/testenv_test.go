package testenv_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/internal/testenv"
)

// TestDirectPython checks that, after DirectPython, python3 on PATH is the
// interpreter itself: the one the earlier python3 ran, with nothing in
// front of it.
func TestDirectPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	executable := func(py string) string {
		t.Helper()
		out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
		if err != nil {
			t.Fatalf("%s: %v", py, err)
		}
		return strings.TrimSpace(string(out))
	}
	want := executable(py)
	t.Setenv("PATH", os.Getenv("PATH"))
	undo := testenv.DirectPython()
	defer undo()
	got, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	real, err := filepath.EvalSymlinks(got)
	if err != nil {
		t.Fatal(err)
	}
	if wantReal, _ := filepath.EvalSymlinks(want); real != wantReal {
		t.Errorf("python3 on PATH is now %s (%s), want the interpreter %s", got, real, want)
	}
	if e, _ := filepath.EvalSymlinks(executable(got)); e != real {
		t.Errorf("python3 on PATH now runs %s, want %s", e, real)
	}
	undo()
	if _, err := os.Stat(filepath.Dir(got)); got != py && !os.IsNotExist(err) {
		t.Errorf("undo left %s (%v)", filepath.Dir(got), err)
	}
}

// TestQuickExit checks that GORACE keeps what it held and gains
// atexit_sleep_ms=0.
func TestQuickExit(t *testing.T) {
	t.Setenv("GORACE", "halt_on_error=1")
	testenv.QuickExit()
	if got := os.Getenv("GORACE"); got != "halt_on_error=1 atexit_sleep_ms=0" {
		t.Errorf("GORACE = %q", got)
	}
}
