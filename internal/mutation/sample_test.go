package main

import (
	"fmt"
	"slices"
	"testing"
)

func mutations(prefix string, n int) []*Mutation {
	out := make([]*Mutation, n)
	for i := range out {
		out[i] = &Mutation{ID: Identity{File: "p/" + prefix + ".go", Func: "f", Op: opCmpNegate, Orig: fmt.Sprint(i), Mut: "x"}}
	}
	return out
}

func ids(ms []*Mutation) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID.String())
	}
	return out
}

func TestSampleDeterministic(t *testing.T) {
	all := mutations("a", 500)
	c := &config{n: 50, seed: 1}
	s1, s2 := selectMutations(all, c), selectMutations(all, c)
	if len(s1) != 50 || !slices.Equal(ids(s1), ids(s2)) {
		t.Fatalf("two samples with seed 1 differ, or have %d mutations, want 50", len(s1))
	}
	c.seed = 2
	if slices.Equal(ids(s1), ids(selectMutations(all, c))) {
		t.Error("seeds 1 and 2 drew the same sample")
	}
	// Source order is kept.
	for i := 1; i < len(s1); i++ {
		if slices.Index(all, s1[i-1]) > slices.Index(all, s1[i]) {
			t.Fatalf("sample out of source order at %d", i)
		}
	}
}

// TestSampleStable checks that mutations added in another file change the
// sample only at its margin: every mutation of the old pool drawn from the
// larger pool was drawn from the old one too.
func TestSampleStable(t *testing.T) {
	old := mutations("a", 500)
	grown := append(slices.Clone(old), mutations("b", 100)...)
	c := &config{n: 50, seed: 1}
	before := ids(selectMutations(old, c))
	kept := 0
	for _, m := range selectMutations(grown, c) {
		if m.ID.File != "p/a.go" {
			continue
		}
		kept++
		if !slices.Contains(before, m.ID.String()) {
			t.Errorf("%s is drawn from the grown pool but was not from the old one", m.ID)
		}
	}
	if kept < 30 {
		t.Errorf("only %d of the old sample stayed, want most", kept)
	}
}
