package ref_test

// Crowd tests: a reference server with its default limits, in a process of
// its own (so that its memory and descriptors can be read from /proc),
// against a crowd of connections that send nothing and reconnect as soon
// as they are dropped, while a real client downloads.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// serveHelperEnv, when set to a directory in the environment of this test
// binary, makes it a reference server of that directory (runServeHelper).
const serveHelperEnv = "STICKYKIT_REF_SERVE_HELPER"

// runServeHelper serves $STICKYKIT_REF_SERVE_HELPER on a loopback port with
// the default limits, prints the address, and serves until its stdin is
// closed. NOFILE=N first lowers its descriptor limit to N,
// MAXCONNSPERADDR=N sets Server.MaxConnsPerAddr, and LOG=1 logs to stderr.
func runServeHelper() int {
	srv, err := ref.NewServer(os.Getenv(serveHelperEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if n, err := strconv.Atoi(os.Getenv("MAXCONNSPERADDR")); err == nil {
		srv.MaxConnsPerAddr = n
	}
	if os.Getenv("LOG") != "" {
		srv.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if n, err := strconv.ParseUint(os.Getenv("NOFILE"), 10, 64); err == nil {
		var rl syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		rl.Cur = n
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	fmt.Println(ln.Addr())
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// serverProc is a reference server in a process of its own.
type serverProc struct {
	addr string
	pid  int
}

// startServerProc starts runServeHelper on root with extra environment
// variables; it stops when the test ends.
func startServerProc(t *testing.T, root string, env ...string) *serverProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), serveHelperEnv+"="+root, "GORACE=atexit_sleep_ms=0"), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("server process: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server process: %v", err)
	}
	return &serverProc{addr: strings.TrimSpace(line), pid: cmd.Process.Pid}
}

// usage returns the server process's peak resident memory (VmHWM) and the
// descriptors it holds now.
func (p *serverProc) usage(t *testing.T) (peakKiB int64, fds int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	must(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			peakKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid))
	must(t, err)
	return peakKiB, len(es)
}

// crowd is n connections from the given local addresses that send nothing
// and reconnect as soon as the server drops them.
type crowd struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	dials atomic.Int64 // connections made
	drops atomic.Int64 // connections the server ended
	busy  atomic.Int64 // of those, answered "ERR busy"
	fails atomic.Int64 // dials that failed

	target  int64         // drops after which reached is closed
	reached chan struct{} // closed once the server has dropped target

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// startCrowd starts n members; reached is closed once the server has
// dropped target of their connections.
func startCrowd(addr string, ips []string, n int, target int64) *crowd {
	c := &crowd{stop: make(chan struct{}), conns: make(map[net.Conn]struct{}), target: target, reached: make(chan struct{})}
	for i := range n {
		d := &net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ips[i%len(ips)])}}
		c.wg.Go(func() { c.member(d, addr) })
	}
	return c
}

// member connects, waits until the server ends the connection, and does
// it again, until the crowd stops.
func (c *crowd) member(d *net.Dialer, addr string) {
	buf := make([]byte, 256)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			c.fails.Add(1)
			continue
		}
		c.dials.Add(1)
		c.mu.Lock()
		c.conns[nc] = struct{}{}
		stopping := c.isStopping()
		c.mu.Unlock()
		if stopping {
			nc.Close()
			return
		}
		nc.SetReadDeadline(time.Now().Add(time.Minute))
		n, err := io.ReadFull(nc, buf[:8])
		switch {
		case err == nil && bytes.Equal(buf[:8], []byte("ERR busy")):
			c.busy.Add(1)
			io.Copy(io.Discard, nc) // until the close
			c.dropped()
		case err != nil && !isTimeout(err) && !c.isStopping():
			if bytes.HasPrefix(buf[:n], []byte("ERR busy")) {
				c.busy.Add(1)
			}
			c.dropped()
		}
		c.mu.Lock()
		delete(c.conns, nc)
		c.mu.Unlock()
		nc.Close()
	}
}

func (c *crowd) isStopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// dropped counts a connection the server ended.
func (c *crowd) dropped() {
	if c.drops.Add(1) == c.target {
		close(c.reached)
	}
}

// waitReached waits until the server has dropped the target number of the
// crowd's connections, within a minute.
func (c *crowd) waitReached(t *testing.T) {
	t.Helper()
	select {
	case <-c.reached:
	case <-time.After(time.Minute):
		t.Fatalf("after a minute the server dropped %d of the crowd's connections, want %d (%d made, %d dials failed)", c.drops.Load(), c.target, c.dials.Load(), c.fails.Load())
	}
}

func (c *crowd) close() {
	if c.isStopping() {
		return
	}
	close(c.stop)
	c.mu.Lock()
	for nc := range c.conns {
		nc.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// TestLoadCrowd: a reference server with its default limits keeps serving
// a real client from 127.0.0.1 while a crowd of 1,000 connections that
// send nothing, reconnecting the moment they are dropped, comes from one
// other address, from the client's own address, or from 100 addresses. A
// server that refuses newcomers at its limit, as this one used to, answers
// the client ERR busy for as long as the crowd lasts.
//
// With the crowd on one other address, the per-address limit keeps it to
// 32 connections, and the client never has to make room or be pushed out:
// every download must succeed. With the crowd on the client's own address
// (or spread so wide that the budget for connections without a request
// runs out), the client competes with it: it is pushed out if its request
// has not even reached the server's socket by the time that many newer
// connections have arrived, which on a loaded two-core machine happens now
// and then; there the test asserts that the client is not locked out (most
// of its downloads succeed) and logs how many did. The figures (time per
// download, the server's peak memory and descriptors) are logged, never
// asserted.
func TestLoadCrowd(t *testing.T) {
	members, gets := 1000, 10
	if longRun() {
		members, gets = 2000, 50
	}
	raiseNoFile(t, uint64(4*members+256))
	root := t.TempDir()
	data := content(t, 64<<10)
	writeFiles(t, root, map[string][]byte{"file.bin": data})
	var many []string
	for i := 1; i <= 100; i++ {
		many = append(many, fmt.Sprintf("127.0.1.%d", i))
	}
	for _, tc := range []struct {
		name   string
		ips    []string
		strict bool // every download must succeed
	}{
		{"one other address", []string{"127.0.0.2"}, true},
		{"the client's own address", []string{"127.0.0.1"}, false},
		{"100 addresses", many, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServerProc(t, root)
			dst := filepath.Join(t.TempDir(), "out")
			alone, _ := clientProc(t, srv, dst, 3, data, true) // the baseline: no crowd
			slices.Sort(alone)
			idleKiB, idleFDs := srv.usage(t)
			crowdBegan := time.Now()
			cr := startCrowd(srv.addr, tc.ips, members, int64(members))
			defer cr.close()
			cr.waitReached(t)

			// The client is a process of its own, as a real one is: the
			// crowd's thousand goroutines do not delay its request.
			lat, maxFDs := clientProc(t, srv, dst, gets, data, tc.strict)
			peakKiB, _ := srv.usage(t)
			cr.close()
			lasted := time.Since(crowdBegan)
			slices.Sort(lat)
			t.Logf("crowd of %d from %d address(es): %d of %d downloads of 64KiB, p50 %v, max %v (alone: p50 %v); crowd made %d connections (%.0f/s), the server dropped %d (%d with ERR busy); server peak RSS %d KiB (%d KiB idle), up to %d descriptors (%d idle)",
				members, len(tc.ips), len(lat), gets, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), alone[len(alone)/2].Round(time.Microsecond),
				cr.dials.Load(), float64(cr.dials.Load())/lasted.Seconds(), cr.drops.Load(), cr.busy.Load(), peakKiB, idleKiB, maxFDs, idleFDs)
			if cr.busy.Load() == 0 {
				t.Errorf("the server answered none of the crowd's dropped connections ERR busy")
			}
		})
	}
}

// getsHelperEnv, when set to a number N in the environment of this test
// binary, makes it a client that downloads $ADDR's file.bin to $DST N
// times in a row, printing "ok NANOSECONDS MD5" or "err MESSAGE" for each
// (runGetsHelper).
const getsHelperEnv = "STICKYKIT_REF_GETS_HELPER"

func runGetsHelper() int {
	n, _ := strconv.Atoi(os.Getenv(getsHelperEnv))
	cl := &ref.Client{Timeout: 30 * time.Second}
	for range n {
		t0 := time.Now()
		res, err := cl.Get(context.Background(), os.Getenv("ADDR"), "file.bin", os.Getenv("DST"))
		if err != nil {
			fmt.Printf("err %v\n", err)
			continue
		}
		fmt.Printf("ok %d %s\n", time.Since(t0), res.Digest)
	}
	return 0
}

// clientProc runs runGetsHelper for gets downloads from srv to dst, checks
// each and the file, and returns the time each took and the most
// descriptors the server held after one.
func clientProc(t *testing.T, srv *serverProc, dst string, gets int, data []byte, strict bool) ([]time.Duration, int) {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), getsHelperEnv+"="+strconv.Itoa(gets), "ADDR="+srv.addr, "DST="+dst, "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	var lat []time.Duration
	maxFDs := 0
	sc := bufio.NewScanner(out)
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		_, fds := srv.usage(t)
		maxFDs = max(maxFDs, fds)
		var ns int64
		var sum string
		if _, err := fmt.Sscanf(line, "ok %d %s", &ns, &sum); err != nil {
			if strict || !strings.Contains(line, "server says busy") {
				t.Errorf("download %d of %d beside the crowd: %s", i+1, gets, line)
			} else {
				t.Logf("download %d of %d beside the crowd: %s", i+1, gets, line)
			}
			continue
		}
		lat = append(lat, time.Duration(ns))
		if sum != md5hex(data) {
			t.Errorf("download %d of %d: digest %s, want %s", i+1, gets, sum, md5hex(data))
		}
	}
	must(t, cmd.Wait())
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the downloaded file differs from the one served (%v)", err)
	}
	if 2*len(lat) <= gets {
		t.Fatalf("%d of %d downloads succeeded: the client is locked out", len(lat), gets)
	}
	return lat, maxFDs
}

// TestLoadOutOfDescriptors: a server whose process may hold only 64
// descriptors is asked for a file on connection after connection, each
// kept open at its ack (so that each holds a descriptor for the socket and
// one for the file). Every connection gets an answer at once, a size or
// "ERR busy": none is left unanswered in the listen queue, as connections
// used to be once accept failed for want of descriptors.
func TestLoadOutOfDescriptors(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"file.bin": []byte("hello")})
	srv := startServerProc(t, root, "NOFILE=64", "MAXCONNSPERADDR=-1")
	var sizes, busy int
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := range 80 {
		c, err := net.DialTimeout("tcp", srv.addr, 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		held = append(held, c)
		must(t, write(c, []byte("get file.bin")))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		size, err := spec.NewReader(c, spec.Lockstep).ReadReply()
		var er *spec.ErrorReply
		switch {
		case err == nil && size == 5:
			sizes++
		case errors.As(err, &er) && er.Code == spec.CodeBusy:
			busy++
			c.Close()
		default:
			t.Fatalf("connection %d (%d sizes, %d busy before it): %v, want a size or ERR busy at once", i+1, sizes, busy, err)
		}
	}
	t.Logf("80 connections to a server limited to 64 descriptors: %d got their size, %d ERR busy", sizes, busy)
	if busy == 0 {
		t.Errorf("no connection was answered ERR busy: the server never ran out of descriptors")
	}
}
