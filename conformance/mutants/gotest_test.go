package mutants_test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/spec"
)

// failingTargetEnv, when set, makes TestFailingTargetHelper run: a test of
// a user's that checks a broken server and a broken client.
const failingTargetEnv = "STICKYKIT_FAILING_TARGET"

// TestFailingTargetHelper is not a test: TestGoTestNamesCase runs it in a
// child process, as a user's test that fails, and reads what go test says.
func TestFailingTargetHelper(t *testing.T) {
	if os.Getenv(failingTargetEnv) == "" {
		t.Skip("a failing user's test; runs only as a child process of TestGoTestNamesCase")
	}
	o := conformance.Options{Run: regexp.MustCompile(`^(server/missing-file|client/wrong-digest)$`)}
	target := startMutant(t, spec.Line, closesAfterRefusal)
	conformance.TestServer(t, target, o)                                                                       // the server line
	conformance.TestClient(t, conformance.ClientTarget{Framing: spec.Line, Func: noCompare(spec.Line).get}, o) // the client line
}

// TestGoTestNamesCase checks what go test prints when a case fails in a
// user's test: the subtest and the message name the case, the line is
// the user's call of TestServer or TestClient, not one inside the kit, and
// a client that is a Go function hears of its output file, not {out}.
func TestGoTestNamesCase(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFailingTargetHelper$", "-test.v")
	cmd.Env = append(os.Environ(), failingTargetEnv+"=1")
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err == nil {
		t.Fatalf("the failing user's test passed:\n%s", out)
	}
	self, err := os.ReadFile("gotest_test.go")
	if err != nil {
		t.Fatal(err)
	}
	lineOf := func(marker string) string {
		for i, l := range strings.Split(string(self), "\n") {
			if strings.Contains(l, marker) && !strings.Contains(l, "lineOf") {
				return "gotest_test.go:" + strconv.Itoa(i+1) + ": "
			}
		}
		t.Fatalf("no line of gotest_test.go holds %q", marker)
		return ""
	}
	for _, want := range []struct{ subtest, at, msg string }{
		{"--- FAIL: TestFailingTargetHelper/server/missing-file", lineOf("// the server line"), "server/missing-file FAIL (MUST, ["},
		{"--- FAIL: TestFailingTargetHelper/client/wrong-digest", lineOf("// the client line"), "client/wrong-digest FAIL (MUST, ["},
	} {
		if !strings.Contains(out, want.subtest) {
			t.Errorf("go test output lacks %q:\n%s", want.subtest, out)
		}
		if !strings.Contains(out, want.at+want.msg) {
			t.Errorf("go test output lacks %q, the failure at the user's line:\n%s", want.at+want.msg, out)
		}
	}
	if m := regexp.MustCompile(`\b(gotest|run|judge|kitserver|kitclient)\.go:\d+`).FindString(out); m != "" {
		t.Errorf("go test output names %s, a line inside the kit:\n%s", m, out)
	}
	// The client is a Go function, given a path: no placeholder of a
	// command line's is its business.
	if strings.Contains(out, "{out}") {
		t.Errorf("go test output speaks of {out} to a ClientFunc:\n%s", out)
	}
	if !strings.Contains(out, "the output file") {
		t.Errorf("go test output does not name the client's output as \"the output file\":\n%s", out)
	}
}
