package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Outcome is what became of one mutant.
type Outcome string

// The outcomes. Only Caught and Survived count in the score; a survivor
// found in the survivors list is taken out of it.
const (
	NotCompiled Outcome = "not-compiled" // go build refused the mutated file
	NotStarted  Outcome = "not-started"  // its server never listened, and no client case failed
	Caught      Outcome = "caught"       // a case failed, and failed again when run alone
	Survived    Outcome = "survived"     // every case passed (or timed out without a verdict)
	Unjudged    Outcome = "unjudged"     // a check could not run: the tool's trouble, not the mutant's
)

// Result is the judgement of one mutant.
type Result struct {
	ID          string   `json:"id"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
	Op          string   `json:"op"`
	Outcome     Outcome  `json:"outcome"`
	CaughtBy    []string `json:"caught_by,omitempty"`   // "server/sizes (line)"
	Unconfirmed []string `json:"unconfirmed,omitempty"` // failed once, passed when run again alone
	Changed     []string `json:"changed,omitempty"`     // verdicts the baseline never gave
	Notes       []string `json:"notes,omitempty"`
	Class       string   `json:"class,omitempty"` // from the survivors list
	Reason      string   `json:"reason,omitempty"`
	Seconds     float64  `json:"seconds"`
	Resumed     bool     `json:"resumed,omitempty"` // taken from the --resume report, not judged again

	m *Mutation
}

// runner builds and judges mutants.
type runner struct {
	root         string // the module root
	tmp          string // the run's temporary directory
	checker      string // the unmutated stickykit binary
	sources      map[string][]byte
	checkTimeout time.Duration
	startTimeout time.Duration
	confirm      bool
	base         *baseline
}

// buildChecker builds the unmutated stickykit into the temporary directory.
func (r *runner) buildChecker(ctx context.Context) error {
	r.checker = filepath.Join(r.tmp, "stickykit")
	out, err := r.goBuild(ctx, r.checker, "")
	if err != nil {
		return fmt.Errorf("building the unmutated stickykit: %v\n%s", err, out)
	}
	return nil
}

// goBuild builds ./cmd/stickykit to bin, with the overlay file overlay
// when it is not empty.
func (r *runner) goBuild(ctx context.Context, bin, overlay string) ([]byte, error) {
	args := []string{"build", "-o", bin}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/stickykit")...)
	cmd.Dir = r.root
	ownGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	killGroup(cmd)
	return out, err
}

// build writes m's file, mutated, into dir and builds stickykit with it in
// place of the original (go build -overlay: the tree is never touched). It
// returns the binary, or the compiler's complaint when the mutated file
// does not compile, or an error for any other failure.
func (r *runner) build(ctx context.Context, dir string, m *Mutation) (bin, complaint string, err error) {
	mutated := filepath.Join(dir, filepath.Base(m.Path))
	if err := os.WriteFile(mutated, m.Apply(r.sources[m.Path]), 0o644); err != nil {
		return "", "", err
	}
	ov, err := json.Marshal(map[string]map[string]string{"Replace": {m.Path: mutated}})
	if err != nil {
		return "", "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "stickykit")
	out, err := r.goBuild(ctx, bin, overlay)
	switch {
	case err == nil:
		return bin, "", nil
	case ctx.Err() != nil:
		return "", "", ctx.Err()
	case strings.Contains(string(out), filepath.Base(m.Path)+":"):
		return "", firstLines(string(out), 4), nil
	}
	return "", "", fmt.Errorf("go build: %v: %s", err, firstLines(string(out), 10))
}

// judge builds m and runs the probes against it.
func (r *runner) judge(ctx context.Context, m *Mutation) *Result {
	start := time.Now()
	res := &Result{ID: m.ID.String(), File: m.ID.File, Line: m.Line, Op: m.ID.Op, m: m}
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	dir, err := os.MkdirTemp(r.tmp, "mutant-*")
	if err != nil {
		res.Outcome, res.Notes = Unjudged, []string{err.Error()}
		return res
	}
	defer os.RemoveAll(dir)
	bin, complaint, err := r.build(ctx, dir, m)
	if err != nil {
		res.Outcome, res.Notes = Unjudged, []string{err.Error()}
		return res
	}
	if complaint != "" {
		res.Outcome, res.Notes = NotCompiled, []string{complaint}
		return res
	}
	notStarted, trouble := false, false
	for _, p := range probes {
		run := r.probe(ctx, dir, bin, p, "")
		switch {
		case run.NotStarted != "":
			notStarted = true
			res.Notes = append(res.Notes, fmt.Sprintf("check %s: did not start: %s", p, run.NotStarted))
		case run.Stopped != "":
			res.Notes = append(res.Notes, fmt.Sprintf("check %s: %s", p, run.Stopped))
			r.noteStopped(ctx, dir, bin, p, res)
		case run.Problem != "":
			trouble = trouble || !run.TimedOut
			res.Notes = append(res.Notes, fmt.Sprintf("check %s: %s", p, run.Problem))
		}
		res.Changed = append(res.Changed, r.base.changes(p, run.Cases)...)
		fails := run.fails()
		if len(fails) == 0 {
			continue
		}
		confirmed := fails
		if r.confirm {
			confirmed = r.reconfirm(ctx, dir, bin, p, fails)
		}
		for _, id := range fails {
			name := id + " (" + p.Framing + ")"
			if slices.Contains(confirmed, id) {
				res.CaughtBy = append(res.CaughtBy, name)
			} else {
				res.Unconfirmed = append(res.Unconfirmed, name)
			}
		}
	}
	switch {
	case ctx.Err() != nil:
		res.Outcome = Unjudged
		res.Notes = append(res.Notes, "interrupted")
	case len(res.CaughtBy) > 0:
		res.Outcome = Caught
	case notStarted:
		res.Outcome = NotStarted
	case trouble:
		res.Outcome = Unjudged
	default:
		res.Outcome = Survived
	}
	return res
}

// noteStopped counts a check that the mutant stopped as a catch, if it
// stops again (with --confirm). The run's configuration is the
// baseline's, which passed, so what stopped the check is the mutant's
// doing: a setup error of the preflight (a server silent for a file in
// its root, a client that never connects) or a serve that died under the
// check (serve never exits on its own; check reports every case after as
// ERROR, "the server is gone").
func (r *runner) noteStopped(ctx context.Context, dir, bin string, p probe, res *Result) {
	name := "stopped the check (" + p.String() + ")"
	if r.confirm && r.probe(ctx, dir, bin, p, "").Stopped == "" {
		res.Unconfirmed = append(res.Unconfirmed, name)
		return
	}
	res.CaughtBy = append(res.CaughtBy, name)
}

// reconfirm runs the failed cases of probe p again, alone, and returns
// those that fail again: a verdict that a busy machine produced once does
// not count as a catch.
func (r *runner) reconfirm(ctx context.Context, dir, bin string, p probe, fails []string) []string {
	quoted := make([]string, len(fails))
	for i, id := range fails {
		quoted[i] = regexp.QuoteMeta(id)
	}
	again := r.probe(ctx, dir, bin, p, "^("+strings.Join(quoted, "|")+")$").fails()
	var out []string
	for _, id := range fails {
		if slices.Contains(again, id) {
			out = append(out, id)
		}
	}
	return out
}

// baseline holds the verdicts of the unmutated stickykit.
type baseline struct {
	mu   sync.Mutex
	runs int
	seen map[string]map[string]int // "case (framing)" -> verdict -> times
}

func caseKey(p probe, id string) string { return id + " (" + p.Framing + ")" }

func (b *baseline) add(p probe, cases []caseVerdict) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]map[string]int{}
	}
	for _, c := range cases {
		k := caseKey(p, c.ID)
		if b.seen[k] == nil {
			b.seen[k] = map[string]int{}
		}
		b.seen[k][c.Verdict]++
	}
}

// changes lists the verdicts other than FAIL (which a Result lists apart)
// of cases that the baseline never gave, as "client/plain (line): PASS ->
// INCONCLUSIVE".
func (b *baseline) changes(p probe, cases []caseVerdict) []string {
	var out []string
	for _, c := range cases {
		k := caseKey(p, c.ID)
		seen := b.seen[k]
		if seen[c.Verdict] > 0 || c.Verdict == "FAIL" {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s", k, verdictList(seen), c.Verdict))
	}
	return out
}

// flaky lists the cases whose verdict varied between baseline runs.
func (b *baseline) flaky() []string {
	var out []string
	for k, seen := range b.seen {
		if len(seen) > 1 {
			out = append(out, k+": "+verdictList(seen))
		}
	}
	slices.Sort(out)
	return out
}

// verdictList renders "PASS" or "PASS x2, INCONCLUSIVE x1".
func verdictList(seen map[string]int) string {
	if len(seen) == 0 {
		return "(not run)"
	}
	var vs []string
	for v := range seen {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	if len(vs) == 1 {
		return vs[0]
	}
	for i, v := range vs {
		vs[i] = fmt.Sprintf("%s x%d", v, seen[v])
	}
	return strings.Join(vs, ", ")
}

// runBaseline runs the probes against the unmutated stickykit runs
// times, jobs at a time. Any FAIL, or a check that cannot run, is an error:
// the instrument is broken, or the machine too busy to measure with.
func (r *runner) runBaseline(ctx context.Context, runs, jobs int) error {
	r.base = &baseline{runs: runs}
	var mu sync.Mutex
	var errs []error
	parallel(ctx, runs*len(probes), jobs, func(i int) {
		p := probes[i%len(probes)]
		run := r.probe(ctx, r.tmp, r.checker, p, "")
		var err error
		switch {
		case run.NotStarted != "":
			err = fmt.Errorf("baseline check %s: the unmutated server did not start: %s", p, run.NotStarted)
		case run.Problem != "":
			err = fmt.Errorf("baseline check %s: %s", p, run.Problem)
		case len(run.fails()) > 0:
			var d []string
			for _, c := range run.Cases {
				if c.Verdict == "FAIL" {
					d = append(d, c.ID+": "+c.Detail)
				}
			}
			err = fmt.Errorf("baseline check %s: the unmutated stickykit fails its own checks:\n  %s", p, strings.Join(d, "\n  "))
		}
		r.base.add(p, run.Cases)
		if err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// parallel calls f(0) ... f(n-1), jobs at a time, and returns when all
// calls have returned. Once ctx is done it starts no more calls.
func parallel(ctx context.Context, n, jobs int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(jobs, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

// firstLines returns at most n lines of s, trimmed.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
