// Package testenv prepares the environment in which stickykit's tests
// start programs, so that what a machine wraps them in costs no time: the
// race detector's pause as a program exits, and a python3 that is a shell
// script in front of the interpreter (pyenv's shims cost half a second of
// CPU a call). The programs themselves, and what they do, are unchanged.
// It also runs a test binary in a network namespace of its own
// (OwnNetwork), and finds the Python peers of testdata/python and whether
// a program's reads can be recorded. It is meant for tests only.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// QuickExit sets GORACE in this process's environment so that the programs
// it starts exit at once under the race detector, which otherwise sleeps
// a second at exit to catch the races of goroutines still running. Races
// are still reported, and a program that had one still exits with status
// 66.
func QuickExit() {
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// DirectPython puts first on PATH a directory whose python3 is the
// interpreter that the python3 on PATH runs, when that python3 is not the
// interpreter itself but a program in front of it (a shim). It returns a
// function that removes the directory; it changes nothing, and the
// function does nothing, when python3 is missing or is the interpreter.
func DirectPython() (undo func()) {
	undo = func() {}
	py, err := exec.LookPath("python3")
	if err != nil {
		return undo
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
	exe := strings.TrimSpace(string(out))
	if err != nil || !filepath.IsAbs(exe) {
		return undo
	}
	if a, b := realPath(py), realPath(exe); a == b {
		return undo
	}
	dir, err := os.MkdirTemp("", "stickykit-python")
	if err != nil {
		return undo
	}
	if err := os.Symlink(exe, filepath.Join(dir, "python3")); err != nil {
		os.RemoveAll(dir)
		return undo
	}
	os.Setenv("PATH", dir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	return func() { os.RemoveAll(dir) }
}

// realPath returns p with every symbolic link resolved, or p itself.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// Prepare does QuickExit and DirectPython, and returns DirectPython's undo.
// In a TestMain:
//
//	undo := testenv.Prepare()
//	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { undo(); os.Exit(code) }))
func Prepare() (undo func()) {
	QuickExit()
	return DirectPython()
}
