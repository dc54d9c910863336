package readtrace

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	tr := &Tracer{Path: "/usr/bin/strace", Seccomp: true}
	got := tr.Command("/tmp/x/trace", []string{"python3", "client.py", "--", "-o"})
	want := []string{"/usr/bin/strace", "-f", "--seccomp-bpf", "-qqq", "-e", "signal=none",
		"-e", "trace=read,readv,recvfrom,recvmsg,recvmmsg,splice,preadv2,?recv",
		"-e", "abbrev=none", "-yy", "-s", "0", "-o", "/tmp/x/trace", "--", "python3", "client.py", "--", "-o"}
	if !slices.Equal(got, want) {
		t.Errorf("Command:\ngot  %q\nwant %q", got, want)
	}
	tr.Seccomp = false
	if got := tr.Command("/t", []string{"x"}); slices.Contains(got, "--seccomp-bpf") {
		t.Errorf("Command without Seccomp: %q", got)
	}
	// A relative path is made absolute: strace takes "|cmd" for a pipe.
	got = tr.Command("|rm -rf x", []string{"x"})
	i := slices.Index(got, "-o")
	if f := got[i+1]; !strings.HasPrefix(f, "/") {
		t.Errorf("Command with file %q: -o %q, want an absolute path", "|rm -rf x", f)
	}
}

// fakeStrace writes a shell script named strace into a new directory and
// returns its path.
func fakeStrace(t *testing.T, script string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	path := filepath.Join(t.TempDir(), "strace")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProbeUnavailable(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, script, want string
	}{
		{"missing", "", "strace is not installed (on Debian: apt-get install strace)"},
		{"ptrace denied", `echo "strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Operation not permitted" >&2; exit 1`,
			"strace may not trace programs (ptrace failed with EPERM): "},
		{"other failure", `echo "strace: something else went wrong" >&2; exit 1`,
			`strace failed: "strace: something else went wrong"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "no-such-strace")
			if tt.script != "" {
				name = fakeStrace(t, tt.script)
			}
			tr, err := probe(ctx, name)
			var ue *UnavailableError
			if tr != nil || !errors.As(err, &ue) {
				t.Fatalf("probe = %v, %v; want an *UnavailableError", tr, err)
			}
			if !strings.HasPrefix(ue.Reason, tt.want) {
				t.Errorf("reason %q, want it to begin %q", ue.Reason, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "tracing the program's reads is not possible here: ") || strings.Contains(ue.Reason, "\n") {
				t.Errorf("error %q: want one sentence", err)
			}
		})
	}
}

// An strace that does not know --seccomp-bpf is used without it.
func TestProbeWithoutSeccomp(t *testing.T) {
	real, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	path := fakeStrace(t, `case "$*" in *seccomp*) echo "strace: unrecognized option '--seccomp-bpf'" >&2; exit 1;; esac
exec `+real+` "$@"
`)
	tr, err := probe(context.Background(), path)
	if err != nil {
		t.Skip(err) // tracing does not work here at all
	}
	if tr.Seccomp {
		t.Errorf("probe of an strace without --seccomp-bpf: Seccomp = true")
	}
}

func TestProbe(t *testing.T) {
	tr, err := Probe(context.Background())
	if err != nil {
		t.Skip(err)
	}
	if !filepath.IsAbs(tr.Path) {
		t.Errorf("Probe: Path %q, want an absolute path", tr.Path)
	}
}
