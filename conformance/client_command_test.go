package conformance_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// clientHelperMark follows "--" in the arguments of this test binary when
// a command test runs it as the client under test (see
// TestClientHelperProcess).
const clientHelperMark = "stickykit-client-helper"

// clientHelperCommand is the argv that runs this test binary as a client in
// the given mode, with every placeholder.
func clientHelperCommand(mode string) []string {
	return []string{os.Args[0], "-test.run=^TestClientHelperProcess$", "--", clientHelperMark, mode, "{host}", "{port}", "{addr}", "{name}", "{out}"}
}

// TestClientHelperProcess is not a test: it is the client command of the
// command tests, run as a child process with clientHelperEnv set. It checks what
// the kit promises a command (placeholders replaced, a fresh temporary
// directory as its working directory holding {out}, empty stdin) and exits
// 3 if any promise is broken. Then, by the mode after clientHelperMark:
//
//	ref    fetch the file with the reference client (lockstep)
//	wrong  fetch it, then write a fixed wrong file at {out} and exit 0
//	panic  fetch it, and panic when that fails
//	hang   send the request and wait forever
func TestClientHelperProcess(t *testing.T) {
	args, ok := helperArgs(clientHelperMark)
	if !ok || len(args) < 2 {
		t.Skip("the client command of the command tests; runs only as a child process")
	}
	os.Exit(clientHelperMain(args[1], args[2:]))
}

func clientHelperMain(mode string, args []string) int {
	if mode == "linger" {
		return lingerMain(args)
	}
	if len(args) != 5 {
		fmt.Fprintf(os.Stderr, "helper: got arguments %q, want host port addr name out\n", args)
		return 3
	}
	host, port, addr, name, out := args[0], args[1], args[2], args[3], args[4]
	if strings.Contains(strings.Join(args, " "), "{") {
		fmt.Fprintf(os.Stderr, "helper: placeholders left in %q\n", args)
		return 3
	}
	if net.JoinHostPort(host, port) != addr {
		fmt.Fprintf(os.Stderr, "helper: {host}:{port} = %s:%s, {addr} = %s\n", host, port, addr)
		return 3
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil || len(in) != 0 {
		fmt.Fprintf(os.Stderr, "helper: stdin gave %d bytes, %v; want empty\n", len(in), err)
		return 3
	}
	wd, err := os.Getwd()
	if err != nil || filepath.Dir(out) != wd {
		fmt.Fprintf(os.Stderr, "helper: working directory %s (%v), {out} %s: want {out} inside it\n", wd, err, out)
		return 3
	}
	if !strings.HasPrefix(wd, filepath.Clean(os.TempDir())) {
		fmt.Fprintf(os.Stderr, "helper: working directory %s is not under %s\n", wd, os.TempDir())
		return 3
	}
	switch mode {
	case "ref", "wrong", "panic":
		c := &ref.Client{Framing: spec.Lockstep, Timeout: 5 * time.Second}
		if _, err := c.Get(context.Background(), addr, name, out); err != nil {
			if mode == "panic" {
				panic(err)
			}
			fmt.Fprintf(os.Stderr, "helper: %v\n", err)
			return 1
		}
		if mode == "wrong" {
			if err := os.WriteFile(out, []byte("not the file you asked for\n"), 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "helper: %v\n", err)
				return 1
			}
		}
		fmt.Println("helper: done")
		return 0
	case "bgchild":
		c := &ref.Client{Framing: spec.Lockstep, Timeout: 5 * time.Second}
		if _, err := c.Get(context.Background(), addr, name, out); err != nil {
			fmt.Fprintf(os.Stderr, "helper: %v\n", err)
			return 1
		}
		if err := startLinger(os.Getenv(lingerPIDVar)); err != nil {
			fmt.Fprintf(os.Stderr, "helper: %v\n", err)
			return 1
		}
		return 0
	case "hang":
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "helper: %v\n", err)
			return 1
		}
		req, _ := spec.EncodeRequest(spec.Lockstep, name)
		conn.Write(req)
		time.Sleep(time.Hour) // killed by the kit long before
		return 1
	}
	fmt.Fprintf(os.Stderr, "helper: unknown mode %q\n", mode)
	return 3
}

// runClientCommand runs the client cases matching re against argv in lockstep.
func runClientCommand(t *testing.T, argv []string, re string, timeout time.Duration) []conformance.Result {
	t.Helper()
	o := conformance.Options{Run: regexp.MustCompile(re), Timeout: timeout}
	return conformance.RunClient(t.Context(), conformance.ClientTarget{Framing: spec.Lockstep, Command: argv}, o)
}

func TestClientCommand(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh:", err)
	}
	tests := []struct {
		name    string
		argv    []string
		run     string
		timeout time.Duration
		want    conformance.Verdict
		detail  string
		also    string // more words the detail must hold, when set
	}{
		{"exit 127 is SKIP", []string{"sh", "-c", "exit 127"}, "^client/", 0, conformance.Skip, "does not support this case", ""},
		{"placeholders, directory, stdin", clientHelperCommand("ref"), "^client/(plain|wrong-digest)$", 0, conformance.Pass, "at {out}", ""},
		{"wrong file written", clientHelperCommand("wrong"), "^client/plain$", 0, conformance.Fail,
			"reported success but the output is 27 bytes, the file 100000", ""},
		{"no connection", []string{"sh", "-c", `printf 'not the file\n' > "$1"`, "sh", "{out}"}, "^client/plain$", 0, conformance.Fail,
			"exited without connecting", ""},
		// The helper is this test binary: on a busy machine it takes
		// seconds to start, which the kit allows however short the
		// timeout (startWait); then it connects, asks, and hangs where the
		// ack is due, the wait the 500ms bound.
		{"hang is killed", clientHelperCommand("hang"), "^client/plain$", 500 * time.Millisecond, conformance.Fail,
			"never acknowledged the size: no ack arrived within 500ms", "the client was killed at the timeout"},
		{"not startable", []string{filepath.Join(t.TempDir(), "no-such-client")}, "^client/plain$", 0, conformance.Error,
			"could not be started", ""},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			results := runClientCommand(t, tt.argv, tt.run, tt.timeout)
			if len(results) == 0 {
				t.Fatalf("no case matched %q", tt.run)
			}
			for _, r := range results {
				casetest.CheckCitations(t, r)
				if !r.Case.AppliesTo(spec.Lockstep) {
					continue // SKIP for its framing, whatever the client
				}
				if r.Outcome.Verdict != tt.want {
					t.Errorf("%s = %s: %s, want %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, tt.want)
					casetest.LogResult(t, r)
					continue
				}
				if !strings.Contains(r.Outcome.Detail, tt.detail) {
					t.Errorf("%s detail = %q, want it to say %q", r.Case.ID, r.Outcome.Detail, tt.detail)
				}
				if !strings.Contains(r.Outcome.Detail, tt.also) {
					t.Errorf("%s detail = %q, want it to say %q", r.Case.ID, r.Outcome.Detail, tt.also)
				}
			}
		})
	}
}

// TestClientCrashes checks that a client command that crashes where it
// must report failure fails the case (REQ-CLI-18), whatever its exit
// status: a Go panic (exit status 2), and a Python traceback (exit status
// 1). The same clients pass a transfer that succeeds.
func TestClientCrashes(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	// A client of our own in the tutorial's style that raises on any
	// reply but a size.
	const pyClient = `import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.send(b"get " + sys.argv[3].encode())
reply = s.recv(1024)
if not reply.isdigit():
    raise RuntimeError("the server refused: %r" % reply)
`
	tests := []struct {
		name   string
		argv   []string
		python bool
		words  string
	}{
		{"go panic", clientHelperCommand("panic"), false, `crashed (a Go panic: "panic: `},
		{"python traceback", []string{"python3", "-c", pyClient, "{host}", "{port}", "{name}"}, true, "crashed (an uncaught Python exception; its stderr ends"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath("python3"); tt.python && err != nil {
				t.Skip("python3 is not installed")
			}
			for _, r := range runClientCommand(t, tt.argv, "^client/(error-reply|bad-size)$", 0) {
				casetest.CheckCitations(t, r)
				if r.Outcome.Verdict != conformance.Fail || !strings.Contains(r.Outcome.Detail, tt.words) ||
					!strings.Contains(r.Outcome.Detail, "instead of reporting failure") || !slices.Contains(r.Outcome.Cites(), "REQ-CLI-18") {
					t.Errorf("%s = %s: %s; want FAIL saying %q and citing REQ-CLI-18", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, tt.words)
					casetest.LogResult(t, r)
				}
				t.Logf("%s: %s: %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
			}
		})
	}
}

// TestClientFuncUnsupported checks that a ClientFunc declares a case
// unsupported with ErrClientUnsupported, as a command does with status 127.
func TestClientFuncUnsupported(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	fn := func(ctx context.Context, addr, name, out string) error {
		return fmt.Errorf("no lockstep here: %w", conformance.ErrClientUnsupported)
	}
	r := casetest.RunClientCase(t, "client/plain", spec.Lockstep, fn)
	if r.Outcome.Verdict != conformance.Skip {
		t.Errorf("client/plain = %s: %s, want SKIP", r.Outcome.Verdict, r.Outcome.Detail)
	}
}
