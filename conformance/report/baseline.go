package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stickykit/stickykit/conformance"
)

// Baseline is the verdict a run is expected to give each case it lists, by
// case ID.
type Baseline map[string]conformance.Verdict

// ReadBaseline reads a baseline of expected verdicts, in either of two
// forms. The line form has one "CASE-ID VERDICT" pair per line; a # begins
// a comment, to the end of the line, and blank lines are ignored:
//
//	# the naive client is known to lose the digest
//	client/sticky   FAIL   # the sticky packet
//	client/plain    PASS
//
// The JSON form is a report written by [WriteJSON] (or --json): the
// verdicts it records become the baseline. A case the kit does not know
// (the error names the closest ID it does), a case listed twice, or an
// unknown verdict, is an error.
func ReadBaseline(r io.Reader) (Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("reading baseline: %w", err)
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return readBaselineJSON(t)
	}
	b := make(Baseline)
	for n, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("baseline line %d: got %q, want \"CASE-ID VERDICT\"", n+1, line)
		}
		if err := b.add(f[0], f[1]); err != nil {
			return nil, fmt.Errorf("baseline line %d: %w", n+1, err)
		}
	}
	return b, nil
}

func readBaselineJSON(data []byte) (Baseline, error) {
	var rep struct {
		Cases []struct {
			ID      string `json:"id"`
			Verdict string `json:"verdict"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("baseline JSON report: %w", err)
	}
	b := make(Baseline)
	for i, c := range rep.Cases {
		if err := b.add(c.ID, c.Verdict); err != nil {
			return nil, fmt.Errorf("baseline JSON report, case %d: %w", i, err)
		}
	}
	return b, nil
}

// add records the verdict named verdict for case id.
func (b Baseline) add(id, verdict string) error {
	if id == "" {
		return fmt.Errorf("empty case ID")
	}
	if _, ok := conformance.Lookup(id); !ok {
		return fmt.Errorf("unknown case %q (did you mean %s?)", id, ClosestCase(id))
	}
	v := conformance.Verdict(strings.ToUpper(verdict))
	known := make([]conformance.Verdict, len(verdictRules))
	found := false
	for i, r := range verdictRules {
		known[i] = r.verdict
		found = found || r.verdict == v
	}
	if !found {
		return fmt.Errorf("case %s: unknown verdict %q (want one of %v)", id, verdict, known)
	}
	if old, dup := b[id]; dup {
		return fmt.Errorf("case %s listed twice (%s and %s)", id, old, v)
	}
	b[id] = v
	return nil
}

// Diff compares results with the baseline and returns one human line per
// difference, in case order; none means the run matched. A difference is a
// case whose verdict is not the one the baseline expects, or a baseline
// entry for a case that did not run. A case the baseline does not list is
// held to the usual rule: only a result that fails a run on its own (see
// [ExitCode]) is a difference, so a new case that an implementation fails
// is not hidden by an old baseline.
func (b Baseline) Diff(results []conformance.Result) []string {
	var out []string
	for _, d := range b.diff(results) {
		out = append(out, d.line)
	}
	return out
}

// difference is one line of a Diff, and whether it is about a case that
// could not run (ERROR), which ExitCode weighs apart.
type difference struct {
	line    string
	errored bool
}

func (b Baseline) diff(results []conformance.Result) []difference {
	var out []difference
	ran := make(map[string]bool, len(results))
	for _, r := range results {
		id, got := r.Case.ID, r.Outcome.Verdict
		ran[id] = true
		want, listed := b[id]
		errored := got == conformance.Error
		switch {
		case listed && got != want:
			out = append(out, difference{fmt.Sprintf("%s: got %s, want %s%s", id, got, want, because(r.Outcome.Detail)), errored})
		case !listed && exitStatus(r) != 0:
			out = append(out, difference{fmt.Sprintf("%s: got %s (%s), not in the baseline%s", id, got, r.Case.Severity, because(r.Outcome.Detail)), errored})
		}
	}
	var missing []string
	for id := range b {
		if !ran[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	for _, id := range missing {
		out = append(out, difference{fmt.Sprintf("%s: in the baseline (%s) but not run", id, b[id]), false})
	}
	return out
}

func because(detail string) string {
	if detail == "" {
		return ""
	}
	return ": " + detail
}

// ClosestCase returns the ID of the case whose ID is closest to id: the
// fewest single-character insertions, deletions and substitutions turn one
// into the other (Levenshtein distance); the first in catalogue order among
// equals.
func ClosestCase(id string) string {
	best, bestD := "", -1
	for _, c := range conformance.Cases("") {
		if d := editDistance(id, c.ID); bestD < 0 || d < bestD {
			best, bestD = c.ID, d
		}
	}
	return best
}

// editDistance returns the Levenshtein distance between a and b, counted
// in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			sub := prev[j-1]
			if ra[i-1] != rb[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
