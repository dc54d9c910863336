package conformance

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/spec"
)

// readsOf makes the reads of a stream from (asked, got) pairs, at the
// offsets they reach one after the other.
func readsOf(pairs ...[2]int64) *readtrace.Stream {
	st := &readtrace.Stream{Failed: map[string]int{}}
	var off int64
	for _, p := range pairs {
		st.Reads = append(st.Reads, readtrace.Read{Asked: p[0], Got: p[1], Offset: off})
		off += p[1]
	}
	return st
}

// fullReads returns n reads of 1024 bytes.
func fullReads(n int) [][2]int64 {
	out := make([][2]int64, n)
	for i := range out {
		out[i] = [2]int64{1024, 1024}
	}
	return out
}

// endedSession returns a session of case id whose client has ended, as a
// command that reported success and left data at {out}, with st as its
// recorded reads of a lockstep exchange of data and its digest.
func endedSession(t *testing.T, id string, data []byte, st *readtrace.Stream) *clientSession {
	t.Helper()
	c, ok := Lookup(id)
	if !ok {
		t.Fatalf("no case %s", id)
	}
	x := &clientCheck{check: check{c: &c, framing: spec.Lockstep, timeout: time.Second}, target: &ClientTarget{Command: []string{"client"}}}
	s := newClientSession(context.Background(), x, "f.bin", received(nil, true))
	s.dir = t.TempDir()
	s.out = filepath.Join(s.dir, outName)
	if err := os.WriteFile(s.out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan struct{})
	close(s.exited)
	s.exit = clientExit{command: true}
	size, _ := spec.EncodeSize(spec.Lockstep, int64(len(data)))
	s.announce(len(size), len(data))
	s.digestSent = true
	s.rd.trace, s.rd.known, s.rd.parsed, s.rd.stream = &programTrace{}, true, true, st
	return s
}

// The kit could not confirm from its side that the sticky packet reached
// the client: a client that got the file right is then INCONCLUSIVE,
// unless its recorded reads show the read that took the tail and the
// digest together, when the case is a PASS that says it rests on them.
// Reads that stop at the boundary confirm nothing.
func TestConfirmByReads(t *testing.T) {
	data := caseContent("client/sticky", "file", stickySize)
	const cond = "the unconfirmed sticky packet"
	for _, tt := range []struct {
		name  string
		reads [][2]int64
		want  Verdict
		words []string
	}{
		{"a buffered read took the tail and the digest", [][2]int64{{65536, 6}, {65536, 65536}, {65536, 33792}, {65536, 704}}, Pass,
			[]string{"the kit could not confirm that the tail and the digest reached the client together from its side, but the client's recorded read 3 after the size asked for 65536 bytes and got 704: the last 672 bytes of the file and 32 bytes of the digest: this verdict rests on its recorded reads"}},
		{"exact reads stopped at the boundary", append(append([][2]int64{{1024, 6}}, fullReads(97)...), [2]int64{672, 672}, [2]int64{1024, 32}), Inconclusive,
			[]string{"the condition was not confirmed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := endedSession(t, "client/sticky", data, readsOf(tt.reads...))
			s.unconfirm("the tail and the digest could not be confirmed to have left in one segment")
			s.confirmByReads("that the tail and the digest reached the client together", false, readtrace.Sticky)
			o := s.judgeReceived(data, cond)
			if o.Verdict != tt.want {
				t.Fatalf("verdict %s: %s; want %s", o.Verdict, o.Detail, tt.want)
			}
			for _, w := range tt.words {
				if !strings.Contains(o.Detail, w) {
					t.Errorf("detail = %q, want it to say %q", o.Detail, w)
				}
			}
		})
	}
}

// client/split-digest: a read that ended inside the digest shows that
// the digest reached the client in two pieces, whatever the kind of the
// read.
func TestConfirmByReadsInsideDigest(t *testing.T) {
	data := caseContent("client/split-digest", "file", 3000)
	for _, tt := range []struct {
		name  string
		reads [][2]int64
		want  Verdict
	}{
		{"a read got the data and half the digest", [][2]int64{{65536, 4}, {65536, 3016}, {65536, 16}}, Pass},
		{"a read got half the digest", [][2]int64{{1024, 4}, {3000, 3000}, {32, 16}, {16, 16}}, Pass},
		{"the digest came whole", [][2]int64{{1024, 4}, {3000, 3000}, {32, 32}}, Inconclusive},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := endedSession(t, "client/split-digest", data, readsOf(tt.reads...))
			s.unconfirm("the first 16 bytes of the digest were not confirmed to have arrived alone")
			s.confirmByReads("that the digest reached the client in two pieces", true, readtrace.ShortDigest)
			if o := s.judgeReceived(data, "the digest in two pieces"); o.Verdict != tt.want {
				t.Errorf("verdict %s: %s; want %s", o.Verdict, o.Detail, tt.want)
			}
		})
	}
}

// Recorded reads are used only when they account for every byte the
// client took: when the kernel says the client left nothing unread, its
// reads must show every byte the kit wrote.
func TestReadsComplete(t *testing.T) {
	data := caseContent("client/plain", "file", 2000)
	all := [][2]int64{{1024, 4}, {1024, 1024}, {1024, 976}, {1024, 32}}
	for _, tt := range []struct {
		name   string
		reads  [][2]int64
		unread bool
		want   bool
	}{
		{"every byte read", all, false, true},
		{"the digest's read unseen, nothing left unread", all[:3], false, false},
		{"the digest left unread", all[:3], true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := readsOf(tt.reads...)
			s := endedSession(t, "client/plain", data, st)
			s.rd.wrote = []int64{4, 2000, 32}
			s.finished, s.unread = true, tt.unread
			if got := s.complete(st); got != tt.want {
				t.Errorf("complete = %v, want %v", got, tt.want)
			}
		})
	}
}

// withReads adds what the reads show and the detail does not say yet,
// once: a read that took data and digest together in a PASS is one the
// client split itself; in client/sticky a read that stopped at the
// boundary is named.
func TestWithReads(t *testing.T) {
	data := caseContent("client/sticky", "file", stickySize)
	buffered := readsOf([2]int64{65536, 6}, [2]int64{65536, 65536}, [2]int64{65536, 33792}, [2]int64{65536, 704})
	s := endedSession(t, "client/sticky", data, buffered)
	s.exactOut = true
	o := s.withReads(pass("the condition"))
	want := "the condition; the client's recorded reads: read 3 after the size asked for 65536 bytes and got 704: the last 672 bytes of the file and 32 bytes of the digest: the client split them itself"
	if o.Detail != want {
		t.Errorf("detail = %q\nwant     %q", o.Detail, want)
	}
	if again := s.withReads(o); again.Detail != o.Detail {
		t.Errorf("withReads twice: %q", again.Detail)
	}
	exact := readsOf(append(append([][2]int64{{1024, 6}}, fullReads(97)...), [2]int64{672, 672}, [2]int64{1024, 32})...)
	s = endedSession(t, "client/sticky", data, exact)
	s.boundary = true
	o = s.withReads(pass("the condition"))
	want = "the condition; the client's recorded reads: read 98 after the size asked for 672 bytes and got 672: the last 672 bytes of the file, ending where the file ends: the reads stopped at the boundary"
	if o.Detail != want {
		t.Errorf("detail = %q\nwant     %q", o.Detail, want)
	}
	if o := s.withReads(skip("not this framing")); strings.Contains(o.Detail, "recorded") {
		t.Errorf("a SKIP gained words about reads: %q", o.Detail)
	}
}
