package main

import (
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCommand runs a small "stickykit bench" and checks its table, its
// concurrency line and its SVG. Figures are not checked: they depend on the
// machine.
func TestBenchCommand(t *testing.T) {
	// The child processes are this test binary, as testscript installs it
	// under the name stickykit.
	self, err := exec.LookPath("stickykit")
	if err != nil {
		t.Fatalf("stickykit is not on $PATH: %v", err)
	}
	defer func(old func() string) { benchSelf = old }(benchSelf)
	benchSelf = func() string { return self }
	svg := filepath.Join(t.TempDir(), "perf.svg")
	code, stdout, stderr := runCmd("bench", "--sizes", "1KiB,64KiB", "--runs", "1", "--concurrency", "20", "--rss=false", "--svg", svg)
	if code != exitOK {
		t.Fatalf("bench exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitOK, stdout, stderr)
	}
	for _, want := range []string{"md5sum", "pipe/md5sum", "disk/dd", "naive", "\n   1KiB   cold ", "\n  64KiB   warm ",
		"warm transfers sent from a remembered digest: 1KiB 3 of 3, 64KiB 3 of 3", "concurrency: 20 clients x 4KiB: 20 ok, 0 failed", "10 of 10 refused with ERR busy"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	// "naive" is one client everywhere: the flag's help, the table's
	// column and the picture's legend name the same program.
	const naive = "stickykit naive-get --variant article"
	if _, help, _ := runCmd("bench", "--help"); !strings.Contains(help, "-naive\n    \talso measure the naive client, \""+naive+"\"") {
		t.Errorf("bench --help does not say -naive measures %q:\n%s", naive, help)
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.Contains(string(b), "naive: "+naive) {
		t.Errorf("%s does not name the naive client %q in its legend (%v)", svg, naive, err)
	}
	f, err := os.Open(svg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", svg, err)
		}
	}
}

var benchUsageTests = [][]string{
	{"bench", "--sizes", "1XB"},
	{"bench", "--sizes", ","},
	{"bench", "--concurrency", "-1"},
	{"bench", "--framing", "line", "--python", "x.py"},
	{"bench", "extra"},
	{"bench", "--svg", "/no-such-directory-of-stickykit/perf.svg"},
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range benchUsageTests {
		if code, _, stderr := runCmd(args...); code != exitUsage || !strings.Contains(stderr, "stickykit: bench: ") || strings.Contains(stderr, "bench: bench:") {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and a bench usage error", args, code, stderr, exitUsage)
		}
	}
}
