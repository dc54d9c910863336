package conformance_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"testing"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

// tutorialRun is one download by a naive client from the scripted server.
type tutorialRun struct {
	data  []byte
	d     delivery
	out   []byte
	res   *naive.Result
	took  int   // bytes of data and digest the client took from the server
	reads []int // every read on the client's conn, as shape.Record saw it
}

// runTutorial draws a file and a plan in framing f and downloads the file
// with a naive client of variant v from a scripted server that delivers it
// in exactly the planned segments.
//
// The size message arrives whole, in both framings: the tutorial's clients
// read it with one recv(1024) whatever the framing, so a cut size line
// makes them read a wrong size (the half packet again) and is not the bug
// these properties are about.
func runTutorial(t *rapid.T, f spec.Framing, v naive.Variant) tutorialRun {
	data := drawFile(t)
	reply, err := spec.EncodeSize(f, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	d := delivery{reply: []int{len(reply)}}
	d.kind, d.body = drawBody(t, len(data))
	t.Logf("plan: %v", d)

	srvEnd, cliEnd := net.Pipe()
	type served struct {
		n   int
		err error
	}
	done := make(chan served, 1)
	go func() {
		n, err := scriptedServer(srvEnd, f, data, d)
		done <- served{n, err}
	}()
	var out bytes.Buffer
	// The scripted server closes its end after the last segment, so a
	// digest read that finds the digest gone sees EOF at once rather than
	// waiting out DigestWait.
	c := &naive.Client{Variant: v, Framing: f, Timeout: pipeTimeout, DigestWait: pipeTimeout}
	var rec shape.Recorder
	res, err := c.Get(shape.Record(cliEnd, &rec), "file", &out)
	cliEnd.Close()
	s := <-done
	if err != nil {
		t.Fatalf("Get: %v (server: %v)", err, s.err)
	}
	// The client takes the body, then leaves after one digest read: the
	// server's Write of what it left unread fails.
	if total := len(data) + spec.DigestLen; s.n < total && !errors.Is(s.err, io.ErrClosedPipe) || s.n == total && s.err != nil {
		t.Fatalf("server: %v", s.err)
	}
	return tutorialRun{data: data, d: d, out: out.Bytes(), res: res, took: s.n, reads: rec.Sizes("read")}
}

// checkReads fails t unless the client's reads are the predicted ones, as
// it reports them and as shape.Record saw them on its conn: the size, the
// body reads, then the digest read (if it returned bytes).
func checkReads(t *rapid.T, r tutorialRun, p prediction) {
	t.Helper()
	res := r.res
	want := append(append([]int{r.d.reply[0]}, p.Reads...), p.DigestRead)
	if p.DigestRead == 0 {
		want = want[:len(want)-1]
	}
	if !slices.Equal(r.reads, want) {
		t.Fatalf("reads on the conn %s, oracle predicts %s", runs(r.reads), runs(want))
	}
	if !slices.Equal(res.Reads, p.Reads) {
		t.Fatalf("body reads %s, oracle predicts %s", runs(res.Reads), runs(p.Reads))
	}
	if res.DigestReads != p.DigestRead {
		t.Fatalf("digest read returned %d bytes, oracle predicts %d", res.DigestReads, p.DigestRead)
	}
}

// checkTook fails t unless the client took from the server exactly the
// bytes the oracle says it reads: nothing more was consumed unseen.
func checkTook(t *rapid.T, r tutorialRun, p prediction) {
	t.Helper()
	if want := len(r.data) + p.K + p.DigestRead; r.took != want {
		t.Fatalf("client took %d bytes of data and digest, oracle predicts %d", r.took, want)
	}
}

// checkDigestRead fails t unless the digest read returned the bytes of
// digest the oracle predicts: those after the K the body reads took.
func checkDigestRead(t *rapid.T, res *naive.Result, digest string, p prediction) {
	t.Helper()
	if want := digest[p.K : p.K+p.DigestRead]; res.Server != want {
		t.Fatalf("digest read returned %q, want %q", res.Server, want)
	}
}

// TestPropertyNaiveSticky checks the oracle against the tutorial's first
// client: its output is corrupt if and only if the oracle predicts that its
// last body read straddles the data/digest boundary, and then the output is
// exactly the file followed by the first K bytes of the digest; its reads
// are exactly the predicted ones.
func TestPropertyNaiveSticky(t *testing.T) {
	checkCounting(t, "outputs: %d corrupt, %d intact", naiveSticky)
}

// checkCounting runs the property check in each framing with two
// counters, and logs them with format.
func checkCounting(t *testing.T, format string, check func(t *rapid.T, f spec.Framing, a, b *int)) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, f := range spec.Framings {
		t.Run(f.String(), func(tt *testing.T) {
			var a, b int
			defer func() { tt.Logf(format, a, b) }()
			rapid.Check(tt, func(t *rapid.T) { check(t, f, &a, &b) })
		})
	}
}

// runPredicted runs the tutorial's client v under a drawn delivery, and
// checks its reads against what the oracle predicts, which it returns.
func runPredicted(t *rapid.T, f spec.Framing, v naive.Variant) (tutorialRun, prediction) {
	r := runTutorial(t, f, v)
	p := predictTutorial(r.d.body, len(r.data), v == naive.Article)
	checkReads(t, r, p)
	checkTook(t, r, p)
	return r, p
}

// naiveSticky is one check of TestPropertyNaiveSticky; it counts the
// outputs found corrupt and intact.
func naiveSticky(t *rapid.T, f spec.Framing, corruptN, intactN *int) {
	r, p := runPredicted(t, f, naive.Naive)
	size := len(r.data)

	corrupt := !bytes.Equal(r.out, r.data)
	if corrupt != p.Corrupt() {
		t.Fatalf("output corrupt = %v (%d bytes), oracle predicts %v (K = %d)", corrupt, len(r.out), p.Corrupt(), p.K)
	}
	digest := digestOf(r.data)
	checkDigestRead(t, r.res, digest, p)
	if p.Corrupt() {
		want := append(append([]byte(nil), r.data...), digest[:p.K]...)
		if !bytes.Equal(r.out, want) {
			t.Fatalf("output is %d bytes, want the file and the first %d digest bytes (%d bytes)", len(r.out), p.K, len(want))
		}
	}
	if r.res.Written != int64(size+p.K) {
		t.Fatalf("Written = %d, want %d", r.res.Written, size+p.K)
	}
	if want := !p.Corrupt() && p.DigestWhole(); r.res.Match != want {
		t.Fatalf("Match = %v, want %v (K = %d, digest read %d bytes)", r.res.Match, want, p.K, p.DigestRead)
	}
	// A closed form for one plan, independent of the oracle's
	// simulation: with everything after the ack in one segment, the
	// bug appears exactly when the size is not a multiple of 1024.
	if r.d.kind == "coalesced" && p.Corrupt() != (size%readSize != 0) {
		t.Fatalf("coalesced %d bytes: oracle says corrupt = %v", size, p.Corrupt())
	}
	if corrupt {
		*corruptN++
	} else {
		*intactN++
	}
}

// digestInOneSegment reports whether a single segment of body holds the
// whole digest, which follows size bytes of data.
func digestInOneSegment(body []int, size int) bool {
	off := 0
	for _, n := range body {
		if off <= size && off+n >= size+spec.DigestLen {
			return true
		}
		off += n
	}
	return false
}

// TestPropertyArticleFix checks the article's exact-remaining read: it
// writes exactly the file under every plan, and its digest check fails if
// and only if the digest arrives in more than one read (the half packet
// the fix leaves open).
func TestPropertyArticleFix(t *testing.T) {
	checkCounting(t, "digests: %d whole, %d split", articleFix)
}

// articleFix is one check of TestPropertyArticleFix; it counts the digests
// that arrived whole and split.
func articleFix(t *rapid.T, f spec.Framing, wholeN, splitN *int) {
	r, p := runPredicted(t, f, naive.Article)
	size := len(r.data)
	checkReceived(t, r.out, r.data)
	checkDigestRead(t, r.res, digestOf(r.data), p)
	if p.Corrupt() {
		t.Fatalf("oracle predicts an exact reader takes %d digest bytes", p.K)
	}
	whole := digestInOneSegment(r.d.body, size)
	if p.DigestWhole() != whole {
		t.Fatalf("oracle says digest whole = %v, the plan says %v", p.DigestWhole(), whole)
	}
	if r.res.Match != whole {
		t.Fatalf("Match = %v, want %v (digest read %d bytes)", r.res.Match, whole, r.res.DigestReads)
	}
	if whole {
		*wholeN++
	} else {
		*splitN++
	}
}

// FuzzPropertyNaiveSticky runs the naive reader's property under Go's
// fuzzer, which then chooses the bits rapid draws from:
//
//	go test ./conformance/ -run '^$' -fuzz FuzzPropertyNaiveSticky -fuzztime 1m
func FuzzPropertyNaiveSticky(f *testing.F) {
	f.Fuzz(rapid.MakeFuzz(func(t *rapid.T) {
		fr := rapid.SampledFrom(spec.Framings).Draw(t, "framing")
		naiveSticky(t, fr, new(int), new(int))
	}))
}
