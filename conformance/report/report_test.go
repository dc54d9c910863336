package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/report"
	"github.com/stickykit/stickykit/spec"
)

// sampleResults is one result of every kind the reports distinguish.
func sampleResults() []conformance.Result {
	mk := func(id string, sev conformance.Severity, v conformance.Verdict, detail string, d time.Duration, log ...string) conformance.Result {
		return conformance.Result{
			Case: conformance.Case{
				ID:           id,
				Title:        "title of " + id,
				Requirements: []string{"REQ-SRV-1", "REQ-MSG-4"},
				Severity:     sev,
			},
			Framing:  spec.Lockstep,
			Outcome:  conformance.Outcome{Verdict: v, Detail: detail},
			Duration: d,
			Log:      log,
		}
	}
	return []conformance.Result{
		mk("server/a-pass", conformance.Must, conformance.Pass, "", 12*time.Millisecond, `send "get a"`, `recv "3"`),
		mk("server/b-fail", conformance.Must, conformance.Fail,
			"the server sent nothing for 5s after \"get missing\": a missing file must get an ERR not-found reply, never silence, or the client waits forever",
			5*time.Second),
		mk("server/c-should", conformance.Should, conformance.Fail, "no half-close before closing", time.Millisecond),
		mk("server/d-hazard", conformance.Must, conformance.Hazard, "the request arrived in two pieces", 3*time.Millisecond),
		mk("server/e-inconclusive", conformance.Must, conformance.Inconclusive, "could not make the file unreadable", 0),
		mk("server/f-skip", conformance.Must, conformance.Skip, "applies to the line framing only", 0),
		mk("server/g-error", conformance.Should, conformance.Error, "the server under test could not be started: no such program", 0),
	}
}

func TestReportSummarise(t *testing.T) {
	got := report.Count(sampleResults())
	want := report.Counts{"PASS": 1, "FAIL": 2, "HAZARD": 1, "INCONCLUSIVE": 1, "SKIP": 1, "ERROR": 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Summarise = %v, want %v", got, want)
	}
	if got := report.Count(nil); len(got) != 6 || got[conformance.Pass] != 0 || got[conformance.Error] != 0 {
		t.Errorf("Summarise(nil) = %v, want every verdict at 0", got)
	}
}

func TestReportSummaryLine(t *testing.T) {
	got := report.SummaryLine(sampleResults())
	want := "1 PASS, 2 FAIL, 1 HAZARD, 1 INCONCLUSIVE, 1 SKIP, 1 ERROR; 1 MUST case failed, 1 SHOULD case failed"
	if got != want {
		t.Errorf("SummaryLine = %q, want %q", got, want)
	}
	rs := sampleResults()[:1]
	if got, want := report.SummaryLine(rs), "1 PASS, 0 FAIL, 0 HAZARD, 0 INCONCLUSIVE, 0 SKIP, 0 ERROR; no MUST case failed"; got != want {
		t.Errorf("SummaryLine(one pass) = %q, want %q", got, want)
	}
}

func TestReportExitCode(t *testing.T) {
	rs := sampleResults()
	if got := report.ExitCode(rs, nil); got != 1 {
		t.Errorf("ExitCode(with a MUST FAIL) = %d, want 1", got)
	}
	// HAZARD, INCONCLUSIVE, SKIP and a SHOULD FAIL do not fail a run.
	if got := report.ExitCode(append(rs[:1:1], rs[2:6]...), nil); got != 0 {
		t.Errorf("ExitCode(no MUST FAIL, no ERROR) = %d, want 0", got)
	}
	// A case that could not run (even a SHOULD case) makes the status 2,
	// unless a MUST case failed.
	if got := report.ExitCode(append(rs[:1:1], rs[2:]...), nil); got != 2 {
		t.Errorf("ExitCode(an ERROR, no MUST FAIL) = %d, want 2", got)
	}
	if got := report.ExitCode(append([]conformance.Result{rs[6]}, rs[1]), nil); got != 1 {
		t.Errorf("ExitCode(an ERROR, then a MUST FAIL) = %d, want 1", got)
	}
	expect := report.Baseline{}
	for _, r := range rs {
		expect[r.Case.ID] = r.Outcome.Verdict
	}
	// A baseline that matches: only the case that could not run counts.
	if got := report.ExitCode(rs, expect); got != 2 {
		t.Errorf("ExitCode(matching baseline, an ERROR) = %d, want 2", got)
	}
	withoutError := maps.Clone(expect)
	delete(withoutError, "server/g-error")
	if got := report.ExitCode(rs[:6], withoutError); got != 0 {
		t.Errorf("ExitCode(matching baseline) = %d, want 0", got)
	}
	// A case that could not run is not a regression: status 2, not 1.
	expect["server/g-error"] = conformance.Pass
	if got := report.ExitCode(rs, expect); got != 2 {
		t.Errorf("ExitCode(baseline differs only by an ERROR) = %d, want 2", got)
	}
	expect["server/a-pass"] = conformance.Fail
	if got := report.ExitCode(rs, expect); got != 1 {
		t.Errorf("ExitCode(differing baseline) = %d, want 1", got)
	}
}

func TestReportTable(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteTable(&buf, sampleResults(), report.TableOptions{Width: 140}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	t.Logf("table:\n%s", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "VERDICT") || !strings.HasSuffix(lines[0], "DETAIL") {
		t.Errorf("header = %q, want VERDICT ... DETAIL", lines[0])
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "1 PASS, 2 FAIL") {
		t.Errorf("last line = %q, want the summary", last)
	}
	for _, id := range []string{"server/a-pass", "server/b-fail", "server/f-skip"} {
		if !strings.Contains(out, id) {
			t.Errorf("table lacks case %s", id)
		}
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 140 {
			t.Errorf("line of %d columns, want at most 140: %q", n, l)
		}
		if strings.HasSuffix(l, " ") {
			t.Errorf("line with trailing spaces: %q", l)
		}
	}
	if !strings.Contains(out, "12ms") || !strings.Contains(out, "REQ-SRV-1 REQ-MSG-4") {
		t.Errorf("table lacks the duration 12ms or the requirements")
	}
	// The long detail is wrapped under the DETAIL column, not lost.
	col := strings.Index(lines[0], "DETAIL")
	if col < 0 {
		t.Fatalf("no DETAIL column at width 140")
	}
	wrapped := 0
	for _, l := range lines[1 : len(lines)-1] {
		if strings.HasPrefix(l, strings.Repeat(" ", col)) && l[col] != ' ' {
			wrapped++
		}
	}
	if wrapped == 0 {
		t.Errorf("no detail line wrapped under column %d", col)
	}
	flat := strings.Join(strings.Fields(out), " ")
	if !strings.Contains(flat, "or the client waits forever") {
		t.Errorf("table lost the end of a long detail")
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("table has ANSI escapes without Color")
	}
	if strings.Contains(out, `recv "3"`) {
		t.Errorf("table shows the log without Verbose")
	}
}

func TestReportTableColorVerbose(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteTable(&buf, sampleResults(), report.TableOptions{Color: true, Verbose: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"\x1b[32mPASS\x1b[0m", "\x1b[31mFAIL\x1b[0m", "\x1b[33mHAZARD\x1b[0m", "\x1b[33mINCONCLUSIVE\x1b[0m", "\x1b[35mERROR\x1b[0m", `| recv "3"`} {
		if !strings.Contains(out, want) {
			t.Errorf("table with Color and Verbose lacks %q:\n%s", want, out)
		}
	}
}

func TestReportTableNarrow(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteTable(&buf, sampleResults(), report.TableOptions{Width: 60}); err != nil {
		t.Fatal(err)
	}
	// Too narrow for a DETAIL column: details go below their rows.
	if !strings.Contains(buf.String(), "\n    the server sent nothing") {
		t.Errorf("narrow table does not put the detail below its row:\n%s", buf.String())
	}
}

func TestReportJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, "127.0.0.1:8888", spec.Lockstep, sampleResults()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Field order is part of the format.
	order := []string{`"framing": "lockstep"`, `"target": "127.0.0.1:8888"`, `"cases": [`, `"id": "server/a-pass"`,
		`"requirements": [`, `"severity": "MUST"`, `"verdict": "PASS"`, `"detail": ""`, `"duration_ms": 12`,
		`"summary": {`, `"PASS": 1`, `"FAIL": 2`, `"HAZARD": 1`, `"INCONCLUSIVE": 1`, `"SKIP": 1`, `"ERROR": 1`}
	at := 0
	for _, s := range order {
		i := strings.Index(out[at:], s)
		if i < 0 {
			t.Fatalf("JSON lacks %s after offset %d:\n%s", s, at, out)
		}
		at += i
	}
	var rep report.JSONReport
	if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	if len(rep.Cases) != 7 || rep.Cases[1].Verdict != conformance.Fail || rep.Cases[1].DurationMS != 5000 || rep.Summary[conformance.Error] != 1 {
		t.Errorf("JSON cases = %+v, summary %v, want 7 with server/b-fail FAIL in 5000ms, 1 ERROR", rep.Cases, rep.Summary)
	}
	// No cases still gives an array, not null.
	buf.Reset()
	if err := report.WriteJSON(&buf, "x", spec.Line, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"cases": []`) || !strings.Contains(buf.String(), `"framing": "line"`) {
		t.Errorf("empty JSON report = %s, want \"cases\": [] and framing line", buf.String())
	}
}

// The JUnit shape a CI system reads, declared independently of the writer.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Errors   int    `xml:"errors,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Classname string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Time      string `xml:"time,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"error"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestReportJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJUnit(&buf, "stickykit check server", sampleResults()); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, buf.String())
	}
	if doc.Tests != 7 || doc.Failures != 1 || doc.Skipped != 3 || doc.Errors != 1 {
		t.Errorf("testsuites tests/failures/skipped/errors = %d/%d/%d/%d, want 7/1/3/1", doc.Tests, doc.Failures, doc.Skipped, doc.Errors)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("got %d testsuites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "stickykit check server" || s.Tests != 7 || s.Failures != 1 || s.Errors != 1 || s.Skipped != 3 || s.Time != "5.016" {
		t.Errorf("testsuite = %q tests %d failures %d errors %d skipped %d time %s, want %q 7 1 1 3 5.016",
			s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, s.Time, "stickykit check server")
	}
	byName := map[string]int{}
	for i, c := range s.Cases {
		byName[c.Name] = i
		if c.Classname != "server" {
			t.Errorf("%s classname = %q, want server", c.Name, c.Classname)
		}
	}
	c := s.Cases[byName["server/a-pass"]]
	if c.Failure != nil || c.Skipped != nil || c.Time != "0.012" || !strings.Contains(c.SystemOut, `recv "3"`) {
		t.Errorf("PASS testcase = %+v, want plain, time 0.012, log in system-out", c)
	}
	c = s.Cases[byName["server/b-fail"]]
	if c.Failure == nil || c.Failure.Type != "MUST" || !strings.HasPrefix(c.Failure.Message, "the server sent nothing") {
		t.Errorf("MUST FAIL testcase failure = %+v, want type MUST with the detail", c.Failure)
	}
	c = s.Cases[byName["server/c-should"]]
	if c.Failure != nil || c.Skipped != nil || !strings.HasPrefix(c.SystemOut, "FAIL (SHOULD, REQ-SRV-1, REQ-MSG-4): no half-close") {
		t.Errorf("SHOULD FAIL testcase = %+v, want no failure, verdict in system-out", c)
	}
	c = s.Cases[byName["server/g-error"]]
	if c.Error == nil || c.Error.Type != "ERROR" || !strings.HasPrefix(c.Error.Message, "the server under test could not be started") || c.Failure != nil || c.Skipped != nil {
		t.Errorf("ERROR testcase = %+v, want an <error> of type ERROR with the detail, and nothing else", c)
	}
	for id, v := range map[string]string{"server/d-hazard": "HAZARD: ", "server/e-inconclusive": "INCONCLUSIVE: ", "server/f-skip": "SKIP: "} {
		c := s.Cases[byName[id]]
		if c.Skipped == nil || !strings.HasPrefix(c.Skipped.Message, v) {
			t.Errorf("%s skipped = %+v, want message beginning %q", id, c.Skipped, v)
		}
	}
}

func TestReportJUnitAwkwardText(t *testing.T) {
	rs := sampleResults()[:2]
	rs[0].Log = []string{"a ]]> b", "nul \x00 and bad \xff byte", "<tag> & \"quotes\""}
	rs[1].Outcome.Detail = "detail ]]> with \x01 control"
	var buf bytes.Buffer
	if err := report.WriteJUnit(&buf, "s", rs); err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit with awkward text does not parse: %v\n%s", err, buf.String())
	}
	cs := doc.Suites[0].Cases
	want := "a ]]> b\nnul \uFFFD and bad \uFFFD byte\n<tag> & \"quotes\"\n"
	if cs[0].SystemOut != want {
		t.Errorf("system-out = %q, want %q", cs[0].SystemOut, want)
	}
	if cs[1].Failure == nil || cs[1].Failure.Message != "detail ]]> with \uFFFD control" {
		t.Errorf("failure = %+v, want message %q", cs[1].Failure, "detail ]]> with \uFFFD control")
	}
}

func TestReportExpectLines(t *testing.T) {
	in := "# baseline\n\nserver/a-pass PASS\n  server/b-fail\tfail  \r\n# trailing\n"
	got, err := report.ReadBaseline(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := report.Baseline{"server/a-pass": conformance.Pass, "server/b-fail": conformance.Fail}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadExpect = %v, want %v", got, want)
	}
}

func TestReportExpectJSON(t *testing.T) {
	var buf bytes.Buffer
	rs := sampleResults()
	if err := report.WriteJSON(&buf, "t", spec.Lockstep, rs); err != nil {
		t.Fatal(err)
	}
	got, err := report.ReadBaseline(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rs) {
		t.Errorf("ReadExpect(JSON report) has %d entries, want %d", len(got), len(rs))
	}
	if d := got.Diff(rs); len(d) != 0 {
		t.Errorf("Diff(results, own JSON report) = %q, want none", d)
	}
}

func TestReportExpectErrors(t *testing.T) {
	for _, in := range []string{
		"server/a PASS extra\n",
		"server/a\n",
		"server/a MAYBE\n",
		"server/a PASS\nserver/a FAIL\n",
		`{"cases": [{"id": "server/a", "verdict": "NOPE"}]}`,
		`{"cases": [`,
	} {
		if got, err := report.ReadBaseline(strings.NewReader(in)); err == nil {
			t.Errorf("ReadExpect(%q) = %v, nil, want an error", in, got)
		}
	}
}

func TestReportExpectDiff(t *testing.T) {
	rs := sampleResults()
	expect := report.Baseline{
		"server/a-pass":   conformance.Pass,
		"server/d-hazard": conformance.Pass, // differs
		"server/gone":     conformance.Pass, // not run
		// server/b-fail is not listed: a MUST FAIL, so it is a difference.
		// server/c-should is not listed: a SHOULD FAIL is not.
	}
	got := expect.Diff(rs)
	want := []string{
		"server/b-fail: got FAIL (MUST), not in the baseline: " + rs[1].Outcome.Detail,
		"server/d-hazard: got HAZARD, want PASS: the request arrived in two pieces",
		"server/g-error: got ERROR (SHOULD), not in the baseline: " + rs[6].Outcome.Detail,
		"server/gone: in the baseline (PASS) but not run",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff =\n%q\nwant\n%q", got, want)
	}
}
