package conformance_test

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/spec"
)

// Real programs, as their authors wrote them: tutorial-style Python peers
// of our own (testdata/python), checked through the Go API. (The peers
// whose address is written into them are checked by the command's tests
// and lessons, which own their ports.)

// pythonPeer returns the path of a peer, skipping the test without
// python3.
func pythonPeer(t *testing.T, name string) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "python", name)
}

// programTest is a program, the cases to run, and the verdict and words
// each must give.
type programTest struct {
	id      string
	verdict conformance.Verdict
	words   []string // each must be in the detail
}

// checkPrograms runs the results against their expectations.
func checkPrograms(t *testing.T, results []conformance.Result, want []programTest) {
	t.Helper()
	got := map[string]conformance.Result{}
	for _, r := range results {
		casetest.CheckCitations(t, r)
		got[r.Case.ID] = r
	}
	for _, w := range want {
		r, ok := got[w.id]
		if !ok {
			t.Errorf("%s did not run", w.id)
			continue
		}
		if r.Outcome.Verdict != w.verdict {
			t.Errorf("%s = %s: %s, want %s", w.id, r.Outcome.Verdict, r.Outcome.Detail, w.verdict)
			casetest.LogResult(t, r)
			continue
		}
		for _, words := range w.words {
			if !strings.Contains(r.Outcome.Detail, words) {
				t.Errorf("%s detail = %q, want it to say %q", w.id, r.Outcome.Detail, words)
			}
		}
	}
}

// runIDs returns options that run exactly the cases ids.
func runIDs(timeout time.Duration, ids ...string) conformance.Options {
	for i := range ids {
		ids[i] = regexp.QuoteMeta(ids[i])
	}
	return conformance.Options{Run: regexp.MustCompile("^(" + strings.Join(ids, "|") + ")$"), Timeout: timeout}
}

func TestProgramClients(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	t.Run("one recv for the digest", func(t *testing.T) {
		t.Parallel()
		peer := pythonPeer(t, "client_onerecv.py")
		target := conformance.ClientTarget{Command: []string{"python3", peer, "{host}", "{port}", "{name}", "{out}"}}
		results := conformance.RunClient(t.Context(), target, runIDs(0, "client/plain", "client/split-digest", "client/wrong-digest"))
		checkPrograms(t, results, []programTest{
			{"client/plain", conformance.Pass, nil},
			{"client/split-digest", conformance.Fail, []string{"it read only part of the digest (half packet, REQ-CLI-3, REQ-GEN-1), whatever it reported",
				"the client reported success (exit status 0)"}},
			{"client/wrong-digest", conformance.Fail, []string{"reported success (exit status 0) although the digest the kit sent does not match the data", "REQ-CLI-4"}},
		})
	})
	t.Run("no digest read", func(t *testing.T) {
		t.Parallel()
		peer := pythonPeer(t, "client_nodigest.py")
		target := conformance.ClientTarget{Command: []string{"python3", peer, "{host}", "{port}", "{name}", "{out}"}}
		results := conformance.RunClient(t.Context(), target, runIDs(2*time.Second, "client/plain", "client/truncated"))
		checkPrograms(t, results, []programTest{
			{"client/plain", conformance.Fail, []string{"whatever it reported (REQ-CLI-3)", "that was luck"}},
			{"client/truncated", conformance.Fail, []string{"a read that returns 0 bytes is the end of the stream, and must end the transfer as a failure",
				"(REQ-CLI-9, REQ-GEN-5)"}},
		})
	})
	t.Run("the same client without a digest", func(t *testing.T) {
		t.Parallel()
		peer := pythonPeer(t, "client_nodigest.py")
		target := conformance.ClientTarget{Digest: spec.DigestNone, Command: []string{"python3", peer, "{host}", "{port}", "{name}", "{out}"}}
		results := conformance.RunClient(t.Context(), target, runIDs(0, "client/plain", "client/split-digest"))
		checkPrograms(t, results, []programTest{
			{"client/plain", conformance.Pass, nil},
			{"client/split-digest", conformance.Skip, []string{"the exchange has none"}},
		})
	})
}

func TestProgramServers(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	server := func(t *testing.T, name string) conformance.ServerTarget {
		return conformance.ServerTarget{Command: []string{"python3", pythonPeer(t, name), "{port}"}}
	}
	t.Run("dies when a client leaves", func(t *testing.T) {
		t.Parallel()
		results := conformance.RunServer(t.Context(), server(t, "server_dies.py"), runIDs(time.Second, "server/sizes", "server/names"))
		checkPrograms(t, results, []programTest{
			{"server/sizes", conformance.Fail, []string{"your server stopped accepting connections during this case: its process exited with status 1",
				"ValueError: not enough values to unpack", "(REQ-SRV-16"}},
			{"server/names", conformance.Fail, []string{"your server stopped accepting connections during this case", "ValueError: too many values to unpack"}},
		})
	})
	t.Run("answers 404", func(t *testing.T) {
		t.Parallel()
		results := conformance.RunServer(t.Context(), server(t, "server_404.py"), runIDs(time.Second, "server/missing-file", "server/sizes"))
		checkPrograms(t, results, []programTest{
			{"server/missing-file", conformance.Fail, []string{"the server announced 404 bytes for",
				`on the wire a bare number is a size; an error reply is "ERR code [text]", here "ERR not-found"`}},
			{"server/sizes", conformance.Pass, nil},
		})
	})
	t.Run("serves one client at a time", func(t *testing.T) {
		// The tutorial's server never answers a request for a missing
		// file and serves one connection at a time: it never runs out
		// of descriptors, and the case must not blame it for that.
		t.Parallel()
		if runtime.GOOS != "linux" {
			t.Skip("the kit limits a server's descriptors on Linux only")
		}
		target := conformance.ServerTarget{Command: []string{"python3", pythonPeer(t, "tutorial_server.py"), "{port}", "{root}"}}
		results := conformance.RunServer(t.Context(), target, runIDs(time.Second, "server/out-of-descriptors"))
		checkPrograms(t, results, []programTest{
			{"server/out-of-descriptors", conformance.Inconclusive, []string{"gave no reply within 1s", "it had not run out of them"}},
		})
	})
	t.Run("stats before it opens", func(t *testing.T) {
		t.Parallel()
		results := conformance.RunServer(t.Context(), server(t, "server_stat.py"), runIDs(time.Second, "server/unreadable"))
		want := programTest{"server/unreadable", conformance.Fail, []string{"it took the size from the file's metadata (stat) before it opened the file", "REQ-SRV-10"}}
		if casetest.CanReadMode000() {
			// As root the server reads mode 000 and sends the bytes.
			want = programTest{"server/unreadable", conformance.Inconclusive, []string{"and sent them: it could read a file with mode 000"}}
		}
		checkPrograms(t, results, []programTest{want})
	})
}
