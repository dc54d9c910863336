package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// Commands makes the child processes of Lab.RSS.
type Commands struct {
	// Serve returns a command that serves root on a loopback port with at
	// least maxConns connections allowed, writes the address it bound to
	// addrFile once listening, and stops gracefully on SIGTERM.
	Serve func(root, addrFile string, maxConns int) *exec.Cmd
	// Get returns a command that downloads name from addr to out and exits
	// 0 only when the digest matched.
	Get func(addr, name, out string) *exec.Cmd
}

// RSSResult reports the peak resident memory of a server and a client
// process for one transfer, and the server's cost per idle connection.
type RSSResult struct {
	Size int64 // the file transferred
	// ServerPeak and ClientPeak are the peak resident set sizes in bytes:
	// VmHWM read from /proc while the process runs, or, without /proc, the
	// rusage maximum, which can include the parent's resident set (see
	// sampleHWM); 0 if unknown.
	ServerPeak, ClientPeak int64
	// IdleConns connections were opened and made idle (each after one
	// request); the server's resident set grew from IdleBefore to
	// IdleAfter bytes (0 when /proc is missing).
	IdleConns             int
	IdleBefore, IdleAfter int64
}

// PerIdleConn returns the growth of the server's resident set per idle
// connection, in bytes.
func (r *RSSResult) PerIdleConn() int64 {
	if r.IdleConns == 0 || r.IdleAfter == 0 {
		return 0
	}
	return (r.IdleAfter - r.IdleBefore) / int64(r.IdleConns)
}

// String summarises the result on one line.
func (r *RSSResult) String() string {
	s := fmt.Sprintf("%s transfer: server peak RSS %.1f MiB, client peak RSS %.1f MiB",
		FormatSize(r.Size), float64(r.ServerPeak)/float64(MiB), float64(r.ClientPeak)/float64(MiB))
	if r.IdleConns > 0 && r.IdleAfter > 0 {
		s += fmt.Sprintf("; %d idle connections: server RSS %.1f -> %.1f MiB, %.1f KiB each",
			r.IdleConns, float64(r.IdleBefore)/float64(MiB), float64(r.IdleAfter)/float64(MiB), float64(r.PerIdleConn())/float64(KiB))
	}
	return s
}

// RSS runs a server and a client as child processes made by cmds, has the
// client download the file of size bytes, and reports the peak resident
// memory of each. Then it opens idle connections to the server and
// reports how its resident memory grew. The lab's own server is not used.
func (l *Lab) RSS(ctx context.Context, cmds Commands, size int64, idle int) (*RSSResult, error) {
	name, err := l.File(size)
	if err != nil {
		return nil, err
	}
	if err := RaiseFileLimit(uint64(2*idle + 64)); err != nil {
		return nil, err
	}
	addrFile := filepath.Join(l.dir, "rss-addr")
	os.Remove(addrFile)
	srv := cmds.Serve(l.root, addrFile, idle+8)
	srvErr := new(limitedBuffer)
	srv.Stdout, srv.Stderr = io.Discard, srvErr
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting server: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		srv.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(15 * time.Second)
		defer t.Stop()
		select {
		case err := <-exited:
			return err
		case <-t.C:
			srv.Process.Kill()
			<-exited
			return errors.New("bench: server did not stop on SIGTERM")
		}
	}
	defer stop()

	addr, err := waitAddr(ctx, addrFile, exited)
	if err != nil {
		return nil, fmt.Errorf("%w; server stderr: %s", err, srvErr.String())
	}
	res := &RSSResult{Size: size, IdleConns: idle}

	out := filepath.Join(l.out, "rss-"+name)
	get := cmds.Get(addr, name, out)
	getOut := new(limitedBuffer)
	get.Stdout, get.Stderr = getOut, getOut
	if err := get.Start(); err != nil {
		return nil, fmt.Errorf("bench: starting client: %w", err)
	}
	peak := sampleHWM(get.Process.Pid)
	err = get.Wait()
	res.ClientPeak = peak()
	os.Remove(out)
	if err != nil {
		return nil, fmt.Errorf("bench: client: %w: %s", err, getOut.String())
	}
	if res.ClientPeak == 0 {
		res.ClientPeak = maxRSS(get.ProcessState)
	}
	pid := srv.Process.Pid
	res.ServerPeak = procStatus(pid, "VmHWM")

	if idle > 0 {
		res.IdleBefore = procStatus(pid, "VmRSS")
		conns, err := openIdle(ctx, addr, l.opts.Framing, idle)
		res.IdleAfter = procStatus(pid, "VmRSS")
		for _, c := range conns {
			c.Close()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := stop(); err != nil {
		return nil, fmt.Errorf("bench: server: %w: %s", err, srvErr.String())
	}
	if res.ServerPeak == 0 {
		res.ServerPeak = maxRSS(srv.ProcessState)
	}
	return res, nil
}

// openIdle opens n connections to addr and makes one request on each for a
// name that does not exist, so that each is being served and idle.
func openIdle(ctx context.Context, addr string, f spec.Framing, n int) ([]*ref.Session, error) {
	var ss []*ref.Session
	c := &ref.Client{Framing: f, Timeout: 30 * time.Second}
	d := &net.Dialer{Timeout: 30 * time.Second}
	for range n {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return ss, fmt.Errorf("bench: idle connection: %w", err)
		}
		s := c.NewSession(nc)
		ss = append(ss, s)
		_, err = s.Fetch("no such file", io.Discard)
		var er *spec.ErrorReply
		if !errors.As(err, &er) || er.Code != spec.CodeNotFound {
			return ss, fmt.Errorf("bench: idle connection: got %v, want ERR not-found", err)
		}
	}
	return ss, nil
}

// waitAddr waits for the server to write its address to file.
func waitAddr(ctx context.Context, file string, exited <-chan error) (string, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		if b, err := os.ReadFile(file); err == nil {
			if a := strings.TrimSpace(string(b)); strings.HasSuffix(string(b), "\n") && a != "" {
				return a, nil
			}
		}
		select {
		case <-tick.C:
		case err := <-exited:
			return "", fmt.Errorf("bench: server exited before listening: %v", err)
		case <-deadline.C:
			return "", errors.New("bench: server did not report its address within 30s")
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// sampleHWM reads the VmHWM of process pid every 2ms until the returned
// function is called, which returns the last value read (0 if none).
//
// The child's rusage maximum cannot serve: Go starts children with
// CLONE_VM|CLONE_VFORK, so until exec the child shares the parent's memory,
// and the kernel carries that into the child's ru_maxrss: a child of a
// parent with 80MiB resident would report at least 80MiB. VmHWM belongs to
// the memory the child got at exec, and is exact while the child lives; only
// growth in its last 2ms could be missed.
func sampleHWM(pid int) (stop func() int64) {
	done := make(chan struct{})
	result := make(chan int64, 1)
	go func() {
		var last int64
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if v := procStatus(pid, "VmHWM"); v > 0 {
				last = v
			}
			select {
			case <-done:
				result <- last
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-result
	}
}

// procStatus returns a "kB" field of /proc/PID/status in bytes, or 0.
func procStatus(pid int, field string) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return n * KiB
	}
	return 0
}

// limitedBuffer keeps the first 4KiB written to it; it is safe for
// concurrent use.
type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := 4096 - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (w *limitedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
