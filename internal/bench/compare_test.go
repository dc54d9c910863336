package bench_test

import (
	"context"
	"os/exec"
	"runtime"
	"slices"
	"testing"

	"github.com/stickykit/stickykit/internal/bench"
	"github.com/stickykit/stickykit/spec"
)

// TestCompare runs a small comparison with this test binary as the server
// and the clients: every program is measured in both cache states (naive
// and python aside), every transfer has a baseline run paired with it,
// and every warm transfer was sent from a remembered digest (the test
// waits, once, for the file to settle). Figures are not checked: they
// depend on the machine.
func TestCompare(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the reference server remembers digests on Linux only")
	}
	for _, tool := range []string{"md5sum", "dd"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
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
	const size, runs = 256 * bench.KiB, 2
	c, err := l.Compare(context.Background(), childCommands(t, spec.Lockstep), size, bench.CompareOptions{Runs: runs, Note: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Missing) != 0 || !c.Evicted {
		t.Errorf("missing %v, evicted %v; want nothing missing, the file evicted", c.Missing, c.Evicted)
	}
	var got []string
	for _, m := range c.Measurements {
		got = append(got, m.Impl+"/"+m.Cache)
		if len(m.Runs) != runs || m.Size != size || m.Rate() <= 0 {
			t.Errorf("%s %s: %d runs of %d bytes at %v B/s; want %d runs of %d bytes", m.Impl, m.Cache, len(m.Runs), m.Size, m.Rate(), runs, size)
		}
		transfer := m.Impl == bench.ImplPipe || m.Impl == bench.ImplDisk
		if transfer && m.Ratio() <= 0 {
			t.Errorf("%s %s: no ratio to a baseline", m.Impl, m.Cache)
		}
	}
	slices.Sort(got)
	want := []string{"dd/cold", "dd/warm", "disk/cold", "disk/warm", "md5sum/cold", "md5sum/warm", "pipe/cold", "pipe/warm"}
	if !slices.Equal(got, want) {
		t.Errorf("measured %v, want %v", got, want)
	}
	if c.Served != 2*runs || c.Remembered != c.Served {
		t.Errorf("%d of %d warm transfers sent from a remembered digest, want all of %d", c.Remembered, c.Served, 2*runs)
	}
}
