package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// RSSResult reports the peak resident memory of a server and a client
// process for one transfer, and the server's cost per idle connection.
type RSSResult struct {
	Size int64 // the file transferred
	// ServerPeak, ClientPeak (Get, to a file) and PipeClientPeak (Fetch,
	// to a pipe) are the peak resident set sizes in bytes: VmHWM read from
	// /proc while the process runs, or, without /proc, the rusage maximum,
	// which can include the parent's resident set (see sampleHWM); 0 if
	// unknown or not measured.
	ServerPeak, ClientPeak, PipeClientPeak int64
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
	s := fmt.Sprintf("%s transfer: server peak RSS %.1f MiB, client peak RSS %.1f MiB (to a file)",
		FormatSize(r.Size), float64(r.ServerPeak)/float64(MiB), float64(r.ClientPeak)/float64(MiB))
	if r.PipeClientPeak > 0 {
		s += fmt.Sprintf(", %.1f MiB (to a pipe)", float64(r.PipeClientPeak)/float64(MiB))
	}
	if r.IdleConns > 0 && r.IdleAfter > 0 {
		s += fmt.Sprintf("; %d idle connections: server RSS %.1f -> %.1f MiB, %.1f KiB each",
			r.IdleConns, float64(r.IdleBefore)/float64(MiB), float64(r.IdleAfter)/float64(MiB), float64(r.PerIdleConn())/float64(KiB))
	}
	return s
}

// RSS runs a server and clients as child processes made by cmds, has a
// client download the file of size bytes (with Get, then with Fetch if
// set), and reports the peak resident memory of each. Then it opens idle
// connections to the server and reports how its resident memory grew. The
// lab's own server is not used.
func (l *Lab) RSS(ctx context.Context, cmds Commands, size int64, idle int) (*RSSResult, error) {
	name, err := l.File(size)
	if err != nil {
		return nil, err
	}
	if err := raiseFileLimit(uint64(2*idle + 64)); err != nil {
		return nil, err
	}
	srv, err := l.startServer(ctx, cmds, idle+8)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	res := &RSSResult{Size: size, IdleConns: idle}
	out := l.outPath("rss-" + name)
	if res.ClientPeak, err = peakOf(cmds.Get(srv.addr, name, out), nil); err != nil {
		return nil, err
	}
	os.Remove(out)
	if cmds.Fetch != nil {
		if res.PipeClientPeak, err = peakOf(cmds.Fetch(srv.addr, name), io.Discard); err != nil {
			return nil, err
		}
	}
	pid := srv.cmd.Process.Pid
	res.ServerPeak = procStatus(pid, "VmHWM")
	if idle > 0 {
		res.IdleBefore = procStatus(pid, "VmRSS")
		conns, err := openIdle(ctx, srv.addr, l.opts.Framing, idle)
		res.IdleAfter = procStatus(pid, "VmRSS")
		for _, c := range conns {
			c.Close()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := srv.stop(); err != nil {
		return nil, err
	}
	if res.ServerPeak == 0 {
		res.ServerPeak = maxRSS(srv.cmd.ProcessState)
	}
	return res, nil
}

// peakOf runs the client cmd, its standard output to stdout (nil keeps
// the first 4KiB), and returns its peak resident set.
func peakOf(cmd *exec.Cmd, stdout io.Writer) (int64, error) {
	var msgs limitedBuffer
	cmd.Stdout, cmd.Stderr = stdout, &msgs
	if stdout == nil {
		cmd.Stdout = &msgs
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting client: %w", err)
	}
	peak := sampleHWM(cmd.Process.Pid)
	err := cmd.Wait()
	p := peak()
	if err != nil {
		return 0, fmt.Errorf("client: %w: %s", err, msgs.String())
	}
	if p == 0 {
		p = maxRSS(cmd.ProcessState)
	}
	return p, nil
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
			return ss, fmt.Errorf("idle connection: %w", err)
		}
		s := c.NewSession(nc)
		ss = append(ss, s)
		_, err = s.Fetch("no such file", io.Discard)
		var er *spec.ErrorReply
		if !errors.As(err, &er) || er.Code != spec.CodeNotFound {
			return ss, fmt.Errorf("idle connection: got %v, want ERR not-found", err)
		}
	}
	return ss, nil
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
