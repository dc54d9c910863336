package report_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"maps"
	"reflect"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		mk("server/sizes", conformance.Must, conformance.Pass, "", 12*time.Millisecond, `send "get a"`, `recv "3"`),
		mk("server/missing-file", conformance.Must, conformance.Fail,
			"the server sent nothing for 5s after \"get missing\": a missing file must get an ERR not-found reply, never silence, or the client waits forever",
			5*time.Second),
		mk("server/slow-reader", conformance.Should, conformance.Fail, "no half-close before closing", time.Millisecond),
		mk("server/split-request", conformance.Must, conformance.Hazard, "the request arrived in two pieces", 3*time.Millisecond),
		mk("server/unreadable", conformance.Must, conformance.Inconclusive, "could not make the file unreadable", 0),
		mk("server/line-endings", conformance.Must, conformance.Skip, "applies to the line framing only", 0),
		mk("server/too-long", conformance.Should, conformance.Error, "the server under test could not be started: no such program", 0),
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
	delete(withoutError, "server/too-long")
	if got := report.ExitCode(rs[:6], withoutError); got != 0 {
		t.Errorf("ExitCode(matching baseline) = %d, want 0", got)
	}
	// A case that could not run is not a regression: status 2, not 1.
	expect["server/too-long"] = conformance.Pass
	if got := report.ExitCode(rs, expect); got != 2 {
		t.Errorf("ExitCode(baseline differs only by an ERROR) = %d, want 2", got)
	}
	expect["server/sizes"] = conformance.Fail
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
	for _, id := range []string{"server/sizes", "server/missing-file", "server/line-endings"} {
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

// sampleRun is a run as the command describes it.
func sampleRun() report.Run {
	return report.Run{
		Tool:    report.Tool{Name: "stickykit", Version: "v1.2.3"},
		Started: time.Date(2025, 6, 11, 14, 3, 27, 0, time.FixedZone("CEST", 2*3600)),
		Args:    []string{"stickykit", "check", "server", "--addr", "127.0.0.1:8888", "--root", "my dir"},
		Framing: spec.Lockstep,
		Target:  "127.0.0.1:8888",
	}
}

func TestReportJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, sampleRun(), sampleResults()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Field order is part of the format.
	order := []string{`"tool": {`, `"name": "stickykit"`, `"version": "v1.2.3"`, `"started": "2025-06-11T14:03:27+02:00"`,
		`"args": [`, `"stickykit"`, `"--root"`, `"my dir"`,
		`"framing": "lockstep"`, `"target": "127.0.0.1:8888"`, `"cases": [`, `"id": "server/sizes"`,
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
		t.Errorf("JSON cases = %+v, summary %v, want 7 with server/missing-file FAIL in 5000ms, 1 ERROR", rep.Cases, rep.Summary)
	}
	run := sampleRun()
	if rep.Tool != run.Tool || rep.Started != "2025-06-11T14:03:27+02:00" || !reflect.DeepEqual(rep.Args, run.Args) ||
		rep.Framing != "lockstep" || rep.Target != run.Target {
		t.Errorf("JSON run = tool %+v, started %q, args %q, framing %q, target %q; want %+v",
			rep.Tool, rep.Started, rep.Args, rep.Framing, rep.Target, run)
	}
	// No cases, and nothing known of the run, still gives arrays, not null.
	buf.Reset()
	if err := report.WriteJSON(&buf, report.Run{Framing: spec.Line}, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"cases": []`, `"args": []`, `"started": ""`, `"framing": "line"`, `"tool": {`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("empty JSON report lacks %s:\n%s", want, buf.String())
		}
	}
}

func TestBuildVersion(t *testing.T) {
	for _, tt := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "(devel)"},
		{"go install module@version", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"a test binary", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{"a clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "8077e35"}, {Key: "vcs.modified", Value: "false"}}}, "8077e35"},
		{"a changed checkout", &debug.BuildInfo{Main: debug.Module{Version: ""},
			Settings: []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}, {Key: "vcs.revision", Value: "8077e35"}}}, "8077e35+dirty"},
	} {
		if got := report.BuildVersion(tt.info); got != tt.want {
			t.Errorf("%s: BuildVersion = %q, want %q", tt.name, got, tt.want)
		}
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
		Name      string `xml:"name,attr"`
		Tests     int    `xml:"tests,attr"`
		Failures  int    `xml:"failures,attr"`
		Errors    int    `xml:"errors,attr"`
		Skipped   int    `xml:"skipped,attr"`
		Time      string `xml:"time,attr"`
		Timestamp string `xml:"timestamp,attr"`
		Props     []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
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
	if err := report.WriteJUnit(&buf, "stickykit check server", sampleRun(), sampleResults()); err != nil {
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
	props := map[string]string{}
	for _, p := range s.Props {
		props[p.Name] = p.Value
	}
	wantProps := map[string]string{"tool.name": "stickykit", "tool.version": "v1.2.3", "started": "2025-06-11T14:03:27+02:00",
		"args": `stickykit check server --addr 127.0.0.1:8888 --root "my dir"`, "framing": "lockstep", "target": "127.0.0.1:8888"}
	if !reflect.DeepEqual(props, wantProps) || s.Timestamp != wantProps["started"] {
		t.Errorf("testsuite properties = %q, timestamp %q; want %q, timestamp %q", props, s.Timestamp, wantProps, wantProps["started"])
	}
	byName := map[string]int{}
	for i, c := range s.Cases {
		byName[c.Name] = i
		if c.Classname != "server" {
			t.Errorf("%s classname = %q, want server", c.Name, c.Classname)
		}
	}
	c := s.Cases[byName["server/sizes"]]
	if c.Failure != nil || c.Skipped != nil || c.Time != "0.012" || !strings.Contains(c.SystemOut, `recv "3"`) {
		t.Errorf("PASS testcase = %+v, want plain, time 0.012, log in system-out", c)
	}
	c = s.Cases[byName["server/missing-file"]]
	if c.Failure == nil || c.Failure.Type != "MUST" || !strings.HasPrefix(c.Failure.Message, "the server sent nothing") {
		t.Errorf("MUST FAIL testcase failure = %+v, want type MUST with the detail", c.Failure)
	}
	c = s.Cases[byName["server/slow-reader"]]
	if c.Failure != nil || c.Skipped != nil || !strings.HasPrefix(c.SystemOut, "FAIL (SHOULD, REQ-SRV-1, REQ-MSG-4): no half-close") {
		t.Errorf("SHOULD FAIL testcase = %+v, want no failure, verdict in system-out", c)
	}
	c = s.Cases[byName["server/too-long"]]
	if c.Error == nil || c.Error.Type != "ERROR" || !strings.HasPrefix(c.Error.Message, "the server under test could not be started") || c.Failure != nil || c.Skipped != nil {
		t.Errorf("ERROR testcase = %+v, want an <error> of type ERROR with the detail, and nothing else", c)
	}
	for id, v := range map[string]string{"server/split-request": "HAZARD: ", "server/unreadable": "INCONCLUSIVE: ", "server/line-endings": "SKIP: "} {
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
	if err := report.WriteJUnit(&buf, "s", report.Run{}, rs); err != nil {
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
	in := "# baseline\n\nserver/sizes PASS\n  server/missing-file\tfail  \r\n# trailing\n"
	got, err := report.ReadBaseline(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := report.Baseline{"server/sizes": conformance.Pass, "server/missing-file": conformance.Fail}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadExpect = %v, want %v", got, want)
	}
}

func TestReportExpectJSON(t *testing.T) {
	var buf bytes.Buffer
	rs := sampleResults()
	if err := report.WriteJSON(&buf, sampleRun(), rs); err != nil {
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
	for _, tt := range []struct{ in, want string }{
		{"server/sizes PASS extra\n", `line 1: got "server/sizes PASS extra"`},
		{"server/sizes\n", `want "CASE-ID VERDICT"`},
		{"server/sizes MAYBE\n", `unknown verdict "MAYBE"`},
		{"server/sizes PASS\nserver/sizes FAIL\n", "line 2: case server/sizes listed twice"},
		{`{"cases": [{"id": "server/sizes", "verdict": "NOPE"}]}`, `unknown verdict "NOPE"`},
		{`{"cases": [`, "baseline JSON report"},
		// A case the kit does not know: the error names the closest one.
		{"# ok\nserver/size PASS # a typo\n", `line 2: unknown case "server/size" (did you mean server/sizes?)`},
		{"client/stiky FAIL\n", "did you mean client/sticky?"},
		{"server/no-such-case PASS\n", `unknown case "server/no-such-case"`},
		{`{"cases": [{"id": "client/split-digests", "verdict": "PASS"}]}`, "did you mean client/split-digest?"},
	} {
		got, err := report.ReadBaseline(strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadBaseline(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.want)
		}
	}
}

// TestReportExpectComments checks that a # begins a comment anywhere on a
// line of a baseline.
func TestReportExpectComments(t *testing.T) {
	in := "server/sizes PASS # known good\nserver/missing-file FAIL\t#silent\n   # only a comment\nserver/names #PASS\n"
	_, err := report.ReadBaseline(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("a line left with only an ID after its comment: err = %v, want an error for line 4", err)
	}
	got, err := report.ReadBaseline(strings.NewReader(strings.TrimSuffix(in, "server/names #PASS\n")))
	if err != nil {
		t.Fatal(err)
	}
	want := report.Baseline{"server/sizes": conformance.Pass, "server/missing-file": conformance.Fail}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadBaseline = %v, want %v", got, want)
	}
}

func TestClosestCase(t *testing.T) {
	for in, want := range map[string]string{
		"server/sizes":        "server/sizes",
		"server/size":         "server/sizes",
		"sever/sizes":         "server/sizes",
		"client/splitdigest":  "client/split-digest",
		"client/wrong-digets": "client/wrong-digest",
		"server/conn-limits":  "server/conn-limit",
	} {
		if got := report.ClosestCase(in); got != want {
			t.Errorf("ClosestCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReportExpectDiff(t *testing.T) {
	rs := sampleResults()
	expect := report.Baseline{
		"server/sizes":         conformance.Pass,
		"server/split-request": conformance.Pass, // differs
		"server/names":         conformance.Pass, // not run
		// server/missing-file is not listed: a MUST FAIL, so it is a difference.
		// server/slow-reader is not listed: a SHOULD FAIL is not.
	}
	got := expect.Diff(rs)
	want := []string{
		"server/missing-file: got FAIL (MUST), not in the baseline: " + rs[1].Outcome.Detail,
		"server/split-request: got HAZARD, want PASS: the request arrived in two pieces",
		"server/too-long: got ERROR (SHOULD), not in the baseline: " + rs[6].Outcome.Detail,
		"server/names: in the baseline (PASS) but not run",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff =\n%q\nwant\n%q", got, want)
	}
}

// TestReportTableFits checks the table at the width of a 100-column
// terminal (and narrower) with every case of the catalogue, their real
// requirement lists and long details: no line is wider, a requirement ID
// is never split across lines, and every case's whole list is shown, in
// its column or at the head of its detail.
func TestReportTableFits(t *testing.T) {
	var rs []conformance.Result
	known := map[string]bool{}
	for i, c := range conformance.Cases("") {
		for _, id := range c.Requirements {
			known[id] = true
		}
		v := conformance.Verdicts[i%len(conformance.Verdicts)]
		detail := strings.Repeat("the server did something a learner should read about, citing "+strings.Join(c.Requirements, ", ")+"; ", 2)
		rs = append(rs, conformance.Result{Case: c, Outcome: conformance.Outcome{Verdict: v, Detail: detail},
			Duration: time.Duration(i) * 123 * time.Millisecond, Log: []string{strings.Repeat("<- \"0123456789\" ", 12)}})
	}
	reqWord := regexp.MustCompile(`REQ-[A-Z0-9-]*`)
	for _, width := range []int{100, 80} {
		var buf bytes.Buffer
		if err := report.WriteTable(&buf, rs, report.TableOptions{Width: width, Verbose: true}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n > width {
				t.Errorf("width %d: a line of %d columns: %q", width, n, l)
			}
			for _, id := range reqWord.FindAllString(l, -1) {
				if !known[strings.TrimSuffix(id, "-")] {
					t.Errorf("width %d: %q on a line is not a whole requirement ID: %q", width, id, l)
				}
			}
		}
		// Each case's block: its row and the lines below it, up to the next row.
		for i, r := range rs {
			block := caseBlock(lines, r.Case.ID)
			if i == 0 && block == "" {
				t.Fatalf("width %d: no row for %s:\n%s", width, r.Case.ID, out)
			}
			for _, id := range r.Case.Requirements {
				if !regexp.MustCompile(`(^|\s)` + id + `(\s|,|$)`).MatchString(block) {
					t.Errorf("width %d: %s: requirement %s is not shown in its row or detail:\n%s", width, r.Case.ID, id, block)
				}
			}
		}
		if width == 100 {
			t.Logf("table at 100 columns:\n%s", out)
		}
	}
}

// caseBlock returns the row of case id and the lines below it that belong
// to it (indented), joined.
func caseBlock(lines []string, id string) string {
	var block []string
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 1 && f[1] == id {
			block = append(block, l)
			for _, m := range lines[i+1:] {
				if !strings.HasPrefix(m, " ") {
					break
				}
				block = append(block, m)
			}
		}
	}
	return strings.Join(block, "\n")
}
