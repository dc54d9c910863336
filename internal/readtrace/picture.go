package readtrace

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/stickykit/stickykit/internal/timeline"
)

// Picture is the byte timeline of a client's recorded reads of one reply,
// drawn as "stickykit demo" draws its own: what the kit wrote above the
// server-to-client stream, what each of the client's reads returned below
// it, and the first read that took bytes of two messages, or part of the
// size or of the digest, highlighted and put in words.
type Picture struct {
	Title  string // the first line, e.g. the case and the program
	Layout Layout
	Reads  []Read // the client's reads of the stream; peeks are not drawn
	// Wrote holds the sizes of the kit's writes of the stream, in order
	// from offset 0; when empty, that row is left blank.
	Wrote []int64
	// Failed and Pending are the stream's calls that took nothing, for
	// the footnote (see Stream).
	Failed  map[string]int
	Pending int
}

// NewPicture returns the picture of stream s of a client, over layout l.
func NewPicture(title string, s *Stream, l Layout, wrote []int64) *Picture {
	return &Picture{Title: title, Layout: l, Reads: s.Reads, Wrote: wrote, Failed: s.Failed, Pending: s.Pending}
}

// Trace returns the recording the picture draws: the regions of the reply
// (the size from offset 0, the data, the digest), the kit's writes as the
// server's, and the client's reads that took bytes.
func (p *Picture) Trace() *timeline.Trace {
	l := p.Layout
	size := l.Digest - l.Data
	text := strconv.FormatInt(size, 10)
	if int64(len(text))+1 == l.Data {
		text += "\n"
	}
	t := &timeline.Trace{Size: size, Regions: []timeline.Region{
		{Dir: timeline.ToClient, Name: timeline.RegionSize, Len: l.Data, Text: text},
		{Dir: timeline.ToClient, Name: timeline.RegionData, Off: l.Data, Len: size},
		{Dir: timeline.ToClient, Name: timeline.RegionDigest, Off: l.Digest, Len: l.End - l.Digest},
	}}
	var off int64
	for i, n := range p.Wrote {
		t.Events = append(t.Events, timeline.Event{Who: timeline.WhoServer, Seq: i, Op: "write", Dir: timeline.ToClient, Off: off, N: int(n)})
		off += n
	}
	seq := 0
	for _, r := range p.Reads {
		if r.consumed() {
			t.Events = append(t.Events, timeline.Event{Who: timeline.WhoClient, Seq: seq, Op: "read", Dir: timeline.ToClient, Off: r.Offset, N: int(r.Got)})
			seq++
		}
	}
	return t
}

// WriteSVG draws the picture as a standalone SVG document.
func (p *Picture) WriteSVG(w io.Writer) error {
	tl := timeline.NewLayout(p.Trace())
	words := &timeline.Picture{
		Title:    p.Title,
		Subtitle: fmt.Sprintf("a %d-byte file · the client's own read calls, recorded with strace · offsets count from the first byte of file data", p.Layout.Digest-p.Layout.Data),
		Rows:     [5]string{"kit wrote", "", "stream", "client read", "offset"},
		Regions:  map[string]string{timeline.RegionSize: "size", timeline.RegionData: "data", timeline.RegionDigest: "digest"},
		Headline: "No read took bytes of two messages: every read ended where a message ended.",
		Footnote: p.footnote(),
	}
	if m := tl.Mark; m != nil {
		f := p.marked(m)
		words.Headline = sentence(f.Words())
		words.Caption = caption(f)
		var rest []string
		for _, g := range Classify(&Stream{Reads: p.Reads}, p.Layout) {
			if g.Index != f.Index || g.Kind == PartDigest {
				rest = append(rest, sentence(g.Words()))
			}
		}
		words.Body = strings.Join(rest, " ")
	}
	return timeline.WriteSVG(w, tl, words, true)
}

// marked returns the finding about the read the timeline marked; a read
// that is not a finding of Classify (one that ended inside the digest
// having got all it asked for) is described all the same.
func (p *Picture) marked(m *timeline.Mark) Finding {
	s := &Stream{Reads: p.Reads}
	for _, f := range Classify(s, p.Layout) {
		if f.Index >= 0 && f.Read.Offset == m.Off && f.Read.End() == m.End {
			return f
		}
	}
	i := slices.IndexFunc(p.Reads, func(r Read) bool { return r.consumed() && r.Offset == m.Off && r.End() == m.End })
	return ReadAt(s, i, p.Layout)
}

// caption is the few words under the marked read: "read 98 after the
// size: 672 file + 32 digest".
func caption(f Finding) string {
	l, r := f.Layout, f.Read
	var parts []string
	for _, m := range []struct {
		a, b int64
		name string
	}{{0, l.Data, "size"}, {l.Data, l.Digest, "file"}, {l.Digest, l.End, "digest"}, {l.End, r.End(), "after"}} {
		if n := overlap(r.Offset, r.End(), m.a, m.b); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, m.name))
		}
	}
	return f.name() + ": " + strings.Join(parts, " + ")
}

// footnote counts the reads and the calls that took nothing.
func (p *Picture) footnote() string {
	n := 0
	for _, r := range p.Reads {
		if r.consumed() {
			n++
		}
	}
	s := fmt.Sprintf("%d reads took bytes of the stream", n)
	if w := (&Stream{Failed: p.Failed, Pending: p.Pending}).TookNothing(); w != "" {
		s += "; " + w
	}
	return s + "."
}

// sentence gives words a capital and a final period.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
