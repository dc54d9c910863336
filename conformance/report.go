package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stickykit/stickykit/spec"
)

// TableOptions tune WriteTable.
type TableOptions struct {
	// Color paints the verdicts (green PASS, red FAIL, yellow HAZARD and
	// INCONCLUSIVE) with ANSI escapes. Set it only when w is a terminal.
	Color bool
	// Verbose writes each case's byte-level log below its row.
	Verbose bool
	// Width is the line width, in columns, details are wrapped to;
	// 0 means 100.
	Width int
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

func verdictColor(v Verdict) string {
	switch v {
	case Pass:
		return ansiGreen
	case Fail:
		return ansiRed
	case Hazard, Inconclusive:
		return ansiYellow
	}
	return ""
}

// WriteTable writes results as a human table, one row per case:
//
//	VERDICT  CASE          SEVERITY  REQUIREMENTS        TIME   DETAIL
//	PASS     server/sizes  MUST      REQ-SRV-1 REQ-MSG-2  12ms   ...
//
// followed by a summary line (see [SummaryLine]). A detail too long for the
// line is wrapped under the DETAIL column, or, when that column would be too
// narrow, below the row.
func WriteTable(w io.Writer, results []Result, opts TableOptions) error {
	width := opts.Width
	if width <= 0 {
		width = 100
	}
	rows := make([][5]string, len(results))
	cols := [5]int{len("VERDICT"), len("CASE"), len("SEVERITY"), len("REQUIREMENTS"), len("TIME")}
	for i, r := range results {
		rows[i] = [5]string{
			string(r.Outcome.Verdict),
			r.Case.ID,
			string(r.Case.Severity),
			strings.Join(r.Case.Requirements, " "),
			formatDuration(r),
		}
		for j, s := range rows[i] {
			cols[j] = max(cols[j], utf8.RuneCountInString(s))
		}
	}
	const gap = "  "
	detailCol := 0
	for _, c := range cols {
		detailCol += c + len(gap)
	}
	detailWidth := width - detailCol
	below := detailWidth < 50 // too narrow: details go on their own lines
	const indent = "    "
	if below {
		detailWidth = max(width-len(indent), 50)
	}

	bw := bufio.NewWriter(w)
	// row writes the cells padded to their columns, then tail, with no
	// trailing spaces.
	row := func(cells [5]string, color, tail string) {
		var b strings.Builder
		for j, s := range cells {
			pad := strings.Repeat(" ", cols[j]-utf8.RuneCountInString(s))
			if j == 0 && color != "" {
				s = color + s + ansiReset
			}
			b.WriteString(s + pad + gap)
		}
		b.WriteString(tail)
		bw.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
	header := "DETAIL"
	if below {
		header = ""
	}
	row([5]string{"VERDICT", "CASE", "SEVERITY", "REQUIREMENTS", "TIME"}, "", header)
	for i, r := range results {
		color := ""
		if opts.Color {
			color = verdictColor(r.Outcome.Verdict)
		}
		lines := wrap(r.Outcome.Detail, detailWidth)
		switch {
		case len(lines) == 0:
			row(rows[i], color, "")
		case below:
			row(rows[i], color, "")
			for _, l := range lines {
				fmt.Fprintf(bw, "%s%s\n", indent, l)
			}
		default:
			row(rows[i], color, lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(bw, "%*s%s\n", detailCol, "", l)
			}
		}
		if opts.Verbose {
			for _, l := range r.Log {
				fmt.Fprintf(bw, "%s| %s\n", indent, l)
			}
		}
	}
	fmt.Fprintln(bw, SummaryLine(results))
	return bw.Flush()
}

// formatDuration renders a case's run time for the table; "-" for a case
// that did not run.
func formatDuration(r Result) string {
	if r.Duration <= 0 {
		return "-"
	}
	if r.Duration < time.Millisecond {
		return "<1ms"
	}
	return r.Duration.Round(time.Millisecond).String()
}

// wrap splits s into lines of at most width runes, breaking at spaces; a
// word longer than width is cut. Newlines in s are kept.
func wrap(s string, width int) []string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(s), "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			for utf8.RuneCountInString(word) > width {
				if line != "" {
					out = append(out, line)
					line = ""
				}
				r := []rune(word)
				out = append(out, string(r[:width]))
				word = string(r[width:])
			}
			switch {
			case line == "":
				line = word
			case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Summarise counts the results by verdict. Every verdict in [Verdicts] has
// an entry, zero included.
func Summarise(results []Result) map[Verdict]int {
	m := make(map[Verdict]int, len(Verdicts))
	for _, v := range Verdicts {
		m[v] = 0
	}
	for _, r := range results {
		m[r.Outcome.Verdict]++
	}
	return m
}

// SummaryLine returns the one-line summary the table ends with:
//
//	12 PASS, 1 FAIL, 1 HAZARD, 0 INCONCLUSIVE, 2 SKIP; 1 MUST case failed
//
// followed, when a SHOULD case failed, by ", 1 SHOULD case failed".
func SummaryLine(results []Result) string {
	sum := Summarise(results)
	parts := make([]string, len(Verdicts))
	for i, v := range Verdicts {
		parts[i] = fmt.Sprintf("%d %s", sum[v], v)
	}
	var must, should int
	for _, r := range results {
		if r.Outcome.Verdict == Fail {
			if r.Case.Severity == Must {
				must++
			} else {
				should++
			}
		}
	}
	s := strings.Join(parts, ", ") + "; " + plural(must, "MUST case") + " failed"
	if should > 0 {
		s += ", " + plural(should, "SHOULD case") + " failed"
	}
	return s
}

func plural(n int, noun string) string {
	switch n {
	case 0:
		return "no " + noun
	case 1:
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ExitCode returns the exit status a run deserves: 0 when no MUST case
// failed, 1 otherwise. With a baseline (expect not nil) it is 0 when
// [Diff] finds no difference and 1 otherwise.
func ExitCode(results []Result, expect map[string]Verdict) int {
	if expect != nil {
		if len(Diff(results, expect)) > 0 {
			return 1
		}
		return 0
	}
	for _, r := range results {
		if r.Failed() {
			return 1
		}
	}
	return 0
}

// JSONReport is the document WriteJSON writes, indented, fields in this
// order:
//
//	{
//	  "framing": "lockstep",
//	  "target": "127.0.0.1:8888",
//	  "cases": [
//	    {
//	      "id": "server/sizes",
//	      "requirements": ["REQ-SRV-1", "REQ-MSG-2"],
//	      "severity": "MUST",
//	      "verdict": "PASS",
//	      "detail": "",
//	      "duration_ms": 12
//	    }
//	  ],
//	  "summary": {"PASS": 1, "FAIL": 0, "HAZARD": 0, "INCONCLUSIVE": 0, "SKIP": 0}
//	}
//
// target is the server's address, or the client's command line. Every
// verdict appears in summary, zero included; duration_ms is whole
// milliseconds, 0 for a case that did not run. ReadExpect accepts this
// document as a baseline.
type JSONReport struct {
	Framing string      `json:"framing"`
	Target  string      `json:"target"`
	Cases   []JSONCase  `json:"cases"`
	Summary JSONSummary `json:"summary"`
}

// JSONCase is one case's entry in a JSONReport.
type JSONCase struct {
	ID           string   `json:"id"`
	Requirements []string `json:"requirements"`
	Severity     Severity `json:"severity"`
	Verdict      Verdict  `json:"verdict"`
	Detail       string   `json:"detail"`
	DurationMS   int64    `json:"duration_ms"`
}

// JSONSummary counts a JSONReport's cases by verdict.
type JSONSummary struct {
	Pass         int `json:"PASS"`
	Fail         int `json:"FAIL"`
	Hazard       int `json:"HAZARD"`
	Inconclusive int `json:"INCONCLUSIVE"`
	Skip         int `json:"SKIP"`
}

// WriteJSON writes results as an indented [JSONReport].
func WriteJSON(w io.Writer, target string, framing spec.Framing, results []Result) error {
	rep := JSONReport{Framing: framing.String(), Target: target, Cases: []JSONCase{}}
	for _, r := range results {
		reqs := r.Case.Requirements
		if reqs == nil {
			reqs = []string{}
		}
		rep.Cases = append(rep.Cases, JSONCase{
			ID:           r.Case.ID,
			Requirements: reqs,
			Severity:     r.Case.Severity,
			Verdict:      r.Outcome.Verdict,
			Detail:       r.Outcome.Detail,
			DurationMS:   r.Duration.Milliseconds(),
		})
	}
	sum := Summarise(results)
	rep.Summary = JSONSummary{sum[Pass], sum[Fail], sum[Hazard], sum[Inconclusive], sum[Skip]}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// The JUnit XML document WriteJUnit writes.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

// junitText is an element's text as CDATA, so that logs stay readable in
// the file (plain character data would escape every newline and quote).
type junitText struct {
	Text string `xml:",cdata"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

// WriteJUnit writes results as JUnit XML, the format CI systems ingest: one
// <testsuite> named suite (e.g. "stickykit check server") with one
// <testcase> per case, classname its role and name its ID.
//
// The verdicts map onto JUnit so that the document's failures are exactly
// what makes the exit status 1 (see [ExitCode] without a baseline):
//
//   - PASS: a plain <testcase>.
//   - FAIL of a MUST case: <failure type="MUST" message=DETAIL>, with the
//     requirement IDs in the element's text.
//   - FAIL of a SHOULD case: not a JUnit failure (the implementation still
//     conforms); the testcase passes and its <system-out> begins with
//     "FAIL (SHOULD, REQ-...): DETAIL", as "go test" logs it.
//   - HAZARD, INCONCLUSIVE, SKIP: <skipped message="VERDICT: DETAIL">.
//
// Each case's byte-level log follows in <system-out>.
func WriteJUnit(w io.Writer, suite string, results []Result) error {
	s := junitSuite{Name: suite, Tests: len(results)}
	var total time.Duration
	for _, r := range results {
		total += r.Duration
		c := junitCase{
			Classname: string(r.Case.Role),
			Name:      r.Case.ID,
			Time:      seconds(r.Duration),
		}
		var out []string
		o := r.Outcome
		ids := strings.Join(r.Case.Requirements, ", ")
		switch {
		case o.Verdict == Pass:
		case o.Verdict == Fail && r.Case.Severity == Must:
			s.Failures++
			c.Failure = &junitMessage{
				Message: o.Detail,
				Type:    string(Must),
				Text:    xmlSafe(fmt.Sprintf("FAIL (MUST, %s): %s", ids, o.Detail)),
			}
		case o.Verdict == Fail:
			out = append(out, fmt.Sprintf("FAIL (%s, %s): %s", r.Case.Severity, ids, o.Detail))
		default:
			s.Skipped++
			c.Skipped = &junitMessage{Message: fmt.Sprintf("%s: %s", o.Verdict, o.Detail)}
		}
		out = append(out, r.Log...)
		if len(out) > 0 {
			c.SystemOut = &junitText{xmlSafe(strings.Join(out, "\n") + "\n")}
		}
		s.Cases = append(s.Cases, c)
	}
	s.Time = seconds(total)
	doc := junitSuites{
		Tests: s.Tests, Failures: s.Failures, Skipped: s.Skipped, Time: s.Time,
		Suites: []junitSuite{s},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// xmlSafe replaces the characters XML 1.0 cannot carry (control
// characters other than tab, newline and return; invalid UTF-8) with U+FFFD,
// since CDATA, unlike escaped text, has no way to write them.
func xmlSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r == utf8.RuneError, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			return utf8.RuneError
		}
		return r
	}, s)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// ReadExpect reads a baseline of expected verdicts, in either of two
// forms. The line form has one "CASE-ID VERDICT" pair per line; blank lines
// and lines beginning with # are ignored:
//
//	# the naive client is known to lose the digest
//	client/sticky   FAIL
//	client/basic    PASS
//
// The JSON form is a report written by [WriteJSON] (or --json): the
// verdicts it records become the baseline. A case listed twice, or an
// unknown verdict, is an error.
func ReadExpect(r io.Reader) (map[string]Verdict, error) {
	data, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("conformance: reading baseline: %w", err)
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return readExpectJSON(t)
	}
	m := make(map[string]Verdict)
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("conformance: baseline line %d: got %q, want \"CASE-ID VERDICT\"", n+1, line)
		}
		if err := addExpect(m, f[0], f[1]); err != nil {
			return nil, fmt.Errorf("conformance: baseline line %d: %w", n+1, err)
		}
	}
	return m, nil
}

func readExpectJSON(data []byte) (map[string]Verdict, error) {
	var rep JSONReport
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("conformance: baseline JSON report: %w", err)
	}
	m := make(map[string]Verdict)
	for i, c := range rep.Cases {
		if err := addExpect(m, c.ID, string(c.Verdict)); err != nil {
			return nil, fmt.Errorf("conformance: baseline JSON report, case %d: %w", i, err)
		}
	}
	return m, nil
}

func addExpect(m map[string]Verdict, id, verdict string) error {
	if id == "" {
		return fmt.Errorf("empty case ID")
	}
	v := Verdict(strings.ToUpper(verdict))
	known := false
	for _, k := range Verdicts {
		known = known || k == v
	}
	if !known {
		return fmt.Errorf("case %s: unknown verdict %q (want one of %v)", id, verdict, Verdicts)
	}
	if old, dup := m[id]; dup {
		return fmt.Errorf("case %s listed twice (%s and %s)", id, old, v)
	}
	m[id] = v
	return nil
}

// Diff compares results with a baseline and returns one human line per
// difference, in case order; none means the run matched. A difference is a
// case whose verdict is not the one the baseline expects, or a baseline
// entry for a case that did not run. A case the baseline does not list is
// held to the usual rule: only a FAIL of a MUST case is a difference, so
// a new case that an implementation fails is not hidden by an old baseline.
func Diff(results []Result, expect map[string]Verdict) []string {
	var out []string
	ran := make(map[string]bool, len(results))
	for _, r := range results {
		id, got := r.Case.ID, r.Outcome.Verdict
		ran[id] = true
		want, listed := expect[id]
		switch {
		case listed && got != want:
			out = append(out, fmt.Sprintf("%s: got %s, want %s%s", id, got, want, because(r.Outcome.Detail)))
		case !listed && r.Failed():
			out = append(out, fmt.Sprintf("%s: got FAIL (MUST), not in the baseline%s", id, because(r.Outcome.Detail)))
		}
	}
	var missing []string
	for id := range expect {
		if !ran[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	for _, id := range missing {
		out = append(out, fmt.Sprintf("%s: in the baseline (%s) but not run", id, expect[id]))
	}
	return out
}

func because(detail string) string {
	if detail == "" {
		return ""
	}
	return ": " + detail
}
