package conformance_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/spec"
)

// Recording the reads of the programs the kit starts (ClientTarget.Reads,
// ServerTarget.Reads): where tracing cannot work the cases run as without
// it and say so once; where it fails in a case, the case runs again
// without it; where it works, the verdicts name the reads.

// fakeStrace writes a stand-in for strace into a directory of its own and
// returns the directory, for PATH.
func fakeStrace(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	if script != "" {
		if err := os.WriteFile(filepath.Join(dir, "strace"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// deniedStrace stands in for strace where ptrace is forbidden.
const deniedStrace = `#!/bin/sh
echo 'strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted' >&2
exit 1
`

// selfOnlyStrace stands in for strace that may trace itself (so the
// probe passes) but no other program: it makes the trace file, then
// refuses to run the program as strace does when it cannot.
const selfOnlyStrace = `#!/bin/sh
out=
while [ $# -gt 0 ]; do
	case "$1" in
	-o) out=$2; shift 2 ;;
	--) shift; break ;;
	*) shift ;;
	esac
done
[ -n "$out" ] && : >"$out"
[ "$2" = -V ] && exit 0
echo "strace: exec: Permission denied" >&2
exit 1
`

// TestReadsUnavailable: without strace, or where ptrace is forbidden, the
// cases run as without Reads, record nothing, and the first result's log
// says why, once.
func TestReadsUnavailable(t *testing.T) {
	for _, tt := range []struct {
		name, strace, why string
	}{
		{"strace missing", "", "strace is not installed"},
		{"ptrace denied", deniedStrace, "strace may not trace programs (ptrace failed with EPERM)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", fakeStrace(t, tt.strace))
			if err := conformance.ProbeReads(t.Context()); err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("ProbeReads = %v, want an error that says %q", err, tt.why)
			}
			target := conformance.ClientTarget{Framing: spec.Lockstep, Command: clientHelperCommand("ref"), Reads: true}
			results := conformance.RunClient(t.Context(), target, runIDs(0, "client/plain", "client/sticky"))
			said := 0
			for _, r := range results {
				if r.Outcome.Verdict != conformance.Pass || r.Reads != nil {
					t.Errorf("%s = %s: %s, reads %+v; want PASS and no reads", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, r.Reads)
				}
				for _, l := range r.Log {
					if strings.Contains(l, tt.why) {
						said++
					}
				}
			}
			if said != 1 || len(results) == 0 || !strings.Contains(results[0].Log[0], "the reads were not recorded: tracing the program's reads is not possible here: "+tt.why) {
				t.Errorf("the logs say %q %d times, want once, first in the first result's log; logs: %q", tt.why, said, results[0].Log)
			}
		})
	}
}

// TestReadsFailInACase: strace passes the probe but cannot run the
// client: the case runs again without it, says so, and the rest run
// without it. Neither gets a FAIL or an ERROR from it.
func TestReadsFailInACase(t *testing.T) {
	t.Setenv("PATH", fakeStrace(t, selfOnlyStrace))
	target := conformance.ClientTarget{Framing: spec.Lockstep, Command: clientHelperCommand("ref"), Reads: true}
	results := conformance.RunClient(t.Context(), target, runIDs(0, "client/plain", "client/sticky"))
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for i, r := range results {
		said := strings.Contains(r.Outcome.Detail, "the kit could not record the client's reads (strace: exec: Permission denied): this case ran again without them, as did the rest")
		if r.Outcome.Verdict != conformance.Pass || r.Reads != nil || said != (i == 0) {
			t.Errorf("%s = %s: %s; want PASS, no reads, and the failure said in the first case only", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
		}
	}
}

// TestReadsFailForAServer: the same for a server the kit starts.
func TestReadsFailForAServer(t *testing.T) {
	t.Setenv("PATH", fakeStrace(t, selfOnlyStrace))
	target := conformance.ServerTarget{Framing: spec.Lockstep, Command: serverHelperCommand("{addr}"), Reads: true}
	results := conformance.RunServer(t.Context(), target, runIDs(0, "server/sizes", "server/split-request"))
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for i, r := range results {
		said := strings.Contains(r.Outcome.Detail, "the kit could not record the server's reads (strace: exec: Permission denied): it started the server without them, in this case and the rest")
		if r.Outcome.Verdict == conformance.Error || r.Outcome.Verdict == conformance.Fail || said != (i == 0) {
			t.Errorf("%s = %s: %s; want no ERROR or FAIL, and the failure said in the first case only", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
		}
	}
}

var (
	probeOnce sync.Once
	probeErr  error
)

// canTrace skips the test when the reads cannot be recorded here.
func canTrace(t *testing.T) {
	t.Helper()
	probeOnce.Do(func() { probeErr = conformance.ProbeReads(context.Background()) })
	if probeErr != nil {
		t.Skip(probeErr)
	}
}

// python returns the argv of a Python peer of testdata/python, run by the
// interpreter itself (not a wrapper script that finds it) without site
// packages, which the peers do not use; it skips without python3.
func python(t *testing.T, peer string, args ...string) []string {
	t.Helper()
	path := pythonPeer(t, peer)
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skipf("python3 does not run: %v", err)
	}
	return append([]string{strings.TrimSpace(string(out)), "-S", path}, args...)
}

// readsCase is a client case run with its reads recorded, and what its
// verdict must say.
type readsCase struct {
	name  string
	argv  []string
	id    string
	want  conformance.Verdict
	words []string
}

// TestReadsLive records the reads of the tutorial's clients and the
// reference client and checks the words each verdict gains: the read
// that swallowed the digest, the short digest read, the read that
// stopped at the boundary, a digest never read; nothing about a client
// that read every message exactly.
func TestReadsLive(t *testing.T) {
	canTrace(t)
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	tutorial := func(variant string) []string {
		return python(t, "tutorial_client.py", "{host}", "{port}", "{name}", "{out}", "--variant", variant)
	}
	for _, tt := range []readsCase{
		{"naive under the sticky packet", tutorial("naive"), "client/sticky", conformance.Fail, []string{
			"ends with the digest: the last read took the digest as file data (sticky packet, REQ-CLI-2, REQ-GEN-1, REQ-GEN-2): " +
				"read 98 after the size asked for 1024 bytes and got 704: the last 672 bytes of the file and 32 bytes of the digest; they went into the file"}},
		{"the article's fix under the sticky packet", tutorial("article"), "client/sticky", conformance.Pass, []string{
			"the client's recorded reads: read 98 after the size asked for 672 bytes and got 672: the last 672 bytes of the file, ending where the file ends: the reads stopped at the boundary"}},
		{"the article's fix under the half packet", tutorial("article"), "client/split-digest", conformance.Fail, []string{
			"the client's recorded reads: read 4 after the size asked for 1024 bytes and got 16: the first 16 bytes of the digest; " +
				"the client read 16 of the 32 bytes of the digest and no more"}},
		{"naive with the size in two pieces", tutorial("naive"), "client/split-size", conformance.Fail, []string{
			"read 1 asked for 1024 bytes and got 3: the first 3 of the 6 bytes of the size; read 2 asked for 1024 bytes and got 1024: the last 3 bytes of the size and the first 1021 bytes of the file"}},
		{"a client that never reads the digest", python(t, "client_nodigest.py", "{host}", "{port}", "{name}", "{out}"), "client/plain", conformance.Fail, []string{
			"(REQ-CLI-3)", "the client's recorded reads: the client read all 100000 bytes of the file and none of the digest"}},
		{"the reference client", clientHelperCommand("ref"), "client/plain", conformance.Pass, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := conformance.ClientTarget{Framing: spec.Lockstep, Command: tt.argv, Reads: true}
			results := conformance.RunClient(t.Context(), target, runIDs(0, tt.id))
			if len(results) != 1 {
				t.Fatalf("%d results, want 1", len(results))
			}
			r := results[0]
			casetest.CheckCitations(t, r)
			if r.Outcome.Verdict != tt.want {
				casetest.LogResult(t, r)
				t.Fatalf("%s = %s: %s; want %s", tt.id, r.Outcome.Verdict, r.Outcome.Detail, tt.want)
			}
			for _, w := range tt.words {
				if !strings.Contains(r.Outcome.Detail, w) {
					t.Errorf("detail = %q\nwant it to say %q", r.Outcome.Detail, w)
				}
			}
			if tt.words == nil && strings.Contains(r.Outcome.Detail, "recorded reads") {
				t.Errorf("detail = %q, want nothing about reads that ended where messages end", r.Outcome.Detail)
			}
			checkRecorded(t, r)
		})
	}
}

// checkRecorded checks the reads a case recorded against what the kit
// sent: a layout of the 6-byte size "100000" or of the size of the
// case's file, reads at the offsets they reach one after the other,
// and the kit's writes adding up to the whole exchange.
func checkRecorded(t *testing.T, r conformance.Result) {
	t.Helper()
	rd := r.Reads
	if rd == nil || rd.Layout == nil || len(rd.Calls) == 0 {
		t.Fatalf("%s recorded reads %+v; want reads and a layout", r.Case.ID, rd)
	}
	var off, wrote int64
	for i, c := range rd.Calls {
		if c.Offset != off {
			t.Errorf("read %d at offset %d, want %d", i+1, c.Offset, off)
		}
		if !c.Peek {
			off += c.Got
		}
	}
	for _, n := range rd.Wrote {
		wrote += n
	}
	if l := rd.Layout; l.End-l.Digest != 32 || l.Data <= 0 || off > wrote || wrote < l.Digest {
		t.Errorf("layout %+v, reads took %d bytes, the kit wrote %d; want a 32-byte digest after the data, and reads within what was written", l, off, wrote)
	}
	if r.Case.ID == "client/sticky" {
		want := conformance.Layout{Data: 6, Digest: 100006, End: 100038}
		if *rd.Layout != want || fmt.Sprint(rd.Wrote) != "[6 99328 704]" {
			t.Errorf("layout %+v, wrote %v; want %+v, [6 99328 704]", *rd.Layout, rd.Wrote, want)
		}
	}
}

// serverReadsWords is what the reads of server/split-request say of a
// server that took a fragment of the request.
var serverReadsWords = regexp.MustCompile("the server's recorded reads: the server read (\\d+) bytes?, `([^`]*)`, and no more of the (\\d+)-byte request `(get [^`]*)`: it took that fragment for the whole request")

// TestReadsLiveServer: the tutorial-style server that splits each request
// into a command and a name, under server/split-request: the verdict
// names the fragment it read. Whichever way the race between its first
// read and the kit's one-byte segments goes, the words follow it: a
// fragment and no more, or the whole request in one read.
func TestReadsLiveServer(t *testing.T) {
	canTrace(t)
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	target := conformance.ServerTarget{Framing: spec.Lockstep, Command: python(t, "server_dies.py", "{port}"), Reads: true}
	results := conformance.RunServer(t.Context(), target, runIDs(0, "server/split-request"))
	if len(results) != 1 {
		t.Fatalf("%d results, want 1", len(results))
	}
	d := results[0].Outcome.Detail
	if strings.Contains(d, "happened to read the whole request at once") {
		if !strings.Contains(d, "the server's recorded reads: the server read the ") || !strings.Contains(d, "in one read") {
			t.Errorf("detail = %q; want the reads to say the server read the whole request in one read", d)
		}
		return
	}
	m := serverReadsWords.FindStringSubmatch(d)
	if m == nil {
		t.Fatalf("detail = %q\nwant it to match %q", d, serverReadsWords)
	}
	if n := len(m[2]); fmt.Sprint(n) != m[1] || !strings.HasPrefix(m[4], m[2]) || fmt.Sprint(len(m[4])) != m[3] || n >= len(m[4]) {
		t.Errorf("the server read %s bytes %q of the %s-byte request %q: want a fragment of it", m[1], m[2], m[3], m[4])
	}
	if results[0].Outcome.Verdict != conformance.Fail || !strings.Contains(d, "ValueError") {
		t.Errorf("server/split-request = %s: %s; want FAIL naming the crash", results[0].Outcome.Verdict, d)
	}
}
