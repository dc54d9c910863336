package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Identity names one mutation so that the name survives edits elsewhere in
// its file: the file, the enclosing declaration, the operator, the source
// snippet before and after (whitespace collapsed), and the ordinal of the
// mutation among those of the same declaration with the same operator and
// snippets. It holds no line number.
//
// Its text form, used in the survivors list and the reports, is
//
//	ref/conn.go (*conn).serve remove-call "c.log.Info(\"conn accepted\")" -> "" #0
//
// with both snippets quoted as Go strings, so any byte may appear in them.
type Identity struct {
	File    string // slash-separated path from the module root: "ref/conn.go"
	Func    string // "(*conn).serve", "ParseSize", "const:MaxControlLen"
	Op      string // the operator's name, "cmp-negate", ...
	Orig    string // the original snippet
	Mut     string // the mutated snippet
	Ordinal int    // 0 for the first such mutation in Func, 1 for the next...
}

// String returns the identity's text form.
func (id Identity) String() string {
	return fmt.Sprintf("%s %s %s %s -> %s #%d", id.File, id.Func, id.Op,
		strconv.Quote(id.Orig), strconv.Quote(id.Mut), id.Ordinal)
}

// Package returns the identity's package directory, "ref" for "ref/conn.go".
func (id Identity) Package() string {
	if i := strings.LastIndexByte(id.File, '/'); i >= 0 {
		return id.File[:i]
	}
	return "."
}

// ParseIdentity parses the text form of an identity at the start of s and
// returns it with the rest of s after it.
func ParseIdentity(s string) (Identity, string, error) {
	var id Identity
	fields := make([]string, 3)
	rest := strings.TrimLeft(s, " \t")
	for i := range fields {
		f, r, ok := strings.Cut(rest, " ")
		if !ok || f == "" {
			return id, "", fmt.Errorf("want FILE FUNC OP \"ORIG\" -> \"MUT\" #N, got %q", clip(s))
		}
		fields[i], rest = f, r
	}
	id.File, id.Func, id.Op = fields[0], fields[1], fields[2]
	var err error
	if id.Orig, rest, err = quoted(rest); err != nil {
		return id, "", fmt.Errorf("original snippet: %v", err)
	}
	r, ok := strings.CutPrefix(rest, " -> ")
	if !ok {
		return id, "", fmt.Errorf("want \" -> \" after the original snippet, got %q", clip(rest))
	}
	if id.Mut, rest, err = quoted(r); err != nil {
		return id, "", fmt.Errorf("mutated snippet: %v", err)
	}
	r, ok = strings.CutPrefix(rest, " #")
	if !ok {
		return id, "", fmt.Errorf("want \" #N\" after the mutated snippet, got %q", clip(rest))
	}
	end := strings.IndexFunc(r, func(c rune) bool { return c < '0' || c > '9' })
	if end < 0 {
		end = len(r)
	}
	n, err := strconv.Atoi(r[:end])
	if err != nil {
		return id, "", fmt.Errorf("bad ordinal %q", clip(r))
	}
	id.Ordinal = n
	return id, r[end:], nil
}

// quoted unquotes the Go string literal at the start of s.
func quoted(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", fmt.Errorf("want a quoted string, got %q", clip(s))
	}
	u, err := strconv.Unquote(q)
	if err != nil {
		return "", "", err
	}
	return u, s[len(q):], nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 60
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
