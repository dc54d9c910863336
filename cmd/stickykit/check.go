package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/report"
	"github.com/stickykit/stickykit/spec"
)

const checkAbout = `
Check a server or a client of the exchange against SPEC.md. Each case
produces a condition (a file size, a segmentation, a bad request, a slow or
vanishing peer...), judges what the implementation did, and names the
SPEC.md requirements it checks ("--list" shows the mapping).

check server --addr ADDR --root DIR
    The server must already be running, listening on ADDR and serving DIR.
    The kit writes its fixture files (under a fresh directory) into DIR and
    removes them when the case ends.

check client -- CMD ARG...
    The kit runs its own servers on loopback and runs CMD once per case, in
    a fresh temporary directory with empty stdin. In ARGs these placeholders
    are replaced: {host} {port} {addr} (host:port) of the kit's server,
    {name} the file to fetch, {out} the path to save it to. The client's
    exit status and what it leaves at {out} are judged. A client that exits
    with status 127 declares the case unsupported: SKIP.

Verdicts:
    PASS          the implementation met the requirements under the case's condition
    FAIL          it did not; the detail says what happened
    HAZARD        a lockstep protocol hazard no implementation can meet (a
                  fragmented control message); never counted as a failure
    INCONCLUSIVE  the condition could not be produced, so nothing was learnt
    SKIP          the case does not apply to this framing, or the client
                  declared it unsupported (exit 127)
A FAIL of a MUST case fails the check; a FAIL of a SHOULD case is reported
but does not.

The table goes to stdout, summary last. Exit status: 0 when no MUST case
failed (with --expect: when every verdict matches the baseline), 1
otherwise, 2 for usage or setup errors (missing flags, a root that is not a
directory, a server that cannot be reached, a bad regexp or baseline).

A baseline (--expect FILE) lists the verdicts an implementation is known to
get, one "CASE-ID VERDICT" per line (# comments and blank lines allowed), or
is a report written by --json. With a baseline only a difference fails: a
verdict other than the one listed, a listed case that did not run, or a
MUST FAIL of a case the baseline does not list.`

func runCheck(e *env, args []string) int {
	// Everything after the first "--" is the client's command line, taken
	// as is.
	var command []string
	dashdash := false
	for i, a := range args {
		if a == "--" {
			command, args, dashdash = args[i+1:], args[:i], true
			break
		}
	}

	fs := e.newFlags("check", "server --addr ADDR --root DIR [flags]\n       stickykit check client [flags] -- CMD ARG...", checkAbout)
	addr := fs.String("addr", "", "`address` (host:port) of the server under test (check server)")
	root := fs.String("root", "", "`directory` the server under test serves; the kit writes its fixtures here (check server)")
	framing := spec.Lockstep
	fs.Var(&framing, "framing", "`framing` the implementation speaks: lockstep (the tutorial's bytes) or line (LF-terminated)")
	runRE := fs.String("run", "", "run only the cases whose ID matches this `regexp`")
	list := fs.Bool("list", false, "list the cases (ID, severity, framings, SPEC.md requirements) and exit")
	jsonFile := fs.String("json", "", "also write the report as JSON to `FILE`")
	junitFile := fs.String("junit", "", "also write the report as JUnit XML to `FILE` (for CI)")
	expectFile := fs.String("expect", "", "compare the verdicts with the baseline in `FILE`; only a difference fails")
	verbose := fs.Bool("v", false, "show each case's byte-level log below its row")
	timeout := fs.Duration("timeout", conformance.DefaultTimeout, "bound for each single wait on the implementation (a reply, a read, an exit)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}

	var sel *regexp.Regexp
	if *runRE != "" {
		re, err := regexp.Compile(*runRE)
		if err != nil {
			return e.usageErr(fs, "bad --run regexp: %v", err)
		}
		sel = re
	}
	if len(pos) > 1 {
		return e.usageErr(fs, "unexpected argument %q (a client's command goes after \"--\")", pos[1])
	}
	role := ""
	if len(pos) == 1 {
		role = pos[0]
		if role != string(conformance.RoleServer) && role != string(conformance.RoleClient) {
			return e.usageErr(fs, "want \"server\" or \"client\", got %q", role)
		}
	}
	if *list {
		return e.listCases(conformance.Role(role), sel)
	}
	if role == "" {
		return e.usageErr(fs, "say what to check: \"check server ...\" or \"check client ... -- CMD ARG...\"")
	}
	if *timeout <= 0 {
		return e.usageErr(fs, "--timeout must be positive")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var target string
	switch conformance.Role(role) {
	case conformance.RoleServer:
		if dashdash {
			return e.usageErr(fs, "check server takes no command (\"--\" is for check client)")
		}
		if *addr == "" || *root == "" {
			return e.usageErr(fs, "check server needs --addr ADDR and --root DIR")
		}
		if fi, err := os.Stat(*root); err != nil {
			return e.usageErr(fs, "--root: %v", err)
		} else if !fi.IsDir() {
			return e.usageErr(fs, "--root %s is not a directory", *root)
		}
		target = *addr
	case conformance.RoleClient:
		if set["addr"] || set["root"] {
			return e.usageErr(fs, "--addr and --root are for check server; check client runs its own servers")
		}
		if len(command) == 0 || command[0] == "" {
			return e.usageErr(fs, "check client needs the client's command after \"--\"")
		}
		target = commandLine(command)
	}

	var expect report.Baseline
	if *expectFile != "" {
		m, err := readExpect(*expectFile)
		if err != nil {
			e.errorf("check: --expect: %v", err)
			return exitUsage
		}
		expect = relevant(m, conformance.Role(role), sel)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if conformance.Role(role) == conformance.RoleServer {
		// A quick dial first: an unreachable server is a setup error, not
		// a table of failed cases.
		c, err := (&net.Dialer{Timeout: *timeout}).DialContext(ctx, "tcp", *addr)
		if err != nil {
			e.errorf("check: cannot reach the server at %s: %v", *addr, err)
			return exitUsage
		}
		c.Close()
	}
	// Create the report files now, so a bad path fails before the run.
	var jsonOut, junitOut *os.File
	for _, r := range []struct {
		name string
		f    **os.File
	}{{*jsonFile, &jsonOut}, {*junitFile, &junitOut}} {
		if r.name == "" {
			continue
		}
		f, err := os.Create(r.name)
		if err != nil {
			e.errorf("check: %v", err)
			return exitUsage
		}
		defer f.Close()
		*r.f = f
	}

	opts := conformance.Options{Run: sel, Timeout: *timeout}
	var results []conformance.Result
	if conformance.Role(role) == conformance.RoleServer {
		results = conformance.RunServer(ctx, conformance.ServerTarget{Addr: *addr, Root: *root, Framing: framing}, opts)
	} else {
		results = conformance.RunClient(ctx, conformance.ClientTarget{Framing: framing, Command: command}, opts)
	}

	status := exitOK
	if len(results) == 0 {
		e.errorf("check: no %s case matches --run %q", role, *runRE)
		status = exitUsage
	}
	topts := report.TableOptions{Verbose: *verbose, Width: 120}
	if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		topts.Color = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w >= 40 {
			topts.Width = w
		}
	}
	if err := report.WriteTable(e.stdout, results, topts); err != nil {
		e.errorf("check: %v", err)
		return exitUsage
	}
	if jsonOut != nil {
		if err := writeReport(jsonOut, func(w io.Writer) error {
			return report.WriteJSON(w, target, framing, results)
		}); err != nil {
			e.errorf("check: --json: %v", err)
			status = exitUsage
		}
	}
	if junitOut != nil {
		if err := writeReport(junitOut, func(w io.Writer) error {
			return report.WriteJUnit(w, "stickykit check "+role, results)
		}); err != nil {
			e.errorf("check: --junit: %v", err)
			status = exitUsage
		}
	}
	if status != exitOK {
		return status
	}
	if ctx.Err() != nil {
		e.errorf("check: interrupted")
		return exitFail
	}
	if expect != nil {
		diff := expect.Diff(results)
		if len(diff) == 0 {
			fmt.Fprintf(e.stdout, "every verdict matches the baseline %s\n", *expectFile)
		} else {
			fmt.Fprintf(e.stdout, "%d differences from the baseline %s:\n", len(diff), *expectFile)
			for _, d := range diff {
				fmt.Fprintf(e.stdout, "  %s\n", d)
			}
		}
	}
	if report.ExitCode(results, expect) != 0 {
		return exitFail
	}
	return exitOK
}

// listCases prints the cases of role (every case when role is empty) whose
// ID matches sel, with their severity, framings and requirement IDs.
func (e *env) listCases(role conformance.Role, sel *regexp.Regexp) int {
	cases := conformance.Cases(role)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tSEVERITY\tFRAMINGS\tREQUIREMENTS\tTITLE")
	n := 0
	for _, c := range cases {
		if sel != nil && !sel.MatchString(c.ID) {
			continue
		}
		n++
		framings := "lockstep,line"
		if len(c.Framings) > 0 {
			names := make([]string, len(c.Framings))
			for i, f := range c.Framings {
				names[i] = f.String()
			}
			framings = strings.Join(names, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Severity, framings, strings.Join(c.Requirements, " "), c.Title)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "%d cases\n", n)
	return exitOK
}

// readExpect reads the baseline file name.
func readExpect(name string) (report.Baseline, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return report.ReadBaseline(f)
}

// relevant drops the baseline entries for cases this run does not select:
// known cases of the other role, and cases --run leaves out. An entry for
// an unknown case stays, so Diff reports it as not run.
func relevant(m report.Baseline, role conformance.Role, sel *regexp.Regexp) report.Baseline {
	out := make(report.Baseline, len(m))
	for id, v := range m {
		if c, ok := conformance.Lookup(id); ok && (c.Role() != role || (sel != nil && !sel.MatchString(id))) {
			continue
		}
		out[id] = v
	}
	return out
}

// writeReport writes a report with write and closes f, returning the first
// error.
func writeReport(f *os.File, write func(io.Writer) error) error {
	err := write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// commandLine renders argv for a report, quoting the arguments a shell
// would split.
func commandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}
