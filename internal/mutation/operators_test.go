package main

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// opSource exercises every operator. It imports nothing, so that each
// mutant can be type-checked here without building anything.
const opSource = `package p

type E struct{}

func (E) Error() string { return "e" }

func cmp(a, b int) bool { return a < b }

func logic(a, b bool) bool { return a && !b }

func lit(s []byte) byte { return s[0x7f] }

func lens(a int, x []int) int { return a - len(x) }

func slice(x []int, i int) []int { return x[i:] }

func call(f func()) {
	f()
	defer f()
}

func guard(n int) int {
	if n > 0 {
		return 1
	}
	switch {
	case n < -1:
		return 2
	}
	return 0
}

func fail(n int) (int, error) {
	if n == 2 {
		return 0, E{}
	}
	if n == 3 {
		return fail(2)
	}
	return n, nil
}

func loop(xs []int) int {
	t := 0
	for _, x := range xs {
		if x == 1 {
			continue
		}
		switch x {
		case 2:
			break
		}
		if x == 3 {
			break
		}
		t += x
		continue
	}
	return t
}

var flag = true
`

// operatorTests lists, for snippets of opSource, the mutations expected
// of one operator: "ORIG -> MUT".
var operatorTests = []struct {
	op   string
	want []string
}{
	{opCmpNegate, []string{`cmp: return a < b -> return a >= b`, `guard: n > 0 -> n <= 0`}},
	{opCmpBoundary, []string{`cmp: return a < b -> return a <= b`, `guard: n > 0 -> n >= 0`, `guard: n < -1 -> n <= -1`}},
	{opLogicSwap, []string{`logic: return a && !b -> return a || !b`}},
	{opNotRemove, []string{`logic: return a && !b -> return a && b`}},
	{opBoolFlip, []string{`var:flag: flag = true -> flag = false`}},
	{opIntInc, []string{`lit: return s[0x7f] -> return s[0x80]`, `guard: return 1 -> return 2`}},
	{opIntDec, []string{`lit: return s[0x7f] -> return s[0x7e]`, `guard: return 0 -> return (-1)`}},
	{opLenInc, []string{`lens: return a - len(x) -> return a - (len(x)+1)`}},
	{opLenDec, []string{`lens: return a - len(x) -> return a - (len(x)-1)`}},
	{opIndexInc, []string{`slice: return x[i:] -> return x[i+1:]`}},
	{opIndexDec, []string{`slice: return x[i:] -> return x[i-1:]`}},
	{opRemoveCall, []string{`call: f() -> `, `call: defer f() -> `}},
	{opIfFalse, []string{`guard: n > 0 -> false && (n > 0)`}},
	{opIfTrue, []string{`guard: n > 0 -> true || (n > 0)`}},
	{opCaseFalse, []string{`guard: n < -1 -> false && (n < -1)`}},
	{opCaseTrue, []string{`guard: n < -1 -> true || (n < -1)`}},
	{opErrNil, []string{`fail: return 0, E{} -> return 0, nil`}},
	// The break in "case 2" ends a switch case, where Go breaks anyway;
	// the last continue ends the loop body anyway: neither is mutated.
	{opRemoveBreak, []string{`loop: break -> `}},
	{opRemoveCont, []string{`loop: continue -> `}},
}

func TestOperators(t *testing.T) {
	ms, err := enumerateFile("p/p.go", []byte(opSource))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range operatorTests {
		var got []string
		for _, m := range ms {
			if m.ID.Op == tt.op {
				got = append(got, m.ID.Func+": "+m.ID.Orig+" -> "+m.ID.Mut)
			}
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: no mutation %q; got %q", tt.op, w, got)
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range ms {
		seen[m.ID.Op] = true
	}
	for _, op := range Operators {
		if !seen[op] {
			t.Errorf("operator %s made no mutation of the test source", op)
		}
	}
}

// TestOperatorsTypeCheck type-checks every mutant of opSource: each
// operator's change is valid Go, not only valid syntax.
func TestOperatorsTypeCheck(t *testing.T) {
	src := []byte(opSource)
	ms, err := enumerateFile("p/p.go", src)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := typeCheck(m.Apply(src)); err != nil {
			t.Errorf("%s: mutant does not type-check: %v", m.ID, err)
		}
	}
}

func typeCheck(src []byte) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		return err
	}
	conf := types.Config{Importer: importer.Default()}
	_, err = conf.Check("p", fset, []*ast.File{f}, nil)
	return err
}

// TestOperatorsParseRealTree checks that no operator makes invalid syntax
// of the real ref/ and spec/ files: enumerateFile would drop such a mutant
// silently.
func TestOperatorsParseRealTree(t *testing.T) {
	total := 0
	for _, dir := range []string{"ref", "spec"} {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			v := &visitor{src: src, fset: token.NewFileSet(), file: path}
			f, err := parser.ParseFile(v.fset, path, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				v.decl(d)
			}
			total += len(v.out)
			for _, m := range v.out {
				if _, err := parser.ParseFile(token.NewFileSet(), path, m.Apply(src), 0); err != nil {
					t.Errorf("%s: mutant is not Go: %v", m.ID, err)
				}
			}
		}
	}
	if total < 100 {
		t.Errorf("%d mutations of ref/ and spec/, want hundreds", total)
	}
}

func TestShiftInt(t *testing.T) {
	for _, tt := range []struct {
		lit   string
		delta int64
		want  string
	}{
		{"0", 1, "1"}, {"0", -1, "(-1)"}, {"1024", 1, "1025"}, {"0x7f", 1, "0x80"},
		{"0X10", -1, "0Xf"}, {"0o644", 1, "0o645"}, {"0644", 1, "0645"}, {"0b11", 1, "0b100"},
		{"1_000", -1, "999"},
	} {
		got, ok := shiftInt(tt.lit, tt.delta)
		if !ok || got != tt.want {
			t.Errorf("shiftInt(%q, %d) = %q, %v, want %q", tt.lit, tt.delta, got, ok, tt.want)
		}
	}
}
