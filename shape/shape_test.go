package shape_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/shape"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// readLog is what a peer saw: the size of every read, the bytes, and the
// error that ended the reading.
type readLog struct {
	sizes []int
	data  []byte
	err   error
}

// collect reads c with a large buffer until an error and reports every
// read's size. Over net.Pipe the sizes are exactly the writer's segments.
func collect(c net.Conn) <-chan readLog {
	ch := make(chan readLog, 1)
	go func() {
		var l readLog
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				l.sizes = append(l.sizes, n)
				l.data = append(l.data, buf[:n]...)
			}
			if err != nil {
				l.err = err
				break
			}
		}
		ch <- l
	}()
	return ch
}

// pattern returns n bytes that differ from one offset to the next.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func mustWrite(t *testing.T, c net.Conn, p []byte) {
	t.Helper()
	n, err := c.Write(p)
	if n != len(p) || err != nil {
		t.Fatalf("Write(%d bytes) = %d, %v, want %d, nil", len(p), n, err, len(p))
	}
}

func checkLog(t *testing.T, l readLog, wantSizes []int, wantData []byte) {
	t.Helper()
	if !slices.Equal(l.sizes, wantSizes) {
		t.Errorf("peer read sizes %v, want %v", l.sizes, wantSizes)
	}
	if !bytes.Equal(l.data, wantData) {
		t.Errorf("peer got %q, want %q", l.data, wantData)
	}
	if l.err != io.EOF {
		t.Errorf("peer's last read error = %v, want EOF", l.err)
	}
}

func TestFragmentFixed(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Fragment(a, shape.Fixed(3))
	data := pattern(10)
	mustWrite(t, w, data)
	w.Close()
	checkLog(t, <-got, []int{3, 3, 3, 1}, data)
}

func TestFragmentSizesAcrossWrites(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Fragment(a, shape.Sizes(4, 2))
	data := pattern(13)
	mustWrite(t, w, data[:10])
	mustWrite(t, w, data[10:])
	w.Close()
	// No byte is held across Writes; the plan goes on where it stopped.
	checkLog(t, <-got, []int{4, 2, 2, 2, 2, 1}, data)
}

func TestFragmentRandom(t *testing.T) {
	const seed, lo, hi, size = 7, 1, 5, 100
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Fragment(a, shape.Random(seed, lo, hi))
	data := pattern(size)
	mustWrite(t, w, data)
	w.Close()

	// The same seed replays the same plan.
	replay := shape.Random(seed, lo, hi)
	var want []int
	for left := size; left > 0; {
		n := min(replay.Next(), left)
		want = append(want, n)
		left -= n
	}
	l := <-got
	if !slices.Equal(l.sizes, want) {
		t.Errorf("seed %d: peer read sizes %v, want %v", seed, l.sizes, want)
	}
	if !bytes.Equal(l.data, data) {
		t.Errorf("seed %d: peer got %q, want %q", seed, l.data, data)
	}
}

func TestFragmentEmptyWrite(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	w := shape.Fragment(a, shape.Fixed(3))
	if n, err := w.Write(nil); n != 0 || err != nil {
		t.Errorf("Write(nil) = %d, %v, want 0, nil", n, err)
	}
	w.Close()
	if n, err := w.Write([]byte("x")); n != 0 || err == nil {
		t.Errorf("Write after Close = %d, %v, want 0 and an error", n, err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	r := <-ch
	if err != nil || r.err != nil {
		if client != nil {
			client.Close()
		}
		if r.c != nil {
			r.c.Close()
		}
		t.Fatalf("dial: %v; accept: %v", err, r.err)
	}
	return client, r.c
}

func TestFragmentPacedTCP(t *testing.T) {
	client, server := tcpPair(t)
	defer server.Close()
	got := collect(server)
	w := shape.FragmentPaced(client, shape.Fixed(7), 100*time.Microsecond)
	data := pattern(1500)
	mustWrite(t, w, data[:1000])
	mustWrite(t, w, data[1000:])
	w.Close()
	// TCP promises no read boundaries: check only that the bytes arrive
	// intact and in order.
	l := <-got
	if !bytes.Equal(l.data, data) {
		t.Errorf("peer got %d bytes %q..., want %d bytes %q...", len(l.data), l.data[:min(20, len(l.data))], len(data), data[:20])
	}
	if l.err != io.EOF {
		t.Errorf("peer's last read error = %v, want EOF", l.err)
	}
}

func TestCoalesceFlush(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Coalesce(a, shape.Fixed(8))
	data := pattern(34)
	mustWrite(t, w, data[:5])
	mustWrite(t, w, data[5:12])
	mustWrite(t, w, data[12:])
	if err := w.(shape.Flusher).Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	w.Close()
	checkLog(t, <-got, []int{8, 8, 8, 8, 2}, data)
}

func TestCoalesceReadIsATurnChange(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	w := shape.Coalesce(a, shape.Fixed(8))
	data := pattern(34)

	peer := make(chan readLog, 1)
	go func() {
		var l readLog
		buf := make([]byte, 64<<10)
		for len(l.data) < len(data) {
			n, err := b.Read(buf)
			if n > 0 {
				l.sizes = append(l.sizes, n)
				l.data = append(l.data, buf[:n]...)
			}
			if err != nil {
				l.err = err
				break
			}
		}
		if l.err == nil {
			_, l.err = b.Write([]byte("ok"))
		}
		peer <- l
	}()

	mustWrite(t, w, data[:5])
	mustWrite(t, w, data[5:12])
	mustWrite(t, w, data[12:])
	buf := make([]byte, 16)
	n, err := w.Read(buf) // releases the 2 held bytes first
	if string(buf[:n]) != "ok" || err != nil {
		t.Errorf("Read = %q, %v, want \"ok\", nil", buf[:n], err)
	}
	l := <-peer
	if l.err != nil {
		t.Errorf("peer: %v", l.err)
	}
	if want := []int{8, 8, 8, 8, 2}; !slices.Equal(l.sizes, want) {
		t.Errorf("peer read sizes %v, want %v", l.sizes, want)
	}
	if !bytes.Equal(l.data, data) {
		t.Errorf("peer got %q, want %q", l.data, data)
	}
	w.Close()
}

func TestCoalesceTailAndDigestInOneSegment(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Coalesce(a, shape.Fixed(1<<30))
	tail := pattern(10)
	digest := []byte("0123456789abcdef0123456789abcdef")
	mustWrite(t, w, tail)
	mustWrite(t, w, digest)
	w.Close() // flushes: everything written since the last turn, as one segment
	checkLog(t, <-got, []int{42}, append(tail, digest...))
}

func TestCoalesceSegmentEndsAtRelease(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Coalesce(a, shape.Sizes(3, 4, 100))
	data := pattern(12)
	mustWrite(t, w, data[:2])
	mustWrite(t, w, data[2:4]) // completes the 3-byte segment
	if err := w.(shape.Flusher).Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	} // ends the 4-byte segment at 1 byte
	mustWrite(t, w, data[4:]) // a new segment of 100: held
	w.Close()
	checkLog(t, <-got, []int{3, 1, 8}, data)
}

func TestCoalesceWaitingReaderGetsData(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	w := shape.Coalesce(a, shape.Fixed(100))
	readDone := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := w.Read(buf)
		if err != nil {
			t.Errorf("Read: %v", err)
		}
		readDone <- string(buf[:n])
	}()
	// Whether the Read above is already waiting or not, the 5 bytes must
	// reach the peer: a waiting Read is a turn change. The peer reads on
	// a goroutine of its own: when the Read is already waiting, the Write
	// releases the bytes itself, and a write to a net.Pipe returns only
	// once the peer has read it.
	peer := make(chan error, 1)
	go func() {
		buf := make([]byte, 5)
		_, err := io.ReadFull(b, buf)
		if err == nil && string(buf) != "hello" {
			err = fmt.Errorf("got %q, want \"hello\"", buf)
		}
		if err == nil {
			_, err = b.Write([]byte("x"))
		}
		peer <- err
	}()
	mustWrite(t, w, []byte("hello"))
	if err := <-peer; err != nil {
		t.Fatalf("peer: %v", err)
	}
	if got := <-readDone; got != "x" {
		t.Errorf("Read got %q, want \"x\"", got)
	}
	w.Close()
}

func TestCoalesceWriteDeadline(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Coalesce(a, shape.Fixed(8))
	w.SetWriteDeadline(time.Unix(1, 0))
	n, err := w.Write(pattern(8))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Write past the deadline = %d, %v, want 0 and a timeout", n, err)
	}
	// A Write that only holds bytes does not touch the conn.
	if n, err := w.Write([]byte("abc")); n != 3 || err != nil {
		t.Errorf("holding Write = %d, %v, want 3, nil", n, err)
	}
	if err := w.(shape.Flusher).Flush(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Flush past the deadline = %v, want a timeout", err)
	}
	w.SetWriteDeadline(time.Time{})
	if err := w.(shape.Flusher).Flush(); err != nil {
		t.Errorf("Flush = %v, want nil", err)
	}
	w.Close()
	checkLog(t, <-got, []int{3}, []byte("abc"))
}

func TestCoalesceClosed(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Coalesce(a, shape.Fixed(100))
	mustWrite(t, w, []byte("abc"))
	if err := w.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if n, err := w.Write([]byte("x")); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %d, %v, want 0, net.ErrClosed", n, err)
	}
	if err := w.(shape.Flusher).Flush(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Flush after Close = %v, want net.ErrClosed", err)
	}
	checkLog(t, <-got, []int{3}, []byte("abc"))
}

func TestCut(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Cut(a, 10)
	data := pattern(14)
	mustWrite(t, w, data[:4])
	n, err := w.Write(data[4:])
	if n != 6 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write across the cut = %d, %v, want 6, net.ErrClosed", n, err)
	}
	if n, err := w.Write([]byte("x")); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after the cut = %d, %v, want 0, net.ErrClosed", n, err)
	}
	checkLog(t, <-got, []int{4, 6}, data[:10])
	if err := w.Close(); err != nil {
		t.Errorf("Close after the cut = %v, want nil", err)
	}
}

func TestCutAtWriteBoundary(t *testing.T) {
	for _, limit := range []int64{0, 5} {
		a, b := net.Pipe()
		got := collect(b)
		w := shape.Cut(a, limit)
		data := pattern(5)
		n, err := w.Write(data[:limit])
		if limit > 0 && (n != 5 || err != nil) {
			t.Errorf("Cut(%d): Write of exactly the limit = %d, %v, want 5, nil", limit, n, err)
		}
		if limit == 0 && (n != 0 || err != nil) {
			t.Errorf("Cut(0): empty Write = %d, %v, want 0, nil", n, err)
		}
		l := <-got // the peer sees EOF with no further Write
		var want []int
		if limit > 0 {
			want = []int{5}
		}
		checkLog(t, l, want, data[:limit])
		b.Close()
	}
}

func TestStall(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	w := shape.Stall(a, 5)
	data := pattern(12)

	type peerResult struct {
		got     []byte
		readErr error
		eofErr  error
	}
	peer := make(chan peerResult, 1)
	go func() {
		var r peerResult
		r.got = make([]byte, 5)
		if _, err := io.ReadFull(b, r.got); err != nil {
			t.Errorf("peer ReadFull: %v", err)
		}
		b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, r.readErr = b.Read(make([]byte, 64))
		b.SetReadDeadline(time.Time{})
		if _, err := b.Write([]byte("hi")); err != nil { // reads still pass
			t.Errorf("peer Write: %v", err)
		}
		_, r.eofErr = b.Read(make([]byte, 64))
		peer <- r
	}()

	mustWrite(t, w, data) // 5 delivered, 7 swallowed
	mustWrite(t, w, data) // all swallowed
	buf := make([]byte, 2)
	if _, err := io.ReadFull(w, buf); err != nil || string(buf) != "hi" {
		t.Errorf("Read on the stalled conn = %q, %v, want \"hi\", nil", buf, err)
	}
	w.Close()
	r := <-peer
	if !bytes.Equal(r.got, data[:5]) {
		t.Errorf("peer got %q, want %q", r.got, data[:5])
	}
	var ne net.Error
	if !errors.As(r.readErr, &ne) || !ne.Timeout() {
		t.Errorf("peer read after the stall = %v, want a timeout", r.readErr)
	}
	if r.eofErr != io.EOF {
		t.Errorf("peer read after Close = %v, want EOF", r.eofErr)
	}
}

func TestResetTCP(t *testing.T) {
	client, server := tcpPair(t)
	defer server.Close()
	got := collect(server)
	w := shape.Reset(client, 5)
	data := pattern(10)
	n, err := w.Write(data)
	if n != 5 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write across the reset = %d, %v, want 5, net.ErrClosed", n, err)
	}
	l := <-got
	if !errors.Is(l.err, syscall.ECONNRESET) {
		t.Errorf("peer's read error = %v, want ECONNRESET", l.err)
	}
	// The kernel may drop undelivered bytes on reset; what arrived is a
	// prefix of what was delivered.
	if len(l.data) > 5 || !bytes.Equal(l.data, data[:len(l.data)]) {
		t.Errorf("peer got %q, want a prefix of %q", l.data, data[:5])
	}
	w.Close()
}

func TestResetPipeClosesPlainly(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	got := collect(b)
	w := shape.Reset(a, 3)
	data := pattern(5)
	if n, err := w.Write(data); n != 3 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write across the reset = %d, %v, want 3, net.ErrClosed", n, err)
	}
	checkLog(t, <-got, []int{3}, data[:3])
}

func TestRecord(t *testing.T) {
	a, b := net.Pipe()
	var rec shape.Recorder
	w := shape.Record(a, &rec)
	peer := make(chan error, 1)
	go func() {
		buf := make([]byte, 64)
		if _, err := io.ReadFull(b, buf[:5]); err != nil {
			peer <- err
			return
		}
		if _, err := b.Write([]byte("abc")); err != nil {
			peer <- err
			return
		}
		_, err := b.Write([]byte("de"))
		b.Close()
		peer <- err
	}()
	mustWrite(t, w, []byte("hello"))
	buf := make([]byte, 64)
	for {
		if _, err := w.Read(buf); err != nil {
			break
		}
	}
	if err := <-peer; err != nil {
		t.Fatalf("peer: %v", err)
	}
	w.Close()

	want := []shape.Event{
		{Seq: 0, Op: "write", Off: 0, N: 5},
		{Seq: 1, Op: "read", Off: 0, N: 3},
		{Seq: 2, Op: "read", Off: 3, N: 2},
		{Seq: 3, Op: "read", Off: 5, N: 0, Err: io.EOF},
	}
	if got := rec.Events(); !slices.Equal(got, want) {
		t.Errorf("events\n got %+v\nwant %+v", got, want)
	}
	if got, want := rec.Sizes("read"), []int{3, 2}; !slices.Equal(got, want) {
		t.Errorf("read sizes %v, want %v", got, want)
	}
}

// TestRecordShowsShaping records the peer's reads of a fragmenting writer:
// the use the demo makes of a Recorder.
func TestRecordShowsShaping(t *testing.T) {
	a, b := net.Pipe()
	var rec shape.Recorder
	peer := shape.Record(b, &rec)
	got := collect(peer)
	w := shape.Fragment(a, shape.Sizes(2, 5))
	mustWrite(t, w, pattern(12))
	w.Close()
	<-got
	peer.Close()
	if got, want := rec.Sizes("read"), []int{2, 5, 5}; !slices.Equal(got, want) {
		t.Errorf("recorded reads %v, want %v", got, want)
	}
}

func TestPlans(t *testing.T) {
	draw := func(p shape.Plan, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = p.Next()
		}
		return s
	}
	if got, want := draw(shape.Fixed(3), 3), []int{3, 3, 3}; !slices.Equal(got, want) {
		t.Errorf("Fixed(3) drew %v, want %v", got, want)
	}
	if got, want := draw(shape.Sizes(1, 2, 3), 5), []int{1, 2, 3, 3, 3}; !slices.Equal(got, want) {
		t.Errorf("Sizes(1,2,3) drew %v, want %v", got, want)
	}
	const seed = 42
	r1, r2 := draw(shape.Random(seed, 2, 4), 200), draw(shape.Random(seed, 2, 4), 200)
	if !slices.Equal(r1, r2) {
		t.Errorf("seed %d: two Random plans differ: %v vs %v", seed, r1, r2)
	}
	seen := map[int]bool{}
	for _, n := range r1 {
		if n < 2 || n > 4 {
			t.Errorf("seed %d: Random(2, 4) drew %d", seed, n)
		}
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Errorf("seed %d: Random(2, 4) drew only %v in 200 draws", seed, seen)
	}
}

func TestParsePlan(t *testing.T) {
	for _, s := range []string{"fixed:3", "sizes:1,2,3", "random:7:1:9"} {
		p, err := shape.ParsePlan(s)
		if err != nil {
			t.Errorf("ParsePlan(%q): %v", s, err)
			continue
		}
		if got := p.(interface{ String() string }).String(); got != s {
			t.Errorf("ParsePlan(%q).String() = %q", s, got)
		}
	}
	p, _ := shape.ParsePlan("sizes:4,1")
	if got := []int{p.Next(), p.Next(), p.Next()}; !slices.Equal(got, []int{4, 1, 1}) {
		t.Errorf("sizes:4,1 drew %v, want [4 1 1]", got)
	}
	for _, s := range []string{"", "fixed", "fixed:0", "fixed:x", "sizes:", "sizes:1,,2", "sizes:1,-1",
		"random:1:2", "random:1:0:3", "random:1:5:4", "random:x:1:2", "chunk:3"} {
		if _, err := shape.ParsePlan(s); err == nil {
			t.Errorf("ParsePlan(%q) = nil error, want an error", s)
		}
	}
}

func TestPlanConstructorsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"Fixed(0)":        func() { shape.Fixed(0) },
		"Sizes()":         func() { shape.Sizes() },
		"Sizes(1, 0)":     func() { shape.Sizes(1, 0) },
		"Random(1, 0, 3)": func() { shape.Random(1, 0, 3) },
		"Random(1, 4, 3)": func() { shape.Random(1, 4, 3) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
