package main

import (
	"bytes"
	"fmt"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mutation is one single-point change to one source file: the bytes
// Src[Start:End] of the file are replaced by Repl.
type Mutation struct {
	ID    Identity
	Path  string // absolute path of the file
	Line  int    // line of the change, for people only: never part of the identity
	Start int    // byte offset of the replaced range
	End   int    // byte offset just past it
	Repl  string // what replaces it
}

// Apply returns src with m applied. src must be the file m was enumerated
// from.
func (m *Mutation) Apply(src []byte) []byte {
	out := make([]byte, 0, len(src)-(m.End-m.Start)+len(m.Repl))
	out = append(out, src[:m.Start]...)
	out = append(out, m.Repl...)
	return append(out, src[m.End:]...)
}

// Diff returns the change as two lines for a report, "- ORIG" and "+ MUT",
// with the file and line.
func (m *Mutation) Diff() string {
	return fmt.Sprintf("%s:%d\n    - %s\n    + %s", m.ID.File, m.Line, m.ID.Orig, m.ID.Mut)
}

// Enumerate returns every mutation of the non-test Go files in the
// directories dirs (slash-separated, relative to the module root root) that
// belong to the build for the running system, sorted by file and offset.
func Enumerate(root string, dirs []string) ([]*Mutation, map[string][]byte, error) {
	var all []*Mutation
	sources := map[string][]byte{}
	for _, dir := range dirs {
		abs := filepath.Join(root, filepath.FromSlash(dir))
		entries, err := os.ReadDir(abs)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			// A file excluded by build constraints (writebehind_other.go
			// on Linux) is not in the binary: mutating it would change
			// nothing.
			if ok, err := build.Default.MatchFile(abs, name); err != nil || !ok {
				continue
			}
			path := filepath.Join(abs, name)
			src, err := os.ReadFile(path)
			if err != nil {
				return nil, nil, err
			}
			ms, err := enumerateFile(dir+"/"+name, src)
			if err != nil {
				return nil, nil, err
			}
			for _, m := range ms {
				m.Path = path
			}
			sources[path] = src
			all = append(all, ms...)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].ID.File != all[j].ID.File {
			return all[i].ID.File < all[j].ID.File
		}
		return all[i].Start < all[j].Start
	})
	return all, sources, nil
}

// enumerateFile returns the mutations of one file, named file in their
// identities, that still parse once applied. Two mutations that would
// produce the same file are kept once.
func enumerateFile(file string, src []byte) ([]*Mutation, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	v := &visitor{src: src, fset: fset, file: file}
	for _, d := range f.Decls {
		v.decl(d)
	}
	seen := map[string]bool{}
	counts := map[Identity]int{}
	var out []*Mutation
	for _, m := range v.out {
		mutated := m.Apply(src)
		if seen[string(mutated)] || bytes.Equal(mutated, src) {
			continue
		}
		seen[string(mutated)] = true
		if _, err := parser.ParseFile(token.NewFileSet(), file, mutated, parser.SkipObjectResolution); err != nil {
			// An operator produced invalid syntax: a bug of the operator,
			// which the tests look for; never run it.
			continue
		}
		key := m.ID
		key.Ordinal = 0
		m.ID.Ordinal = counts[key]
		counts[key]++
		out = append(out, m)
	}
	return out, nil
}
