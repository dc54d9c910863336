package main

import (
	"strings"
	"testing"
)

const survivorsList = `# comment

ref/conn.go (*conn).serve remove-call "c.log.Info(\"conn accepted\")" -> "" #0  invisible: a log record only
spec/parse.go ParseSize cmp-negate "a -> b" -> "a: b" #2	equivalent: the reason: with a colon
`

func TestReadSurvivors(t *testing.T) {
	got, err := ReadSurvivors(strings.NewReader(survivorsList))
	if err != nil {
		t.Fatal(err)
	}
	want := []Listed{
		{ID: Identity{File: "ref/conn.go", Func: "(*conn).serve", Op: "remove-call", Orig: `c.log.Info("conn accepted")`}, Class: ClassInvisible, Reason: "a log record only", Line: 3},
		{ID: Identity{File: "spec/parse.go", Func: "ParseSize", Op: "cmp-negate", Orig: "a -> b", Mut: "a: b", Ordinal: 2}, Class: ClassEquivalent, Reason: "the reason: with a colon", Line: 4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadSurvivorsErrors(t *testing.T) {
	const id = `ref/a.go f op "x" -> "y" #0`
	for _, tt := range []struct{ list, want string }{
		{id + "\n", "want \"equivalent: REASON\""},
		{id + " invisible:\n", "want \"equivalent: REASON\""},
		{id + " visible: it shows\n", `class "visible"`},
		{id + " invisible: a\n" + id + " equivalent: b\n", "already listed on line 1"},
		{"ref/a.go f op x -> y #0 invisible: a\n", "line 1: original snippet"},
	} {
		_, err := ReadSurvivors(strings.NewReader(tt.list))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadSurvivors(%q) = %v, want an error containing %q", tt.list, err, tt.want)
		}
	}
}

func TestStale(t *testing.T) {
	ms, err := enumerateFile("p/p.go", []byte("package p\n\nfunc f(a int) bool { return a == 1 }\n"))
	if err != nil {
		t.Fatal(err)
	}
	live := Listed{ID: ms[0].ID, Class: ClassEquivalent, Reason: "r"}
	gone := Listed{ID: Identity{File: "p/p.go", Func: "g", Op: opCmpNegate, Orig: "a == 1", Mut: "a != 1"}, Class: ClassInvisible, Reason: "r"}
	got := stale([]Listed{live, gone}, ms)
	if len(got) != 1 || got[0] != gone {
		t.Errorf("stale = %+v, want only %+v", got, gone)
	}
}

// TestSurvivorsFile parses the checked-in list: it must stay readable.
func TestSurvivorsFile(t *testing.T) {
	if _, err := readSurvivorsFile("survivors.txt"); err != nil {
		t.Fatal(err)
	}
}
