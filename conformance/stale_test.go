//go:build unix

package conformance_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// staleHelperMark follows "--" in the arguments of this test binary when
// TestStaleFixturesSwept runs it as a run of the kit to be killed.
const staleHelperMark = "stickykit-stale-helper"

// TestStaleHelperProcess is not a test: run as a child process by
// TestStaleFixturesSwept, it checks the server at ADDR serving ROOT with
// server/missing-file and a wait of an hour, so that it is still waiting,
// its fixtures in place, when it is killed.
func TestStaleHelperProcess(t *testing.T) {
	args, ok := helperArgs(staleHelperMark)
	if !ok || len(args) != 3 {
		t.Skip("a run of the kit to be killed; runs only as a child process")
	}
	conformance.RunServer(context.Background(), conformance.ServerTarget{Addr: args[1], Root: args[2]},
		conformance.Options{Run: regexp.MustCompile(`^server/missing-file$`), Timeout: time.Hour})
	os.Exit(0)
}

// silentServer accepts connections and never answers, until the test
// ends. The channel is closed once it has accepted its first connection.
func silentServer(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done, first := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if conns == nil {
				close(first)
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), first
}

// waitForConnection waits until the kit's run has connected to the
// server: its case has made and recorded every fixture by then. It fails
// t if the run ends first or after a generous bound.
func waitForConnection(t *testing.T, connected <-chan struct{}, exited <-chan error) {
	t.Helper()
	select {
	case <-connected:
	case err := <-exited:
		t.Fatalf("the run ended (%v) before it connected to the server", err)
	case <-time.After(time.Minute):
		t.Fatal("the run did not connect to the server within a minute")
	}
}

// TestStaleFixturesSwept kills a run of the kit (SIGKILL) while its
// fixtures are in the root, then checks that the next run removes them,
// and only what it can prove was made by a run that has ended: a mark of
// a live process, a file that replaced a recorded one, and a mark owned by
// another user stay.
func TestStaleFixturesSwept(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// 1. A run killed with its fixtures in place.
	addr, connected := silentServer(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestStaleHelperProcess$", "--", staleHelperMark, addr, root)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited, reaped := make(chan error, 1), make(chan struct{})
	go func() { exited <- cmd.Wait(); close(reaped) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-reaped })
	waitForConnection(t, connected, exited)
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	left := kitEntries(t, root)
	if len(left) < 2 {
		t.Fatalf("after the kill the root holds %q, want a mark and fixtures", left)
	}
	// 2. What the next run must keep: a mark of this (live) process, and a
	// file that replaced a recorded one.
	live := writeMark(t, root, "live0001", os.Getpid(), "file root \".stickykit-check-live0001-a.bin\"")
	replaced := filepath.Join(root, ".stickykit-check-dead0001-b.bin")
	if err := os.WriteFile(replaced, []byte("replaced"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeMark(t, root, "dead0001", deadPID(t), "file root \".stickykit-check-dead0001-b.bin\" 1 1")
	want := []string{filepath.Base(replaced), ".stickykit-check-live0001.mark"}
	if os.Geteuid() == 0 {
		// As root: a mark of a dead process that another user owns.
		other := writeMark(t, root, "othr0001", deadPID(t))
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		want = append(want, filepath.Base(other))
	}
	slices.Sort(want)

	// 3. The next run.
	srv := reftest.NewServer(t, root, reftest.Options{})
	results := conformance.RunServer(t.Context(), conformance.ServerTarget{Addr: srv.Addr, Root: root, Framing: spec.Lockstep},
		conformance.Options{Run: regexp.MustCompile(`^server/missing-file$`)})
	if len(results) != 1 || results[0].Outcome.Verdict != conformance.Pass {
		t.Fatalf("the next run: %+v, want one PASS", results)
	}
	if !strings.Contains(strings.Join(results[0].Log, "\n"), "left by an earlier run") {
		t.Errorf("the next run's log does not say what it removed:\n%s", strings.Join(results[0].Log, "\n"))
	}
	got := kitEntries(t, root)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("after the next run the root holds %q, want only %q (the killed run's fixtures and mark removed, nothing else)", got, want)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the mark of a live process was removed: %v", err)
	}
}

// kitEntries lists the names in root that begin with the kit's prefix,
// sorted.
func kitEntries(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".stickykit-check-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// writeMark writes a mark for token as the kit does, for process pid, with
// the entry lines given, and returns its path.
func writeMark(t *testing.T, root, token string, pid int, entries ...string) string {
	t.Helper()
	p := filepath.Join(root, ".stickykit-check-"+token+".mark")
	text := fmt.Sprintf("%s\npid %d\nstart %q\nuid %d\n%s\n", markHeaderForTest, pid, "", os.Geteuid(), strings.Join(entries, "\n"))
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// markHeaderForTest is the first line of the kit's marks.
const markHeaderForTest = "stickykit check: the fixtures of one case; a later run removes them once the process below has ended"

// deadPID returns the PID of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("no true(1) to make a dead process: %v", err)
	}
	pid := cmd.Process.Pid
	if syscall.Kill(pid, 0) != syscall.ESRCH {
		t.Skipf("PID %d was reused at once", pid)
	}
	return pid
}

var _ = strconv.Itoa
