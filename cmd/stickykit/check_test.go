package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/report"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// runCmd runs the command line in-process and returns its exit code and
// output.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code = e.main(args)
	return code, out.String(), errb.String()
}

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCheckUsageErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := refusedAddr(t)
	missing := filepath.Join(dir, "missing")
	var checkUsageTests = []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"check"}, "say what to check"},
		{[]string{"check", "bogus"}, `want "server" or "client"`},
		{[]string{"check", "server", "client"}, "unexpected argument"},
		{[]string{"check", "server"}, "needs --addr ADDR"},
		{[]string{"check", "server", "--addr", refused}, "cannot reach the server"}, // without --root: a remote server
		{[]string{"check", "server", "--root", dir}, "needs --addr ADDR"},
		{[]string{"check", "server", "--addr", refused, "--file", ""}, "a file name cannot be empty"},
		{[]string{"check", "server", "--skip", "[", "--addr", refused, "--root", dir}, "bad --skip regexp"},
		{[]string{"check", "server", "--addr", refused, "--root", file}, "is not a directory"},
		{[]string{"check", "server", "--addr", refused, "--root", missing}, "--root"},
		{[]string{"check", "server", "--addr", refused, "--root", dir}, "cannot reach the server"},
		{[]string{"check", "server", "--addr", refused, "--root", dir, "--", "true"}, "the server ended before it listened on " + refused},
		{[]string{"check", "server", "--", "true"}, "takes no {port} or {addr}: say where it listens with --addr"},
		{[]string{"check", "server", "--"}, "needs the server's command"},
		{[]string{"check", "server", "--addr", "192.0.2.1:80", "--", "true", "{port}"}, "not a loopback address"},
		{[]string{"check", "server", "--", filepath.Join(dir, "no-such-server"), "{port}"}, "cannot start the server"},
		{[]string{"check", "server", "--addr", refused, "--root", dir, "--listen", "127.0.0.1:1"}, "--listen is for check client"},
		{[]string{"check", "server", "--addr", refused, "--root", dir, "--digest", "sha1"}, "unknown digest"},
		{[]string{"check", "client", "--listen", "192.0.2.1:80", "--", "true"}, "not a loopback address"},
		{[]string{"check", "client", "--listen", "nonsense", "--", "true"}, "not host:port"},
		{[]string{"check", "client", "--collect", "../x", "--", "true"}, "want a file name in the client's working directory"},
		{[]string{"check", "client", "--", filepath.Join(dir, "no-such-client")}, "cannot start the client"},
		{[]string{"check", "client", "--", "true"}, "the client never connected to 127.0.0.1:"},
		{[]string{"check", "server", "--run", "(", "--addr", refused, "--root", dir}, "bad --run regexp"},
		{[]string{"check", "server", "--addr", refused, "--root", dir, "--expect", missing}, "--expect"},
		{[]string{"check", "--framing", "bogus", "server"}, "unknown framing"},
		{[]string{"check", "server", "--timeout", "0s", "--addr", refused, "--root", dir}, "--timeout must be positive"},
		{[]string{"check", "client"}, "needs the client's command"},
		{[]string{"check", "client", "--"}, "needs the client's command"},
		{[]string{"check", "client", "--", ""}, "needs the client's command"},
		{[]string{"check", "client", "--addr", refused, "--", "true"}, "are for check server"},
		{[]string{"check", "client", "--root", dir, "--", "true"}, "are for check server"},
		{[]string{"check", "client", "--file", "a.bin", "--", "true"}, "are for check server"},
		{[]string{"check", "server", "--addr", refused, "--root", dir, "--reads"}, "--reads records the reads of a server the kit starts: give the server's command after \"--\""},
		{[]string{"check", "server", "--svg", dir, "--", "true", "{port}"}, "--svg is for check client"},
	}
	for _, tt := range checkUsageTests {
		code, _, stderr := runCmd(tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d, stderr containing %q", tt.args, code, stderr, exitUsage, tt.want)
		}
	}
}

func TestCheckBadExpectFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("server/sizes PERHAPS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd("check", "server", "--addr", refusedAddr(t), "--root", dir, "--expect", bad)
	if code != exitUsage || !strings.Contains(stderr, "PERHAPS") {
		t.Errorf("bad baseline: exit %d, stderr %q; want exit 2 naming the bad verdict", code, stderr)
	}
	// A case the kit does not know: the error names the closest one.
	if err := os.WriteFile(bad, []byte("server/sizes PASS # known good\nserver/mising-file PASS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd("check", "server", "--addr", refusedAddr(t), "--root", dir, "--expect", bad)
	if want := `line 2: unknown case "server/mising-file" (did you mean server/missing-file?)`; code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("baseline with an unknown case: exit %d, stderr %q; want exit 2 and %q", code, stderr, want)
	}
}

func TestCheckHelp(t *testing.T) {
	code, stdout, _ := runCmd("check", "--help")
	if code != exitOK {
		t.Errorf("check --help: exit %d, want 0", code)
	}
	for _, want := range []string{"PASS", "FAIL", "HAZARD", "INCONCLUSIVE", "SKIP",
		"{host}", "{port}", "{addr}", "{name}", "{out}", "127", "empty stdin", "removes them", "-- CMD ARG..."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check --help lacks %q", want)
		}
	}
	if code, stdout, _ := runCmd("help"); code != exitOK || !strings.Contains(stdout, "check a server or client against SPEC.md") {
		t.Errorf("stickykit help: exit %d, does not list check:\n%s", code, stdout)
	}
}

func TestCheckList(t *testing.T) {
	// --list needs no server, no root and no command.
	code, stdout, stderr := runCmd("check", "--list")
	if code != exitOK {
		t.Fatalf("check --list: exit %d, stderr %q, want 0", code, stderr)
	}
	if !strings.HasPrefix(stdout, "CASE") || !strings.Contains(stdout, "REQUIREMENTS") {
		t.Errorf("check --list output lacks its header:\n%s", stdout)
	}
	all := conformance.Cases("")
	if len(all) == 0 {
		t.Logf("no case registered yet; only the header was checked")
	}
	for _, c := range all {
		line := ""
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, c.ID+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("check --list lacks case %s", c.ID)
			continue
		}
		for _, want := range append([]string{string(c.Severity)}, c.Requirements...) {
			if !strings.Contains(line, want) {
				t.Errorf("check --list row for %s lacks %q: %q", c.ID, want, line)
			}
		}
	}
	if !strings.Contains(stdout, "\n"+strconv.Itoa(len(all))+" cases\n") {
		t.Errorf("check --list does not end with the count %d:\n%s", len(all), stdout)
	}

	// A role and --run narrow the list.
	_, stdout, _ = runCmd("check", "client", "--list", "--run", "^client/")
	for _, c := range conformance.Cases(conformance.RoleServer) {
		if strings.Contains(stdout, c.ID+" ") {
			t.Errorf("check client --list shows server case %s", c.ID)
		}
	}
	if want := strconv.Itoa(len(conformance.Cases(conformance.RoleClient))) + " cases"; !strings.Contains(stdout, want) {
		t.Errorf("check client --list: want %q in\n%s", want, stdout)
	}
}

// verifyNoLeaks checks, after the test and all its cleanups, that every
// goroutine it started has ended (signal.Notify's watcher lives on).
func verifyNoLeaks(t *testing.T) {
	t.Helper()
	opts := []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("os/signal.loop")}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// The JUnit fields the end-to-end test reads.
type junitCounts struct {
	Suites []struct {
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name string `xml:"name,attr"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func TestCheckServerReference(t *testing.T) {
	cases := conformance.Cases(conformance.RoleServer)
	if len(cases) == 0 {
		t.Skip("no server case is registered")
	}
	verifyNoLeaks(t)
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			root := t.TempDir()
			addr := reftest.NewServer(t, root, reftest.Options{Framing: f}).Addr
			out := t.TempDir()
			jsonFile, junitFile := filepath.Join(out, "report.json"), filepath.Join(out, "report.xml")
			code, stdout, stderr := runCmd("check", "server", "--addr", addr, "--root", root, "--framing", f.String(),
				"--json", jsonFile, "--junit", junitFile)
			if code != exitOK {
				t.Fatalf("check server against the reference server (%s): exit %d, want 0\nstdout:\n%s\nstderr:\n%s", f, code, stdout, stderr)
			}
			if !strings.Contains(stdout, "no MUST case failed") {
				t.Errorf("table lacks the summary:\n%s", stdout)
			}
			if left, err := os.ReadDir(root); err != nil || len(left) != 0 {
				t.Errorf("the kit left %d entries in --root (%v), want none", len(left), err)
			}

			b, err := os.ReadFile(jsonFile)
			if err != nil {
				t.Fatal(err)
			}
			var rep report.JSONReport
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatalf("--json file does not parse: %v", err)
			}
			if rep.Target != addr || rep.Framing != f.String() || len(rep.Cases) != len(cases) || rep.Summary[conformance.Fail] != 0 {
				t.Errorf("JSON report target %q framing %q, %d cases, %d FAIL; want %q %q %d 0",
					rep.Target, rep.Framing, len(rep.Cases), rep.Summary[conformance.Fail], addr, f, len(cases))
			}
			// The run: this test binary has no module version: "(devel)".
			started, err := time.Parse(time.RFC3339, rep.Started)
			wantArgs := []string{"stickykit", "check", "server", "--addr", addr, "--root", root, "--framing", f.String(), "--json", jsonFile, "--junit", junitFile}
			if rep.Tool != (report.Tool{Name: "stickykit", Version: "(devel)"}) || err != nil || time.Since(started) > time.Hour || !slices.Equal(rep.Args, wantArgs) {
				t.Errorf("JSON report tool %+v, started %q (%v), args %q; want stickykit (devel), a time of this run, %q", rep.Tool, rep.Started, err, rep.Args, wantArgs)
			}

			b, err = os.ReadFile(junitFile)
			if err != nil {
				t.Fatal(err)
			}
			var doc junitCounts
			if err := xml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("--junit file does not parse: %v", err)
			}
			if len(doc.Suites) != 1 || doc.Suites[0].Name != "stickykit check server" ||
				doc.Suites[0].Tests != len(cases) || doc.Suites[0].Failures != 0 || len(doc.Suites[0].Cases) != len(cases) {
				t.Errorf("JUnit report = %+v, want one suite \"stickykit check server\" of %d cases, 0 failures", doc, len(cases))
			}
			props := map[string]string{}
			for _, p := range doc.Suites[0].Props {
				props[p.Name] = p.Value
			}
			if props["tool.name"] != "stickykit" || props["tool.version"] != "(devel)" || props["started"] != rep.Started ||
				props["framing"] != f.String() || props["target"] != addr || !strings.HasPrefix(props["args"], "stickykit check server --addr "+addr) {
				t.Errorf("JUnit properties = %q, want those of the JSON report", props)
			}

			// The JSON report is a baseline the same server matches: here on
			// a few of its cases (the others are left out of the comparison).
			code, stdout, stderr = runCmd("check", "server", "--addr", addr, "--root", root, "--framing", f.String(), "--expect", jsonFile,
				"--run", "^server/(sizes|missing-file|split-request|named-files)$")
			if code != exitOK || !strings.Contains(stdout, "every verdict matches the baseline") {
				t.Errorf("--expect own report: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		})
	}
}

func TestCheckServerExpectDiffers(t *testing.T) {
	cases := conformance.Cases(conformance.RoleServer)
	if len(cases) == 0 {
		t.Skip("no server case is registered")
	}
	verifyNoLeaks(t)
	root := t.TempDir()
	addr := reftest.NewServer(t, root, reftest.Options{}).Addr
	c := cases[0]
	base := filepath.Join(t.TempDir(), "baseline.txt")
	other := cases[1]
	text := "# a wrong baseline\n" + c.ID + " FAIL # wrong on purpose\n" + other.ID + " PASS\nclient/sticky PASS\n"
	if err := os.WriteFile(base, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd("check", "server", "--addr", addr, "--root", root, "--run", "^"+c.ID+"$", "--expect", base)
	if code != exitFail {
		t.Errorf("--expect with a differing verdict: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// The other server case is left out by --run, and the client case is
	// of the other role: neither is a difference.
	head := "1 difference from the baseline " + base + ":\n"
	_, diff, ok := strings.Cut(stdout, head)
	if lines := strings.Split(strings.TrimSuffix(diff, "\n"), "\n"); !ok || len(lines) != 1 || !strings.HasPrefix(lines[0], "  "+c.ID+": got PASS, want FAIL") {
		t.Errorf("stdout does not end with %q and one line for %s:\n%s", head, c.ID, stdout)
	}
}

func TestCheckClientUnsupported(t *testing.T) {
	cases := conformance.Cases(conformance.RoleClient)
	if len(cases) == 0 {
		t.Skip("no client case is registered")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to stand in for a client")
	}
	verifyNoLeaks(t)
	// A client that declares every case unsupported: every verdict is SKIP
	// and the check passes.
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := runCmd("check", "client", "--json", jsonFile, "--", sh, "-c", "exit 127", "{addr}", "{name}", "{out}")
	if code != exitOK {
		t.Fatalf("check client with an all-unsupported client: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.JSONReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary[conformance.Skip] != len(cases) || !strings.HasPrefix(rep.Target, sh+` -c "exit 127"`) {
		t.Errorf("JSON summary %+v target %q, want %d SKIP and target beginning %q", rep.Summary, rep.Target, len(cases), sh+` -c "exit 127"`)
	}
}
