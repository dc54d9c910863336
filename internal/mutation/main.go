// Command mutation measures how many wire-visible defects stickykit check
// catches. It applies single-point mutations to the non-test Go code of
// ref/ and spec/ (flipped comparisons, off-by-one literals, lengths and
// indexes, removed calls, guards made always false or true, errors turned
// into nil, && and || swapped, removed breaks...), builds stickykit with
// each one through go build -overlay (the tree is never changed), and
// judges every mutant with the unmutated stickykit's own checks:
//
//	stickykit check server --addr ADDR --root DIR --framing F
//	    against the mutant's "stickykit serve --rate-window 1s", in both framings
//	stickykit check client --framing F -- MUTANT get --addr {addr} --framing F --speed-time 1s -o {out} {name}
//	    in both framings
//	stickykit check server --run '^server/out-of-descriptors$' --framing line -- MUTANT serve --addr {addr} --root {root} --framing line
//	    the case that needs a server the kit starts (it limits the
//	    process's file descriptors); the runs above skip it
//
// The rate windows are the shortest allowed (1 s, not the defaults of 30 s
// and 60 s), so that the transfers of a few seconds in server/steady-reader
// and client/paused-server cross their ends and reach the code that keeps
// a minimum rate across them; the baseline runs with them too, and any
// FAIL there stops the run.
//
// A mutant is caught when a case FAILs and FAILs again when run alone, or
// when it stops a check twice (a setup error of the preflight, or a serve
// that dies under the check: the configuration is the baseline's). The
// score is caught / (compiled - did not start - unjudged - listed), where
// listed are the survivors that internal/mutation/survivors.txt judges
// equivalent or invisible on the wire, each with its reason.
//
// Usage:
//
//	go run ./internal/mutation [-n 250] [-seed 1] [-all] [-filter REGEXP] [-j N] [-json FILE]
//	go run ./internal/mutation --rescore FILE
//	go run ./internal/mutation [-n 250] [-seed 1] --resume FILE [-json FILE2]
//	go run ./internal/mutation --build-only DIR --filter REGEXP
//
// The run is not part of the test suite: 250 mutants take about an hour
// on two cores.
package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK          = 0   // every judged mutant was caught or is listed
	exitSurvivors   = 1   // some mutant survived and is not listed
	exitError       = 2   // bad usage, or the instrument itself failed
	exitInterrupted = 130 // interrupted; the partial report was printed
)

const about = `Usage: go run ./internal/mutation [flags]

Apply single-point mutations to the non-test Go code of ref/ and spec/,
build stickykit with each (go build -overlay; the tree is never changed),
judge each mutant with the unmutated stickykit's checks (check server
against its serve, check client against its get, both framings; and
check server --run '^server/out-of-descriptors$' -- MUTANT serve ..., in
the line framing, the one case that needs a server the kit starts, which
the other server checks skip), and print the score and the survivors.

The mutant's serve runs with --rate-window 1s and its get with
--speed-time 1s, the shortest windows allowed (the defaults are 30s and
1m), so that the transfers of a few seconds in server/steady-reader and
client/paused-server cross their ends. The baseline runs with the same
flags, so a FAIL they cause shows there and stops the run.

A mutant is CAUGHT when a case FAILs and FAILs again when run alone, or
when it stops a check and stops it again: a setup error of the preflight
(a server silent for a file in its root, a client that never connects) or
a serve that dies under the check. The run's configuration is the
baseline's, which passed, so what stops a check is the mutant's doing.
Its outcome is otherwise one of: survived; not-compiled; not-started (its
serve never listened and no client case failed, so the mutant is counted
apart); unjudged (a check could not run). A check that does not finish
within --check-timeout gives no verdict: its mutant survives unless
another case catches it.

The score is caught / (compiled - not-started - unjudged - listed), where
listed are survivors found in the survivors list with the class
"equivalent" or "invisible". Before the mutants, the unmutated stickykit is
checked --baseline times: a FAIL there is an error of the instrument; a
verdict that varies between those runs is reported as flaky.

A mutation is named by its file, function, operator, the source snippet
before and after, and an ordinal among identical snippets of the function
(never a line number). The sample is the -n mutations with the smallest
hash of the seed and that name, so it stays the same under edits
elsewhere. --rescore scores the JSON report of an earlier run against
today's survivors list; --resume FILE runs the selection again but keeps
from that earlier report the catches, the build failures and the survivors
today's list names, judging only the rest (survivors not listed, mutants
that did not start or were unjudged, and those never reached): after an
interruption, or once new cases are in, only what counts against the score
runs again. --build-only builds mutants for trying by hand.

Exit status: 0 when every judged mutant was caught or is listed, 1 when a
survivor is not listed, 2 for usage errors or a failing baseline, 130 when
interrupted.

Flags:
`

// config is the parsed command line.
type config struct {
	n            int
	seed         uint64
	all          bool
	filter       *regexp.Regexp
	jobs         int
	jsonFile     string
	survivors    string
	list         bool
	buildOnly    string
	rescore      string
	resume       string
	baseline     int
	checkTimeout time.Duration
	startTimeout time.Duration
	confirm      bool
	pkgs         []string
}

func parseFlags(args []string, stdout, stderr io.Writer, root string) (*config, int, bool) {
	fs := flag.NewFlagSet("mutation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package prints the usage on any error; print it only for
	// --help, to stdout, and a one-line hint otherwise.
	fs.Usage = func() {}
	c := &config{}
	fs.IntVar(&c.n, "n", 250, "how many mutations to sample")
	fs.Uint64Var(&c.seed, "seed", 1, "`seed` of the sample")
	fs.BoolVar(&c.all, "all", false, "run every mutation (after --filter) instead of a sample")
	filter := fs.String("filter", "", "run only the mutations whose identity matches this `regexp`")
	fs.IntVar(&c.jobs, "j", defaultJobs(), "mutants judged at once")
	fs.StringVar(&c.jsonFile, "json", "", "write the report as JSON to `FILE`")
	fs.StringVar(&c.survivors, "survivors", filepath.Join(root, "internal", "mutation", "survivors.txt"), "the survivors list (`FILE`)")
	fs.BoolVar(&c.list, "list", false, "print the selected mutations and exit")
	fs.StringVar(&c.rescore, "rescore", "", "score the JSON report `FILE` of an earlier run against the current survivors list, running nothing")
	fs.StringVar(&c.resume, "resume", "", "keep the catches, build failures and listed survivors of the JSON report `FILE` of an earlier run; judge only the rest of the selection")
	fs.StringVar(&c.buildOnly, "build-only", "", "build the selected mutants into `DIR` (N.stickykit, N.diff) for study, and judge none")
	fs.IntVar(&c.baseline, "baseline", 3, "times the unmutated stickykit is checked first")
	fs.DurationVar(&c.checkTimeout, "check-timeout", 3*time.Minute, "bound on one run of stickykit check")
	fs.DurationVar(&c.startTimeout, "start-timeout", 15*time.Second, "bound on a mutant server's start")
	fs.BoolVar(&c.confirm, "confirm", true, "run a failed case again alone before counting the catch")
	pkgs := fs.String("pkgs", "ref,spec", "comma-separated package `directories` to mutate")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, about)
			fs.PrintDefaults()
			fmt.Fprintf(stdout, "\nOperators: %s\n", strings.Join(Operators, ", "))
			return nil, exitOK, false
		}
		fmt.Fprintln(stderr, "Run \"go run ./internal/mutation --help\" for usage.")
		return nil, exitError, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mutation: unexpected argument %q\n", fs.Arg(0))
		return nil, exitError, false
	}
	if *filter != "" {
		re, err := regexp.Compile(*filter)
		if err != nil {
			fmt.Fprintf(stderr, "mutation: bad --filter: %v\n", err)
			return nil, exitError, false
		}
		c.filter = re
	}
	if c.n < 1 || c.jobs < 1 || c.baseline < 1 || c.checkTimeout <= 0 || c.startTimeout <= 0 {
		fmt.Fprintln(stderr, "mutation: -n, -j and --baseline must be at least 1, the timeouts positive")
		return nil, exitError, false
	}
	c.pkgs = strings.Split(*pkgs, ",")
	return c, 0, true
}

// defaultJobs is one mutant per core. On a busy two-core machine, -j 2
// gave exactly the verdicts of -j 1 on a sample of 40 mutants (the
// timing-sensitive cases included) in 0.56 of the time (README.md).
func defaultJobs() int { return runtime.NumCPU() }

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module: run it from the stickykit tree")
	}
	return filepath.Dir(mod), nil
}

// selectMutations applies the filter, then samples c.n of what is left
// (all of it with --all), in source order.
//
// The sample is the c.n mutations with the smallest hash of the seed and
// their identity, so it does not depend on the order or the number of the
// other mutations: after an edit that adds or removes mutations elsewhere,
// a mutation stays in the sample unless it is pushed past the margin.
func selectMutations(all []*Mutation, c *config) []*Mutation {
	var pool []*Mutation
	for _, m := range all {
		if c.filter == nil || c.filter.MatchString(m.ID.String()) {
			pool = append(pool, m)
		}
	}
	if c.all || len(pool) <= c.n {
		return pool
	}
	keys := make(map[*Mutation]uint64, len(pool))
	for _, m := range pool {
		keys[m] = sampleKey(c.seed, m.ID)
	}
	ranked := slices.Clone(pool)
	slices.SortFunc(ranked, func(a, b *Mutation) int { return cmp.Compare(keys[a], keys[b]) })
	in := make(map[*Mutation]bool, c.n)
	for _, m := range ranked[:c.n] {
		in[m] = true
	}
	out := make([]*Mutation, 0, c.n)
	for _, m := range pool {
		if in[m] {
			out = append(out, m)
		}
	}
	return out
}

// sampleKey is the FNV-1a hash of the seed and the identity's text.
func sampleKey(seed uint64, id Identity) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(id.String()))
	return h.Sum64()
}

func run(args []string, stdout, stderr io.Writer) int {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(stderr, "mutation: %v\n", err)
		return exitError
	}
	c, code, ok := parseFlags(args, stdout, stderr, root)
	if !ok {
		return code
	}
	all, sources, err := Enumerate(root, c.pkgs)
	if err != nil {
		fmt.Fprintf(stderr, "mutation: %v\n", err)
		return exitError
	}
	listed, err := readSurvivorsFile(c.survivors)
	if err != nil {
		fmt.Fprintf(stderr, "mutation: survivors list: %v\n", err)
		return exitError
	}
	if c.rescore != "" {
		return rescore(c.rescore, all, listed, stdout, stderr)
	}
	sel := selectMutations(all, c)
	if c.list {
		for _, m := range sel {
			fmt.Fprintf(stdout, "%s\n    %s:%d\n", m.ID, m.ID.File, m.Line)
		}
		fmt.Fprintf(stdout, "%d of %d mutations\n", len(sel), len(all))
		return exitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.buildOnly != "" {
		return buildOnly(ctx, &runner{root: root, sources: sources}, sel, c.buildOnly, stdout, stderr)
	}
	tmp, err := os.MkdirTemp("", "stickykit-mutation-*")
	if err != nil {
		fmt.Fprintf(stderr, "mutation: %v\n", err)
		return exitError
	}
	defer os.RemoveAll(tmp)
	r := &runner{root: root, tmp: tmp, sources: sources, checkTimeout: c.checkTimeout,
		startTimeout: c.startTimeout, confirm: c.confirm}
	rep := &Report{Seed: c.seed, Requested: c.n, All: c.all, Mutations: len(all), Selected: len(sel),
		Packages: c.pkgs, Jobs: c.jobs, Baseline: BaselineReport{Runs: c.baseline}}
	if c.filter != nil {
		rep.Filter = c.filter.String()
	}
	return execute(ctx, r, c, rep, sel, all, listed, stdout, stderr)
}

// execute runs the baseline and the mutants and reports.
func execute(ctx context.Context, r *runner, c *config, rep *Report, sel, all []*Mutation, listed []Listed, stdout, stderr io.Writer) int {
	start := time.Now()
	fmt.Fprintf(stdout, "mutation: %d mutations in %s; %s; -j %d\n", len(all), strings.Join(c.pkgs, ", "), rep.selection(), c.jobs)
	if err := r.buildChecker(ctx); err != nil {
		fmt.Fprintf(stderr, "mutation: %v\n", err)
		return exitError
	}
	fmt.Fprintf(stdout, "mutation: baseline: checking the unmutated stickykit %d times (%d checks each)\n", c.baseline, len(probes))
	bstart := time.Now()
	if err := r.runBaseline(ctx, c.baseline, c.jobs); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "mutation: interrupted")
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "mutation: the baseline fails, so nothing can be measured:\n%v\n", err)
		return exitError
	}
	rep.Baseline.Flaky = r.base.flaky()
	rep.Baseline.Seconds = time.Since(bstart).Seconds()
	fmt.Fprintf(stdout, "mutation: baseline: no case fails (%.0fs); verdicts that varied: %s\n",
		rep.Baseline.Seconds, orNone(rep.Baseline.Flaky))

	results := make([]*Result, len(sel))
	todo := make([]int, len(sel))
	for i := range todo {
		todo[i] = i
	}
	if c.resume != "" {
		old, err := readReport(c.resume)
		if err != nil {
			fmt.Fprintf(stderr, "mutation: --resume: %v\n", err)
			return exitError
		}
		todo = resume(old, sel, results, listed)
		rep.Resumed = c.resume
		fmt.Fprintf(stdout, "mutation: resumed from %s: %d results kept, %d to judge\n", c.resume, len(sel)-len(todo), len(todo))
	}
	var mu sync.Mutex // guards results, done and stdout
	done := len(sel) - len(todo)
	parallel(ctx, len(todo), c.jobs, func(j int) {
		i := todo[j]
		res := r.judge(ctx, sel[i])
		mu.Lock()
		defer mu.Unlock()
		results[i] = res
		done++
		fmt.Fprintf(stdout, "[%*d/%d] %s\n", len(fmt.Sprint(len(sel))), done, len(sel), res.line())
	})
	var judged []*Result
	for _, res := range results {
		if res != nil {
			judged = append(judged, res)
		}
	}
	rep.finish(judged, listed, stale(listed, all), time.Since(start))
	rep.print(stdout)
	if c.jsonFile != "" {
		if err := rep.writeJSON(c.jsonFile); err != nil {
			fmt.Fprintf(stderr, "mutation: --json: %v\n", err)
			return exitError
		}
	}
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "mutation: interrupted; the report covers the mutants judged so far")
		return exitInterrupted
	case rep.Counts.Survived > 0 || rep.Counts.Unjudged > 0:
		return exitSurvivors
	}
	return exitOK
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

// buildOnly builds each mutant of sel into dir, as N.stickykit with its
// change in N.diff, so that a person can run a survivor by hand.
func buildOnly(ctx context.Context, r *runner, sel []*Mutation, dir string, stdout, stderr io.Writer) int {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "mutation: %v\n", err)
		return exitError
	}
	for i, m := range sel {
		work, err := os.MkdirTemp(dir, "build-*")
		if err != nil {
			fmt.Fprintf(stderr, "mutation: %v\n", err)
			return exitError
		}
		bin, complaint, err := r.build(ctx, work, m)
		name := filepath.Join(dir, fmt.Sprint(i))
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "mutation: %s: %v\n", m.ID, err)
		case complaint != "":
			fmt.Fprintf(stdout, "%d: did not compile: %s\n", i, m.ID)
		default:
			err = os.Rename(bin, name+".stickykit")
			if err == nil {
				err = os.WriteFile(name+".diff", []byte(m.ID.String()+"\n"+m.Diff()+"\n"), 0o644)
			}
			if err != nil {
				fmt.Fprintf(stderr, "mutation: %v\n", err)
			} else {
				fmt.Fprintf(stdout, "%s.stickykit: %s\n", name, m.ID)
			}
		}
		os.RemoveAll(work)
		if ctx.Err() != nil {
			return exitInterrupted
		}
	}
	return exitOK
}

// rescore reads the report of an earlier run from name, classifies its
// results again with the survivors list and prints it: the verdicts stay
// those of that run, the list is today's.
func rescore(name string, all []*Mutation, listed []Listed, stdout, stderr io.Writer) int {
	b, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintf(stderr, "mutation: --rescore: %v\n", err)
		return exitError
	}
	var old Report
	if err := json.Unmarshal(b, &old); err != nil {
		fmt.Fprintf(stderr, "mutation: --rescore %s: %v\n", name, err)
		return exitError
	}
	byID := make(map[string]*Mutation, len(all))
	for _, m := range all {
		byID[m.ID.String()] = m
	}
	for _, res := range old.Results {
		res.Class, res.Reason = "", ""
		if res.m = byID[res.ID]; res.m == nil {
			// The code changed since that run: show the identity alone.
			id, _, err := ParseIdentity(res.ID)
			if err != nil {
				fmt.Fprintf(stderr, "mutation: --rescore %s: %s: %v\n", name, res.ID, err)
				return exitError
			}
			res.m = &Mutation{ID: id, Line: res.Line}
		}
	}
	rep := &Report{Seed: old.Seed, Requested: old.Requested, All: old.All, Filter: old.Filter,
		Packages: old.Packages, Mutations: old.Mutations, Selected: old.Selected, Jobs: old.Jobs,
		Baseline: old.Baseline}
	rep.finish(old.Results, listed, stale(listed, all), time.Duration(old.Seconds*float64(time.Second)))
	rep.print(stdout)
	if rep.Counts.Survived > 0 || rep.Counts.Unjudged > 0 {
		return exitSurvivors
	}
	return exitOK
}
