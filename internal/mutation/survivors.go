package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// The classes of a listed survivor: mutants that change nothing a check
// of the wire could ever see. A wire-visible survivor is never listed: it
// counts against the score until a case catches it.
const (
	ClassEquivalent = "equivalent" // the program behaves exactly as before
	ClassInvisible  = "invisible"  // it changes only speed, memory, logs, shutdown, timeouts above the kit's bounds, or a path the command never takes
)

// Listed is one entry of the survivors list.
type Listed struct {
	ID     Identity
	Class  string
	Reason string
	Line   int // line in the list, for error messages
}

// ReadSurvivors parses a survivors list: one entry per line, the
// mutation's identity, then "CLASS: REASON" with CLASS "equivalent" or
// "invisible". Blank lines and lines beginning with "#" are ignored. An
// identity listed twice is an error.
func ReadSurvivors(r io.Reader) ([]Listed, error) {
	var out []Listed
	seen := map[Identity]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, rest, err := ParseIdentity(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		class, reason, ok := strings.Cut(strings.TrimSpace(rest), ":")
		reason = strings.TrimSpace(reason)
		if !ok || reason == "" {
			return nil, fmt.Errorf("line %d: want \"equivalent: REASON\" or \"invisible: REASON\" after the identity", n)
		}
		if class != ClassEquivalent && class != ClassInvisible {
			return nil, fmt.Errorf("line %d: class %q, want %q or %q", n, class, ClassEquivalent, ClassInvisible)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("line %d: %s is already listed on line %d", n, id, prev)
		}
		seen[id] = n
		out = append(out, Listed{ID: id, Class: class, Reason: reason, Line: n})
	}
	return out, sc.Err()
}

// readSurvivorsFile reads the list at path.
func readSurvivorsFile(path string) ([]Listed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := ReadSurvivors(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return l, nil
}

// stale returns the entries of list whose identity matches none of all.
func stale(list []Listed, all []*Mutation) []Listed {
	ids := make(map[Identity]bool, len(all))
	for _, m := range all {
		ids[m.ID] = true
	}
	var out []Listed
	for _, l := range list {
		if !ids[l.ID] {
			out = append(out, l)
		}
	}
	return out
}
