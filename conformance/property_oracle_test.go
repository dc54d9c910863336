package conformance_test

import (
	"slices"
	"testing"

	"github.com/stickykit/stickykit/spec"
)

// segReader replays, from a plan alone, what the Reads on the client's end
// of a net.Pipe return when the server writes one segment per Write: a
// Read(n) returns min(n, what is left of the current segment), and 0 (end
// of stream) once every segment has been read.
type segReader struct {
	segs []int
	i    int // current segment
	off  int // bytes of it already read
}

func (r *segReader) read(n int) int {
	for r.i < len(r.segs) && r.off == r.segs[r.i] {
		r.i, r.off = r.i+1, 0
	}
	if r.i == len(r.segs) || n <= 0 {
		return 0
	}
	m := min(n, r.segs[r.i]-r.off)
	r.off += m
	return m
}

// prediction is what the oracle expects of a tutorial-style client.
type prediction struct {
	Reads      []int // the length of every body read, in order
	K          int   // digest bytes the last body read took: > 0 is the sticky packet
	DigestRead int   // bytes the one digest read returns; 0 when the stream has ended
}

// Corrupt reports whether the client writes more than the file: its last
// body read straddled the data/digest boundary.
func (p prediction) Corrupt() bool { return p.K > 0 }

// DigestWhole reports whether the digest read returns the whole digest.
func (p prediction) DigestWhole() bool { return p.DigestRead == spec.DigestLen }

// predictTutorial is the oracle of the sticky-packet bug. From the segments
// in which the data and the digest reach the client (body) and the size
// alone, it predicts the reads of the tutorial's client, which reads the
// body until it has at least size bytes, with Read(1024) when exact is false
// (the first client) or Read(min(1024, remaining)) when exact is true (the
// article's fix), and then the digest with one Read(1024).
//
// The first client's last body read straddles the boundary exactly when a
// segment that crosses offset size is still unread when that read begins:
// it then takes K = min(1024 - (what the read took of the data), rest of
// the segment beyond size) bytes of digest. The exact-remaining read never
// straddles; its digest read is whole exactly when one segment holds the
// whole digest from its first byte on, that is when the digest arrives in
// one read.
func predictTutorial(body []int, size int, exact bool) prediction {
	r := &segReader{segs: body}
	var p prediction
	got := 0
	for got < size {
		want := readSize
		if exact {
			want = min(readSize, size-got)
		}
		n := r.read(want)
		if n == 0 {
			break // the stream ended early: the plan was short
		}
		p.Reads = append(p.Reads, n)
		got += n
	}
	p.K = max(got-size, 0)
	p.DigestRead = r.read(readSize)
	return p
}

// oracleTests pin the oracle on cases worked out by hand, both where the
// bug appears and where it cannot.
var oracleTests = []struct {
	name  string
	body  []int
	size  int
	exact bool
	want  prediction
}{
	{"coalesced 1000: one read takes 24 digest bytes", []int{1032}, 1000, false,
		prediction{Reads: []int{1024}, K: 24, DigestRead: 8}},
	{"coalesced 2000", []int{2032}, 2000, false,
		prediction{Reads: []int{1024, 1008}, K: 32, DigestRead: 0}},
	{"coalesced 992: the digest fills the read", []int{1024}, 992, false,
		prediction{Reads: []int{1024}, K: 32, DigestRead: 0}},
	{"coalesced multiple of 1024: no straddle", []int{2048 + 32}, 2048, false,
		prediction{Reads: []int{1024, 1024}, K: 0, DigestRead: 32}},
	{"separate digest: no straddle", []int{1000, 32}, 1000, false,
		prediction{Reads: []int{1000}, K: 0, DigestRead: 32}},
	{"tail+digest after 1024-byte writes: the whole digest in the last read", []int{1024, 1024, 100 + 32}, 2148, false,
		prediction{Reads: []int{1024, 1024, 132}, K: 32, DigestRead: 0}},
	{"tail of 1000 and digest after 4096-byte writes", []int{4096, 1000 + 32}, 5096, false,
		prediction{Reads: []int{1024, 1024, 1024, 1024, 1024}, K: 24, DigestRead: 8}},
	{"empty file: nothing read", []int{32}, 0, false,
		prediction{Reads: nil, K: 0, DigestRead: 32}},
	{"article, coalesced 2000", []int{2032}, 2000, true,
		prediction{Reads: []int{1024, 976}, K: 0, DigestRead: 32}},
	{"article, digest split at 5", []int{2000, 5, 27}, 2000, true,
		prediction{Reads: []int{1024, 976}, K: 0, DigestRead: 5}},
	{"article, tail with 5 digest bytes", []int{1500 + 5, 27}, 1500, true,
		prediction{Reads: []int{1024, 476}, K: 0, DigestRead: 5}},
	{"naive, digest split inside the straddling read", []int{1010, 10, 22}, 1000, false,
		prediction{Reads: []int{1010}, K: 10, DigestRead: 10}},
}

func TestPropertyOracleExamples(t *testing.T) {
	for _, tt := range oracleTests {
		got := predictTutorial(tt.body, tt.size, tt.exact)
		if !slices.Equal(got.Reads, tt.want.Reads) || got.K != tt.want.K || got.DigestRead != tt.want.DigestRead {
			t.Errorf("%s: predictTutorial(%v, %d, %v) = %+v, want %+v", tt.name, tt.body, tt.size, tt.exact, got, tt.want)
		}
	}
}
