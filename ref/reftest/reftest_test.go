package reftest_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fetch gets name from addr with the reference client and returns what it
// wrote.
func fetch(t *testing.T, addr, name string, f spec.Framing) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	c := &ref.Client{Framing: f, Timeout: 5 * time.Second}
	if _, err := c.Get(context.Background(), addr, name, out); err != nil {
		t.Fatalf("Get(%s, %q) = %v", addr, name, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewServer(t *testing.T) {
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			srv := reftest.NewServer(t, "", reftest.Options{Framing: f})
			if filepath.Base(srv.Root) != "root" {
				t.Errorf("Root = %s, want a fresh directory named root", srv.Root)
			}
			want := []byte("hello, reftest\n")
			if err := os.WriteFile(filepath.Join(srv.Root, "a.txt"), want, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := fetch(t, srv.Addr, "a.txt", f); !bytes.Equal(got, want) {
				t.Errorf("fetched %q, want %q", got, want)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close = %v, want nil", err)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("second Close = %v, want nil", err)
			}
			c := &ref.Client{Framing: f, Timeout: time.Second}
			if _, err := c.Get(context.Background(), srv.Addr, "a.txt", filepath.Join(t.TempDir(), "x")); err == nil {
				t.Errorf("Get after Close succeeded, want an error")
			}
		})
	}
}

func TestNewServerRootAndConfigure(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "b.bin"), []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	configured := false
	srv := reftest.NewServer(t, root, reftest.Options{Configure: func(s *ref.Server) { configured = true; s.MaxConns = 3 }})
	if srv.Root != root || !configured || srv.Ref.MaxConns != 3 {
		t.Errorf("Root %s, configured %v, MaxConns %d; want %s, true, 3", srv.Root, configured, srv.Ref.MaxConns, root)
	}
	if got := fetch(t, srv.Addr, "b.bin", spec.Lockstep); string(got) != "b" {
		t.Errorf("fetched %q, want %q", got, "b")
	}
}

func TestStart(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "c"), []byte("see"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr, stop, err := reftest.Start(context.Background(), root, reftest.Options{Framing: spec.Line})
	if err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, addr, "c", spec.Line); string(got) != "see" {
		t.Errorf("fetched %q, want %q", got, "see")
	}
	if err := stop(); err != nil {
		t.Errorf("stop = %v, want nil", err)
	}
	if _, _, err := reftest.Start(context.Background(), filepath.Join(root, "missing"), reftest.Options{}); err == nil {
		t.Errorf("Start with a missing root succeeded, want an error")
	}
}
