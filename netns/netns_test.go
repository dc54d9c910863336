//go:build linux

package netns_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/ref"
)

// The test binary plays three parts. Run by go test it builds the lab and
// checks the outcome; re-executed inside a namespace with roleEnv set, it is
// the server or the clients.
const (
	roleEnv     = "STICKYKIT_NETNS_ROLE" // "server" or "client"
	rootEnv     = "STICKYKIT_NETNS_ROOT"
	listenEnv   = "STICKYKIT_NETNS_LISTEN"
	addrEnv     = "STICKYKIT_NETNS_ADDR"
	nameEnv     = "STICKYKIT_NETNS_NAME"
	outEnv      = "STICKYKIT_NETNS_OUT"
	attemptsEnv = "STICKYKIT_NETNS_ATTEMPTS"
)

// The lab's addresses. They exist only inside the two namespaces the test
// creates and deletes; nothing outside them is ever addressed.
const (
	serverIP   = "10.123.0.1"
	clientIP   = "10.123.0.2"
	prefixLen  = "/30"
	mtu        = "576" // IPv4's minimum datagram size: an MSS of about 524
	fileSize   = 500_009
	fileSeed   = 20240611
	nsPrefix   = "stickykit-"
	guard      = 2 * time.Minute // bound on the whole client run
	digestWait = 250 * time.Millisecond
)

var longFlag = flag.Bool("stickykit.long", false, "run more attempts over the real link (also STICKYKIT_LONG=1)")

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "server":
		os.Exit(serverRole())
	case "client":
		os.Exit(clientRole())
	}
	goleak.VerifyTestMain(m)
}

// serverRole serves the root on the listen address, prints the bound
// address on stdout, and serves until stdin closes.
func serverRole() int {
	srv, err := ref.NewServer(os.Getenv(rootEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer srv.Close()
	srv.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ln, err := net.Listen("tcp", os.Getenv(listenEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
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

// attempt is one download made by the client role, reported to the test
// as a line of JSON.
type attempt struct {
	Client      string // "ref", "naive" or "article"
	N           int    // attempt number for this client
	Dst         string // the output file
	Err         string // the error, if the download failed outright
	Size        int64  // announced size
	Written     int64  // bytes written to Dst (naive clients)
	DigestReads int    // bytes of the naive clients' single digest read
	Match       bool   // naive clients: local digest equals what the digest read returned
	Reads       []int  // length of every body read (naive clients)
	Millis      int64  // duration
}

// clientRole downloads the file with each client in turn, attempts times,
// and prints one attempt per line on stdout.
func clientRole() int {
	addr, name, out := os.Getenv(addrEnv), os.Getenv(nameEnv), os.Getenv(outEnv)
	n, err := strconv.Atoi(os.Getenv(attemptsEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	enc := json.NewEncoder(os.Stdout)
	for i := range n {
		for _, kind := range []string{"ref", "naive", "article"} {
			a := attempt{Client: kind, N: i, Dst: filepath.Join(out, fmt.Sprintf("%s-%02d", kind, i))}
			t0 := time.Now()
			if kind == "ref" {
				getRef(&a, addr, name)
			} else {
				getNaive(&a, addr, name)
			}
			a.Millis = time.Since(t0).Milliseconds()
			if err := enc.Encode(a); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
	}
	return 0
}

func getRef(a *attempt, addr, name string) {
	cl := &ref.Client{Timeout: 20 * time.Second}
	res, err := cl.Get(context.Background(), addr, name, a.Dst)
	if err != nil {
		a.Err = err.Error()
		return
	}
	a.Size, a.Written = res.Size, res.Size
}

func getNaive(a *attempt, addr, name string) {
	v := naive.Naive
	if a.Client == "article" {
		v = naive.Article
	}
	conn, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		a.Err = err.Error()
		return
	}
	defer conn.Close()
	f, err := os.Create(a.Dst)
	if err != nil {
		a.Err = err.Error()
		return
	}
	defer f.Close()
	cl := &naive.Client{Variant: v, Timeout: 20 * time.Second, DigestWait: digestWait}
	res, err := cl.Get(conn, name, f)
	if err != nil {
		a.Err = err.Error()
	}
	a.Size, a.Written, a.DigestReads, a.Match, a.Reads = res.Size, res.Written, res.DigestReads, res.Match, res.Reads
}

func longRun() bool {
	return *longFlag || os.Getenv("STICKYKIT_LONG") == "1"
}

// lab is two network namespaces joined by a veth pair.
type lab struct {
	srvNS, cliNS   string
	srvDev, cliDev string
	shaping        string // the qdisc on both ends, or "none"
}

// ipCmd runs a command and returns its combined output as an error when it
// fails.
func ipCmd(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// sweepStale deletes namespaces an earlier run of this test left behind
// when its process died before its cleanup ran: the name carries the pid.
func sweepStale(t *testing.T) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], nsPrefix) {
			continue
		}
		rest := strings.TrimPrefix(f[0], nsPrefix)
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			t.Logf("deleting stale namespace %s (pid %d is gone)", f[0], pid)
			ipCmd("ip", "netns", "del", f[0])
		}
	}
}

// newLab builds the lab, or skips the test saying what is missing. The
// namespaces, and with them the veth pair, are deleted when the test ends,
// whether it passed or not.
func newLab(t *testing.T) *lab {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("network namespaces are Linux only (GOOS=%s)", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Skipf("needs root to create network namespaces (euid %d)", os.Geteuid())
	}
	for _, c := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s (iproute2): %v", c, err)
		}
	}
	sweepStale(t)
	pid := os.Getpid()
	l := &lab{
		srvNS:  fmt.Sprintf("%s%d-srv", nsPrefix, pid),
		cliNS:  fmt.Sprintf("%s%d-cli", nsPrefix, pid),
		srvDev: fmt.Sprintf("skv%ds", pid), // at most 15 bytes (IFNAMSIZ)
		cliDev: fmt.Sprintf("skv%dc", pid),
	}
	for _, ns := range []string{l.srvNS, l.cliNS} {
		if err := ipCmd("ip", "netns", "add", ns); err != nil {
			t.Skipf("cannot create a network namespace (no CAP_SYS_ADMIN, or no netns support): %v", err)
		}
		t.Cleanup(func() {
			if err := ipCmd("ip", "netns", "del", ns); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	// Create the pair directly inside the namespaces, so that nothing is
	// ever left in the caller's namespace.
	if err := ipCmd("ip", "link", "add", "name", l.srvDev, "netns", l.srvNS, "type", "veth", "peer", "name", l.cliDev, "netns", l.cliNS); err != nil {
		t.Skipf("cannot create a veth pair: %v", err)
	}
	for _, c := range [][]string{
		{"ip", "-n", l.srvNS, "addr", "add", serverIP + prefixLen, "dev", l.srvDev},
		{"ip", "-n", l.cliNS, "addr", "add", clientIP + prefixLen, "dev", l.cliDev},
		{"ip", "-n", l.srvNS, "link", "set", l.srvDev, "mtu", mtu, "up"},
		{"ip", "-n", l.cliNS, "link", "set", l.cliDev, "mtu", mtu, "up"},
	} {
		if err := ipCmd(c...); err != nil {
			t.Fatal(err)
		}
	}
	// Shape both directions. netem (delay, reordering, loss) is the model;
	// kernels built without it usually have tbf, whose rate limit keeps the
	// server's send queue full, so its writes are coalesced into MSS-sized
	// segments as they would be on a slow path.
	shapings := [][]string{
		{"netem", "delay", "5ms", "reorder", "10%", "loss", "0.5%"},
		{"tbf", "rate", "20mbit", "burst", "16kb", "latency", "100ms"},
	}
	l.shaping = "none"
	for _, q := range shapings {
		errs := 0
		for _, d := range [][2]string{{l.srvNS, l.srvDev}, {l.cliNS, l.cliDev}} {
			args := append([]string{"ip", "netns", "exec", d[0], "tc", "qdisc", "replace", "dev", d[1], "root"}, q...)
			if err := ipCmd(args...); err != nil {
				t.Logf("shaping unavailable: %v", err)
				errs++
			}
		}
		if errs == 0 {
			l.shaping = strings.Join(q, " ")
			break
		}
	}
	return l
}

// startServer runs the server role in the server namespace and returns
// its address and a function that stops it and checks that it exited 0.
func (l *lab) startServer(t *testing.T, root string) (addr string, stop func()) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd := exec.Command("ip", "netns", "exec", l.srvNS, exe)
	cmd.Env = append(roleEnviron(), roleEnv+"=server", rootEnv+"="+root, listenEnv+"="+serverIP+":0")
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var waitErr error
	wait := func() error {
		once.Do(func() { waitErr = cmd.Wait() })
		return waitErr
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		wait()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server did not print its address: %v\n%s", err, stderr.String())
	}
	stop = func() {
		stdin.Close()
		if err := wait(); err != nil {
			t.Errorf("server exited: %v, want status 0\n%s", err, stderr.String())
		}
	}
	return strings.TrimSpace(line), stop
}

// runClients runs the client role in the client namespace and returns the
// attempts it reported.
func (l *lab) runClients(t *testing.T, addr, name, out string, attempts int) []attempt {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var stderr syncBuffer
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.cliNS, exe)
	cmd.Env = append(roleEnviron(), roleEnv+"=client", addrEnv+"="+addr, nameEnv+"="+name,
		outEnv+"="+out, attemptsEnv+"="+strconv.Itoa(attempts))
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("clients: %v\n%s", err, stderr.String())
	}
	var as []attempt
	dec := json.NewDecoder(bytes.NewReader(stdout))
	for {
		var a attempt
		if err := dec.Decode(&a); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("clients' report: %v\n%s", err, stdout)
		}
		as = append(as, a)
	}
	if len(as) != 3*attempts {
		t.Fatalf("clients reported %d attempts, want %d\n%s", len(as), 3*attempts, stderr.String())
	}
	return as
}

// roleEnviron is the environment of a re-executed test binary. A binary
// built with -race sleeps 1s at exit unless told not to.
func roleEnviron() []string {
	return append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRealTCP sends one file of 500,009 bytes, many times, from the
// reference server in one namespace to three clients in the other, over a
// veth link with a 576-byte MTU and a shaped queue. The kernels on both
// sides cut and join the stream as they please: the server writes the
// data and the digest back to back, so the digest usually rides in the
// same segment as the data's tail.
//
// Certain, and asserted: the reference client always gets the file
// byte-exact (REQ-CLI-2, REQ-CLI-3); the article's exact-remaining read
// never writes a digest byte into the file; whatever the tutorial's naive
// client writes is the file followed by a prefix of its digest, never
// anything else. Probable, and reported: how often the naive client
// swallows digest bytes (the sticky packet) and how often the article's
// single digest read gets a fragment (the half packet). With a shaping
// qdisc the sticky packet is required at least once: the server's queue is
// then always backed up, and the digest is coalesced with the data's tail.
func TestRealTCP(t *testing.T) {
	l := newLab(t)
	attempts := 5
	if longRun() {
		attempts = 30
	}

	root, out := t.TempDir(), t.TempDir()
	const name = "lesson.bin"
	data := make([]byte, fileSize)
	r := rand.New(rand.NewPCG(fileSeed, fileSize))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	digest := hex.EncodeToString(sum[:])

	addr, stop := l.startServer(t, root)
	began := time.Now()
	as := l.runClients(t, addr, name, out, attempts)
	took := time.Since(began)
	stop()

	type tally struct {
		n, ok, sticky, half, noDigest, clean, failed int
		swallowed                                    []int
		reads, full, short                           int
		readSizes                                    map[int]int
		ms                                           []int64
	}
	tallies := map[string]*tally{}
	for _, a := range as {
		tl := tallies[a.Client]
		if tl == nil {
			tl = &tally{readSizes: map[int]int{}}
			tallies[a.Client] = tl
		}
		tl.n++
		tl.ms = append(tl.ms, a.Millis)
		for _, n := range a.Reads {
			tl.reads++
			tl.readSizes[n]++
			if n == naive.BufSize {
				tl.full++
			} else {
				tl.short++
			}
		}
		got, rerr := os.ReadFile(a.Dst)
		switch a.Client {
		case "ref":
			switch {
			case a.Err != "":
				t.Errorf("ref attempt %d: %s, want success", a.N, a.Err)
			case rerr != nil:
				t.Errorf("ref attempt %d: %v", a.N, rerr)
			case !bytes.Equal(got, data):
				t.Errorf("ref attempt %d: got %d bytes, not the %d served", a.N, len(got), len(data))
			default:
				tl.ok++
			}
			continue
		}
		if a.Err != "" || rerr != nil {
			tl.failed++
			t.Errorf("%s attempt %d failed before the digest: %s %v", a.Client, a.N, a.Err, rerr)
			continue
		}
		extra := len(got) - len(data)
		switch {
		case extra < 0 || !bytes.Equal(got[:len(data)], data):
			t.Errorf("%s attempt %d: wrote %d bytes that are not the file's %d", a.Client, a.N, len(got), len(data))
		case extra > 0 && (extra > len(digest) || string(got[len(data):]) != digest[:extra]):
			t.Errorf("%s attempt %d: %d bytes after the data are %q, not a prefix of the digest %s", a.Client, a.N, extra, got[len(data):], digest)
		case extra > 0 && a.Client == "article":
			t.Errorf("article attempt %d: wrote %d digest bytes into the file; its exact-remaining read must stop at the data's end", a.N, extra)
		case extra > 0:
			tl.sticky++
			tl.swallowed = append(tl.swallowed, extra)
		case a.Match:
			tl.clean++
		case a.DigestReads == 0:
			tl.noDigest++
		default:
			tl.half++
		}
	}

	t.Logf("link: veth, MTU %s, qdisc %s; file %d bytes; %d attempts per client in %v", mtu, l.shaping, fileSize, attempts, took.Round(time.Millisecond))
	for _, kind := range []string{"ref", "naive", "article"} {
		tl := tallies[kind]
		if tl == nil {
			continue
		}
		slices.Sort(tl.ms)
		line := fmt.Sprintf("%-7s %d attempts, median %dms", kind, tl.n, tl.ms[len(tl.ms)/2])
		if kind == "ref" {
			line += fmt.Sprintf(": %d byte-exact", tl.ok)
		} else {
			line += fmt.Sprintf(": %d sticky (digest bytes swallowed: %v), %d half digest, %d clean, %d no digest; %d body reads, %d full 1024, %d short, most common %s",
				tl.sticky, tl.swallowed, tl.half, tl.clean, tl.noDigest, tl.reads, tl.full, tl.short, commonSizes(tl.readSizes, 3))
		}
		t.Log(line)
	}
	if tl := tallies["naive"]; l.shaping != "none" && tl != nil && tl.sticky == 0 {
		t.Errorf("naive client: no sticky packet in %d attempts over a shaped link (qdisc %s), want at least one", tl.n, l.shaping)
	}
}

// commonSizes formats the n most frequent read sizes as "size×count".
func commonSizes(m map[int]int, n int) string {
	type kv struct{ size, count int }
	var kvs []kv
	for s, c := range m {
		kvs = append(kvs, kv{s, c})
	}
	slices.SortFunc(kvs, func(a, b kv) int {
		if a.count != b.count {
			return b.count - a.count
		}
		return a.size - b.size
	})
	var parts []string
	for i, e := range kvs {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%d×%d", e.size, e.count))
	}
	return strings.Join(parts, " ")
}
