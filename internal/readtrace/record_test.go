package readtrace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

// Recording the golden traces of testdata: real strace output of real
// clients fetching a 100,000-byte file (SPEC.md Appendix A) from the
// reference server, over loopback TCP, with the server's writes shaped by
// package shape. Run it again with
//
//	go test ./internal/readtrace -run TestRecord -args -record
//
// and then "go test ./internal/readtrace -update" to accept what the new
// traces say. The module's directory in the traces is written as
// /home/you/stickykit; nothing else is changed.

var record = flag.Bool("record", false, "record the golden traces in testdata again (needs strace, python3 and the go command)")

// golden is what testdata/NAME.json says about testdata/NAME.strace.
type golden struct {
	Client    string           `json:"client"`    // the command, with the variable parts as placeholders
	Delivery  string           `json:"delivery"`  // how the server's writes were shaped
	Local     string           `json:"local"`     // the client's address
	Peer      string           `json:"peer"`      // the server's
	Layout    readtrace.Layout `json:"layout"`    // the reply in the server-to-client stream
	Wrote     []int            `json:"wrote"`     // the reference server's writes, in bytes
	Delivered []int            `json:"delivered"` // the shaped writes that reached the socket
}

func (g *golden) conn(t *testing.T) readtrace.Conn {
	t.Helper()
	l, err1 := netip.ParseAddrPort(g.Local)
	p, err2 := netip.ParseAddrPort(g.Peer)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad addresses in golden: %v %v", err1, err2)
	}
	return readtrace.Conn{Local: l, Peer: p}
}

// goldenSize is the file of the golden traces.
const goldenSize = 100000

// recording is one golden trace to record.
type recording struct {
	name     string
	delivery string
	client   func(t *testing.T, addr, out string) []string
	shown    string
}

func TestRecord(t *testing.T) {
	if !*record {
		t.Skip("records the golden traces with -record")
	}
	tr := tracer(t)
	bin := filepath.Join(t.TempDir(), "stickykit")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/stickykit").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	py := func(variant string) func(t *testing.T, addr, out string) []string {
		return func(t *testing.T, addr, out string) []string {
			host, port, _ := net.SplitHostPort(addr)
			return python(t, variant, host, port, "demo.bin", out)
		}
	}
	for _, r := range []recording{
		{"naive_sticky", "sticky", py("naive"), "python3 -S testdata/python/tutorial_client.py {host} {port} demo.bin {out} --variant naive"},
		{"article_half", "half", py("article"), "python3 -S testdata/python/tutorial_client.py {host} {port} demo.bin {out} --variant article"},
		{"ref_sticky", "sticky", func(t *testing.T, addr, out string) []string {
			return []string{bin, "get", "--addr", addr, "-o", out, "demo.bin"}
		}, "stickykit get --addr {addr} -o {out} demo.bin"},
	} {
		t.Run(r.name, func(t *testing.T) { recordOne(t, tr, r) })
	}
}

// recordOne records one golden trace.
func recordOne(t *testing.T, tr *readtrace.Tracer, r recording) {
	root := t.TempDir()
	data := seeded.Bytes(seeded.Seed("readtrace golden"), goldenSize)
	if err := os.WriteFile(filepath.Join(root, "demo.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := ref.NewServer(root)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	l := readtrace.ExchangeLayout(spec.Lockstep, goldenSize)
	var wrote, wire shape.Recorder
	var c readtrace.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.AcceptTCP()
		ln.Close()
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		c, _ = readtrace.Opposite(nc)
		var shaped net.Conn
		switch r.delivery {
		case "sticky":
			// Everything written between two turns in one write: the
			// file's tail and the digest together.
			shaped = shape.Coalesce(shape.Record(nc, &wire), shape.Fixed(1<<30))
		case "half":
			// The digest in two: the first 16 bytes, and the other 16
			// once the client has read them.
			shaped = &cutConn{Conn: shape.Record(nc, &wire), at: l.Digest + 16, wait: func() { waitRead(nc, c, 30e9) }}
		}
		srv.ServeConn(context.Background(), shape.Record(shaped, &wrote))
	}()
	dir := t.TempDir()
	_, output, err := run(t, tr, dir, nil, r.client(t, ln.Addr().String(), filepath.Join(dir, "out")))
	t.Logf("%s: %v\n%s", r.name, err, output)
	wg.Wait()
	g := golden{Client: r.shown, Delivery: r.delivery, Local: c.Local.String(), Peer: c.Peer.String(), Layout: l,
		Wrote: wrote.Sizes("write"), Delivered: wire.Sizes("write")}
	b, _ := json.MarshalIndent(g, "", "  ")
	trace, err := os.ReadFile(filepath.Join(dir, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	// The one path of this machine in a trace: where the module lies.
	if mod, err := filepath.Abs(filepath.Join("..", "..")); err == nil {
		trace = bytes.ReplaceAll(trace, []byte(mod+"/"), []byte("/home/you/stickykit/"))
	}
	for name, content := range map[string][]byte{r.name + ".json": append(b, '\n'), r.name + ".strace": trace} {
		if err := os.WriteFile(filepath.Join("testdata", name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cutConn cuts the stream written to it at offset at, and calls wait
// between the two parts.
type cutConn struct {
	net.Conn
	at, off int64
	wait    func()
}

func (c *cutConn) Write(p []byte) (int, error) {
	if c.off >= c.at || c.off+int64(len(p)) <= c.at {
		n, err := c.Conn.Write(p)
		c.off += int64(n)
		return n, err
	}
	k := int(c.at - c.off)
	n, err := c.Conn.Write(p[:k])
	c.off += int64(n)
	if err != nil {
		return n, err
	}
	c.wait()
	m, err := c.Conn.Write(p[k:])
	c.off += int64(m)
	return n + m, err
}

// goldenNames lists the golden traces in testdata.
func goldenNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.strace"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden traces in testdata (%v): record them with -record", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".strace"))
	}
	return names
}
