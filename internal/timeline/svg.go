package timeline

import (
	"bufio"
	"fmt"
	"html"
	"io"
)

// Picture is what an SVG drawing of a layout shows besides the layout
// itself: its words, in the reader's language. Every field may be empty.
type Picture struct {
	Title    string
	Subtitle string
	// Rows are the row labels: the server's writes, the delivered pieces,
	// the stream, the client's reads, the offsets. A layout with no
	// delivered pieces and no label for them is drawn without that row.
	Rows     [5]string
	Regions  map[string]string // names of the regions as shown, by RegionSize, RegionData, RegionDigest
	Caption  string            // a few words under the marked read
	Headline string            // the sentence about the marked read
	Body     string            // what the client did, and why
	Footnote string            // what the client sent
}

// WriteSVG draws l as an SVG picture for a 16:9 slide, with the words of
// p: the title, the rows, the marked read and the sentences that explain
// it. standalone begins the document with an XML declaration; without it,
// the <svg> element can be embedded in HTML.
func WriteSVG(w io.Writer, l *Layout, p *Picture, standalone bool) error {
	o := &svgOut{w: bufio.NewWriter(w)}
	d := &drawing{o: o, l: newSVGLayout(l), tl: l, p: p}
	d.place()
	if standalone {
		o.f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	}
	d.header()
	d.guides()
	d.rows()
	d.gaps()
	d.outlineMark()
	d.axis()
	d.sentences()
	o.f("</svg>\n")
	return o.w.Flush()
}

// The rows of a drawing, from the top, and their heights.
const (
	yTitle  = 54.0
	ySub    = 88.0
	yWrote  = 130.0
	yDeliv  = 196.0
	yStream = 262.0
	yRead   = 346.0
	rowH    = 44.0
	strH    = 58.0
)

// drawing is one picture being drawn: the layout, its columns, the words
// and where the sentences below the rows go.
type drawing struct {
	o  *svgOut
	l  *svgLayout
	tl *Layout
	p  *Picture

	headline, body, footnote []string // the sentences, wrapped
	noDeliv                  bool     // the delivered row is left out
	yStream, yRead           float64  // the rows below it, moved up when it is
	yAxis, yHeadline         float64
	yBody, yFootnote, height float64
}

// place wraps the sentences and places them below the rows.
func (d *drawing) place() {
	d.headline = Wrap(d.p.Headline, 84)
	d.body = Wrap(d.p.Body, 120)
	d.footnote = Wrap(d.p.Footnote, 130)
	d.yStream, d.yRead = yStream, yRead
	if d.noDeliv = len(d.tl.Delivered) == 0 && d.p.Rows[1] == ""; d.noDeliv {
		d.yStream -= yDeliv - yWrote
		d.yRead -= yDeliv - yWrote
	}
	d.yAxis = d.yRead + rowH + 34
	if d.tl.Mark != nil {
		d.yAxis += 30
	}
	d.yHeadline = d.yAxis + 62
	d.yBody = d.yHeadline + 38*float64(len(d.headline)) + 16
	d.yFootnote = d.yBody + 26*float64(len(d.body)) + 20
	d.height = d.yFootnote + 22*float64(len(d.footnote)) + 14
}

// header opens the <svg> element and writes the title and subtitle.
func (d *drawing) header() {
	o, h := d.o, d.height
	o.f(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" %s>`+"\n", svgW, h, svgW, h, svgFont)
	o.f("<title>%s</title>\n", esc(d.p.Title))
	o.f(`<rect x="0" y="0" width="%.0f" height="%.0f" fill="#ffffff"/>`+"\n", svgW, h)
	o.text(40, yTitle, 32, "start", colorInk, "bold", d.p.Title)
	o.text(40, ySub, 18, "start", colorDim, "normal", d.p.Subtitle)
}

// guides draws faint lines at every piece boundary, through all rows, and
// the row labels.
func (d *drawing) guides() {
	l, o := d.l, d.o
	for i, x := range l.x {
		if i > 0 && i < len(l.x)-1 && (l.tl.Pieces[i-1].Gap || l.tl.Pieces[i].Gap) {
			continue
		}
		o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d5dae1" stroke-width="1"/>`+"\n", x, yWrote-8, x, d.yRead+rowH+8)
	}
	labelY := func(y, hh float64) float64 { return y + hh/2 + 6 }
	o.text(svgLeft-16, labelY(yWrote, rowH), 19, "end", colorInk, "normal", d.p.Rows[0])
	if !d.noDeliv {
		o.text(svgLeft-16, labelY(yDeliv, rowH), 19, "end", colorInk, "normal", d.p.Rows[1])
	}
	o.text(svgLeft-16, labelY(d.yStream, strH), 19, "end", colorInk, "bold", d.p.Rows[2])
	o.text(svgLeft-16, labelY(d.yRead, rowH), 19, "end", colorInk, "normal", d.p.Rows[3])
}

// plainSpan is how a span of an event is painted.
func plainSpan(Span) (string, string, string) { return colorRow, colorInk, "#5b6573" }

// rows draws the server's writes, the delivered pieces, the stream and the
// client's reads, the marked read cut where its regions meet.
func (d *drawing) rows() {
	l, o, tl := d.l, d.o, d.tl
	l.spans(o, tl.Wrote, yWrote, rowH, plainSpan, SpanLabel)
	l.spans(o, tl.Delivered, yDeliv, rowH, plainSpan, SpanLabel)
	l.bar(o, tl.Regions, d.yStream, strH, func(s Span) string { return d.p.Regions[s.Name] })
	m := tl.Mark
	var reads []Span
	for _, s := range tl.Read {
		if m == nil || s.Off != m.Off || s.End != m.End {
			reads = append(reads, s)
		}
	}
	l.spans(o, reads, d.yRead, rowH, plainSpan, SpanLabel)
	if m == nil {
		return
	}
	// The marked read, cut where its regions meet, each part tinted with
	// its region's colour and labelled with its bytes.
	var parts []Span
	for _, p := range m.Parts {
		parts = append(parts, Span{Off: p.Off, End: p.End, Name: p.Region.Name})
	}
	l.spans(o, parts, d.yRead, rowH, func(s Span) (string, string, string) {
		return regionTint(s.Name), colorMark, colorMark
	}, SpanLabel)
	a, _ := l.col(m.Off)
	b, _ := l.col(m.End)
	x, anchor := (a+b)/2, "middle"
	if x+textW(d.p.Caption, 18)/2 > svgW-10 {
		x, anchor = b, "end"
	}
	o.text(x, d.yRead+rowH+30, 18, anchor, colorMark, "bold", d.p.Caption)
}

// gaps draws a break in every row where pieces are elided.
func (d *drawing) gaps() {
	l, o := d.l, d.o
	for i, p := range d.tl.Pieces {
		if !p.Gap {
			continue
		}
		cx := (l.x[i] + l.x[i+1]) / 2
		ys := []float64{yWrote + rowH/2, yDeliv + rowH/2, d.yRead + rowH/2}
		if d.noDeliv {
			ys = []float64{yWrote + rowH/2, d.yRead + rowH/2}
		}
		for _, y := range ys {
			o.text(cx, y+7, 22, "middle", colorDim, "bold", "⋯")
		}
		o.f(`<path d="M%.1f %.1f l-8 %.1f l16 %.1f l-8 %.1f" stroke="#ffffff" stroke-width="5" fill="none"/>`+"\n",
			cx+4, d.yStream-2, strH/3+1, strH/3, strH/3+1)
		o.f(`<path d="M%.1f %.1f l-8 %.1f l16 %.1f l-8 %.1f" stroke="#ffffff" stroke-width="5" fill="none"/>`+"\n",
			cx+14, d.yStream-2, strH/3+1, strH/3, strH/3+1)
	}
}

// outlineMark draws a thick outline round the marked read, and dashed
// lines where its regions meet.
func (d *drawing) outlineMark() {
	m, l, o := d.tl.Mark, d.l, d.o
	if m == nil {
		return
	}
	a, _ := l.col(m.Off)
	b, _ := l.col(m.End)
	o.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s" stroke-width="4" rx="4"/>`+"\n",
		a, d.yRead-4, b-a, rowH+8, colorMark)
	for _, p := range m.Parts[1:] {
		x, _ := l.col(p.Off)
		o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3" stroke-dasharray="6 4"/>`+"\n",
			x, d.yStream-6, x, d.yRead+rowH+6, colorMark)
	}
}

// axis draws the offsets, from the first byte of data, of the mark's edges
// and the region boundaries, skipping any that would overlap one placed.
func (d *drawing) axis() {
	l, o, tl := d.l, d.o, d.tl
	yA := d.yAxis + 18
	var placed [][2]float64
	place := func(off int64, strong bool) {
		x, exact := l.col(off)
		if !exact || off < tl.Base {
			return
		}
		s := Commas(off - tl.Base)
		w := textW(s, 16)
		for _, p := range placed {
			if x-w/2 < p[1]+8 && x+w/2 > p[0]-8 {
				return
			}
		}
		placed = append(placed, [2]float64{x - w/2, x + w/2})
		fill := colorDim
		if strong {
			fill = colorInk
		}
		o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`+"\n", x, d.yAxis-16, x, d.yAxis-4, fill)
		o.text(x, yA, 16, "middle", fill, "normal", s)
	}
	if tl.Mark != nil && tl.Mark.Off >= 0 {
		place(tl.Mark.Off, true)
		place(tl.Mark.End, true)
	}
	for _, rg := range tl.Regions {
		place(rg.Off, false)
		place(rg.End, false)
	}
	o.text(svgLeft-16, yA, 16, "end", colorDim, "normal", d.p.Rows[4])
}

// sentences writes the headline, the body and the footnote.
func (d *drawing) sentences() {
	o := d.o
	fill := colorMark
	if d.tl.Mark == nil {
		fill = colorInk
	}
	for i, s := range d.headline {
		o.text(40, d.yHeadline+38*float64(i), 26, "start", fill, "bold", s)
	}
	for i, s := range d.body {
		o.text(40, d.yBody+26*float64(i), 19, "start", colorInk, "normal", s)
	}
	for i, s := range d.footnote {
		o.text(40, d.yFootnote+22*float64(i), 16, "start", colorDim, "normal", s)
	}
}

// The SVG is drawn for a 16:9 slide.
const (
	svgW      = 1280.0
	svgLeft   = 190.0 // row labels
	svgRight  = 40.0
	svgGapW   = 0.55 // width of a gap, in pieces
	svgFont   = `font-family="'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei','Helvetica Neue',Arial,sans-serif"`
	colorSize = "#e8a33d"
	colorData = "#4e79a7"
	colorDig  = "#3f9b4f"
	colorMark = "#d62728"
	colorInk  = "#222222"
	colorDim  = "#888888"
	colorRow  = "#eef1f5"
)

// regionColor is the colour of a region in the stream row.
func regionColor(name string) string {
	switch name {
	case RegionSize:
		return colorSize
	case RegionData:
		return colorData
	case RegionDigest:
		return colorDig
	}
	return colorDim
}

// svgLayout maps the pieces of a timeline to x coordinates.
type svgLayout struct {
	tl *Layout
	x  []float64
}

func newSVGLayout(tl *Layout) *svgLayout {
	units := 0.0
	for _, p := range tl.Pieces {
		if p.Gap {
			units += svgGapW
		} else {
			units++
		}
	}
	if units == 0 {
		units = 1
	}
	unit := (svgW - svgLeft - svgRight) / units
	l := &svgLayout{tl: tl}
	x := svgLeft
	for _, p := range tl.Pieces {
		l.x = append(l.x, x)
		if p.Gap {
			x += unit * svgGapW
		} else {
			x += unit
		}
	}
	l.x = append(l.x, x)
	return l
}

func (l *svgLayout) col(off int64) (float64, bool) {
	for i, p := range l.tl.Pieces {
		if off == p.Off {
			return l.x[i], true
		}
		if off > p.Off && off < p.End {
			return (l.x[i] + l.x[i+1]) / 2, false
		}
	}
	return l.x[len(l.tl.Pieces)], true
}

// visible returns the parts of [a, b] outside every gap.
func (l *svgLayout) visible(a, b float64) [][2]float64 {
	segs := [][2]float64{{a, b}}
	for i, p := range l.tl.Pieces {
		if !p.Gap {
			continue
		}
		ga, gb := l.x[i], l.x[i+1]
		var out [][2]float64
		for _, s := range segs {
			if s[1] <= ga || s[0] >= gb {
				out = append(out, s)
				continue
			}
			if s[0] < ga {
				out = append(out, [2]float64{s[0], ga})
			}
			if s[1] > gb {
				out = append(out, [2]float64{gb, s[1]})
			}
		}
		segs = out
	}
	return segs
}

// textW estimates the width of s drawn at size px.
func textW(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		if runeWidth(r) == 2 {
			w += size
		} else {
			w += size * 0.58
		}
	}
	return w
}

// svgOut writes the elements of a picture.
type svgOut struct {
	w *bufio.Writer
}

func (o *svgOut) f(format string, args ...any) { fmt.Fprintf(o.w, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

// text draws s with its anchor at (x, y).
func (o *svgOut) text(x, y, size float64, anchor, fill, weight, s string) {
	o.f(`<text x="%.1f" y="%.1f" font-size="%.0f" text-anchor="%s" fill="%s" font-weight="%s">%s</text>`+"\n",
		x, y, size, anchor, fill, weight, esc(s))
}

// regionTint is a light shade of a region's colour.
func regionTint(name string) string {
	switch name {
	case RegionSize:
		return "#fbe6c4"
	case RegionData:
		return "#d6e2f0"
	case RegionDigest:
		return "#d3ecd7"
	}
	return colorRow
}

// bar draws the stream: each region one continuous coloured block, white
// edges between regions, its name where it fits.
func (l *svgLayout) bar(o *svgOut, ss []Span, y, hh float64, label func(Span) string) {
	for _, s := range ss {
		a, _ := l.col(s.Off)
		b, _ := l.col(s.End)
		o.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", a, y, b-a, hh, regionColor(s.Name))
		o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ffffff" stroke-width="2"/>`+"\n", a, y, a, y+hh)
		// The name goes in the widest part outside the gaps.
		var best [2]float64
		for _, sg := range l.visible(a, b) {
			if sg[1]-sg[0] > best[1]-best[0] {
				best = sg
			}
		}
		txt := label(s)
		if textW(txt, 24)+8 <= best[1]-best[0] {
			o.text((best[0]+best[1])/2, y+hh/2+9, 24, "middle", "#ffffff", "bold", txt)
		}
	}
}

// spans draws one row of spans as boxes, clipped at the gaps, with an edge
// at every boundary that is drawn exactly and a label where it fits.
func (l *svgLayout) spans(o *svgOut, ss []Span, y, hh float64, colors func(Span) (fill, ink, edge string), label func(Span) string) {
	for _, s := range ss {
		a, ea := l.col(s.Off)
		b, eb := l.col(s.End)
		fill, ink, edge := colors(s)
		segs := l.visible(a, b)
		best := -1
		for i, sg := range segs {
			o.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", sg[0], y, sg[1]-sg[0], hh, fill)
			if best < 0 || sg[1]-sg[0] > segs[best][1]-segs[best][0] {
				best = i
			}
		}
		if ea {
			o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", a, y, a, y+hh, edge)
		}
		if eb {
			o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", b, y, b, y+hh, edge)
		}
		if best < 0 {
			continue
		}
		sg := segs[best]
		size := 18.0
		if hh > 50 {
			size = 22
		}
		for _, txt := range LabelForms(label(s)) {
			if textW(txt, size)+8 <= sg[1]-sg[0] {
				weight := "normal"
				if hh > 50 {
					weight = "bold"
				}
				o.text((sg[0]+sg[1])/2, y+hh/2+size*0.36, size, "middle", ink, weight, txt)
				break
			}
		}
	}
}
