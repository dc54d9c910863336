package bench_test

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/stickykit/stickykit/internal/bench"
)

// openFiles counts this process's open descriptors, or returns -1 where
// /proc/self/fd does not exist.
func openFiles(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}

// TestScale: 1,000 clients fetch a small file from one server at once and
// all succeed; with every slot held, connections over the limit get
// "ERR busy"; afterwards no descriptor or goroutine is left (goleak in
// TestMain). Figures are logged, never asserted.
func TestScale(t *testing.T) {
	clients := 1000
	if testing.Short() {
		clients = 100
	}
	const probes = 10
	// Start the network poller so that its descriptor is not counted as
	// a leak.
	warm, err := bench.NewLab(bench.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := warm.Close(); err != nil {
		t.Fatal(err)
	}
	before := openFiles(t)

	l, err := bench.NewLab(bench.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Scale(context.Background(), clients, 4*bench.KiB, probes)
	if cerr := l.Close(); cerr != nil {
		t.Errorf("Lab.Close: %v", cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.OK != clients || res.Failed != 0 {
		t.Errorf("%d of %d fetches succeeded, %d failed; first errors: %v", res.OK, clients, res.Failed, res.Errors)
	}
	if res.Busy != probes {
		t.Errorf("%d of %d connections over the limit got ERR busy, want all", res.Busy, probes)
	}
	if after := openFiles(t); after != before {
		t.Errorf("open descriptors: %d after, %d before", after, before)
	}
	t.Logf("goroutines after: %d (goleak checks them at exit)", runtime.NumGoroutine())
}
