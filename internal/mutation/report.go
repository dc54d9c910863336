package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Report is the whole run, as --json writes it.
type Report struct {
	Seed      uint64         `json:"seed"`
	Requested int            `json:"requested"` // -n
	All       bool           `json:"all"`
	Filter    string         `json:"filter,omitempty"`
	Resumed   string         `json:"resumed_from,omitempty"` // --resume FILE
	Packages  []string       `json:"packages"`
	Mutations int            `json:"mutations"` // enumerated in Packages
	Selected  int            `json:"selected"`  // sampled or filtered
	Jobs      int            `json:"jobs"`
	Baseline  BaselineReport `json:"baseline"`
	Counts    Counts         `json:"counts"`
	Score     float64        `json:"score"` // Counts.Caught / Counts.Scored; 0 when nothing was scored
	Stale     []string       `json:"stale,omitempty"`
	Seconds   float64        `json:"seconds"`
	Results   []*Result      `json:"results"`
}

// BaselineReport is what the checks of the unmutated stickykit gave.
type BaselineReport struct {
	Runs    int      `json:"runs"`
	Seconds float64  `json:"seconds"`
	Flaky   []string `json:"flaky,omitempty"` // cases whose verdict varied between runs
}

// Counts are the outcomes of the judged mutants.
type Counts struct {
	Judged       int `json:"judged"` // mutants with an outcome (all selected, unless interrupted)
	NotCompiled  int `json:"not_compiled"`
	Compiled     int `json:"compiled"`
	NotStarted   int `json:"not_started"`
	Unjudged     int `json:"unjudged"`
	Equivalent   int `json:"listed_equivalent"` // survivors listed as equivalent
	Invisible    int `json:"listed_invisible"`  // survivors listed as invisible on the wire
	Scored       int `json:"scored"`            // Caught + Survived
	Caught       int `json:"caught"`
	Survived     int `json:"survived"`          // not listed: wire-visible, or not yet classified
	ListedCaught int `json:"listed_but_caught"` // listed, yet caught: the entry is wrong, or the catch new
}

func (r *Report) selection() string {
	switch {
	case r.All && r.Filter != "":
		return fmt.Sprintf("all %d matching %q", r.Selected, r.Filter)
	case r.All:
		return fmt.Sprintf("all %d", r.Selected)
	case r.Filter != "":
		return fmt.Sprintf("seed %d: %d of those matching %q", r.Seed, r.Selected, r.Filter)
	}
	return fmt.Sprintf("seed %d: a sample of %d", r.Seed, r.Selected)
}

// finish classifies the results against the survivors list and counts
// them.
func (r *Report) finish(results []*Result, listed []Listed, stale []Listed, took time.Duration) {
	byID := map[string]Listed{}
	for _, l := range listed {
		byID[l.ID.String()] = l
	}
	for _, l := range stale {
		r.Stale = append(r.Stale, fmt.Sprintf("line %d: %s", l.Line, l.ID))
	}
	r.Results = results
	r.Seconds = took.Seconds()
	c := &r.Counts
	for _, res := range results {
		c.Judged++
		l, isListed := byID[res.ID]
		if isListed {
			res.Class, res.Reason = l.Class, l.Reason
		}
		switch res.Outcome {
		case NotCompiled:
			c.NotCompiled++
		case NotStarted:
			c.NotStarted++
		case Unjudged:
			c.Unjudged++
		case Caught:
			c.Caught++
			if isListed {
				c.ListedCaught++
			}
		case Survived:
			switch {
			case !isListed:
				c.Survived++
			case l.Class == ClassEquivalent:
				c.Equivalent++
			default:
				c.Invisible++
			}
		}
	}
	c.Compiled = c.Judged - c.NotCompiled
	c.Scored = c.Caught + c.Survived
	if c.Scored > 0 {
		r.Score = float64(c.Caught) / float64(c.Scored)
	}
}

// line is one result's progress line.
func (res *Result) line() string {
	s := fmt.Sprintf("%-12s %5.1fs  %s", res.Outcome, res.Seconds, res.ID)
	if len(res.CaughtBy) > 0 {
		s += "\n        caught by " + shortList(res.CaughtBy, 3)
	}
	if len(res.Unconfirmed) > 0 {
		s += "\n        failed once, not again alone: " + strings.Join(res.Unconfirmed, ", ")
	}
	return s
}

func (r *Report) print(w io.Writer) {
	section := func(title string, pick func(*Result) bool) {
		var rs []*Result
		for _, res := range r.Results {
			if pick(res) {
				rs = append(rs, res)
			}
		}
		if len(rs) == 0 {
			return
		}
		fmt.Fprintf(w, "\n== %s (%d)\n", title, len(rs))
		for _, res := range rs {
			fmt.Fprintf(w, "%s\n    %s\n", res.ID, res.m.Diff())
			for _, x := range res.CaughtBy {
				fmt.Fprintf(w, "    caught by %s\n", x)
			}
			for _, x := range res.Unconfirmed {
				fmt.Fprintf(w, "    failed once, not again alone: %s\n", x)
			}
			for _, x := range res.Changed {
				fmt.Fprintf(w, "    verdict changed: %s\n", x)
			}
			for _, x := range res.Notes {
				fmt.Fprintf(w, "    note: %s\n", indent(x))
			}
			if res.Class != "" {
				fmt.Fprintf(w, "    listed %s: %s\n", res.Class, res.Reason)
			}
		}
	}
	section("survivors not in the list: wire-visible, or not yet classified",
		func(res *Result) bool { return res.Outcome == Survived && res.Class == "" })
	section("listed as surviving, but caught: check the entry",
		func(res *Result) bool { return res.Outcome == Caught && res.Class != "" })
	section("unjudged: a check could not run", func(res *Result) bool { return res.Outcome == Unjudged })
	section("did not start", func(res *Result) bool { return res.Outcome == NotStarted })
	if len(r.Stale) > 0 {
		fmt.Fprintf(w, "\n== stale entries of the survivors list: no mutation has their identity (%d)\n", len(r.Stale))
		for _, s := range r.Stale {
			fmt.Fprintf(w, "%s\n", s)
		}
	}
	c := r.Counts
	fmt.Fprintf(w, "\n%s, %d of %d mutations\n", r.selection(), r.Selected, r.Mutations)
	fmt.Fprintf(w, "judged %d: did not compile %d; compiled %d: did not start %d, unjudged %d, listed equivalent %d, listed invisible %d, scored %d\n",
		c.Judged, c.NotCompiled, c.Compiled, c.NotStarted, c.Unjudged, c.Equivalent, c.Invisible, c.Scored)
	fmt.Fprintf(w, "score: caught %d of %d = %.1f%% (%d survivors not listed)\n", c.Caught, c.Scored, 100*r.Score, c.Survived)
	fmt.Fprintf(w, "baseline verdicts that varied: %s\n", orNone(r.Baseline.Flaky))
	fmt.Fprintf(w, "took %v with -j %d\n", time.Duration(r.Seconds*float64(time.Second)).Round(time.Second), r.Jobs)
	if r.Resumed != "" {
		kept, secs := 0, 0.0
		for _, res := range r.Results {
			if res.Resumed {
				kept++
				secs += res.Seconds
			}
		}
		fmt.Fprintf(w, "resumed from %s: %d results kept (caught, not compiled, or listed survivors there), which took %v of mutant time there\n",
			r.Resumed, kept, time.Duration(secs*float64(time.Second)).Round(time.Second))
	}
}

// shortList joins the first n of s, and says how many more there are.
func shortList(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n        ") }

func (r *Report) writeJSON(name string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(b, '\n'), 0o644)
}
