// Property-based tests of the stickykit exchange (pgregory.net/rapid).
//
// They prove, rather than claim, when the sticky-packet bug appears: a
// delivery plan fixes how the server's bytes are cut into the client's
// reads (over net.Pipe a Read never spans two Writes, so a server that
// writes exactly the planned segments defines every read), and a pure
// oracle, predictTutorial, says from the plan and the size alone what the
// tutorial's readers will read. The tests then check, in both framings:
//
//   - TestPropertyRefClientScripted, TestPropertyRefShaped: the reference
//     client receives exactly the file and verifies the digest under every
//     plan that keeps lockstep control messages whole, and under any plan at
//     all in the line framing;
//   - TestPropertyNaiveSticky: the naive reader's output is corrupt if and
//     only if the oracle says its last body read straddles the data/digest
//     boundary, and then it is exactly the file followed by the first k
//     bytes of the digest; its reads are the predicted ones;
//   - TestPropertyArticleFix: the exact-remaining read always writes exactly
//     the file, and its digest check fails if and only if the digest
//     arrives in more than one read;
//   - TestPropertyServerModel: the reference server, driven by a state
//     machine over one connection, answers like a plain model of its
//     directory and keeps serving;
//   - TestPropertyShapeSegments: the shaping wrappers deliver exactly the
//     planned segments.
//
// TestPropertyOracleExamples pins the oracle on cases worked out by hand,
// and FuzzPropertyNaiveSticky hands the naive property to Go's fuzzer.
//
// The defaults (100 checks per property) keep the suite within a few
// seconds; scale it up with -rapid.checks=N (and -rapid.steps=N for the
// state machine), given after the package, for example:
//
//	go test -race ./conformance/ -run Property -rapid.checks=2000
//
// A failure prints the seed to replay (-rapid.seed=N) and the minimised
// plan, written by delivery.String. Failures are saved under
// testdata/rapid/ (-rapid.nofailfile turns that off); none is committed,
// as every property must hold for any seed.
package conformance_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/spec"
)

const (
	// maxFileSize bounds the generated files.
	maxFileSize = 300 << 10
	// maxSegments bounds the segments of a drawn plan; past it, one last
	// segment carries the rest, so a plan of 1-byte segments over a large
	// file stays fast. delivery.String shows the plan as delivered.
	maxSegments = 4096
	// readSize is the tutorial's recv(1024).
	readSize = 1024
	// pipeTimeout is a safety net on every net.Pipe end, so that a bug
	// fails a test instead of hanging it. No assertion depends on it.
	pipeTimeout = 30 * time.Second
)

// genSize draws a file size, biased towards the sizes where the bug lives:
// 0, 1, multiples of 1024 and their neighbours, and sizes that leave room
// for exactly the 32 bytes of digest in the last 1024-byte read.
func genSize() *rapid.Generator[int] {
	return rapid.OneOf(
		rapid.SampledFrom([]int{0, 1, 2, 31, 32, 33, 991, 992, 993, 1000, 1023, 1024, 1025,
			2047, 2048, 2049, 4095, 4096, 4097, 65535, 65536, 65537, maxFileSize}),
		rapid.Custom(func(t *rapid.T) int {
			k := rapid.IntRange(1, maxFileSize/readSize).Draw(t, "k")
			d := rapid.SampledFrom([]int{-33, -32, -31, -1, 0, 1}).Draw(t, "d")
			return k*readSize + d
		}),
		rapid.IntRange(0, 8<<10),
		rapid.IntRange(0, maxFileSize),
	)
}

// fileContent returns n bytes of the seeded stream of seed (drawing each
// byte from rapid would be slow).
func fileContent(seed uint64, n int) []byte { return seeded.Bytes(seed, int64(n)) }

// drawFile draws a size and the content of a file of that size.
func drawFile(t *rapid.T) []byte {
	size := genSize().Draw(t, "size")
	seed := rapid.Uint64().Draw(t, "content seed")
	return fileContent(seed, size)
}

// digestOf returns the 32 lowercase hex digits of the MD5 of b.
func digestOf(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// delivery is how a server's bytes reach the client: the segments in which
// the reply (the size message, terminator included) arrives, then those in
// which the data and the digest arrive. The body segments sum to SIZE+32.
type delivery struct {
	kind  string // how the plan was built, e.g. "coalesced" or "digest split at 7"
	crlf  bool   // the size line ends with CRLF (line framing)
	reply []int
	body  []int
}

// replyBytes returns the size message the server sends for size bytes in
// framing f.
func (d delivery) replyBytes(f spec.Framing, size int) []byte {
	b, err := spec.EncodeSize(f, int64(size))
	if err != nil {
		panic(err) // sizes are never negative
	}
	if d.crlf {
		b = append(b[:len(b)-1], "\r\n"...)
	}
	return b
}

// String shows the plan compactly, runs of equal segments as "1024x3":
//
//	fixed 1024: reply [4], body [1024x1 968] (size 1960)
func (d delivery) String() string {
	total := 0
	for _, n := range d.body {
		total += n
	}
	term := ""
	if d.crlf {
		term = " CRLF"
	}
	return fmt.Sprintf("%s: reply%s %s, body %s (size %d)", d.kind, term, runs(d.reply), runs(d.body), total-spec.DigestLen)
}

// runs writes segs with runs of equal sizes shortened: [1024x3 968 32].
func runs(segs []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(segs); {
		j := i
		for j < len(segs) && segs[j] == segs[i] {
			j++
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(segs[i]))
		if j-i > 1 {
			fmt.Fprintf(&b, "x%d", j-i)
		}
		i = j
	}
	b.WriteByte(']')
	return b.String()
}

// cover cuts total bytes into segments of the given sizes in order, the
// last size repeating (as shape.Sizes does); the last segment may be
// shorter.
func cover(total int, sizes ...int) []int {
	var segs []int
	for i := 0; total > 0; i++ {
		n := min(sizes[min(i, len(sizes)-1)], total)
		segs = append(segs, n)
		total -= n
	}
	return segs
}

// capped merges the segments past maxSegments into the last one, so that a
// plan of 1-byte segments over a large file stays quick.
func capped(segs []int) []int {
	if len(segs) <= maxSegments {
		return segs
	}
	rest := 0
	for _, n := range segs[maxSegments-1:] {
		rest += n
	}
	return append(segs[:maxSegments-1:maxSegments-1], rest)
}

// drawChunk draws how a server writes size bytes of data (the size of each
// write), biased towards the sizes real servers use, and large enough that
// the data takes fewer than maxSegments writes.
func drawChunk(t *rapid.T, label string, size int) int {
	c := rapid.OneOf(
		rapid.SampledFrom([]int{1, 32, 1000, 1023, 1024, 1025, 4096, 8192, 65536}),
		rapid.IntRange(1, 8192),
	).Draw(t, label)
	return max(c, (size+maxSegments-3)/(maxSegments-2)) // room for two digest segments
}

// bodyKinds names the shapes drawBody builds.
var bodyKinds = []string{"segments", "coalesced", "fixed", "tail+digest", "digest split", "one cut"}

// drawBody draws the segments in which size bytes of data and then the
// digest reach the client.
func drawBody(t *rapid.T, size int) (string, []int) {
	kind, segs := drawBodyUncapped(t, size)
	return kind, capped(segs)
}

// drawBodyUncapped is drawBody before capped.
func drawBodyUncapped(t *rapid.T, size int) (string, []int) {
	total := size + spec.DigestLen
	switch kind := rapid.SampledFrom(bodyKinds).Draw(t, "plan"); kind {
	case "segments":
		sizes := rapid.SliceOfN(rapid.IntRange(1, 4096), 1, 8).Draw(t, "segments")
		return fmt.Sprintf("segments %v, last repeating", sizes), cover(total, sizes...)
	case "coalesced":
		// Everything after the ack in one segment: the kernel merged every
		// send, as on the tutorial's Linux host.
		return "coalesced", []int{total}
	case "fixed":
		n := drawChunk(t, "fixed", total)
		return fmt.Sprintf("fixed %d", n), cover(total, n)
	case "tail+digest":
		// The data in writes of c bytes, the last of them merged with the
		// digest: the tutorial's sticky packet.
		c := drawChunk(t, "chunk", size)
		segs := cover(size, c)
		if len(segs) == 0 {
			return fmt.Sprintf("tail+digest, chunks of %d", c), []int{spec.DigestLen}
		}
		segs[len(segs)-1] += spec.DigestLen
		return fmt.Sprintf("tail+digest, chunks of %d", c), segs
	case "digest split":
		// The digest cut in two, its first k bytes either alone or merged
		// with the data's tail: the half packet.
		c := drawChunk(t, "chunk", size)
		k := rapid.IntRange(1, spec.DigestLen-1).Draw(t, "digest cut")
		withTail := rapid.Bool().Draw(t, "first part with the tail")
		segs := cover(size, c)
		if withTail && len(segs) > 0 {
			segs[len(segs)-1] += k
		} else {
			segs = append(segs, k)
		}
		segs = append(segs, spec.DigestLen-k)
		return fmt.Sprintf("digest split at %d (with tail %v), chunks of %d", k, withTail, c), segs
	case "one cut":
		// Two segments, cut near the data/digest boundary.
		at := rapid.IntRange(max(1, size-2*readSize), total-1).Draw(t, "cut")
		return fmt.Sprintf("one cut at %d", at), []int{at, total - at}
	default:
		panic("unknown plan kind " + kind)
	}
}

// drawReply draws the segments of a reply of n bytes. Lockstep control
// messages must arrive whole (a fragmented one is a protocol hazard no peer
// survives); in the line framing any cut goes.
func drawReply(t *rapid.T, f spec.Framing, n int) []int {
	if f == spec.Lockstep {
		return []int{n}
	}
	sizes := rapid.SliceOfN(rapid.IntRange(1, n), 1, 4).Draw(t, "reply segments")
	return cover(n, sizes...)
}

// drawDelivery draws a whole plan for a file of size bytes.
func drawDelivery(t *rapid.T, f spec.Framing, size int) delivery {
	var d delivery
	if f == spec.Line {
		d.crlf = rapid.Bool().Draw(t, "crlf")
	}
	d.reply = drawReply(t, f, len(d.replyBytes(f, size)))
	d.kind, d.body = drawBody(t, size)
	return d
}

// scriptedServer plays the server's side of one exchange on c, in framing
// f: it reads a request, sends the reply in the segments d.reply, reads the
// ack, sends the data and the digest in the segments d.body, one Write per
// segment, and closes c. Over net.Pipe the client's reads are then fixed by
// d: a Read(p) returns min(len(p), the rest of the current segment), and
// once the last segment is read the client sees EOF.
//
// It returns how many bytes of data and digest the client took (a net.Pipe
// Write returns only when the reader has taken every byte, or the pipe is
// closed) and the first error. A client that leaves before the end of the
// digest makes the next Write fail with io.ErrClosedPipe.
func scriptedServer(c net.Conn, f spec.Framing, data []byte, d delivery) (int, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(pipeTimeout))
	r := spec.NewReader(c, f)
	if _, err := r.ReadRequest(); err != nil {
		return 0, fmt.Errorf("scripted server: reading request: %w", err)
	}
	if _, err := writeSegments(c, d.replyBytes(f, len(data)), d.reply); err != nil {
		return 0, fmt.Errorf("scripted server: sending size: %w", err)
	}
	if err := r.ReadAck(); err != nil {
		return 0, fmt.Errorf("scripted server: reading ack: %w", err)
	}
	stream := append(append([]byte(nil), data...), digestOf(data)...)
	n, err := writeSegments(c, stream, d.body)
	if err != nil {
		return n, fmt.Errorf("scripted server: sending data: %w", err)
	}
	return n, nil
}

// writeSegments writes b to c in one Write per segment and returns the
// bytes written.
func writeSegments(c net.Conn, b []byte, segs []int) (int, error) {
	off := 0
	for _, n := range segs {
		m, err := c.Write(b[off : off+n])
		off += m
		if err != nil {
			return off, err
		}
	}
	if off != len(b) {
		return off, fmt.Errorf("plan covers %d bytes of %d", off, len(b))
	}
	return off, nil
}
