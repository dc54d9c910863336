package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/report"
	"github.com/stickykit/stickykit/internal/testenv"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/ref/reftest"
)

// These tests own the loopback ports written into the tutorial-style
// peers (28653, 28654), as the lessons in scripts/ do; they run before
// TestScripts, one at a time, so the two never meet, in a network
// namespace of their own where the kernel allows it (testenv.OwnNetwork).

// only returns options that run the cases whose IDs match re exactly.
func only(re string, timeout time.Duration) conformance.Options {
	return conformance.Options{Run: regexp.MustCompile("^(" + re + ")$"), Timeout: timeout}
}

// wantVerdicts checks each result's verdict and words.
func wantVerdicts(t *testing.T, results []conformance.Result, want map[string]conformance.Verdict, words map[string][]string) {
	t.Helper()
	if len(results) != len(want) {
		t.Errorf("%d results, want %d", len(results), len(want))
	}
	for _, r := range results {
		if v := want[r.Case.ID]; r.Outcome.Verdict != v {
			t.Errorf("%s = %s: %s, want %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, v)
		}
		for _, w := range words[r.Case.ID] {
			if !strings.Contains(r.Outcome.Detail, w) {
				t.Errorf("%s detail = %q, want it to say %q", r.Case.ID, r.Outcome.Detail, w)
			}
		}
	}
}

// TestCheckProgramsAsTheyAre checks, through the Go API, the peers whose
// address is written into them: an interactive client, with the kit
// listening where it connects, its commands on stdin, its NAME.new
// collected and its exit status ignored; and a server that accepts one
// client, started fresh for each case on the address it binds.
func TestCheckProgramsAsTheyAre(t *testing.T) {
	verifyNoLeaks(t)
	client := conformance.ClientTarget{Command: []string{"python3", testenv.PythonPeer(t, "client_prompt.py")},
		Listen: "127.0.0.1:28653", Stdin: "get {name}\n", Collect: "{name}.new", IgnoreStatus: true}
	if err := conformance.PreflightClient(t.Context(), client, conformance.Options{}); err != nil {
		t.Fatalf("preflight: %v", err)
	}
	results := conformance.RunClient(t.Context(), client, only("client/plain|client/wrong-digest", 0))
	wantVerdicts(t, results,
		map[string]conformance.Verdict{"client/plain": conformance.Pass, "client/wrong-digest": conformance.Fail},
		map[string][]string{
			"client/plain":        {"left the exact file at {name}.new"},
			"client/wrong-digest": {"left a 4096-byte file at {name}.new: a file that did not verify must not be left (REQ-CLI-5)"},
		})
	for _, r := range results {
		if strings.Contains(r.Outcome.Detail, "reported success") || strings.Contains(r.Outcome.Detail, "reported failure") {
			t.Errorf("%s speaks of the exit status it was told to ignore: %s", r.Case.ID, r.Outcome.Detail)
		}
	}

	server := conformance.ServerTarget{Addr: "127.0.0.1:28654", Command: []string{"python3", testenv.PythonPeer(t, "server_once.py")}}
	results = conformance.RunServer(t.Context(), server, only("server/missing-file|server/sizes", time.Second))
	wantVerdicts(t, results,
		map[string]conformance.Verdict{"server/missing-file": conformance.Pass, "server/sizes": conformance.Fail},
		map[string][]string{"server/sizes": {"your server stopped accepting connections during this case: its process exited with status 0", "REQ-SRV-16"}})
}

// blockOnMissing is a reference server's Debug writer that holds the
// connection that asks for a missing file until release is closed, and
// says so on asked: a case is then in flight, waiting.
type blockOnMissing struct {
	asked   chan<- struct{}
	release <-chan struct{}
}

func (b blockOnMissing) Write(p []byte) (int, error) {
	if strings.Contains(string(p), " < ") && strings.Contains(string(p), "missing.") {
		select {
		case b.asked <- struct{}{}:
		default:
		}
		<-b.release
	}
	return len(p), nil
}

// TestCheckInterrupted interrupts "stickykit check" (SIGINT) in the middle
// of a case: the run ends at once with exit status 130, the case in
// flight and the cases not run are ERROR (never FAIL), the reports are
// written, and the kit's fixtures are gone from the root.
func TestCheckInterrupted(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send")
	}
	sk, err := exec.LookPath("stickykit")
	if err != nil {
		t.Skip("no stickykit command on PATH")
	}
	verifyNoLeaks(t)
	root := t.TempDir()
	asked, release := make(chan struct{}, 1), make(chan struct{})
	srv := reftest.NewServer(t, root, reftest.Options{Configure: func(s *ref.Server) { s.Debug = blockOnMissing{asked, release} }})
	t.Cleanup(func() { close(release) }) // before the server stops: cleanups run last first
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(sk, "check", "server", "--addr", srv.Addr, "--root", root, "--timeout", "1h",
		"--run", "^server/(missing-file|sizes)$", "--json", jsonFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the kit never asked for the missing file; stderr:\n%s", stderr.String())
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted check: %v, want exit status %d; stderr:\n%s", err, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr = %q, want it to say the run was interrupted", stderr.String())
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatalf("no JSON report after the interrupt: %v", err)
	}
	var rep report.JSONReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cases {
		if c.Verdict != conformance.Error || !strings.Contains(c.Detail, "the run was interrupted") {
			t.Errorf("%s = %s: %s, want ERROR (interrupted)", c.ID, c.Verdict, c.Detail)
		}
	}
	if len(rep.Cases) != 2 || rep.Summary[conformance.Error] != 2 {
		t.Errorf("report: %d cases, summary %v; want 2 cases, 2 ERROR", len(rep.Cases), rep.Summary)
	}
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".stickykit-check-") {
			t.Errorf("fixture %s left in the root after the interrupt", e.Name())
		}
	}
}
