//go:build unix

package conformance_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// serverHelperMark follows "--" in the arguments of this test binary when
// it runs as a server under test (TestServerHelperProcess).
const serverHelperMark = "stickykit-server-helper"

// serverPIDVar names the file where the helper server writes its PID when
// it is asked for a missing file, before it falls silent.
const serverPIDVar = "STICKYKIT_TEST_SERVER_PID"

// serverHelperCommand is the argv that runs this test binary as a server
// of its working directory on ADDR.
func serverHelperCommand(addr string) []string {
	return []string{os.Args[0], "-test.run=^TestServerHelperProcess$", "--", serverHelperMark, addr}
}

// TestServerHelperProcess is not a test: it is a server under test, run
// as a child process: the reference server of its working directory on
// the address given, except that a request for a missing file makes it
// write its PID to the file named by serverPIDVar and fall silent on that
// connection, so that a test knows a case is in flight and can kill it.
func TestServerHelperProcess(t *testing.T) {
	args, ok := helperArgs(serverHelperMark)
	if !ok || len(args) != 2 {
		t.Skip("a server under test; runs only as a child process")
	}
	srv, err := ref.NewServer(".")
	if err != nil {
		os.Exit(3)
	}
	srv.Debug = pidOnMissing{os.Getenv(serverPIDVar)}
	ln, err := net.Listen("tcp", args[1])
	if err != nil {
		os.Exit(3)
	}
	srv.Serve(context.Background(), ln)
	os.Exit(0)
}

// pidOnMissing is the helper server's Debug writer: it sees every read
// and write, and blocks the connection that asked for a missing file.
type pidOnMissing struct{ pidFile string }

func (s pidOnMissing) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "missing.") && strings.Contains(string(p), " < ") {
		os.WriteFile(s.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
		select {} // silence, until the process is killed
	}
	return len(p), nil
}

// killWhenAsked kills, with SIGKILL, the process whose PID appears in
// pidFile, as soon as it does; it returns when it has, or when done is
// closed.
func killWhenAsked(pidFile string, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		default:
		}
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
				return
			}
		}
		time.Sleep(time.Millisecond) // waiting for a file another process writes
	}
}

// TestServerKilledIsNoFail kills the server under test from outside in
// the middle of a case, and checks that no requirement is blamed for it:
// with a fresh server per case (Command) the kit tells a kill from a crash
// by the signal, so the case in flight is ERROR, and the next case, with
// a fresh server, runs; with a running server, every case after it is
// ERROR ("the server is gone"), never a FAIL. (The case in flight names
// what it saw: a running server's exit status is not the kit's to see, so
// a kill looks to it like a crash.)
func TestServerKilledIsNoFail(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	pidFile := filepath.Join(t.TempDir(), "server.pid")
	t.Setenv(serverPIDVar, pidFile)
	o := runIDs(time.Hour, "server/missing-file", "server/sizes", "server/names")

	t.Run("fresh server per case", func(t *testing.T) {
		os.Remove(pidFile)
		done := make(chan struct{})
		defer close(done)
		go killWhenAsked(pidFile, done)
		target := conformance.ServerTarget{Framing: spec.Lockstep, Command: serverHelperCommand("{addr}")}
		checkPrograms(t, conformance.RunServer(t.Context(), target, o), []programTest{
			{"server/missing-file", conformance.Error, []string{"the server's process was killed by SIGKILL during the case, not by the kit"}},
			{"server/sizes", conformance.Pass, nil},
			{"server/names", conformance.Pass, nil},
		})
	})
	t.Run("running server", func(t *testing.T) {
		os.Remove(pidFile)
		root := filepath.Join(t.TempDir(), "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		cmd := exec.Command(serverHelperCommand(addr)[0], serverHelperCommand(addr)[1:]...)
		cmd.Dir = root
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		for up := false; !up; {
			c, err := net.Dial("tcp", addr) // the reference server survives a client that leaves
			if up = err == nil; up {
				c.Close()
			}
			time.Sleep(time.Millisecond) // until the child listens
		}
		done := make(chan struct{})
		defer close(done)
		go killWhenAsked(pidFile, done)
		target := conformance.ServerTarget{Addr: addr, Root: root, Framing: spec.Lockstep}
		results := conformance.RunServer(t.Context(), target, o)
		checkPrograms(t, results, []programTest{
			{"server/names", conformance.Error, []string{"the server is gone", addr, "server/missing-file"}},
			{"server/sizes", conformance.Error, []string{"the server is gone"}},
		})
		for _, r := range results {
			if r.Case.ID == "server/missing-file" {
				t.Logf("the case in flight: %s: %s", r.Outcome.Verdict, r.Outcome.Detail)
			}
		}
	})
}
