package main

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestResumeKeepsWhatStands resumes from a report whose results are
// caught, survived (listed invisible, listed equivalent, not listed) and
// not compiled, for all but one mutation of the selection: the catch, the
// build failure and the listed survivors are kept as they were; the
// survivor not listed and the mutation never reached are left to judge.
func TestResumeKeepsWhatStands(t *testing.T) {
	ms, results, listed := reportFixture(t)
	results[1].Class, results[1].Reason = "stale class", "stale reason"
	old := &Report{Results: results[:4]}
	name := filepath.Join(t.TempDir(), "old.json")
	old.finish(results[:4], listed, nil, 0)
	if err := old.writeJSON(name); err != nil {
		t.Fatal(err)
	}
	back, err := readReport(name)
	if err != nil {
		t.Fatal(err)
	}
	// The selection holds one more mutation than the report judged.
	sel := append(slices.Clone(ms[:4]), ms[4])
	got := make([]*Result, len(sel))
	todo := resume(back, sel, got, listed)
	if want := []int{3, 4}; !slices.Equal(todo, want) {
		t.Errorf("left to judge %v, want %v", todo, want)
	}
	if got[0] == nil || got[0].Outcome != Caught || !got[0].Resumed || got[0].m != sel[0] {
		t.Errorf("the catch was not kept as it was: %+v", got[0])
	}
	if got[1] == nil || got[1].Class != "" || got[2] == nil {
		t.Errorf("the listed survivors were not kept, or kept their old class: %+v, %+v", got[1], got[2])
	}
	// Without today's list, no survivor stands.
	if todo := resume(back, sel, make([]*Result, len(sel)), nil); !slices.Equal(todo, []int{1, 2, 3, 4}) {
		t.Errorf("with no list, left to judge %v, want [1 2 3 4]", todo)
	}
	for _, i := range todo {
		if got[i] != nil {
			t.Errorf("result %d filled though it is to be judged: %+v", i, got[i])
		}
	}
	// A build failure is kept too, with its class cleared for today's list.
	results[3].Outcome, results[3].Class = NotCompiled, "x"
	if todo := resume(&Report{Results: results[:4]}, sel, got, listed); slices.Contains(todo, 3) || got[3].Class != "" {
		t.Errorf("a build failure was not kept, or kept its old class: todo %v, %+v", todo, got[3])
	}
}

func TestResumeMissingReport(t *testing.T) {
	if _, err := readReport(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("a missing report was read without an error")
	}
}
