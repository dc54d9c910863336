package ref_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// hugeServer plays a hostile server on loopback: to every request it
// announces size, and if it is acknowledged it sends zeros, at most limit
// of them (so that a client that does not refuse still cannot fill the
// disk), then waits for the client to close. acked receives, per
// connection, whether an ack came.
func hugeServer(t *testing.T, size string, limit int64) (addr string, acked <-chan bool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan bool, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(30 * time.Second))
			r := spec.NewReader(c, spec.Lockstep)
			if _, err := r.ReadRequest(); err == nil {
				c.Write([]byte(size))
				ok := r.ReadAck() == nil
				ch <- ok
				if ok {
					io.Copy(c, io.LimitReader(zeros{}, limit))
					io.Copy(io.Discard, c)
				}
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String(), ch
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestGetRefusesSizeBeyondFreeSpace: a server announces 10^18 bytes. The
// client refuses at once, before its ack, so the server never sends data;
// it says how much space there is, and leaves nothing behind.
func TestGetRefusesSizeBeyondFreeSpace(t *testing.T) {
	addr, acked := hugeServer(t, "1000000000000000000", 64<<20)
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("named temporary %v", named), func(t *testing.T) {
			defer func(v bool) { *ref.UseUnnamed = v }(*ref.UseUnnamed)
			*ref.UseUnnamed = !named
			dir := t.TempDir()
			cl := &ref.Client{Timeout: 10 * time.Second}
			_, err := cl.Get(context.Background(), addr, "file.bin", filepath.Join(dir, "out"))
			var se *ref.SpaceError
			if !errors.As(err, &se) || se.Size != 1e18 || se.Free < 0 {
				t.Errorf("Get = %v, want a *ref.SpaceError for 10^18 bytes with the free space", err)
			}
			if <-acked {
				t.Errorf("the client acknowledged a size of 10^18 bytes: it must refuse before the ack")
			}
			checkOnly(t, dir)
		})
	}
}

// TestGetKilledLeavesNothing: a download killed with SIGKILL half-way
// leaves nothing in the destination's directory, neither the file nor a
// temporary one (on Linux the temporary file has no name until verified),
// and an existing file there is untouched.
func TestGetKilledLeavesNothing(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing %v", existing), func(t *testing.T) {
			addr, acked := hugeServer(t, "10000000", 1<<20) // 1 MiB of 10 MB, then silence
			dir := t.TempDir()
			dst := filepath.Join(dir, "out")
			if existing {
				must(t, os.WriteFile(dst, []byte("old"), 0o600))
			}
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), getHelperEnv+"=1", "ADDR="+addr, "DST="+dst)
			out, err := cmd.StdoutPipe()
			must(t, err)
			cmd.Stderr = os.Stderr
			must(t, cmd.Start())
			line, _ := bufio.NewReader(out).ReadString('\n')
			if line != "receiving\n" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper said %q, want %q", line, "receiving\n")
			}
			must(t, cmd.Process.Signal(syscall.SIGKILL))
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("helper ended with %v, want killed by SIGKILL", err)
			}
			<-acked
			if existing {
				checkRegular(t, dst, []byte("old"), 0o600)
				checkOnly(t, dir, "out")
			} else {
				checkOnly(t, dir)
			}
		})
	}
}

// TestGetNamedTemporary: where there is no unnamed temporary file, the
// named one is removed on failure and on cancellation (what the command
// does on SIGINT, SIGTERM, SIGHUP and SIGQUIT), and its name stays within
// 255 bytes for the longest destination names.
func TestGetNamedTemporary(t *testing.T) {
	defer func(v bool) { *ref.UseUnnamed = v }(*ref.UseUnnamed)
	*ref.UseUnnamed = false
	fx := newDestFixture(t)
	cl := &ref.Client{Timeout: 10 * time.Second}

	for _, name := range []string{"out", strings.Repeat("x", 255), strings.Repeat("é", 127) + "x"} {
		dir := t.TempDir()
		dst := filepath.Join(dir, name)
		for range 2 {
			if _, err := cl.Get(context.Background(), fx.addr, "file.bin", dst); err != nil {
				t.Fatalf("Get to a %d-byte name: %v", len(name), err)
			}
			checkRegular(t, dst, fx.data, 0)
			checkOnly(t, dir, name)
		}
	}

	t.Run("failure", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := cl.Get(context.Background(), fx.addr, "missing", filepath.Join(dir, "out")); err == nil {
			t.Fatal("Get(missing) succeeded")
		}
		checkOnly(t, dir)
	})

	t.Run("cancelled", func(t *testing.T) {
		addr, acked := hugeServer(t, "10000000", 1<<20)
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := &ref.Client{Timeout: time.Minute, Progress: func(done, total int64) {
			if done > 0 {
				if n := len(dirEntries(t, dir)); n != 1 {
					t.Errorf("while receiving, the directory holds %d entries, want the temporary file", n)
				}
				cancel()
			}
		}}
		_, err := c.Get(ctx, addr, "file.bin", filepath.Join(dir, "out"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Get = %v, want context.Canceled", err)
		}
		<-acked
		checkOnly(t, dir)
	})
}

// mknodNull makes a character device like /dev/null (1, 3) at path, or
// skips the test when the process may not.
func mknodNull(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mknod(path, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("cannot make a character device (%v): run as root", err)
	}
}
