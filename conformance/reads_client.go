package conformance

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/spec"
)

// The recorded reads of a client under test (ClientTarget.Reads): how a
// client case records them (the command under strace, the kit's writes,
// where the messages lie in the stream) and what the verdicts say with
// them.

// clientReads is what a client session records for its reads.
type clientReads struct {
	trace  *programTrace  // nil: the reads are not recorded
	conn   readtrace.Conn // the client's view of the kit's connection
	known  bool           // conn is known: the client connected
	layout *Layout        // where the messages lie; nil until the kit sends a size
	wrote  []int64        // the sizes of the kit's writes to the client

	parsed bool
	stream *readtrace.Stream // the reads of the kit's connection, once parsed
}

// startTrace readies the recording of the client's reads, when the run
// records them and the client is a command.
func (s *clientSession) startTrace() error {
	if t := s.x.target; t.Func != nil {
		return nil
	}
	p, err := newProgramTrace(s.x.reads.get(s.ctx))
	if err != nil {
		return fmt.Errorf("cannot record the client's reads: %w", err)
	}
	s.rd.trace = p
	return nil
}

// traceConn notes the client's view of the kit's connection c.
func (s *clientSession) traceConn(c net.Conn) {
	if s.rd.trace == nil {
		return
	}
	conn, err := readtrace.Opposite(c)
	if err != nil {
		s.x.logf("kit: the client's reads cannot be matched to its connection: %v", err)
		return
	}
	s.rd.conn, s.rd.known = conn, true
}

// wrote records a write of n bytes to the client.
func (s *clientSession) wrote(n int) {
	if n > 0 {
		s.rd.wrote = append(s.rd.wrote, int64(n))
	}
}

// announce records where the messages of the exchange lie in the stream:
// a size message of sizeLen bytes that announces dataLen bytes of data,
// then the digest (none with --digest none).
func (s *clientSession) announce(sizeLen, dataLen int) {
	l := Layout{Data: int64(sizeLen), Digest: int64(sizeLen + dataLen)}
	l.End = l.Digest
	if s.x.digest != spec.DigestNone {
		l.End += spec.DigestLen
	}
	s.rd.layout = &l
}

// recorded returns the client's reads on the kit's connection once the
// client has ended, or nil when they were not recorded, or show no read
// that took a byte (then they cannot be judged by: a client reads the
// size before it acknowledges it, so its reads went where strace cannot
// see them).
func (s *clientSession) recorded() *readtrace.Stream {
	rd := &s.rd
	if rd.trace == nil || !rd.known || !s.ended() {
		return nil
	}
	if !rd.parsed {
		rd.parsed = true
		rd.stream = s.parseReads()
		if !s.complete(rd.stream) {
			rd.stream = nil
		}
	}
	if rd.stream == nil || rd.stream.Consumed() == 0 {
		return nil
	}
	return rd.stream
}

// complete reports whether the recorded reads account for every byte the
// client took. When the kernel says that the client left nothing unread
// (its end of the connection closed without a reset, and every write of
// the kit's arrived), the client took every byte the kit wrote, and its
// reads must show them all; reads that show fewer went where strace
// cannot see (io_uring, say), and are not used: the kernel's word stands.
func (s *clientSession) complete(st *readtrace.Stream) bool {
	if st == nil || !s.finished || s.unread || s.closedEarly || s.werr != nil || s.exit.killed {
		return true
	}
	var wrote int64
	for _, n := range s.rd.wrote {
		wrote += n
	}
	if got := st.Consumed(); got < wrote {
		s.x.logf("kit: the client's recorded reads took %d of the %d bytes it read (the kernel says it left none unread): some of its reads went where strace cannot see; they are not used", got, wrote)
		return false
	}
	return true
}

// ended reports whether the client has ended.
func (s *clientSession) ended() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// parseReads reads the trace of the client and logs what it shows of the
// kit's connection.
func (s *clientSession) parseReads() *readtrace.Stream {
	x, rd := s.x, &s.rd
	tr, err := rd.trace.read()
	if err != nil {
		x.logf("kit: the client's reads could not be read: %v", err)
		return nil
	}
	st := tr.Stream(rd.conn)
	if len(st.Reads) == 0 {
		x.logf("kit: strace recorded no read of the kit's connection %s (%d reads of unnamed sockets)", rd.conn, tr.Undecoded)
		return st
	}
	x.logf("kit: the client's reads, recorded with strace: %d calls on %s took %d bytes%s", len(st.Reads), rd.conn, st.Consumed(), failedWords(st))
	for _, f := range s.readFindingsOf(st) {
		x.logf("kit: reads: %s: %s", f.Kind, f.Words())
	}
	return st
}

// failedWords says which calls took nothing, after a semicolon: "; calls
// that failed and took nothing: 3 EAGAIN", or "".
func failedWords(st *readtrace.Stream) string {
	if w := st.TookNothing(); w != "" {
		return "; " + w
	}
	return ""
}

// readFindings returns what the recorded reads show about the exchange,
// or nothing when they were not recorded or the kit sent no size.
func (s *clientSession) readFindings() []readtrace.Finding {
	st := s.recorded()
	if st == nil {
		return nil
	}
	return s.readFindingsOf(st)
}

// readFindingsOf lays the reads of st over the exchange the kit sent.
// What they took of the digest counts only when the kit sent one.
func (s *clientSession) readFindingsOf(st *readtrace.Stream) []readtrace.Finding {
	l := s.rd.layout
	if l == nil {
		return nil
	}
	var out []readtrace.Finding
	for _, f := range readtrace.Classify(st, *l) {
		if (f.Kind == readtrace.PartDigest || f.Kind == readtrace.NoDigest) && (!s.digestSent || l.End == l.Digest) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// readFinding returns the first finding of one of kinds.
func (s *clientSession) readFinding(kinds ...readtrace.Kind) (readtrace.Finding, bool) {
	for _, f := range s.readFindings() {
		if slices.Contains(kinds, f.Kind) {
			return f, true
		}
	}
	return readtrace.Finding{}, false
}

// keepReads records the client's reads for the case's result, and
// whether tracing failed: the client never connected, and strace said
// why (it could not trace the program, or start it).
func (s *clientSession) keepReads() {
	rd := &s.rd
	if rd.trace == nil || !s.ended() {
		return
	}
	if !rd.known {
		if s.exit.straceSaid != "" {
			s.x.traceFailed = s.exit.straceSaid
		}
		return
	}
	s.recorded()
	if st := rd.stream; st != nil {
		s.x.recorded = &Reads{Calls: st.Reads, Layout: rd.layout, Wrote: rd.wrote, Failed: st.Failed, Pending: st.Pending}
	}
}

// withReads adds to o what the client's recorded reads show and o does
// not say yet: the read that took data and digest together (in a PASS
// that found the exact file, one the client split itself), a short read
// of the size or of the digest, the size read with data, a digest read in
// part or not at all. In client/sticky, a client whose reads stopped at
// the boundary gets that read named too.
func (s *clientSession) withReads(o Outcome) Outcome {
	if o.Verdict == Skip || o.Verdict == Error || s.recorded() == nil {
		return o
	}
	var words []string
	named := map[int]bool{} // the reads named so far
	for _, f := range s.readFindings() {
		w := f.Words()
		if strings.Contains(o.Detail, w) {
			named[f.Index] = true
			continue
		}
		switch {
		case f.Kind == readtrace.Sticky && o.Verdict == Pass && s.exactOut:
			w += ": the client split them itself"
		case f.Kind == readtrace.PartDigest && named[f.Index]:
			// The read is named already: not again in parentheses.
			w, _, _ = strings.Cut(w, " (")
		}
		named[f.Index] = true
		words = append(words, w)
	}
	if len(words) == 0 && s.boundary {
		if w := s.boundaryRead(); w != "" {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return o
	}
	return outcome(o.Verdict, append(slices.Clone(o.Findings), finding("the client's recorded reads: %s", strings.Join(words, "; ")))...)
}

// boundaryRead names the read that ended exactly where the data ends, as
// a client that asks for exactly the bytes it still needs makes it.
func (s *clientSession) boundaryRead() string {
	st, l := s.recorded(), s.rd.layout
	if st == nil || l == nil || l.Digest == l.Data {
		return ""
	}
	for i, r := range st.Reads {
		if r.Got > 0 && !r.Peek && r.End() == l.Digest {
			return readtrace.ReadAt(st, i, *l).Words() + ", ending where the file ends: the reads stopped at the boundary"
		}
	}
	return ""
}

// stickyInto says, when the output ends with digest bytes, which recorded
// read took them: "read 98 after the size asked for 1024 bytes and got
// 704: the last 672 bytes of the file and 32 bytes of the digest; they
// went into the file". extra is how many digest bytes the output ends
// with.
func (s *clientSession) stickyInto(extra int64) string {
	f, ok := s.readFinding(readtrace.Sticky)
	if !ok {
		return ""
	}
	l := f.Layout
	took := min(f.Read.End(), l.End) - l.Digest
	if took != extra {
		return ""
	}
	return f.Words() + "; they went into the file"
}

// confirmByReads settles a condition the kit could not confirm from its
// side when the client's recorded reads show that it happened: a read of
// one of kinds (or, with inside, one that ended inside the digest). It
// drops what the kit had left unconfirmed and notes the read, saying
// that the verdict rests on the recorded reads.
func (s *clientSession) confirmByReads(what string, inside bool, kinds ...readtrace.Kind) {
	if len(s.unconfirmed) == 0 {
		return
	}
	words := ""
	if f, ok := s.readFinding(kinds...); ok {
		words = f.Words()
	} else if st, l := s.recorded(), s.rd.layout; inside && st != nil && l != nil {
		for i, r := range st.Reads {
			if r.Got > 0 && !r.Peek && r.End() > l.Digest && r.End() < l.End {
				words = readtrace.ReadAt(st, i, *l).Words()
				break
			}
		}
	}
	if words == "" {
		return
	}
	s.x.logf("kit: the client's recorded reads confirm %s: %s", what, words)
	s.unconfirmed = nil
	s.note("the kit could not confirm %s from its side, but the client's recorded %s: this verdict rests on its recorded reads", what, words)
}

// reRun says in a case's detail that tracing failed there and the case
// ran again without it.
func reRun(o Outcome, why string) Outcome {
	return outcome(o.Verdict, append(slices.Clone(o.Findings),
		finding("the kit could not record the client's reads (%s): this case ran again without them, as did the rest", why))...)
}

// runTracedClientCase runs a client case, and once more without the
// reads when tracing failed in it (the client never ran under strace):
// a tracing failure is never a verdict.
func runTracedClientCase(ctx context.Context, cc *clientCase, t *ClientTarget, reads *readsRun, base check) (Outcome, []string, *Reads) {
	x := &clientCheck{check: base, target: t, reads: reads}
	o := cc.run(ctx, x)
	if x.traceFailed == "" || ctx.Err() != nil {
		return o, x.log, x.recorded
	}
	why := x.traceFailed
	reads.stop(why)
	log := append(x.log, fmt.Sprintf("kit: strace could not run the client (%s); the case runs again without it", why))
	x = &clientCheck{check: base, target: t, reads: reads}
	x.log = log
	return reRun(cc.run(ctx, x), why), x.log, x.recorded
}
