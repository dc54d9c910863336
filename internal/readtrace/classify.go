package readtrace

import (
	"github.com/stickykit/stickykit/spec"
)

// Layout says where the messages of one exchange lie in the
// server-to-client stream of a connection: the size from offset 0, the
// data from Data, the digest from Digest, and the end of the exchange at
// End.
//
//	0         Data                Digest       End
//	| size    | data (the file)   | digest (32) |
type Layout struct {
	Data   int64 `json:"data"`
	Digest int64 `json:"digest"`
	End    int64 `json:"end"`
}

// ExchangeLayout returns the layout of a correct reply to a request, in
// framing f, for a file of size bytes.
func ExchangeLayout(f spec.Framing, size int64) Layout {
	msg, err := spec.EncodeSize(f, size)
	if err != nil {
		msg = nil
	}
	d := int64(len(msg))
	return Layout{Data: d, Digest: d + size, End: d + size + spec.DigestLen}
}

// Kind names what a [Finding] is about.
type Kind string

// The kinds of findings about a client's reads of a reply ([Classify]).
const (
	// Sticky: a read took bytes of the data and of the digest together
	// (or of the size and the digest, for an empty file): the sticky
	// packet reached the client's read. That alone is no fault: a client
	// that reads through a buffer (the reference client's 64 KiB
	// bufio.Reader) makes such reads and splits the bytes itself. What
	// it did with them, the file it wrote says.
	Sticky Kind = "sticky"
	// SizeWithData: a read took bytes of the size and of the data
	// together.
	SizeWithData Kind = "size-with-data"
	// ShortSize: a read that asked for more got only part of the size.
	ShortSize Kind = "short-size"
	// ShortDigest: a read that asked for more got only part of the
	// digest: the half packet reached the client's read. A client that
	// reads on until it has all 32 bytes survives it.
	ShortDigest Kind = "short-digest"
	// PartDigest: the client read some of the digest, never all of it.
	PartDigest Kind = "part-digest"
	// NoDigest: the client read none of the digest.
	NoDigest Kind = "no-digest"
)

// Finding is one thing the reads of a connection show: a read that took
// bytes of two messages, or part of one, or what the reads took of a
// message in all. Its Words say it in one sentence.
type Finding struct {
	Kind Kind
	// Index is the read's index in the stream's reads; -1 for a finding
	// about no single read (NoDigest).
	Index int
	Read  Read
	// N is the read's number, from 1, as the words give it: among the
	// reads that began at or after the first byte of data when AfterSize
	// is set, else among all the reads that took bytes.
	N         int
	AfterSize bool
	Layout    Layout
	// DataRead and DigestRead are the bytes of the data and of the digest
	// that all the reads took (for PartDigest and NoDigest).
	DataRead, DigestRead int64
	// Request is the request the kit sent, for the findings of
	// ClassifyRequest; Next is the number of the server's next read of
	// the request after this one (0: none).
	Request string
	Next    int
}

// Classify lays the reads of a client over the layout of the reply it was
// sent and returns what they show, in the order of the reads: the read
// that took data and digest together (Sticky), the size and data
// (SizeWithData), part of the size or of the digest when it asked for more
// (ShortSize, ShortDigest); then, about all the reads, a digest read in
// part (PartDigest) or not at all (NoDigest). A read gives at most one
// finding; reads that end where messages end give none. Reads that only
// peeked (MSG_PEEK) are left out.
func Classify(s *Stream, l Layout) []Finding {
	var out []Finding
	var dataRead, digestRead int64
	lastDigest := -1
	n, after := 0, 0
	for i, r := range s.Reads {
		if !r.consumed() {
			continue
		}
		n++
		if r.Offset >= l.Data {
			after++
		}
		dataRead += overlap(r.Offset, r.End(), l.Data, l.Digest)
		if d := overlap(r.Offset, r.End(), l.Digest, l.End); d > 0 {
			digestRead += d
			lastDigest = i
		}
		f := Finding{Index: i, Read: r, N: n, Layout: l}
		if r.Offset >= l.Data && l.Data > 0 {
			f.N, f.AfterSize = after, true
		}
		if f.Kind = readKind(r, l); f.Kind != "" {
			out = append(out, f)
		}
	}
	switch {
	case digestRead == 0:
		out = append(out, Finding{Kind: NoDigest, Index: -1, Layout: l, DataRead: dataRead})
	case digestRead < l.End-l.Digest:
		f := Finding{Kind: PartDigest, Index: lastDigest, Read: s.Reads[lastDigest], Layout: l, DataRead: dataRead, DigestRead: digestRead}
		f.N, f.AfterSize = readNumber(s.Reads, lastDigest, l.Data)
		out = append(out, f)
	}
	return out
}

// readKind returns what one read shows, or "" when it ended where the
// messages it took ended.
func readKind(r Read, l Layout) Kind {
	off, end := r.Offset, r.End()
	short := r.Asked > r.Got
	switch {
	case off < l.Digest && end > l.Digest:
		return Sticky
	case off < l.Data && end > l.Data:
		return SizeWithData
	case short && end < l.Data:
		return ShortSize
	case short && off >= l.Digest && end < l.End:
		return ShortDigest
	}
	return ""
}

// ReadAt returns a Finding about the read at index i of s's reads laid
// over l, with no Kind: its Words name the read, say what it asked for
// and got, and what it took of each message, whether or not Classify
// finds anything in it (a read that ended where the data ends, say).
func ReadAt(s *Stream, i int, l Layout) Finding {
	f := Finding{Index: i, Read: s.Reads[i], Layout: l}
	f.N, f.AfterSize = readNumber(s.Reads, i, l.Data)
	return f
}

// readNumber returns the number of reads[i] as Finding.N gives it.
func readNumber(reads []Read, i int, data int64) (n int, afterSize bool) {
	all, after := 0, 0
	for _, r := range reads[:i+1] {
		if !r.consumed() {
			continue
		}
		all++
		if r.Offset >= data {
			after++
		}
	}
	if reads[i].Offset >= data && data > 0 {
		return after, true
	}
	return all, false
}

// overlap returns the length of [a, b) ∩ [c, d).
func overlap(a, b, c, d int64) int64 {
	lo, hi := max(a, c), min(b, d)
	if hi <= lo {
		return 0
	}
	return hi - lo
}

// The kinds of findings about a server's reads of a request
// ([ClassifyRequest]).
const (
	// RequestWhole: one read took the whole request.
	RequestWhole Kind = "request-whole"
	// RequestPieces: the server took the request in several reads, and
	// all of it.
	RequestPieces Kind = "request-pieces"
	// RequestPart: the server read part of the request and no more: it
	// made no other read of the connection that returned, and was not
	// waiting in one when the trace ended.
	RequestPart Kind = "request-part"
	// RequestWaiting: the server read part of the request and was still
	// waiting in a read for the rest when the trace ended.
	RequestWaiting Kind = "request-waiting"
	// RequestNone: the server read none of the request.
	RequestNone Kind = "request-none"
)

// ClassifyRequest says how a server's reads on a connection took the
// request the kit sent at its beginning (the first len(request) bytes of
// the client-to-server stream): in one read, in several, in part and no
// more, or not at all. The finding's read is the first read of the
// request.
func ClassifyRequest(s *Stream, request string) Finding {
	f := Finding{Kind: RequestNone, Index: -1, Request: request}
	end := int64(len(request))
	var took int64
	n := 0
	for i, r := range s.Reads {
		if !r.consumed() {
			continue
		}
		n++
		if r.Offset >= end {
			break
		}
		took += overlap(r.Offset, r.End(), 0, end)
		if f.Index < 0 {
			f.Index, f.Read, f.N = i, r, n
		} else if f.Next == 0 {
			f.Next = n
		}
	}
	switch {
	case f.Index < 0:
		return f
	case took >= end && f.Next == 0:
		f.Kind = RequestWhole
	case took >= end:
		f.Kind = RequestPieces
	case s.Pending > 0:
		f.Kind = RequestWaiting
	default:
		f.Kind = RequestPart
	}
	f.DataRead = took
	return f
}
