package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Commands makes the child processes of Lab.Compare and Lab.RSS: the
// programs a user runs, so that what is measured is what they would get.
type Commands struct {
	// Serve returns a command that serves root on a loopback port with at
	// least maxConns connections allowed, writes the address it bound to
	// addrFile once listening, logs one line per request to its standard
	// error (with "remembered=true" when the digest sent was remembered,
	// as the reference server's text log does), and stops gracefully on
	// SIGTERM.
	Serve func(root, addrFile string, maxConns int) *exec.Cmd
	// Get returns a command that downloads name from addr to out as
	// "stickykit get" does, and exits 0 only when the digest matched.
	Get func(addr, name, out string) *exec.Cmd
	// Fetch returns a command that downloads name from addr and streams
	// the data to its standard output as it arrives, and exits 0 only when
	// the digest matched. Nil skips the measurements that need it.
	Fetch func(addr, name string) *exec.Cmd
	// Naive returns a command that downloads name from addr to out with
	// the tutorial's client as the article fixed it ("stickykit naive-get
	// --variant article"), and exits 0 only when the digests matched. Nil
	// skips it.
	Naive func(addr, name, out string) *exec.Cmd
}

// server is a server process started by Commands.Serve.
type server struct {
	cmd     *exec.Cmd
	addr    string
	done    chan struct{} // closed when the process has exited
	err     error         // its exit error, once done is closed
	log     *logCounter
	stopped bool
}

// startServer starts a server process on the lab's root and waits until it
// listens.
func (l *Lab) startServer(ctx context.Context, cmds Commands, maxConns int) (*server, error) {
	addrFile := filepath.Join(l.dir, "server-addr")
	os.Remove(addrFile)
	s := &server{cmd: cmds.Serve(l.root, addrFile, maxConns), done: make(chan struct{}), log: &logCounter{}}
	s.cmd.Stdout, s.cmd.Stderr = io.Discard, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server: %w", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	addr, err := waitAddr(ctx, addrFile, s.done)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("%w; server stderr: %s", err, s.log.String())
	}
	s.addr = addr
	return s, nil
}

// stop sends SIGTERM and waits for the server to exit, killing it after
// 15s. It returns the error of an unclean exit; later calls return nil.
func (s *server) stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true
	s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	select {
	case <-s.done:
		if s.err != nil {
			return fmt.Errorf("server: %w: %s", s.err, s.log.String())
		}
		return nil
	case <-t.C:
		s.cmd.Process.Kill()
		<-s.done
		return errors.New("server did not stop on SIGTERM")
	}
}

// cpu returns the CPU time the server has used so far (0 where unknown).
func (s *server) cpu() time.Duration { return processCPU(s.cmd.Process.Pid) }

// logCounter keeps the first 4KiB written to it and counts the request
// log lines whose digest was remembered. It is safe for concurrent use.
type logCounter struct {
	limitedBuffer
	mu         sync.Mutex
	remembered int
}

func (w *logCounter) Write(p []byte) (int, error) {
	w.limitedBuffer.Write(p)
	w.mu.Lock()
	defer w.mu.Unlock()
	for line := range bytes.Lines(p) {
		if bytes.Contains(line, []byte("msg=request")) && bytes.Contains(line, []byte("remembered=true")) {
			w.remembered++
		}
	}
	return len(p), nil
}

// Remembered returns the number of requests served from a remembered
// digest so far.
func (w *logCounter) Remembered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.remembered
}

// run is one timed run of a child process.
type run struct {
	wall time.Duration
	cpu  time.Duration // user + system time of the child
	out  []byte        // the first 4KiB of its output
}

// runChild runs cmd to its end and times it. With stream set, the child's
// standard output is a pipe this process drains, and its length must be
// want bytes; otherwise the first 4KiB of its output are kept.
func runChild(ctx context.Context, cmd *exec.Cmd, stream bool, want int64) (run, error) {
	var out limitedBuffer
	cmd.Stderr = &out
	var pipe io.ReadCloser
	if stream {
		var err error
		if pipe, err = cmd.StdoutPipe(); err != nil {
			return run{}, err
		}
		GrowPipe(pipe)
	} else {
		cmd.Stdout = &out
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return run{}, err
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	var n int64
	var cerr error
	if stream {
		n, cerr = io.CopyBuffer(struct{ io.Writer }{io.Discard}, pipe, make([]byte, 1<<20))
	}
	err := cmd.Wait()
	r := run{wall: time.Since(start), out: []byte(out.String())}
	if cmd.ProcessState != nil {
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	switch {
	case err != nil:
		return r, fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(out.String()))
	case cerr != nil:
		return r, fmt.Errorf("%s: reading its output: %w", filepath.Base(cmd.Path), cerr)
	case stream && n != want:
		return r, fmt.Errorf("%s: streamed %d bytes, want %d", filepath.Base(cmd.Path), n, want)
	}
	return r, nil
}

// waitAddr waits for the server to write its address to file.
func waitAddr(ctx context.Context, file string, exited <-chan struct{}) (string, error) {
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
		case <-exited:
			return "", errors.New("server exited before listening")
		case <-deadline.C:
			return "", errors.New("server did not report its address within 30s")
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
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
