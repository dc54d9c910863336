package readtrace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Calls lists the system calls a trace records: every call that can take
// bytes from a connected TCP socket. recv has a "?" because most
// architectures (x86-64 among them) have no such call, and strace refuses
// a name it does not know unless told to let it pass.
var Calls = []string{"read", "readv", "recvfrom", "recvmsg", "recvmmsg", "splice", "preadv2", "?recv"}

// Tracer runs commands under strace. Get one from [Probe], which checks
// that tracing works here.
type Tracer struct {
	// Path is the strace binary.
	Path string
	// Seccomp is whether strace takes --seccomp-bpf (strace 5.3 and
	// later), which stops the program only at the traced calls.
	Seccomp bool
}

// Command returns the command line that runs argv under strace, writing
// the trace to file (made absolute; an existing file is replaced). It
// panics if argv is empty.
func (t *Tracer) Command(file string, argv []string) []string {
	if len(argv) == 0 {
		panic("readtrace: Command with an empty argv")
	}
	return append(t.flags(file), argv...)
}

// flags returns strace and its flags up to and including "--".
func (t *Tracer) flags(file string) []string {
	if abs, err := filepath.Abs(file); err == nil {
		file = abs
	}
	if !strings.HasPrefix(file, "/") {
		// Never a path strace would take for a pipe ("|cmd", "!cmd").
		file = "./" + file
	}
	args := []string{t.Path, "-f"}
	if t.Seccomp {
		args = append(args, "--seccomp-bpf")
	}
	return append(args, "-qqq", "-e", "signal=none",
		"-e", "trace="+strings.Join(Calls, ","),
		"-e", "abbrev=none", "-yy", "-s", "0", "-o", file, "--")
}

// UnavailableError says why tracing does not work here, in one sentence.
type UnavailableError struct {
	Reason string // the sentence, without a final period
	Err    error  // what failed, if anything
}

// Error returns "tracing the program's reads is not possible here: " and
// the reason.
func (e *UnavailableError) Error() string {
	return "tracing the program's reads is not possible here: " + e.Reason
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// probeTimeout bounds one run of strace by Probe.
const probeTimeout = 10 * time.Second

// Probe checks once that strace is installed and may trace a program here,
// by tracing a run of "strace -V" with the flags [Tracer.Command] uses. It
// returns a Tracer that works, or an *UnavailableError that says why none
// does: strace is missing, ptrace is forbidden (kernel.yama.ptrace_scope,
// a container without CAP_SYS_PTRACE, a seccomp profile), or strace failed
// in another way.
func Probe(ctx context.Context) (*Tracer, error) {
	return probe(ctx, "strace")
}

// probe is Probe with the name or path of strace.
func probe(ctx context.Context, name string) (*Tracer, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, &UnavailableError{Reason: "strace is not installed (on Debian: apt-get install strace)", Err: err}
	}
	t := &Tracer{Path: path, Seccomp: true}
	out, err := t.try(ctx)
	if err != nil && bytes.Contains(out, []byte("seccomp")) {
		// An older strace, or a kernel without seccomp filters: trace
		// without them (slower, the same trace).
		t.Seccomp = false
		out, err = t.try(ctx)
	}
	if err != nil {
		return nil, explain(out, err)
	}
	return t, nil
}

// try traces "strace -V" and returns what strace wrote to stderr.
func (t *Tracer) try(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "stickykit-probe-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	argv := t.Command(filepath.Join(dir, "trace"), []string{t.Path, "-V"})
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "trace"))
	}
	return stderr.Bytes(), err
}

// explain turns a failed probe into the sentence that says why.
func explain(stderr []byte, err error) error {
	msg := string(stderr)
	if strings.Contains(msg, "Operation not permitted") || strings.Contains(msg, "EPERM") {
		return &UnavailableError{Reason: "strace may not trace programs (ptrace failed with EPERM): " + ptraceHint(), Err: err}
	}
	line := strings.TrimSpace(msg)
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if line == "" {
		line = err.Error()
	}
	if len(line) > 120 {
		line = line[:120] + "..."
	}
	return &UnavailableError{Reason: "strace failed: " + strconv.Quote(line), Err: err}
}

// ptraceHint says what most likely forbids ptrace on this machine.
func ptraceHint() string {
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil {
		if s := strings.TrimSpace(string(b)); s == "3" {
			return "kernel.yama.ptrace_scope is 3, which forbids ptrace until the next boot"
		}
	}
	if !hasCapSysPtrace() {
		return "this looks like a container without CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE) or a seccomp profile that forbids ptrace"
	}
	return "a seccomp profile or security module forbids ptrace here"
}

// capSysPtrace is the bit of CAP_SYS_PTRACE in a capability set.
const capSysPtrace = 19

// hasCapSysPtrace reports whether this process's effective capabilities
// hold CAP_SYS_PTRACE; true when it cannot tell.
func hasCapSysPtrace() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err != nil || caps&(1<<capSysPtrace) != 0
		}
	}
	return true
}

// ErrNoTrace is returned by [ReadFile] when the trace file does not exist:
// the program did not start under strace.
var ErrNoTrace = errors.New("readtrace: no trace was written")

// ReadFile parses the trace strace wrote to file.
func ReadFile(file string) (*Trace, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v", ErrNoTrace, err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}
