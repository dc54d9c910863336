package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reportFixture returns five mutations and a result for each: caught,
// survived and listed invisible, survived and listed equivalent, survived
// and not listed, and not compiled.
func reportFixture(t *testing.T) ([]*Mutation, []*Result, []Listed) {
	t.Helper()
	ms, err := enumerateFile("p/p.go", []byte("package p\n\nfunc f(a, b int) bool { return a == 1 || b < 2 }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 5 {
		t.Fatalf("%d mutations, want at least 5", len(ms))
	}
	outcomes := []Outcome{Caught, Survived, Survived, Survived, NotCompiled}
	var results []*Result
	for i, o := range outcomes {
		results = append(results, &Result{ID: ms[i].ID.String(), Outcome: o, m: ms[i]})
	}
	listed := []Listed{
		{ID: ms[1].ID, Class: ClassInvisible, Reason: "r"},
		{ID: ms[2].ID, Class: ClassEquivalent, Reason: "r"},
		{ID: Identity{File: "p/p.go", Func: "gone", Op: opCmpNegate, Orig: "x", Mut: "y"}, Class: ClassInvisible, Reason: "r"},
	}
	return ms, results, listed
}

func TestReportFinish(t *testing.T) {
	ms, results, listed := reportFixture(t)
	var r Report
	r.finish(results, listed, stale(listed, ms), 0)
	want := Counts{Judged: 5, NotCompiled: 1, Compiled: 4, Equivalent: 1, Invisible: 1, Scored: 2, Caught: 1, Survived: 1}
	if r.Counts != want {
		t.Errorf("counts = %+v, want %+v", r.Counts, want)
	}
	if r.Score != 0.5 {
		t.Errorf("score = %v, want 0.5", r.Score)
	}
	if len(r.Stale) != 1 || !strings.Contains(r.Stale[0], "gone") {
		t.Errorf("stale = %q, want the entry for f \"gone\"", r.Stale)
	}
	var out bytes.Buffer
	r.print(&out)
	for _, w := range []string{"score: caught 1 of 2 = 50.0%", ms[3].ID.String(), "== stale entries"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report does not contain %q:\n%s", w, out.String())
		}
	}
}

// TestRescore scores a saved report against a list that has since grown:
// the survivor it now lists leaves the score.
func TestRescore(t *testing.T) {
	ms, results, listed := reportFixture(t)
	old := Report{Seed: 1, Requested: 5, Results: results}
	b, err := json.Marshal(&old)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := rescore(name, ms, listed, &out, &errOut); code != exitSurvivors {
		t.Errorf("rescore with a survivor unlisted = %d, want %d (%s)", code, exitSurvivors, errOut.String())
	}
	listed = append(listed, Listed{ID: ms[3].ID, Class: ClassEquivalent, Reason: "r"})
	out.Reset()
	if code := rescore(name, ms, listed, &out, &errOut); code != exitOK {
		t.Errorf("rescore with every survivor listed = %d, want %d (%s)", code, exitOK, errOut.String())
	}
	if !strings.Contains(out.String(), "score: caught 1 of 1 = 100.0%") {
		t.Errorf("rescored report:\n%s", out.String())
	}
}
