package bench_test

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"

	"github.com/stickykit/stickykit/internal/bench"
	"github.com/stickykit/stickykit/spec"
)

// childCommands runs this test binary as the server and client processes.
func childCommands(t *testing.T, f spec.Framing) bench.Commands {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := func(role string, args ...string) *exec.Cmd {
		c := exec.Command(self, args...)
		c.Env = append(os.Environ(), childEnv+"="+role)
		return c
	}
	return bench.Commands{
		Serve: func(root, addrFile string, maxConns int) *exec.Cmd {
			return cmd("serve", "-root", root, "-addr-file", addrFile, "-max-conns", strconv.Itoa(maxConns), "-framing", f.String())
		},
		Get: func(addr, name, out string) *exec.Cmd {
			return cmd("get", "-addr", addr, "-o", out, "-framing", f.String(), name)
		},
		Fetch: func(addr, name string) *exec.Cmd {
			return cmd("fetch", "-addr", addr, "-framing", f.String(), name)
		},
	}
}

// TestRSS runs a server and a client as processes and checks that their
// peak memory for one transfer stays under 32MiB (256MiB under the race
// detector). By default it moves 16MiB; with STICKYKIT_BENCH_1G=1, 1GiB.
func TestRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	size, idle := 16*bench.MiB, 100
	if os.Getenv("STICKYKIT_BENCH_1G") == "1" {
		size, idle = bench.GiB, 1000
	}
	l, err := bench.NewLab(bench.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Errorf("Lab.Close: %v", err)
		}
	}()
	res, err := l.RSS(context.Background(), childCommands(t, spec.Lockstep), size, idle)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	limit := 32 * bench.MiB
	if raceEnabled {
		limit = 256 * bench.MiB
	}
	if res.ServerPeak <= 0 || res.ServerPeak >= limit {
		t.Errorf("server peak RSS %d bytes, want between 0 and %d", res.ServerPeak, limit)
	}
	if res.ClientPeak <= 0 || res.ClientPeak >= limit {
		t.Errorf("client peak RSS %d bytes, want between 0 and %d", res.ClientPeak, limit)
	}
	if res.PipeClientPeak <= 0 || res.PipeClientPeak >= limit {
		t.Errorf("pipe client peak RSS %d bytes, want between 0 and %d", res.PipeClientPeak, limit)
	}
	if res.IdleAfter <= 0 {
		t.Errorf("server RSS with %d idle connections unknown", idle)
	}
}
