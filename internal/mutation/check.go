package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A probe is one run of "stickykit check": a role in a framing.
type probe struct {
	Role    string // "server" or "client"
	Framing string // "lockstep" or "line"
	// Started says that the kit starts the mutant's serve itself
	// (check server -- MUTANT serve ...), fresh for each case, to run
	// the cases that need that (startedCases); the other server probes
	// skip them.
	Started bool
}

func (p probe) String() string {
	if p.Started {
		return p.Role + " " + p.Framing + " (started by the kit)"
	}
	return p.Role + " " + p.Framing
}

// startedCases are the server cases that run only against a server the
// kit starts: server/out-of-descriptors limits the server process's file
// descriptors. One framing is enough for them: what they judge (answering
// a queued connection once out of descriptors) does not depend on it.
const startedCases = "^server/out-of-descriptors$"

// probes are the five runs that judge an implementation.
var probes = []probe{{"server", "lockstep", false}, {"server", "line", false}, {"server", "line", true},
	{"client", "lockstep", false}, {"client", "line", false}}

// The rate windows of every implementation under test: the shortest
// SPEC.md allows (REQ-LIM-9), not the defaults of 30 s and 60 s, so that
// a transfer of a few seconds crosses their ends (server/steady-reader,
// client/paused-server) and the code that keeps a minimum rate across
// them is reached. The baseline runs with them too: a FAIL it causes
// there stops the run.
var (
	serveRateArgs = []string{"--rate-window", "1s"}
	getRateArgs   = []string{"--speed-time", "1s"}
)

// caseVerdict is one row of the JSON report of stickykit check.
type caseVerdict struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Verdict  string `json:"verdict"`
	Detail   string `json:"detail"`
}

// checkRun is what one probe found.
type checkRun struct {
	Exit       int
	Cases      []caseVerdict
	NotStarted string // the server under test never listened: why
	Stopped    string // the mutant stopped the check: a setup error of its preflight (exit 2), or its serve died under it
	Problem    string // the check could not run or finish: why
	TimedOut   bool   // it did not finish within the run's bound
	Duration   time.Duration
}

// fails returns the IDs of the cases that failed.
func (c checkRun) fails() []string {
	var ids []string
	for _, cv := range c.Cases {
		if cv.Verdict == "FAIL" {
			ids = append(ids, cv.ID)
		}
	}
	return ids
}

// probe runs p with impl as the implementation under test (its "serve"
// for a server probe, its "get" for a client probe) and the unmutated
// stickykit as the checker. run, when not empty, is a --run regexp. Every
// file it makes is under dir. A started probe gives the checker the
// mutant's serve to start (with {addr} and {root}, which the checker
// fills in for each case); the other server probes start it here.
func (r *runner) probe(ctx context.Context, dir, impl string, p probe, run string) checkRun {
	start := time.Now()
	dir, err := os.MkdirTemp(dir, strings.ReplaceAll(p.String(), " ", "-")+"-*")
	if err != nil {
		return checkRun{Problem: err.Error()}
	}
	report := filepath.Join(dir, "report.json")
	args := []string{"check", p.Role, "--framing", p.Framing, "--json", report}
	switch {
	case run != "":
		args = append(args, "--run", run)
	case p.Started:
		args = append(args, "--run", startedCases)
	}
	var res checkRun
	switch {
	case p.Started:
		res = r.runCheck(ctx, dir, report, append(args, "--", impl, "serve", "--addr", "{addr}", "--root", "{root}",
			"--framing", p.Framing))
	case p.Role == "server":
		args = append(args, "--skip", startedCases)
		root := filepath.Join(dir, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			return checkRun{Problem: err.Error()}
		}
		srv, addr, why := r.startServer(ctx, dir, impl, root, p.Framing)
		if why != "" {
			return checkRun{NotStarted: why, Duration: time.Since(start)}
		}
		res = r.runCheck(ctx, dir, report, append(args, "--addr", addr, "--root", root))
		exited := srv.exited()
		srv.stop()
		switch {
		case (res.Problem != "" || res.Stopped != "") && exited && len(res.fails()) == 0:
			// It listened, then died under the check (serve never exits
			// on its own): the check could not judge what followed.
			res.Stopped, res.Problem = "serve died during the check: "+srv.describe(), ""
		case res.Problem != "" && exited:
			res.Problem += "; the server had exited: " + srv.describe()
		}
	default:
		args = append(append(args, "--", impl, "get", "--addr", "{addr}", "--framing", p.Framing), getRateArgs...)
		res = r.runCheck(ctx, dir, report, append(args, "-o", "{out}", "{name}"))
	}
	res.Duration = time.Since(start)
	return res
}

// runCheck runs the checker with args, bounded by r.checkTimeout, and
// reads the JSON report it writes to report.
func (r *runner) runCheck(ctx context.Context, dir, report string, args []string) checkRun {
	cctx, cancel := context.WithTimeout(ctx, r.checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, r.checker, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	ownGroup(cmd)
	// After SIGTERM the checker stops its clients and exits at once; a
	// checker that does not is killed.
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	killGroup(cmd)
	res := checkRun{Exit: cmd.ProcessState.ExitCode()}
	switch {
	case ctx.Err() != nil:
		res.Problem = "interrupted"
		return res
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		res.Problem = fmt.Sprintf("did not finish within %v", r.checkTimeout)
		res.TimedOut = true
		return res
	}
	b, rerr := os.ReadFile(report)
	switch {
	case rerr != nil && res.Exit == 2:
		// A setup error: the preflight named what stops any case from
		// running. The run's own configuration is known good (the
		// baseline passed with it), so it is the mutant's doing.
		res.Stopped = "preflight: " + strings.TrimSpace(out.String())
		return res
	case rerr != nil:
		res.Problem = fmt.Sprintf("no report (%v): %s", err, out.String())
		return res
	}
	var doc struct {
		Cases []caseVerdict `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		res.Problem = fmt.Sprintf("bad report: %v", err)
		return res
	}
	res.Cases = doc.Cases
	// 0: no MUST case failed; 1: one did. Anything else (2: a case could
	// not run, or a setup error) is the tool's trouble, even with a report.
	if res.Exit != 0 && res.Exit != 1 {
		res.Problem = fmt.Sprintf("exit status %d: %s", res.Exit, out.String())
	}
	return res
}

// server is a running "stickykit serve".
type server struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
	err  error         // from Wait, once done is closed
	log  *tail
}

// startServer starts impl's "serve" on a free loopback port, serving root
// in framing, and waits until it listens. It returns the address, or why
// the server did not start: it exited, or did not listen within
// r.startTimeout.
//
// Readiness is the "serving" line that stickykit serve logs once its
// listener is bound and its --addr-file written: a line printed by the
// command-line code, which no mutation of ref/ or spec/ touches.
func (r *runner) startServer(ctx context.Context, dir, impl, root, framing string) (*server, string, string) {
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.CommandContext(ctx, impl, append([]string{"serve", "--addr", "127.0.0.1:0", "--addr-file", addrFile,
		"--root", root, "--framing", framing}, serveRateArgs...)...)
	cmd.Dir = dir
	ownGroup(cmd)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err.Error()
	}
	s := &server{cmd: cmd, done: make(chan struct{}), log: &tail{}}
	if err := cmd.Start(); err != nil {
		return nil, "", err.Error()
	}
	ready := make(chan struct{})
	var copied sync.WaitGroup
	copied.Add(1)
	go func() {
		defer copied.Done()
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.log.Write([]byte(line + "\n"))
			if !signalled && strings.Contains(line, "msg=serving") {
				close(ready)
				signalled = true
			}
		}
		// A line too long for the scanner: keep draining, so the server
		// never blocks on a full pipe.
		_, _ = s.log.ReadFrom(pipe)
	}()
	go func() {
		copied.Wait()
		s.err = cmd.Wait()
		close(s.done)
	}()
	timer := time.NewTimer(r.startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-s.done:
		return nil, "", "serve exited before listening: " + s.describe()
	case <-timer.C:
		s.stop()
		return nil, "", fmt.Sprintf("serve did not listen within %v: %s", r.startTimeout, s.log.String())
	case <-ctx.Done():
		s.stop()
		return nil, "", "interrupted"
	}
	b, err := os.ReadFile(addrFile)
	if err != nil {
		s.stop()
		return nil, "", "serve logged that it listens but wrote no address: " + err.Error()
	}
	return s, strings.TrimSpace(string(b)), ""
}

// stop kills the server's process group and waits for it.
func (s *server) stop() {
	killGroup(s.cmd)
	<-s.done
}

// exited reports whether the server had ended by itself.
func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// describe says how the server ended and what it last logged; call it once
// done is closed.
func (s *server) describe() string {
	return fmt.Sprintf("%v; stderr: %s", s.err, s.log.String())
}

// tail is an io.Writer that keeps the last tailSize bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 2048

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

// ReadFrom copies r into t until EOF or an error, which it drops.
func (t *tail) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	b := make([]byte, 4096)
	for {
		m, err := r.Read(b)
		t.Write(b[:m])
		n += int64(m)
		if err != nil {
			return n, nil
		}
	}
}

// String returns the kept bytes, trimmed.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
