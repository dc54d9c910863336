package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

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
    The kit writes its fixture files into DIR and removes them when the
    case ends (and those a killed earlier run provably left). It never
    connects just to see whether the server is up: it asks the kernel. A
    server that stops listening during a case fails that case (it
    crashed); every later case is then ERROR ("the server is gone").

check server --addr ADDR [--file NAME]...
    Without --root (a directory the kit cannot write: another user's, a
    container's), the kit writes nothing: the cases that need fixtures are
    SKIP ("needs --root"); the others run on names that cannot exist
    (missing file, path escape, bad and over-long requests, end of stream,
    connection limit, split request). Each --file NAME, a file the server
    serves, is fetched and checked for self-consistency: a size, exactly
    that many bytes, their MD5 (server/named-files; with --root too).

check server [--addr ADDR] [--root DIR] -- CMD ARG...
    The kit starts the server itself, fresh for every case, in its own
    process group, with a fresh root holding the case's files as its
    working directory (tutorial servers serve the directory they run in),
    and stops it when the case ends (SIGTERM, then SIGKILL). In ARGs these
    placeholders are replaced: {host} {port} {addr} (host:port) {root}.
    With {port} or {addr} the kit picks a free loopback port; without
    them, --addr says where the program listens (the address written into
    it), and the kit waits until it listens. A server that ends during a
    case is named, with its exit status and the last lines of its stderr.
    Only here does server/out-of-descriptors run: it lowers the server's
    RLIMIT_NOFILE to 64 (Linux) and checks that the connections waiting
    are answered ERR busy (against --addr alone it is SKIP).

check client [--listen ADDR] [--stdin TEXT] [--collect PATTERN] [--ignore-status] [--reads] [--svg DIR] -- CMD ARG...
    The kit runs its own servers on loopback and runs CMD once per case, in
    a fresh temporary directory, with empty stdin (or --stdin TEXT, then
    closed). In ARGs these placeholders are replaced: {host} {port} {addr}
    (host:port) of the kit's server, {name} the file to fetch, {out} the
    path to save it to (or, with --collect, the file the client names in
    its directory, e.g. '{name}.new'). What the kit saw on the wire, what
    the client leaves at {out}, and (unless --ignore-status) its exit
    status and what it prints are judged; wire evidence outranks the exit
    status. Its stdout and stderr are its report, read only for what a
    requirement says it must report: the code and text of an error reply,
    the counts of a truncation. A client whose address is written into it
    needs --listen with that address. A client that exits with status 127
    declares the case unsupported: SKIP. One killed by a signal, or whose
    stderr ends in an uncaught exception (a Python traceback, a Go panic,
    a Java exception), crashed: where it must report failure, that fails
    the case (REQ-CLI-18).

--reads runs the program the kit starts (a client; a server given as a
command) under strace and records its own read calls on the kit's
connection: what each asked for, what it got, and where in the stream that
was. The verdicts then name the read that went wrong ("read 98 after the
size asked for 1024 bytes and got 704: the last 672 bytes of the file and
32 bytes of the digest; they went into the file"), the short read of half
a digest, a size read together with data, a digest never read, a server
that acted on a fragment of a request; a verdict that rests on the reads
says so. They never make a verdict worse: where the file a client left is
right, a read that took data and digest together is one it split itself.
The JSON report holds every read (--json). --svg DIR draws each client
case's reads as a byte timeline, DIR/client-sticky.svg and so on (it
implies --reads). Without strace, or where tracing is forbidden, the kit
says so once and runs the cases as without --reads. Tracing costs CPU
(up to about twice as much), never a verdict.

Before any case the kit checks that it was pointed right (exit status 2,
one line, nothing run): a --root the server does not serve, a server that
seems to speak the other framing, a client command that cannot start or
never connects.

Verdicts:
    PASS          the implementation met the requirements under the case's condition
    FAIL          it did not; the detail says what happened
    HAZARD        a lockstep protocol hazard no implementation can meet (a
                  fragmented control message); never counted as a failure
    INCONCLUSIVE  the condition could not be produced, so nothing was learnt
    SKIP          the case does not apply to this framing or digest, or the
                  client declared it unsupported (exit 127)
    ERROR         the case could not run (the implementation could not be
                  started or reached, or was gone; the run was interrupted);
                  it names no requirement
A FAIL of a MUST case fails the check; a FAIL of a SHOULD case is reported
but does not.

The table goes to stdout, summary last. Exit status: 1 when a MUST case
failed (with --expect: when a verdict differs from the baseline), otherwise
2 when a case could not run (ERROR), otherwise 0; 2 for usage or setup
errors (missing flags, a root that is not a directory, a server that cannot
be reached or does not serve the root, a framing mismatch, a client that
cannot start or never connects, a bad regexp or baseline); 130 when
interrupted (Ctrl-C ends the run at once: the case in flight and the rest
are ERROR, and the kit cleans up).

--run and --skip take regular expressions matched against case IDs: a
case runs when --run matches it and --skip does not.
JSON and JUnit reports name the tool and its version, the start time, the
command line, the framing and the target.
A baseline (--expect FILE) lists the verdicts an implementation is known to
get, one "CASE-ID VERDICT" per line (a # starts a comment, blank lines are
allowed), or is a report written by --json; a case ID the kit does not
know is an error that names the closest one. With a baseline only a
difference fails: a verdict other than the one listed, a listed case that
did not run, or a MUST FAIL of a case the baseline does not list.`

func runCheck(e *env, args []string) int {
	c, code, ok := parseCheck(e, args)
	if !ok {
		return code
	}
	if c.list {
		return e.listCases(c.role, c.selects)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if code, ok := c.prepare(ctx, e); !ok {
		return code
	}
	defer c.closeFiles()
	return c.report(ctx, e, c.run(ctx))
}

// checkRun is one run of "stickykit check": what the flags asked for, and
// the files and baseline it prepared.
type checkRun struct {
	role    conformance.Role
	command []string // the client's command line (check client)
	target  string   // the server's address or the client's command, for the reports
	addr    string
	root    string
	files   fileNames // --file: names the server serves (check server)
	framing spec.Framing
	sel     *regexp.Regexp // --run
	skip    *regexp.Regexp // --skip
	runRE   string
	skipRE  string
	args    []string  // the command line, for the reports
	started time.Time // when the cases began, for the reports
	list    bool
	verbose bool
	timeout time.Duration

	jsonFile, junitFile, expectFile string

	expect            report.Baseline
	jsonOut, junitOut *os.File

	opts  targetOptions // the flags of check_target.go
	reads readsOptions  // the flags of check_reads.go
}

// parseCheck parses the command line of "stickykit check". It returns the
// run, or the exit status and false when the command should stop.
func parseCheck(e *env, args []string) (*checkRun, int, bool) {
	c := &checkRun{framing: spec.Lockstep, args: append([]string{"stickykit", "check"}, args...)}
	// Everything after the first "--" is the client's command line, taken
	// as is.
	dashdash := false
	for i, a := range args {
		if a == "--" {
			c.command, args, dashdash = args[i+1:], args[:i], true
			break
		}
	}
	fs := e.newFlags("check", "server --addr ADDR --root DIR [flags]\n       stickykit check server --addr ADDR [--file NAME]... [flags]\n       stickykit check server [--addr ADDR] [--root DIR] [flags] -- CMD ARG...\n       stickykit check client [flags] -- CMD ARG...", checkAbout)
	fs.StringVar(&c.addr, "addr", "", "`address` (host:port) of the server under test, or where the server the kit starts listens (check server)")
	fs.StringVar(&c.root, "root", "", "`directory` the server under test serves; the kit writes its fixtures here (check server; with a command, a fresh root per case by default)")
	c.remoteFlags(fs)
	fs.Var(&c.framing, "framing", "`framing` the implementation speaks: lockstep (the tutorial's bytes) or line (LF-terminated)")
	fs.StringVar(&c.runRE, "run", "", "run only the cases whose ID matches this `regexp`")
	fs.StringVar(&c.skipRE, "skip", "", "leave out the cases whose ID matches this `regexp` (after --run)")
	fs.BoolVar(&c.list, "list", false, "list the cases (ID, severity, framings, SPEC.md requirements) and exit")
	fs.StringVar(&c.jsonFile, "json", "", "also write the report as JSON to `FILE`")
	fs.StringVar(&c.junitFile, "junit", "", "also write the report as JUnit XML to `FILE` (for CI)")
	fs.StringVar(&c.expectFile, "expect", "", "compare the verdicts with the baseline in `FILE`; only a difference fails")
	fs.BoolVar(&c.verbose, "v", false, "show each case's byte-level log below its row")
	fs.DurationVar(&c.timeout, "timeout", conformance.DefaultTimeout, "bound for each single wait on the implementation (a reply, a read, an exit)")
	c.targetFlags(fs)
	c.readsFlags(fs)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return nil, code, false
	}
	if code := c.validate(e, fs, pos, dashdash); code != exitOK {
		return nil, code, false
	}
	return c, exitOK, true
}

// validate checks the flags and arguments of check, and sets the role,
// the selection and the target. It returns exitOK, or the status of a
// usage error it reported.
func (c *checkRun) validate(e *env, fs *flag.FlagSet, pos []string, dashdash bool) int {
	for _, f := range []struct {
		name, expr string
		re         **regexp.Regexp
	}{{"run", c.runRE, &c.sel}, {"skip", c.skipRE, &c.skip}} {
		if f.expr == "" {
			continue
		}
		re, err := regexp.Compile(f.expr)
		if err != nil {
			return e.usageErr(fs, "bad --%s regexp: %v", f.name, err)
		}
		*f.re = re
	}
	if len(pos) > 1 {
		return e.usageErr(fs, "unexpected argument %q (a client's command goes after \"--\")", pos[1])
	}
	if len(pos) == 1 {
		c.role = conformance.Role(pos[0])
		if c.role != conformance.RoleServer && c.role != conformance.RoleClient {
			return e.usageErr(fs, "want \"server\" or \"client\", got %q", pos[0])
		}
	}
	switch {
	case c.list:
		return exitOK
	case c.role == "":
		return e.usageErr(fs, "say what to check: \"check server ...\" or \"check client ... -- CMD ARG...\"")
	case c.timeout <= 0:
		return e.usageErr(fs, "--timeout must be positive")
	}
	if code := c.validateReads(e, fs); code != exitOK {
		return code
	}
	if c.role == conformance.RoleServer {
		return c.validateServer(e, fs, dashdash)
	}
	set := setFlags(fs)
	switch {
	case set["addr"] || set["root"] || set["file"]:
		return e.usageErr(fs, "--addr, --root and --file are for check server; check client runs its own servers")
	case len(c.command) == 0 || c.command[0] == "":
		return e.usageErr(fs, "check client needs the client's command after \"--\"")
	}
	if code := c.validateClient(e, fs); code != exitOK {
		return code
	}
	c.target = report.CommandLine(c.command)
	return exitOK
}

// prepare does what must succeed before the run: it reads the baseline and
// creates the report files, so that a bad path fails before the run. It
// returns the exit status and false when it cannot. In between, the
// preflight names the user's mistakes (check_target.go).
func (c *checkRun) prepare(ctx context.Context, e *env) (int, bool) {
	if c.expectFile != "" {
		m, err := readExpect(c.expectFile)
		if err != nil {
			e.errorf("check: --expect: %v", err)
			return exitUsage, false
		}
		c.expect = relevant(m, c.role, c.selects)
	}
	if code, ok := c.preflight(ctx, e); !ok {
		return code, false
	}
	if !c.prepareReads(ctx, e) {
		return exitUsage, false
	}
	for _, r := range []struct {
		name string
		f    **os.File
	}{{c.jsonFile, &c.jsonOut}, {c.junitFile, &c.junitOut}} {
		if r.name == "" {
			continue
		}
		f, err := os.Create(r.name)
		if err != nil {
			e.errorf("check: %v", err)
			c.closeFiles()
			return exitUsage, false
		}
		*r.f = f
	}
	return exitOK, true
}

// closeFiles closes the report files that are still open.
func (c *checkRun) closeFiles() {
	for _, f := range []*os.File{c.jsonOut, c.junitOut} {
		if f != nil {
			f.Close()
		}
	}
}

// selects reports whether --run and --skip select case id.
func (c *checkRun) selects(id string) bool {
	return (c.sel == nil || c.sel.MatchString(id)) && (c.skip == nil || !c.skip.MatchString(id))
}

// run runs the selected cases.
func (c *checkRun) run(ctx context.Context) []conformance.Result {
	c.started = time.Now()
	opts := conformance.Options{Run: c.sel, Skip: c.skip, Timeout: c.timeout}
	if c.role == conformance.RoleServer {
		return conformance.RunServer(ctx, c.serverTarget(), opts)
	}
	return conformance.RunClient(ctx, c.clientTarget(), opts)
}

// report writes the table and the report files, compares the verdicts with
// the baseline, and returns the exit status the run deserves.
func (c *checkRun) report(ctx context.Context, e *env, results []conformance.Result) int {
	status := exitOK
	if len(results) == 0 {
		e.errorf("check: %s", c.noneSelected())
		status = exitUsage
	}
	topts := report.TableOptions{Verbose: c.verbose, Width: 100}
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
	if !c.writeFiles(e, results) || !c.writePictures(e, results) {
		status = exitUsage
	}
	if status != exitOK {
		return status
	}
	if ctx.Err() != nil {
		e.errorf("check: interrupted")
		return exitInterrupted
	}
	if c.expect != nil {
		c.writeDiff(e, results)
	}
	return report.ExitCode(results, c.expect)
}

// writeFiles writes the JSON and JUnit reports asked for, and reports
// whether all went well.
func (c *checkRun) writeFiles(e *env, results []conformance.Result) bool {
	ok := true
	if c.jsonOut != nil {
		if err := writeReport(c.jsonOut, func(w io.Writer) error {
			return report.WriteJSON(w, c.reportRun(), results)
		}); err != nil {
			e.errorf("check: --json: %v", err)
			ok = false
		}
		c.jsonOut = nil
	}
	if c.junitOut != nil {
		if err := writeReport(c.junitOut, func(w io.Writer) error {
			return report.WriteJUnit(w, "stickykit check "+string(c.role), c.reportRun(), results)
		}); err != nil {
			e.errorf("check: --junit: %v", err)
			ok = false
		}
		c.junitOut = nil
	}
	return ok
}

// writeDiff prints how the verdicts differ from the baseline.
func (c *checkRun) writeDiff(e *env, results []conformance.Result) {
	diff := c.expect.Diff(results)
	if len(diff) == 0 {
		fmt.Fprintf(e.stdout, "every verdict matches the baseline %s\n", c.expectFile)
		return
	}
	fmt.Fprintf(e.stdout, "%s from the baseline %s:\n", count(len(diff), "difference"), c.expectFile)
	for _, d := range diff {
		fmt.Fprintf(e.stdout, "  %s\n", d)
	}
}

// listCases prints the cases of role (every case when role is empty) that
// sel selects, with their severity, framings and requirement IDs.
func (e *env) listCases(role conformance.Role, sel func(id string) bool) int {
	cases := conformance.Cases(role)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tSEVERITY\tFRAMINGS\tREQUIREMENTS\tTITLE")
	n := 0
	for _, c := range cases {
		if !sel(c.ID) {
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
	fmt.Fprintln(e.stdout, count(n, "case"))
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
// cases of the other role, and cases --run or --skip leave out.
func relevant(m report.Baseline, role conformance.Role, sel func(id string) bool) report.Baseline {
	out := make(report.Baseline, len(m))
	for id, v := range m {
		if c, ok := conformance.Lookup(id); ok && (c.Role() != role || !sel(id)) {
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

// reportRun describes the run for the JSON and JUnit reports.
func (c *checkRun) reportRun() report.Run {
	info, _ := debug.ReadBuildInfo()
	return report.Run{
		Tool:    report.Tool{Name: "stickykit", Version: report.BuildVersion(info)},
		Started: c.started,
		Args:    c.args,
		Framing: c.framing,
		Target:  c.target,
		Reads:   c.readsStatus(),
	}
}

// noneSelected says why no case ran: --run and --skip left none of the
// role's, naming the closest case when --run is a plain ID.
func (c *checkRun) noneSelected() string {
	var flags []string
	if c.runRE != "" {
		flags = append(flags, fmt.Sprintf("--run %q", c.runRE))
	}
	if c.skipRE != "" {
		flags = append(flags, fmt.Sprintf("--skip %q", c.skipRE))
	}
	if len(flags) == 0 {
		return fmt.Sprintf("no %s case to run", c.role)
	}
	msg := fmt.Sprintf("no %s case is selected by %s", c.role, strings.Join(flags, " and "))
	if id := strings.Trim(c.runRE, "^$"); id != "" && regexp.QuoteMeta(id) == id {
		msg += fmt.Sprintf(" (did you mean %s?)", report.ClosestCase(id))
	}
	return msg
}

// count returns "1 noun" or "N nouns".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
