//go:build linux

package conformance_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/spec"
)

// TestClientLeavesBackgroundChild checks a correct client that leaves a
// child running, in a session of its own (setsid) so that killing the
// client's process group misses it, holding the client's stdout and
// stderr: the verdict is the client's own (PASS, at once, never a FAIL for
// the kit's plumbing, such as a pipe still held open), and the child is
// gone when the run returns (the kit, a child subreaper, ended and reaped
// it).
func TestClientLeavesBackgroundChild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "linger.pid")
	t.Setenv(lingerPIDVar, pidFile)
	target := conformance.ClientTarget{Framing: spec.Lockstep, Command: clientHelperCommand("bgchild")}
	results := conformance.RunClient(t.Context(), target, runIDs(0, "client/plain"))
	if len(results) != 1 {
		t.Fatalf("%d results, want 1", len(results))
	}
	r := results[0]
	casetest.CheckCitations(t, r)
	if r.Outcome.Verdict != conformance.Pass {
		t.Errorf("client/plain = %s: %s, want PASS", r.Outcome.Verdict, r.Outcome.Detail)
		casetest.LogResult(t, r)
	}
	if strings.Contains(r.Outcome.Detail, "WaitDelay") {
		t.Errorf("the detail speaks of the kit's plumbing: %s", r.Outcome.Detail)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the client's child never wrote its PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("the client's child (PID %d) is still there after the run (kill(pid, 0) = %v), want it ended and reaped", pid, err)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
