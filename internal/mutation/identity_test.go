package main

import (
	"strings"
	"testing"
)

func TestIdentityRoundTrip(t *testing.T) {
	for _, id := range []Identity{
		{File: "ref/conn.go", Func: "(*conn).serve", Op: opRemoveCall, Orig: `c.log.Info("conn accepted")`, Mut: "", Ordinal: 0},
		// Snippets that hold the separators of the text form itself.
		{File: "spec/parse.go", Func: "const:X", Op: opLogicSwap, Orig: `a -> "b" #3 || c`, Mut: "a -> \"b\" #3 && c\t\x00", Ordinal: 12},
		{File: "x/y.go", Func: "f", Op: opBoolFlip, Orig: "名前 == true", Mut: "名前 == false", Ordinal: 1},
	} {
		s := id.String()
		got, rest, err := ParseIdentity(s + "  invisible: why")
		if err != nil {
			t.Errorf("ParseIdentity(%q): %v", s, err)
			continue
		}
		if got != id {
			t.Errorf("ParseIdentity(%q) = %+v, want %+v", s, got, id)
		}
		if rest != "  invisible: why" {
			t.Errorf("ParseIdentity(%q) rest = %q, want %q", s, rest, "  invisible: why")
		}
	}
}

func TestParseIdentityErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"ref/conn.go f",
		`ref/conn.go f op a -> "b" #0`,
		`ref/conn.go f op "a" "b" #0`,
		`ref/conn.go f op "a" -> b #0`,
		`ref/conn.go f op "a" -> "b"`,
		`ref/conn.go f op "a" -> "b" #x`,
	} {
		if id, _, err := ParseIdentity(s); err == nil {
			t.Errorf("ParseIdentity(%q) = %+v, want an error", s, id)
		}
	}
}

const stableBefore = `package p

func a(x []int) int {
	if len(x) > 2 {
		return x[0]
	}
	return 0
}

func b(n int) bool { return n == 1 || n == 2 }
`

// stableAfter is stableBefore edited in ways that must not rename any
// mutation of b: a new function above it, lines added and a statement
// changed in a, and b itself moved down by them.
const stableAfter = `package p

import "fmt"

func helper() { fmt.Println("new") }

func a(x []int) int {
	// a comment that shifts every line
	if len(x) > 3 {
		return x[0]
	}
	return 0
}

func b(n int) bool { return n == 1 || n == 2 }
`

func TestIdentityStableUnderUnrelatedEdit(t *testing.T) {
	before := identities(t, stableBefore)
	after := identities(t, stableAfter)
	n := 0
	for id := range before["b"] {
		n++
		if !after["b"][id] {
			t.Errorf("mutation %s of b is gone after an edit elsewhere", id)
		}
	}
	if n < 5 {
		t.Errorf("%d mutations of b, want at least 5", n)
	}
	if len(after["b"]) != n {
		t.Errorf("b has %d mutations after the edit, %d before", len(after["b"]), n)
	}
	// The changed statement of a renames its own mutations, and only them.
	for id := range before["a"] {
		if !after["a"][id] && !strings.Contains(id.Orig, "> 2") {
			t.Errorf("mutation %s of a is gone, though its statement did not change", id)
		}
	}
}

// TestIdentityOrdinal checks that identical snippets in one function are
// told apart by their ordinal, in source order.
func TestIdentityOrdinal(t *testing.T) {
	ms, err := enumerateFile("p/p.go", []byte("package p\n\nfunc f(a, b int) int {\n\tif a > 0 {\n\t\treturn 1\n\t}\n\tif a > 0 {\n\t\treturn 2\n\t}\n\treturn 3\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, m := range ms {
		if m.ID.Op == opIfFalse {
			if m.ID.Ordinal != len(lines) {
				t.Errorf("if-false on line %d has ordinal %d, want %d", m.Line, m.ID.Ordinal, len(lines))
			}
			lines = append(lines, m.Line)
		}
	}
	if len(lines) != 2 {
		t.Errorf("if-false mutations on lines %v, want two", lines)
	}
}

func identities(t *testing.T, src string) map[string]map[Identity]bool {
	t.Helper()
	ms, err := enumerateFile("p/p.go", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[Identity]bool{}
	for _, m := range ms {
		if out[m.ID.Func] == nil {
			out[m.ID.Func] = map[Identity]bool{}
		}
		if out[m.ID.Func][m.ID] {
			t.Fatalf("two mutations named %s", m.ID)
		}
		out[m.ID.Func][m.ID] = true
	}
	return out
}
