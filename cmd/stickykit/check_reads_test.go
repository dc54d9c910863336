package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/report"
	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/internal/testenv"
	"github.com/stickykit/stickykit/spec"
)

var updatePictures = flag.Bool("update-pictures", false, "rewrite the golden pictures in testdata with the actual output")

// stickykitPath returns the stickykit command the tests run (this test
// binary, put on PATH by testscript), skipping without it.
func stickykitPath(t *testing.T) string {
	t.Helper()
	sk, err := exec.LookPath("stickykit")
	if err != nil {
		t.Skip("no stickykit command on PATH")
	}
	return sk
}

// TestCheckReadsPicture draws the picture of client/sticky from a trace
// recorded by strace, as the kit runs it under --reads, of the tutorial's
// naive client (testdata/naive_sticky.strace: its own read calls, its
// files' and its connection's), and compares it with the golden picture.
func TestCheckReadsPicture(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "naive_sticky.strace"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := readtrace.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Conns()); n != 1 {
		t.Fatalf("the trace shows reads on %d connections, want 1", n)
	}
	st := tr.Stream(tr.Conns()[0])
	c, _ := conformance.Lookup("client/sticky")
	l := readtrace.ExchangeLayout(spec.Lockstep, 100000)
	res := conformance.Result{Case: c, Reads: &conformance.Reads{Calls: st.Reads, Layout: &l, Wrote: []int64{6, 99328, 704}, Failed: st.Failed, Pending: st.Pending}}
	dir := t.TempDir()
	run := &checkRun{command: []string{"python3", "/src/stickykit/testdata/python/tutorial_client.py", "{host}", "{port}", "{name}", "{out}", "--variant", "naive"},
		reads: readsOptions{asked: true, svgDir: dir}}
	var stderr bytes.Buffer
	if !run.writePictures(&env{stderr: &stderr}, []conformance.Result{res, {Case: c}}) {
		t.Fatalf("writePictures failed: %s", stderr.String())
	}
	if want := "stickykit: check: --svg: drew 1 timeline in " + dir + "\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
	got, err := os.ReadFile(filepath.Join(dir, "client-sticky.svg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"client/sticky · python3 tutorial_client.py {host} {port} {name} {out} --variant naive",
		"read 98 after the size: 672 file + 32 digest", "Read 98 after the size asked for 1024 bytes and got 704"} {
		if !bytes.Contains(got, []byte(w)) {
			t.Errorf("the picture does not say %q", w)
		}
	}
	// The golden picture, and the README's copy of it.
	for _, golden := range []string{filepath.Join("testdata", "naive_sticky.svg"), filepath.Join(repoRoot(), "docs", "reads-sticky.svg")} {
		if *updatePictures {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("the picture differs from %s (go test ./cmd/stickykit -run TestCheckReadsPicture -update-pictures rewrites it)", golden)
		}
	}
}

// TestCheckReads runs check client --reads --svg --json --junit on the
// reference client (stickykit get): the JSON names whether the reads were
// recorded and holds each case's reads, its layout when the kit sent a
// size, and the kit's writes; --svg makes its directory and draws one
// picture per case with a size.
func TestCheckReads(t *testing.T) {
	testenv.CanTrace(t)
	verifyNoLeaks(t)
	sk := stickykitPath(t)
	dir := t.TempDir()
	pics, jsonFile, junitFile := filepath.Join(dir, "pictures", "ref"), filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	code, stdout, stderr := runCmd("check", "client", "--reads", "--svg", pics, "--json", jsonFile, "--junit", junitFile,
		"--run", "^client/(sticky|error-reply)$", "--", sk, "get", "--addr", "{addr}", "-o", "{out}", "{name}")
	if code != exitOK {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if want := "stickykit: check: --svg: drew 1 timeline in " + pics + "\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	var rep report.JSONReport
	if err := json.Unmarshal(must2(os.ReadFile(jsonFile)), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Reads == nil || !rep.Reads.Recorded || rep.Reads.Why != "" {
		t.Errorf("JSON reads = %+v, want recorded", rep.Reads)
	}
	for _, c := range rep.Cases {
		switch {
		case c.Reads == nil || len(*c.Reads) == 0:
			t.Errorf("%s: no reads in the JSON", c.ID)
		case c.ID == "client/sticky" && (c.Layout == nil || *c.Layout != conformance.Layout{Data: 6, Digest: 100006, End: 100038} || len(c.Wrote) != 3):
			t.Errorf("%s: layout %+v, wrote %v; want {6 100006 100038} and the kit's 3 writes", c.ID, c.Layout, c.Wrote)
		case c.ID == "client/error-reply" && c.Layout != nil:
			t.Errorf("%s: layout %+v, want none: the kit sent no size", c.ID, c.Layout)
		}
	}
	raw := string(must2(os.ReadFile(jsonFile)))
	for _, w := range []string{`"reads": {`, `"recorded": true`, `"reads": [`, `"asked": 65536`, `"layout": {`, `"data": 6`, `"wrote": [`} {
		if !strings.Contains(raw, w) {
			t.Errorf("the JSON report does not hold %s", w)
		}
	}
	if !strings.Contains(string(must2(os.ReadFile(junitFile))), `<property name="reads" value="recorded"></property>`) {
		t.Errorf("the JUnit report has no reads property")
	}
	ents, err := os.ReadDir(pics)
	if err != nil || len(ents) != 1 || ents[0].Name() != "client-sticky.svg" {
		t.Errorf("pictures %v, %v; want client-sticky.svg alone", ents, err)
	}
}

// must2 returns b, failing at once on err (for test files the test wrote).
func must2(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestCheckReadsUnavailable: without strace, check --reads says so once
// on stderr and in the reports, and the cases run as without it.
func TestCheckReadsUnavailable(t *testing.T) {
	sk := stickykitPath(t)
	t.Setenv("PATH", t.TempDir())
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	code, stdout, stderr := runCmd("check", "client", "--reads", "--svg", filepath.Join(dir, "pics"), "--json", jsonFile, "--junit", junitFile,
		"--run", "^client/(plain|sticky)$", "--", sk, "get", "--addr", "{addr}", "-o", "{out}", "{name}")
	const why = "tracing the program's reads is not possible here: strace is not installed (on Debian: apt-get install strace)"
	if code != exitOK || stderr != "stickykit: check client --reads: "+why+"; the cases run without it\n" {
		t.Fatalf("exit %d, stderr %q; want 0 and the reason once; stdout:\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, "2 PASS, 0 FAIL") || strings.Contains(stdout, "recorded reads") {
		t.Errorf("stdout:\n%s\nwant 2 PASS and no words about reads", stdout)
	}
	var rep report.JSONReport
	if err := json.Unmarshal(must2(os.ReadFile(jsonFile)), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Reads == nil || rep.Reads.Recorded || rep.Reads.Why != why {
		t.Errorf("JSON reads = %+v, want not recorded, because %q", rep.Reads, why)
	}
	for _, c := range rep.Cases {
		if c.Reads != nil || c.Layout != nil {
			t.Errorf("%s has reads in the JSON: %+v", c.ID, c)
		}
	}
	var doc struct {
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"testsuite>properties>property"`
	}
	if err := xml.Unmarshal(must2(os.ReadFile(junitFile)), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.Props {
		found = found || p.Name == "reads" && p.Value == "not recorded: "+why
	}
	if !found {
		t.Errorf("JUnit properties %+v, want reads = not recorded: %s", doc.Props, why)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "pics")); len(ents) != 0 {
		t.Errorf("pictures drawn without reads: %v", ents)
	}
}
