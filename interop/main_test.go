package interop_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/internal/testenv"
)

// stickykit is the path of the stickykit command the tests run, built by
// TestMain.
var stickykit string

func TestMain(m *testing.M) {
	testenv.QuickExit()
	if code, ran := testenv.OwnNetwork(); ran {
		os.Exit(code)
	}
	dir, err := os.MkdirTemp("", "stickykit-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stickykit = filepath.Join(dir, "stickykit")
	build := exec.Command("go", "build", "-o", stickykit, "github.com/stickykit/stickykit/cmd/stickykit")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building stickykit: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	undo := testenv.DirectPython()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		undo()
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}
