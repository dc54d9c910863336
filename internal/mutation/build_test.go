package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// shared is a runner whose unmutated stickykit is built once for the
// tests that need one; TestMain removes its directory.
var shared struct {
	once sync.Once
	dir  string
	r    *runner
	all  []*Mutation
	err  error
}

func testRunner(t *testing.T) (*runner, []*Mutation) {
	t.Helper()
	shared.once.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			shared.err = err
			return
		}
		all, sources, err := Enumerate(root, []string{"ref", "spec"})
		if err != nil {
			shared.err = err
			return
		}
		if shared.dir, err = os.MkdirTemp("", "mutation-test-*"); err != nil {
			shared.err = err
			return
		}
		shared.all = all
		shared.r = &runner{root: root, tmp: shared.dir, sources: sources,
			checkTimeout: 2 * time.Minute, startTimeout: time.Minute, confirm: true}
		shared.err = shared.r.buildChecker(context.Background())
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.r, shared.all
}

// find returns the mutation of all in file and function fn made by op
// whose original snippet contains orig.
func find(t *testing.T, all []*Mutation, file, fn, op, orig string) *Mutation {
	t.Helper()
	for _, m := range all {
		if m.ID.File == file && m.ID.Func == fn && m.ID.Op == op && strings.Contains(m.ID.Orig, orig) {
			return m
		}
	}
	t.Fatalf("no %s mutation of %q in %s %s", op, orig, file, fn)
	return nil
}

// TestOverlayBuild builds stickykit with one mutation through an overlay
// and checks that the binary has it while the tree stays untouched: with
// ValidateName refusing a name of exactly MaxNameLen bytes, get refuses
// the longest valid name before it dials anything.
func TestOverlayBuild(t *testing.T) {
	r, all := testRunner(t)
	m := find(t, all, "spec/encode.go", "ValidateName", opCmpBoundary, "len(name) > MaxNameLen")
	before, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin, complaint, err := r.build(context.Background(), dir, m)
	if err != nil || complaint != "" {
		t.Fatalf("build: %v %s", err, complaint)
	}
	after, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatalf("building a mutant changed %s", m.Path)
	}
	name := strings.Repeat("n", 1020)
	for _, tt := range []struct {
		bin      string
		wantCode int
		wantErr  string
	}{
		// The unmutated get dials a port where nothing listens.
		{r.checker, 1, "connection refused"},
		{bin, 2, "name is 1020 bytes, limit 1020"},
	} {
		cmd := exec.Command(tt.bin, "get", "--addr", "127.0.0.1:1", "-o", filepath.Join(dir, "out"), name)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
			t.Errorf("%s get <1020-byte name>: exit %d (%v), stderr %q; want exit %d and %q",
				filepath.Base(filepath.Dir(tt.bin)), code, err, stderr.String(), tt.wantCode, tt.wantErr)
		}
	}
}

// TestOverlayBuildNotCompiled checks that a mutant the compiler refuses is
// told apart from a failure of the build itself.
func TestOverlayBuildNotCompiled(t *testing.T) {
	r, all := testRunner(t)
	// fs.FileMode is unsigned: the constant -1 does not fit.
	m := find(t, all, "ref/conn.go", "kind", opIntDec, "m&fs.ModeSocket != 0")
	_, complaint, err := r.build(context.Background(), t.TempDir(), m)
	if err != nil {
		t.Fatalf("build: %v, want a compiler complaint", err)
	}
	if !strings.Contains(complaint, "conn.go:") {
		t.Errorf("complaint %q does not name conn.go", complaint)
	}
}

// TestProbe runs one client case against the unmutated get and against a
// mutant that takes every digest for malformed: the first passes, the
// second fails and fails again when run alone.
func TestProbe(t *testing.T) {
	r, all := testRunner(t)
	m := find(t, all, "spec/parse.go", "ParseDigest", opCmpNegate, "len(b) != DigestLen")
	dir := t.TempDir()
	bin, complaint, err := r.build(context.Background(), dir, m)
	if err != nil || complaint != "" {
		t.Fatalf("build: %v %s", err, complaint)
	}
	p := probe{Role: "client", Framing: "lockstep"}
	const run = "^client/plain$"
	base := r.probe(context.Background(), dir, r.checker, p, run)
	if base.Problem != "" || len(base.Cases) != 1 || base.Cases[0].Verdict != "PASS" {
		t.Errorf("unmutated get: %+v, want client/plain PASS", base)
	}
	mut := r.probe(context.Background(), dir, bin, p, run)
	if got := mut.fails(); len(got) != 1 || got[0] != "client/plain" || mut.Exit != 1 {
		t.Errorf("mutant get: exit %d, fails %q (%+v), want exit 1 and client/plain FAIL", mut.Exit, got, mut)
	}
	if got := r.reconfirm(context.Background(), dir, bin, p, []string{"client/plain"}); len(got) != 1 {
		t.Errorf("reconfirm = %q, want [client/plain]", got)
	}
	noChildren(t)
}

// TestStartServer starts the unmutated server and stops it: it listens
// while it runs and nothing of it is left after.
func TestStartServer(t *testing.T) {
	r, _ := testRunner(t)
	dir := t.TempDir()
	srv, addr, why := r.startServer(context.Background(), dir, r.checker, dir, "line")
	if why != "" {
		t.Fatalf("server did not start: %s", why)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
	} else {
		c.Close()
	}
	srv.stop()
	if !srv.exited() {
		t.Error("server still running after stop")
	}
	noChildren(t)
}

// TestStartServerExits checks that a server that exits at once is "not
// started", with its exit status.
func TestStartServerExits(t *testing.T) {
	r, _ := testRunner(t)
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skip("no false command")
	}
	_, _, why := r.startServer(context.Background(), t.TempDir(), falseBin, t.TempDir(), "line")
	if !strings.Contains(why, "exited before listening: exit status 1") {
		t.Errorf("why = %q, want it to say the server exited with status 1", why)
	}
}

// noChildren fails if a process started by the test is still alive (or
// unreaped): every command the runner starts must end with it.
func noChildren(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := os.Getpid()
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue // the process ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split
		// after its closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil && ppid == me {
			t.Errorf("process %s is still a child of the test", s)
		}
	}
}

// TestStartedProbe runs server/out-of-descriptors, the case that needs a
// server the kit starts, against the unmutated serve and against a mutant
// that never keeps a descriptor in reserve: the first passes, the second
// leaves a queued connection unanswered once out of descriptors, fails,
// and fails again when run alone.
func TestStartedProbe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kit limits a server's descriptors on Linux only")
	}
	r, all := testRunner(t)
	m := find(t, all, "ref/server.go", "openSpare", opIfTrue, "err != nil")
	dir := t.TempDir()
	bin, complaint, err := r.build(context.Background(), dir, m)
	if err != nil || complaint != "" {
		t.Fatalf("build: %v %s", err, complaint)
	}
	p := probe{Role: "server", Framing: "line", Started: true}
	base := r.probe(context.Background(), dir, r.checker, p, "")
	if base.Problem != "" || len(base.Cases) != 1 || base.Cases[0].ID != "server/out-of-descriptors" || base.Cases[0].Verdict != "PASS" {
		t.Errorf("unmutated serve: %+v, want server/out-of-descriptors PASS", base)
	}
	mut := r.probe(context.Background(), dir, bin, p, "")
	if got := mut.fails(); len(got) != 1 || got[0] != "server/out-of-descriptors" {
		t.Errorf("mutant serve: exit %d, fails %q (%+v), want server/out-of-descriptors FAIL", mut.Exit, got, mut)
	}
	if got := r.reconfirm(context.Background(), dir, bin, p, []string{"server/out-of-descriptors"}); len(got) != 1 {
		t.Errorf("reconfirm = %q, want [server/out-of-descriptors]", got)
	}
	noChildren(t)
}

// TestAddrProbesSkipStartedCases checks that a server probe the kit does
// not start runs no case of startedCases: it would only be a SKIP there.
func TestAddrProbesSkipStartedCases(t *testing.T) {
	r, _ := testRunner(t)
	run := r.probe(context.Background(), t.TempDir(), r.checker, probe{Role: "server", Framing: "lockstep"}, "^server/(missing-file|out-of-descriptors)$")
	if run.Problem != "" || len(run.Cases) != 1 || run.Cases[0].ID != "server/missing-file" {
		t.Errorf("server lockstep probe: %+v, want server/missing-file alone", run)
	}
	noChildren(t)
}
