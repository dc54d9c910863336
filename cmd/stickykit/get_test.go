//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// hostileText is an error text that, printed raw, would erase the line,
// print a fake green success line, ring the bell and set the window title.
const hostileText = "x\x1b[2K\r\x1b[32mreport.pdf: 100000 bytes, md5 0123, saved\x1b[0m\x07\x1b]0;owned\x07\u202e" + "\x9b31m"

// rawControl returns the first control byte in s other than a final LF,
// or -1.
func rawControl(s string) int {
	s = strings.TrimSuffix(s, "\n")
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' || c == 0x7f {
			return i
		}
	}
	if strings.Contains(s, "\u202e") || strings.Contains(s, "\u009b") {
		return 0
	}
	return -1
}

// TestGetQuotesPeerBytes: a hostile server's error text, and the bytes a
// naive client's digest read returns, reach stderr and stdout escaped and
// bounded: no raw control byte, no bidirectional override (REQ-SEC-10).
func TestGetQuotesPeerBytes(t *testing.T) {
	verifyNoLeaks(t)
	long := hostileText + strings.Repeat("A", 900)
	errAddr := peer(t, spec.Lockstep, func(c net.Conn, r *spec.Reader) {
		if _, err := r.ReadRequest(); err == nil {
			c.Write([]byte("ERR evil " + long))
		}
	})
	digestAddr := peer(t, spec.Lockstep, func(c net.Conn, r *spec.Reader) {
		if _, err := r.ReadRequest(); err != nil {
			return
		}
		c.Write([]byte("5"))
		if r.ReadAck() == nil {
			c.Write([]byte("hello" + hostileText))
		}
	})
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"get", "--addr", errAddr, "-o", filepath.Join(dir, "a"), "report.pdf"}, exitFail},
		{[]string{"naive-get", "--addr", errAddr, "-o", filepath.Join(dir, "b"), "report.pdf"}, exitFail},
		{[]string{"naive-get", "--variant", "article", "--addr", digestAddr, "-o", filepath.Join(dir, "c"), "report.pdf"}, exitFail},
		{[]string{"get", "--addr", digestAddr, "-o", filepath.Join(dir, "d"), "report.pdf"}, exitFail},
	} {
		code, stdout, stderr := runCmd(tt.args...)
		t.Logf("%s: exit %d\nstdout: %s\nstderr: %s", tt.args[0], code, stdout, stderr)
		if code != tt.code {
			t.Errorf("%v: exit status %d, want %d", tt.args, code, tt.code)
		}
		for name, out := range map[string]string{"stdout": stdout, "stderr": stderr} {
			for _, line := range strings.SplitAfter(out, "\n") {
				if i := rawControl(line); i >= 0 {
					t.Errorf("%v: %s holds a raw control byte at %d: %q", tt.args, name, i, line)
				}
				if len(line) > 600 {
					t.Errorf("%v: %s has a %d-byte line, want peer bytes bounded", tt.args, name, len(line))
				}
			}
		}
		if !strings.Contains(stdout+stderr, `\x1b[2K\r`) {
			t.Errorf("%v: output does not show the escaped bytes", tt.args)
		}
	}
}

// TestGetTimeBounds: a server that sends a byte every 10ms, each well
// inside the per-read timeout, can no longer hold get for ever: --max-time
// bounds the whole download, --speed-limit over --speed-time its rate.
// Each fails with a message naming its flag and leaves no file.
func TestGetTimeBounds(t *testing.T) {
	verifyNoLeaks(t)
	addr := peer(t, spec.Lockstep, func(c net.Conn, r *spec.Reader) {
		if _, err := r.ReadRequest(); err != nil {
			return
		}
		c.Write([]byte("100000"))
		if r.ReadAck() != nil {
			return
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			if _, err := c.Write([]byte("x")); err != nil {
				return // the client gave up
			}
		}
	})
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--max-time", "300ms"}, "--max-time"},
		{[]string{"--speed-limit", "1000", "--speed-time", "200ms"}, "too slow"},
	} {
		dir := t.TempDir()
		args := append([]string{"get", "--timeout", "10s", "--addr", addr, "-o", filepath.Join(dir, "out")}, tt.flags...)
		code, _, stderr := runCmd(append(args, "file.bin")...)
		if code != exitFail || !strings.Contains(stderr, tt.want) {
			t.Errorf("get %v: exit %d, stderr %q; want exit 1 and %q", tt.flags, code, stderr, tt.want)
		}
		if es, _ := os.ReadDir(dir); len(es) != 0 {
			t.Errorf("get %v left %d files", tt.flags, len(es))
		}
	}
}

// TestGetFramingHints: the failures a framing mismatch causes, in either
// direction, come with a hint to check --framing.
func TestGetFramingHints(t *testing.T) {
	verifyNoLeaks(t)
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "f.bin"), []byte("hello"), 0o644))
	lineSrv := reftest.NewServer(t, root, reftest.Options{Framing: spec.Line}).Addr
	lockSrv := reftest.NewServer(t, root, reftest.Options{Framing: spec.Lockstep}).Addr
	// A tutorial-style server: the size with no LF, then it waits for the
	// ack, which a line client sends only after the LF it waits for.
	answer := func(reply string) func(c net.Conn, r *spec.Reader) {
		return func(c net.Conn, r *spec.Reader) {
			if n, _ := c.Read(make([]byte, 100)); n > 0 {
				c.Write([]byte(reply))
				io.Copy(io.Discard, c) // until the client goes
			}
		}
	}
	sizeOnly := peer(t, spec.Lockstep, answer("5"))
	// A server that ends its size with LF, to a lockstep client.
	sizeLF := peer(t, spec.Line, answer("5\n"))
	for _, tt := range []struct {
		what, framing, addr, want string
	}{
		{"lockstep client, line server (silent)", "lockstep", lineSrv, "--framing line?"},
		{"line client, lockstep server (bad-request)", "line", lockSrv, "--framing lockstep"},
		{"line client, size without LF (silent)", "line", sizeOnly, "--framing lockstep"},
		{"lockstep client, size with LF", "lockstep", sizeLF, "--framing line?"},
	} {
		dir := t.TempDir()
		code, _, stderr := runCmd("get", "--timeout", "1s", "--framing", tt.framing, "--addr", tt.addr, "-o", filepath.Join(dir, "out"), "f.bin")
		t.Logf("%s: %s", tt.what, stderr)
		if code != exitFail || !strings.Contains(stderr, "hint:") || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and a hint naming %q", tt.what, code, stderr, tt.want)
		}
	}
}

// TestGetSignals: a download stopped by SIGINT, SIGTERM, SIGHUP or
// SIGQUIT half-way says "interrupted", exits 128 plus the signal's number
// (130 for Ctrl-C), and leaves nothing at OUT or beside it.
func TestGetSignals(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	acked := make(chan struct{}, 4)
	addr := peer(t, spec.Lockstep, func(c net.Conn, r *spec.Reader) {
		if _, err := r.ReadRequest(); err != nil {
			return
		}
		c.Write([]byte("10000000"))
		if r.ReadAck() != nil {
			return
		}
		c.Write(bytes.Repeat([]byte("x"), 1<<20))
		acked <- struct{}{}
		io.Copy(io.Discard, c) // until the client goes
	})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			var stderr bytes.Buffer
			cmd := &exec.Cmd{Path: exe, Args: []string{"stickykit", "get", "-q", "--addr", addr, "-o", filepath.Join(dir, "out"), "file.bin"}, Stderr: &stderr}
			cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			must(t, cmd.Start())
			select {
			case <-acked:
			case <-time.After(eventGuard):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("no ack after %v; stderr: %s", eventGuard, stderr.String())
			}
			must(t, cmd.Process.Signal(sig))
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 128+int(sig) {
				t.Errorf("get ended with %v, want exit status %d", err, 128+int(sig))
			}
			if !strings.Contains(stderr.String(), "stickykit: get file.bin: interrupted") {
				t.Errorf("stderr = %q, want it to say interrupted", stderr.String())
			}
			if es, _ := os.ReadDir(dir); len(es) != 0 {
				t.Errorf("after %v, the directory holds %d entries, want none", sig, len(es))
			}
		})
	}
}
