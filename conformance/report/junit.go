package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stickykit/stickykit/conformance"
)

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
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

// junitProperty is one <property name=... value=...> of a suite.
type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// junitProperties returns the properties that describe run, named as the
// JSON report's fields are.
func junitProperties(run Run) []junitProperty {
	props := []junitProperty{
		{"tool.name", run.Tool.Name},
		{"tool.version", run.Tool.Version},
		{"started", run.started()},
		{"args", xmlSafe(CommandLine(run.Args))},
		{"framing", run.Framing.String()},
		{"target", xmlSafe(run.Target)},
	}
	if r := run.Reads.String(); r != "" {
		props = append(props, junitProperty{"reads", xmlSafe(r)})
	}
	return props
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
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

// WriteJUnit writes the results of run as JUnit XML, the format CI systems
// ingest: one <testsuite> named suite (e.g. "stickykit check server"),
// stamped with the run's start time, whose <properties> describe the run
// (tool.name, tool.version, started, args, framing, target: the fields of
// the JSON report), and one <testcase> per case, classname its role and
// name its ID.
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
//   - ERROR (the case could not run): <error type="ERROR" message=DETAIL>,
//     counted in the errors attribute.
//
// Each case's byte-level log follows in <system-out>.
func WriteJUnit(w io.Writer, suite string, run Run, results []conformance.Result) error {
	s := junitSuite{Name: suite, Tests: len(results), Timestamp: run.started(), Properties: junitProperties(run)}
	var total time.Duration
	for _, r := range results {
		total += r.Duration
		c, failed, skipped := junitCaseOf(r)
		if failed {
			s.Failures++
		}
		if c.Error != nil {
			s.Errors++
		}
		if skipped {
			s.Skipped++
		}
		s.Cases = append(s.Cases, c)
	}
	s.Time = seconds(total)
	doc := junitSuites{
		Tests: s.Tests, Failures: s.Failures, Errors: s.Errors, Skipped: s.Skipped, Time: s.Time,
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

// junitCaseOf returns the <testcase> of r and whether it counts as a
// failure or as skipped.
func junitCaseOf(r conformance.Result) (c junitCase, failed, skipped bool) {
	c = junitCase{Classname: string(r.Case.Role()), Name: r.Case.ID, Time: seconds(r.Duration)}
	o := r.Outcome
	ids := strings.Join(r.Case.Requirements, ", ")
	var out []string
	switch kind := ruleOf(o.Verdict).junit; {
	case kind == junitPass:
	case kind == junitFailure && r.Case.Severity == conformance.Must:
		failed = true
		c.Failure = &junitMessage{
			Message: o.Detail,
			Type:    string(conformance.Must),
			Text:    xmlSafe(fmt.Sprintf("%s (MUST, %s): %s", o.Verdict, ids, o.Detail)),
		}
	case kind == junitFailure:
		out = append(out, fmt.Sprintf("%s (%s, %s): %s", o.Verdict, r.Case.Severity, ids, o.Detail))
	case kind == junitError:
		c.Error = &junitMessage{Message: o.Detail, Type: string(o.Verdict), Text: xmlSafe(fmt.Sprintf("%s: %s", o.Verdict, o.Detail))}
	default:
		skipped = true
		c.Skipped = &junitMessage{Message: fmt.Sprintf("%s: %s", o.Verdict, o.Detail)}
	}
	out = append(out, r.Log...)
	if len(out) > 0 {
		c.SystemOut = &junitText{xmlSafe(strings.Join(out, "\n") + "\n")}
	}
	return c, failed, skipped
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
