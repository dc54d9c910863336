package timeline

import (
	"slices"
)

// Span is the bytes [Off, End) of the server-to-client stream that one
// event moved, or that one region holds.
type Span struct {
	Off, End int64
	Name     string // the region's name; empty for an event
	Err      string // the error the event's call returned, if any
}

// Len returns the span's length in bytes.
func (s Span) Len() int64 { return s.End - s.Off }

// Piece is one column of the drawing: the bytes [Off, End) between two
// neighbouring boundaries of any row, or, when Gap is set, a run of such
// pieces that is not drawn (the middle of a long body).
type Piece struct {
	Off, End int64
	Gap      bool
}

// Mark is the client read that the timeline highlights: the first that
// took bytes of two regions, or that ended inside the size or the digest
// (a message read in part).
type Mark struct {
	// Index is the read's number, from 1: among the reads that began
	// after the size when AfterSize is set, else among all the client's
	// reads of the stream.
	Index     int
	AfterSize bool
	Off, End  int64
	Parts     []Part // the regions it took bytes of, in order
}

// Part is the share of one region in a marked read.
type Part struct {
	Region   Region
	Off, End int64 // stream offsets of the bytes taken
}

// Len returns the bytes of the part.
func (p Part) Len() int64 { return p.End - p.Off }

// Layout is the layout of the server-to-client stream of one trace: its
// regions, the server's writes, the pieces the connection delivered, the
// client's reads, and the columns to draw them in.
type Layout struct {
	Trace     *Trace
	Base      int64    // stream offset of the first byte of data; offsets are shown relative to it
	End       int64    // stream offset just past the last byte drawn
	Regions   []Span   // size, data, digest, cut at End
	Sent      []Region // the client's messages: request, ack
	Wrote     []Span   // the server's writes
	Delivered []Span   // the pieces the shaped connection delivered
	Read      []Span   // the client's reads
	Pieces    []Piece
	Mark      *Mark
}

// maxPieces is the number of columns below which nothing is elided.
const maxPieces = 8

// NewLayout lays out the server-to-client stream of t.
func NewLayout(t *Trace) *Layout {
	tl := &Layout{Trace: t}
	if r, ok := t.region(ToClient, RegionData); ok {
		tl.Base = r.Off
	} else if r, ok := t.region(ToClient, RegionSize); ok {
		tl.Base = r.End()
	}
	for _, r := range t.Regions {
		if r.Dir == ToServer {
			tl.Sent = append(tl.Sent, r)
		}
	}
	for _, e := range t.Events {
		if e.Dir != ToClient || e.N <= 0 {
			continue
		}
		s := Span{Off: e.Off, End: e.End(), Err: e.Err}
		switch e.Who {
		case WhoServer:
			tl.Wrote = append(tl.Wrote, s)
		case WhoDelivered:
			tl.Delivered = append(tl.Delivered, s)
		case WhoClient:
			tl.Read = append(tl.Read, s)
		}
		tl.End = max(tl.End, s.End)
	}
	for _, r := range t.Regions {
		if r.Dir != ToClient || r.Len == 0 || r.Off >= tl.End {
			continue
		}
		tl.Regions = append(tl.Regions, Span{Off: r.Off, End: min(r.End(), tl.End), Name: r.Name})
	}
	tl.Mark = findMark(t, tl.Base, tl.Read)
	tl.Pieces = tl.layout()
	return tl
}

// findMark returns the first read that crossed a region boundary or ended
// inside the size or the digest.
func findMark(t *Trace, base int64, reads []Span) *Mark {
	after := 0
	for i, s := range reads {
		if s.Off >= base {
			after++
		}
		var parts []Part
		for _, r := range t.Regions {
			if r.Dir != ToClient {
				continue
			}
			off, end := max(s.Off, r.Off), min(s.End, r.End())
			if off < end {
				parts = append(parts, Part{Region: r, Off: off, End: end})
			}
		}
		if len(parts) == 0 {
			continue
		}
		last := parts[len(parts)-1]
		short := last.End < last.Region.End() && (last.Region.Name == RegionSize || last.Region.Name == RegionDigest)
		if len(parts) > 1 || short {
			m := &Mark{Index: i + 1, Off: s.Off, End: s.End, Parts: parts}
			if s.Off >= base && base > 0 {
				m.Index, m.AfterSize = after, true
			}
			return m
		}
	}
	return nil
}

// layout cuts the stream into pieces at every boundary of every row, keeps
// the pieces next to region boundaries and around the mark, and elides
// runs of the others.
func (tl *Layout) layout() []Piece {
	var bounds []int64
	add := func(ss []Span) {
		for _, s := range ss {
			bounds = append(bounds, s.Off, s.End)
		}
	}
	add(tl.Regions)
	add(tl.Wrote)
	add(tl.Delivered)
	add(tl.Read)
	bounds = append(bounds, 0, tl.End)
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	var all []Piece
	for i := 0; i+1 < len(bounds); i++ {
		if bounds[i] >= 0 && bounds[i+1] <= tl.End {
			all = append(all, Piece{Off: bounds[i], End: bounds[i+1]})
		}
	}
	if len(all) <= maxPieces {
		return all
	}
	keep := make([]bool, len(all))
	keepAt := func(off int64, before, after int) {
		for i, p := range all {
			if p.Off == off {
				for j := max(0, i-before); j < min(len(all), i+after); j++ {
					keep[j] = true
				}
				return
			}
		}
		if off == tl.End && before > 0 {
			keep[len(all)-1] = true
		}
	}
	for _, r := range tl.Regions {
		keepAt(r.Off, 1, 1)
		keepAt(r.End, 1, 1)
	}
	keep[0], keep[len(all)-1] = true, true
	if m := tl.Mark; m != nil {
		for i, p := range all {
			if p.End > m.Off && p.Off < m.End {
				keep[i] = true
				if i > 0 {
					keep[i-1] = true
				}
				if i+1 < len(all) {
					keep[i+1] = true
				}
			}
		}
	}
	var out []Piece
	for i := 0; i < len(all); {
		if keep[i] {
			out = append(out, all[i])
			i++
			continue
		}
		j := i
		for j < len(all) && !keep[j] {
			j++
		}
		if j-i == 1 {
			out = append(out, all[i])
		} else {
			out = append(out, Piece{Off: all[i].Off, End: all[j-1].End, Gap: true})
		}
		i = j
	}
	return out
}
