package ref_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// The tutorial-style peers in testdata/python speak the lockstep framing
// as the tutorial's programs do.
var pythonDir = filepath.Join("..", "testdata", "python")

func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	return py
}

// TestServesTutorialClient: the reference server serves the tutorial's
// fixed client (exact-remaining reads), which receives each file byte for
// byte and agrees on the digest.
func TestServesTutorialClient(t *testing.T) {
	py := needPython(t)
	root := t.TempDir()
	files := map[string][]byte{
		"résumé final.txt": content(t, 1025),
		"big.bin":          content(t, 3<<20),
		"empty":            {},
	}
	writeFiles(t, root, files)
	_, port, err := net.SplitHostPort(serveTCP(t, newServer(t, root, spec.Lockstep)))
	must(t, err)
	for name, want := range files {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, filepath.Join(pythonDir, "tutorial_client.py"), "127.0.0.1", port, name, out, "--variant", "article")
			stdout, err := cmd.Output()
			if err != nil {
				t.Fatalf("tutorial_client.py: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderrOf(err))
			}
			got, err := os.ReadFile(out)
			must(t, err)
			if !bytes.Equal(got, want) {
				t.Errorf("got %d bytes (md5 %s), want %d (md5 %s)", len(got), md5hex(got), len(want), md5hex(want))
			}
			wantOut := "local MD5 " + md5hex(want) + "\nserver MD5 " + md5hex(want) + "\n"
			if string(stdout) != wantOut {
				t.Errorf("stdout %q, want %q", stdout, wantOut)
			}
		})
	}
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

// startTutorialServer runs tutorial_server.py on a free port until the test
// ends and returns its address.
func startTutorialServer(t *testing.T, py, root string) string {
	t.Helper()
	cmd := exec.Command(py, filepath.Join(pythonDir, "tutorial_server.py"), "0", root)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("tutorial_server.py stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("tutorial_server.py said %q, %v; want \"listening PORT\"", line, err)
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// TestDownloadsFromTutorialServer: the reference client downloads from the
// tutorial's server, several files over one connection.
func TestDownloadsFromTutorialServer(t *testing.T) {
	py := needPython(t)
	root := t.TempDir()
	files := map[string][]byte{
		"a.bin":     content(t, 1023),
		"big.bin":   content(t, 3<<20),
		"empty":     {},
		"视频.mp4":    content(t, 4096),
		"exact.bin": content(t, 1024),
	}
	writeFiles(t, root, files)
	addr := startTutorialServer(t, py, root)

	client := &ref.Client{Timeout: 10 * time.Second}
	nc, err := net.Dial("tcp", addr)
	must(t, err)
	sess := client.NewSession(nc)
	defer sess.Close()
	dst := t.TempDir()
	for _, name := range []string{"a.bin", "big.bin", "empty", "视频.mp4", "exact.bin"} {
		want := files[name]
		out := filepath.Join(dst, name)
		res, err := sess.Get(name, out)
		if err != nil {
			t.Fatalf("Get(%q): %v", name, err)
		}
		got, err := os.ReadFile(out)
		must(t, err)
		if !bytes.Equal(got, want) || res.Digest != md5hex(want) {
			t.Errorf("Get(%q): %d bytes digest %s, want %d bytes digest %s", name, len(got), res.Digest, len(want), md5hex(want))
		}
	}
}
