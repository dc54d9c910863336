package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/internal/testenv"
)

var updateScripts = flag.Bool("update-scripts", false, "rewrite the scripts' golden files with the actual output")

func TestMain(m *testing.M) {
	// The tests start this binary as stickykit hundreds of times, and
	// Python peers: without what wraps them on this machine
	// (internal/testenv).
	testenv.QuickExit()
	testscript.Main(leakChecked{m}, map[string]func(){
		"stickykit": func() { os.Exit(Main()) },
	})
}

// leakChecked runs the tests, then fails the run if any goroutine is left
// (go.uber.org/goleak). testscript.Main owns TestMain, so the check wraps
// the tests rather than using goleak.VerifyTestMain. The signal watcher
// that os/signal starts on first use lives for the whole process.
type leakChecked struct{ m *testing.M }

func (l leakChecked) Run() int {
	if code, ran := testenv.OwnNetwork(); ran {
		return code
	}
	undo := testenv.DirectPython()
	code := l.m.Run()
	undo()
	if code != 0 {
		return code
	}
	if err := goleak.Find(goleak.IgnoreAnyFunction("os/signal.loop")); err != nil {
		fmt.Fprintf(os.Stderr, "goleak: goroutines left after the tests: %v\n", err)
		return 1
	}
	return 0
}

// TestScripts runs the lessons in ../../scripts: each is a scenario that
// reads as a lesson and runs as a test.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../scripts",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       *updateScripts,
		Setup: func(e *testscript.Env) error {
			e.Setenv("REPO", repoRoot())
			e.Setenv("GORACE", os.Getenv("GORACE"))
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "python3":
				_, err := exec.LookPath("python3")
				return err == nil, nil
			case "root":
				return os.Geteuid() == 0, nil
			case "nobody":
				return canRunAsNobody(), nil
			case "strace":
				return conformance.ProbeReads(context.Background()) == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: scriptCmds,
	})
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// scriptCmds are the custom commands the lessons use.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// waitaddr FILE VAR: wait (up to 20s) until FILE holds an address that
	// accepts a TCP connection, then set $VAR to it. Servers started with
	// --addr 127.0.0.1:0 --addr-file FILE write the port they bound, so
	// parallel scripts never collide.
	"waitaddr": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: waitaddr FILE VAR")
		}
		file := ts.MkAbs(args[0])
		deadline := time.Now().Add(20 * time.Second)
		for {
			b, err := os.ReadFile(file)
			if err == nil {
				addr := strings.TrimSpace(string(b))
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
					ts.Setenv(args[1], addr)
					return
				}
			}
			if time.Now().After(deadline) {
				ts.Fatalf("waitaddr: no address in %s after 20s", args[0])
			}
			time.Sleep(20 * time.Millisecond)
		}
	},

	// waitlisten ADDR: wait (up to 20s) until a TCP socket on this host
	// listens on ADDR (an IPv4 host:port), without connecting to it: a
	// connection is a client that leaves, which a fragile server may not
	// survive. It reads /proc/net/tcp (Linux).
	"waitlisten": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: waitlisten ADDR")
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			up, err := listening(args[0])
			ts.Check(err)
			if up {
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("waitlisten: nothing listens on %s after 20s", args[0])
			}
			time.Sleep(20 * time.Millisecond) // polling the kernel's table for a socket another process opens
		}
	},

	// status CODE PROG ARGS...: run PROG like exec and fail unless its exit
	// status is exactly CODE. Its stdout and stderr are kept for the
	// stdout/stderr commands that follow.
	"status": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 {
			ts.Fatalf("usage: status CODE PROG ARGS...")
		}
		want, err := strconv.Atoi(args[0])
		if err != nil {
			ts.Fatalf("status: bad CODE %q", args[0])
		}
		err = ts.Exec(args[1], args[2:]...)
		got := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				ts.Fatalf("status: %v", err)
			}
			got = ee.ExitCode()
		}
		if got != want {
			ts.Logf("stdout:\n%s\nstderr:\n%s", ts.ReadFile("stdout"), ts.ReadFile("stderr"))
			ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
		}
	},

	// mkfile FILE SIZE [SEED]: write SIZE bytes of the seeded stream of SEED
	// (1 by default; package internal/seeded), the same bytes on every run.
	"mkfile": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 2 || len(args) > 3 {
			ts.Fatalf("usage: mkfile FILE SIZE [SEED]")
		}
		size, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || size < 0 {
			ts.Fatalf("mkfile: bad SIZE %q", args[1])
		}
		seed := uint64(1)
		if len(args) == 3 {
			if seed, err = strconv.ParseUint(args[2], 10, 64); err != nil {
				ts.Fatalf("mkfile: bad SEED %q", args[2])
			}
		}
		ts.Check(os.MkdirAll(filepath.Dir(ts.MkAbs(args[0])), 0o755))
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), seeded.Bytes(seed, size), 0o644))
	},

	// size FILE N: fail unless FILE is exactly N bytes long.
	"size": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 2 {
			ts.Fatalf("usage: size FILE N")
		}
		fi, err := os.Stat(ts.MkAbs(args[0]))
		ts.Check(err)
		want, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		if (fi.Size() == want) == neg {
			ts.Fatalf("%s is %d bytes; want %s%d", args[0], fi.Size(), map[bool]string{true: "not ", false: ""}[neg], want)
		}
	},

	// sticky OUT ORIG: fail unless OUT is ORIG followed by the first bytes
	// of ORIG's MD5 hex digest: the signature of the sticky-packet bug. It
	// prints how many digest bytes were swallowed.
	"sticky": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: sticky OUT ORIG")
		}
		out, orig := ts.ReadFile(args[0]), ts.ReadFile(args[1])
		sum := md5.Sum([]byte(orig))
		digest := hex.EncodeToString(sum[:])
		extra := len(out) - len(orig)
		if extra <= 0 || !strings.HasPrefix(out, orig) || !strings.HasPrefix(digest, out[len(orig):]) {
			ts.Fatalf("%s is not %s followed by digest bytes (%d vs %d bytes)", args[0], args[1], len(out), len(orig))
		}
		fmt.Fprintf(ts.Stdout(), "%s = %s + %d bytes of its digest %q\n", args[0], args[1], extra, out[len(orig):])
	},

	// mayfail PROG ARGS...: run PROG like exec and accept any exit status,
	// for a step whose outcome over real TCP depends on timing (a naive
	// client may or may not meet the sticky packet). It fails only when
	// PROG cannot be run. Its stdout and stderr are kept as exec keeps them.
	"mayfail": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 1 {
			ts.Fatalf("usage: mayfail PROG ARGS...")
		}
		if err := ts.Exec(args[0], args[1:]...); err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				ts.Fatalf("mayfail: %v", err)
			}
		}
	},

	// md5 FILE: print FILE's MD5 hex digest.
	"md5": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: md5 FILE")
		}
		sum := md5.Sum([]byte(ts.ReadFile(args[0])))
		fmt.Fprintln(ts.Stdout(), hex.EncodeToString(sum[:]))
	},
}

var _ = bytes.Equal

// canRunAsNobody reports whether a script can run a Python peer of the
// repository as user nobody (uid 65534): as root, with setpriv and a
// python3 outside root's home, and the peer readable by others.
var canRunAsNobody = sync.OnceValue(func() bool {
	if os.Geteuid() != 0 {
		return false
	}
	peer := filepath.Join(repoRoot(), "testdata", "python", "server_stat.py")
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", "open('"+peer+"').close()")
	return cmd.Run() == nil
})

// listening reports whether a TCP socket on this host listens on addr
// (an IPv4 host:port), without connecting to it: it reads /proc/net/tcp
// (Linux).
func listening(addr string) (bool, error) {
	want, err := procNetAddr(addr)
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 3 && f[1] == want && f[3] == "0A" {
			return true, nil
		}
	}
	return false, nil
}

// procNetAddr renders an IPv4 host:port as /proc/net/tcp does: the
// address as a 32-bit word in host byte order, then the port, in
// upper-case hex.
func procNetAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host).To4()
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return "", fmt.Errorf("want an IPv4 host:port, got %q", addr)
	}
	return fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(ip), p), nil
}
