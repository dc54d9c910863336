package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A readmeBlock is a fenced code block of README.md.
type readmeBlock struct {
	lang string // the fence's info string: "sh", "go", or empty
	line int    // the line of the opening fence, counting from 1
	text string // the lines between the fences, each ended by LF
}

// readmeBlocks returns the fenced code blocks of README.md, in order.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	var cur *readmeBlock
	for i, l := range strings.SplitAfter(string(b), "\n") {
		fence := strings.HasPrefix(l, "```")
		switch {
		case cur == nil && fence:
			cur = &readmeBlock{lang: strings.TrimSpace(l[3:]), line: i + 1}
		case cur != nil && fence:
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += l
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a code block is never closed", cur.line)
	}
	return blocks
}

// TestReadmeGoExample checks that the test file the README shows for the
// Go API is, byte for byte, examples/myserver/myserver_test.go, which go
// test compiles and runs: the README's example cannot stop compiling or
// passing unnoticed.
func TestReadmeGoExample(t *testing.T) {
	const file = "examples/myserver/myserver_test.go"
	want, err := os.ReadFile(filepath.Join(repoRoot(), file))
	if err != nil {
		t.Fatal(err)
	}
	var found []readmeBlock
	for _, b := range readmeBlocks(t) {
		if b.lang == "go" && strings.Contains(b.text, "func TestMyServer(") {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		t.Fatalf("README.md has %d go blocks with TestMyServer, want 1 (a copy of %s)", len(found), file)
	}
	got := found[0].text
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; ; i++ {
		if i >= len(gl) || i >= len(wl) || gl[i] != wl[i] {
			g, w := "(end)", "(end)"
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			t.Fatalf("README.md:%d differs from %s:%d:\nREADME: %q\nfile:   %q", found[0].line+1+i, file, i+1, g, w)
		}
	}
}

// A readmeShell says what TestReadmeBlocks does with one sh block of the
// README: run it as written, or not, and why.
type readmeShell struct {
	mark string // a string only this block holds, which finds it
	skip string // why the test does not run it; empty: it runs
	// listen, when set, makes the block a server in a terminal of its
	// own: it runs until the test interrupts it (Ctrl-C: SIGINT to its
	// process group), and the block marked then runs once this address
	// listens.
	listen, then string
	want         []string // regular expressions its output (stdout and stderr together) must match
}

// readmeShells covers every sh block of the README. A block none of them
// finds fails the test, so a new block is either run or skipped for a
// reason written here.
var readmeShells = []readmeShell{
	{mark: "go run ./cmd/stickykit demo", skip: "the demo runs in scripts/demo_lesson.txtar; the next line is this test suite"},
	{mark: "go run ./cmd/stickykit serve --root ./somedir", listen: "127.0.0.1:8888", then: "go run ./cmd/stickykit get -o copy.bin file.bin",
		want: []string{`msg=listening addr=127.0.0.1:8888`, `msg="shutting down"`}},
	{mark: "go run ./cmd/stickykit get -o copy.bin file.bin", skip: "runs in the second terminal of the serve block",
		want: []string{`(?m)^file\.bin: 100000 bytes, md5 [0-9a-f]{32}, saved to copy\.bin$`, `(?m)^identical$`}},
	{mark: "go install ./cmd/stickykit", skip: "it installs into the user's GOPATH; the test has stickykit on its PATH already"},
	{mark: "--coalesce --addr-file lesson/proxy.addr", want: []string{
		`(?m)^written  10032 bytes to lesson/naive\.out$`,
		`(?m)^result   MISMATCH: 32 bytes more than the size were written: the last body read took digest bytes as file data \(sticky packet\)$`,
		`(?m)^written  10000 bytes to lesson/article\.out\n.*\n.*\nresult   digests match$`}},
	{mark: "--fragment 16 --delay 100ms --addr-file lesson/proxy.addr", want: []string{
		`(?m)^written  300 bytes to lesson/article\.out$`,
		`(?m)^result   MISMATCH: the digest read returned ([12]?[0-9]|3[01]) of 32 bytes: the digest arrived split \(half packet\)$`,
		`(?m)^notes\.txt: 300 bytes, md5 [0-9a-f]{32}, saved to lesson/ref\.out$`}},
	{mark: `stickykit check server --addr "$(cat served.addr)" --root served-dir`, want: []string{
		`(?m)^PASS +server/sizes `, `(?m)^1[0-9] PASS, 0 FAIL, .* 0 ERROR; no MUST case failed$`,
		`(?m)^PASS +server/named-files `, `(?m)^SKIP +server/sizes `, `(?m)^[0-9]+ PASS, 0 FAIL, .* 0 ERROR; no MUST case failed$`}},
	{mark: "tutorial_server.py\" {port} {root}", skip: "a minute or two each; scripts/check_python.txtar checks the same programs"},
	{mark: "client_prompt.py", skip: "half a minute or more; scripts/check_programs_client.txtar checks the same program"},
	{mark: "check client --reads --svg pictures", skip: "half a minute under strace; scripts/lesson_reads.txtar checks the same client with --reads and --svg"},
	{mark: "server_dies.py", skip: "half a minute or more; scripts/check_programs_server.txtar checks the same program"},
	{mark: "go get github.com/stickykit/stickykit@latest", skip: "it fetches a published release over the network"},
	{mark: "-replace=github.com/stickykit/stickykit=../stickykit", skip: "it builds the kit in a module of its own; TestReadmeGoExample checks the file it runs"},
	{mark: "stickykit bench --sizes", skip: "measurements of minutes; TestBenchCommand runs bench"},
	{mark: "go test ./cmd/stickykit -run TestScripts", skip: "this test suite"},
	{mark: "go run ./internal/mutation --help", skip: "the mutation run takes an hour; its own tests cover it"},
}

// TestReadmeBlocks runs the README's command blocks as a newcomer would
// paste them, each in a fresh shell (bash) in a fresh directory that
// holds what a checkout does for them (testdata/), with stickykit on the
// PATH; "go run ./cmd/stickykit" runs that same stickykit. A block passes
// when it ends, having stopped every process it started, and its output
// says what the README says it does.
func TestReadmeBlocks(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	blocks := map[string]readmeBlock{}
	for _, b := range readmeBlocks(t) {
		if b.lang != "sh" {
			continue
		}
		var marks []string
		for _, s := range readmeShells {
			if strings.Contains(b.text, s.mark) {
				marks = append(marks, s.mark)
			}
		}
		if len(marks) != 1 {
			t.Errorf("README.md:%d: the sh block is found by %d entries of readmeShells (%q), want 1:\n%s", b.line, len(marks), marks, b.text)
			continue
		}
		blocks[marks[0]] = b
	}
	for _, s := range readmeShells {
		b, ok := blocks[s.mark]
		if !ok {
			t.Errorf("no sh block of README.md holds %q: remove its entry from readmeShells", s.mark)
			continue
		}
		if s.skip != "" {
			continue
		}
		t.Run(fmt.Sprintf("line_%d", b.line), func(t *testing.T) {
			t.Parallel() // each block waits more than it computes
			dir := readmeDir(t)
			if s.listen == "" {
				wantOutput(t, b, runBlock(t, dir, b), s.want)
				return
			}
			second, ok := blocks[s.then]
			if !ok {
				t.Fatalf("no block holds %q", s.then)
			}
			var then readmeShell
			for _, o := range readmeShells {
				if o.mark == s.then {
					then = o
				}
			}
			runTwoTerminals(t, dir, b, s, second, then)
		})
	}
}

// readmeDir makes a fresh directory that holds what the README's blocks
// need of a checkout.
func readmeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(repoRoot(), "testdata"), filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readmeBound bounds each block, and the wait for a server to listen: far
// beyond what any runs for, it only stops a block that would never end.
const readmeBound = 3 * time.Minute

// blockCmd returns bash running b in dir, in a process group of its own.
// A "wait" after the block's text makes bash end only once every process
// the block started in the background has ended.
func blockCmd(ctx context.Context, dir string, b readmeBlock, out *bytes.Buffer) *exec.Cmd {
	text := strings.ReplaceAll(b.text, "go run ./cmd/stickykit ", "stickykit ")
	cmd := exec.CommandContext(ctx, "bash", "-c", text+"wait\n")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// runBlock runs b in dir and returns its output. It fails t when the
// block does not end within readmeBound.
func runBlock(t *testing.T, dir string, b readmeBlock) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readmeBound)
	defer cancel()
	var out bytes.Buffer
	cmd := blockCmd(ctx, dir, b, &out)
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("README.md:%d: the block did not end within %v (a process it started still runs?); output:\n%s", b.line, readmeBound, out.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("README.md:%d: %v", b.line, err)
	}
	return out.String()
}

// runTwoTerminals runs b as a server in a terminal of its own, then
// second in another once the server listens, then stops the server with
// Ctrl-C, which must end it with exit status 0.
func runTwoTerminals(t *testing.T, dir string, b readmeBlock, s readmeShell, second readmeBlock, then readmeShell) {
	t.Helper()
	if up, err := listening(s.listen); err != nil || up {
		t.Skipf("something on this host already listens on %s (%v): the README's server cannot", s.listen, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), readmeBound)
	defer cancel()
	var out bytes.Buffer
	cmd := blockCmd(ctx, dir, b, &out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // no-op once it has ended
		<-exited
	}()
	for up := false; !up; {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("README.md:%d: the server block ended (%v) before %s listened; output:\n%s", b.line, err, s.listen, out.String())
		case <-ctx.Done():
			t.Fatalf("README.md:%d: nothing listens on %s after %v; output:\n%s", b.line, s.listen, readmeBound, out.String())
		case <-time.After(20 * time.Millisecond): // polling the kernel's table for a socket another process opens
		}
		var err error
		if up, err = listening(s.listen); err != nil {
			t.Fatal(err)
		}
	}
	wantOutput(t, second, runBlock(t, dir, second), then.want)
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	exited <- err
	if err != nil {
		t.Errorf("README.md:%d: after Ctrl-C the server block ended with %v, want exit status 0", b.line, err)
	}
	wantOutput(t, b, out.String(), s.want)
}

// wantOutput fails t for each of want that out does not match.
func wantOutput(t *testing.T, b readmeBlock, out string, want []string) {
	t.Helper()
	for _, w := range want {
		if !regexp.MustCompile(w).MatchString(out) {
			t.Errorf("README.md:%d: the output does not match %q:\n%s", b.line, w, out)
		}
	}
}
