package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The processes the kit starts: the client under test (a command), and
// the server under test when the kit starts it for each case. Every one
// is started here, in one way, so that a tracer could wrap it later:
//
//   - in a process group of its own, so that the kit can signal it with
//     everything it started;
//   - with a token in its environment (procTokenVar), inherited by every
//     descendant that keeps its environment, so that the kit finds and
//     ends the descendants that left the group (setsid) once the process
//     has ended; on Linux the kit is also a child subreaper, so that those
//     descendants become its children and it can reap them;
//   - with stdout and stderr going to files of the kit's own (unlinked at
//     once), never pipes: a descendant left holding them holds up nothing,
//     and the kit judges the process by its own exit, at once.
//
// Nothing about the kit's plumbing (a file it could not create, a
// descendant it had to end) is ever reported as the program's failure.

// procTokenVar is the environment variable that marks a process the kit
// started, and every descendant that keeps its environment.
const procTokenVar = "STICKYKIT_CHECK_PROC"

// procOutputKeep bounds what the kit keeps of each output stream: its
// last bytes.
const procOutputKeep = 8 << 10

// procSpec is what to start.
type procSpec struct {
	argv  []string
	dir   string  // working directory
	stdin *string // written to the process's stdin, then closed; nil: the null device
}

// proc is a process the kit started.
type proc struct {
	cmd    *exec.Cmd
	token  string
	stdout *os.File
	stderr *os.File
	done   chan struct{} // closed once the process has ended and been waited for
	err    error         // what Wait returned; valid once done is closed

	mu       sync.Mutex
	signaled bool // the kit signalled it (stop or kill)
	reaped   int  // descendants the kit ended after it
}

// startProc starts the process ps describes. Its error means the program
// could not be started at all (no such file, not executable).
func startProc(ps procSpec) (*proc, error) {
	if len(ps.argv) == 0 || ps.argv[0] == "" {
		return nil, errors.New("no command")
	}
	becomeSubreaper()
	var t [8]byte
	rand.Read(t[:])
	p := &proc{token: hex.EncodeToString(t[:]), done: make(chan struct{})}
	var err error
	if p.stdout, err = unlinkedTemp(); err != nil {
		return nil, fmt.Errorf("the kit cannot keep the program's output: %w", err)
	}
	if p.stderr, err = unlinkedTemp(); err != nil {
		p.stdout.Close()
		return nil, fmt.Errorf("the kit cannot keep the program's output: %w", err)
	}
	cmd := exec.Command(ps.argv[0], ps.argv[1:]...)
	cmd.Dir = ps.dir
	cmd.Env = append(os.Environ(), procTokenVar+"="+p.token)
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if ps.stdin != nil {
		cmd.Stdin = strings.NewReader(*ps.stdin) // written by os/exec, then closed
	}
	ownProcessGroup(cmd)
	p.cmd = cmd
	if err := cmd.Start(); err != nil {
		p.closeFiles()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// unlinkedTemp returns a file of the kit's own, already removed from its
// directory: nobody else can open it, and nothing is left behind.
func unlinkedTemp() (*os.File, error) {
	f, err := os.CreateTemp("", "stickykit-output-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// ended reports whether the process has ended.
func (p *proc) ended() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits until the process ends, ctx is done or d passes, and reports
// whether it ended.
func (p *proc) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return p.ended()
}

// kill ends the process and its group at once (SIGKILL).
func (p *proc) kill() {
	p.mu.Lock()
	p.signaled = true
	p.mu.Unlock()
	signalGroup(p.cmd, killSignal)
}

// stop ends the process and its group: a polite signal first (SIGTERM),
// then, after grace, SIGKILL. It returns once the process has ended and
// every descendant the kit can find has been ended too.
func (p *proc) stop(grace time.Duration) {
	if !p.ended() {
		p.mu.Lock()
		p.signaled = true
		p.mu.Unlock()
		signalGroup(p.cmd, termSignal)
		if !p.wait(context.Background(), grace) {
			signalGroup(p.cmd, killSignal)
			<-p.done
		}
	}
	p.finish()
}

// finish ends whatever the process left running (its group, and the
// descendants that carry its token), once it has ended itself, and
// releases its files. Call it once the process has ended.
func (p *proc) finish() {
	<-p.done
	signalGroup(p.cmd, killSignal)
	n := endDescendants(p.token)
	p.mu.Lock()
	p.reaped += n
	p.mu.Unlock()
}

// byKit reports whether the kit signalled the process.
func (p *proc) byKit() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signaled
}

// descendantsEnded returns how many descendants the kit had to end.
func (p *proc) descendantsEnded() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reaped
}

// status returns the exit status (-1 when ended by a signal) and the
// signal, if any. Valid once the process has ended.
func (p *proc) status() (code int, sig string) {
	st := p.cmd.ProcessState
	if st == nil {
		return -1, ""
	}
	return st.ExitCode(), signalOf(st)
}

// tail returns the last bytes of the process's stdout or stderr, at most
// procOutputKeep of them.
func tail(f *os.File) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-procOutputKeep, 0)
	b := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(b, off)
	return string(b[:n])
}

// closeFiles releases the output files.
func (p *proc) closeFiles() {
	p.stdout.Close()
	p.stderr.Close()
}

// outputs returns the tails of stdout and stderr and releases the files.
func (p *proc) outputs() (stdout, stderr string) {
	stdout, stderr = tail(p.stdout), tail(p.stderr)
	p.closeFiles()
	return stdout, stderr
}

// crashWords say, from how a program ended and the end of its stderr,
// whether it crashed: killed by a signal that means a crash (not one the
// kit sent), or ended by an uncaught exception (a Python traceback, a Go
// panic, a Java exception). They are "" when it did not.
func crashWords(sig string, byKit bool, stderr string) string {
	if sig != "" && !byKit && crashSignals[sig] {
		if t := lastLines(stderr, 2); t != "" {
			return fmt.Sprintf("killed by %s; its stderr ends %s", sig, t)
		}
		return "killed by " + sig
	}
	for _, k := range uncaught {
		if i := strings.LastIndex(stderr, k.marker); i >= 0 && (i == 0 || stderr[i-1] == '\n') {
			if k.first {
				line, _, _ := strings.Cut(stderr[i:], "\n")
				return fmt.Sprintf("%s: %s", k.what, strconv.Quote(oneLine(line, 160)))
			}
			return fmt.Sprintf("%s; its stderr ends %s", k.what, lastLines(stderr[i:], 2))
		}
	}
	return ""
}

// uncaught are the marks an uncaught exception leaves in stderr, by
// language; first says that the marked line itself says what happened
// (a stack trace follows it), rather than the last lines.
var uncaught = []struct {
	marker, what string
	first        bool
}{
	{"Traceback (most recent call last):", "an uncaught Python exception", false},
	{"panic: ", "a Go panic", true},
	{"Exception in thread ", "an uncaught Java exception", true},
}

// lastLines returns the last n non-empty lines of s, each quoted and cut,
// joined by " / ".
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var out []string
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		// Python marks the failing expression with a line of carets:
		// it says nothing on its own.
		if l := strings.TrimSpace(lines[i]); strings.Trim(l, "^~ ") != "" {
			out = append(out, strconv.Quote(oneLine(l, 160)))
		}
	}
	if len(out) == 0 {
		return ""
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return strings.Join(out, " / ")
}

var _ io.Reader = (*os.File)(nil)
