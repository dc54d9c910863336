package demo

import (
	"bufio"
	"fmt"
	"html"
	"io"
)

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
	tl *Timeline
	x  []float64
}

func newSVGLayout(tl *Timeline) *svgLayout {
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

// WriteSVG draws the report's timeline as a standalone SVG picture: the
// title, the rows, the marked read and the sentence that explains it.
func (r *Report) WriteSVG(w io.Writer) error {
	o := &svgOut{w: bufio.NewWriter(w)}
	r.svg(o, true)
	return o.w.Flush()
}

// svg writes the <svg> element; standalone adds the XML declaration.
func (r *Report) svg(o *svgOut, standalone bool) {
	tl := r.Timeline
	t := r.Lang.t()
	tr := tl.Trace
	l := newSVGLayout(tl)

	oc := r.TimelineOutcome
	var whyLines []string
	if oc != nil {
		verdict := t.verdicts[oc.Verdict]
		whyLines = wrap(fmt.Sprintf(t.whyLine, tr.Client, verdict, r.Lang.why(oc)), 120)
	}
	markLines := wrap(r.Lang.markSentence(tl), 84)

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
	yAxis := yRead + rowH + 34
	if tl.Mark != nil {
		yAxis += 30
	}
	yMarkText := yAxis + 62
	yWhy := yMarkText + 38*float64(len(markLines)) + 16
	ySent := yWhy + 26*float64(len(whyLines)) + 20
	var sentLines []string
	if len(tl.Sent) > 0 {
		var sent string
		if len(tl.Sent) == 1 {
			sent = fmt.Sprintf(t.sentNoAck, tl.Sent[0].Text, commas(tl.Sent[0].Len))
		} else {
			sent = fmt.Sprintf(t.sent, tl.Sent[0].Text, commas(tl.Sent[0].Len), tl.Sent[1].Text, commas(tl.Sent[1].Len))
		}
		sentLines = wrap(sent, 130)
	}
	h := ySent + 22*float64(len(sentLines)) + 14

	if standalone {
		o.f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	}
	o.f(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" %s>`+"\n", svgW, h, svgW, h, svgFont)
	o.f("<title>%s</title>\n", esc(fmt.Sprintf(t.svgTitle, tr.Client, tr.Delivery)))
	o.f(`<rect x="0" y="0" width="%.0f" height="%.0f" fill="#ffffff"/>`+"\n", svgW, h)
	o.text(40, yTitle, 32, "start", colorInk, "bold", fmt.Sprintf(t.svgTitle, tr.Client, tr.Delivery))
	o.text(40, ySub, 18, "start", colorDim, "normal", fmt.Sprintf(t.svgSub, tr.Framing, commas(tr.Size)))

	// Faint guides at every piece boundary, through all rows.
	for i, x := range l.x {
		if i > 0 && i < len(l.x)-1 && (l.tl.Pieces[i-1].Gap || l.tl.Pieces[i].Gap) {
			continue
		}
		o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d5dae1" stroke-width="1"/>`+"\n", x, yWrote-8, x, yRead+rowH+8)
	}

	labelY := func(y, hh float64) float64 { return y + hh/2 + 6 }
	o.text(svgLeft-16, labelY(yWrote, rowH), 19, "end", colorInk, "normal", t.rows[0])
	o.text(svgLeft-16, labelY(yDeliv, rowH), 19, "end", colorInk, "normal", t.rows[1])
	o.text(svgLeft-16, labelY(yStream, strH), 19, "end", colorInk, "bold", t.rows[2])
	o.text(svgLeft-16, labelY(yRead, rowH), 19, "end", colorInk, "normal", t.rows[3])

	isMark := func(s Span) bool { return tl.Mark != nil && s.Off == tl.Mark.Off && s.End == tl.Mark.End }
	l.spans(o, tl.Wrote, yWrote, rowH, func(Span) (string, string, string) { return colorRow, colorInk, "#5b6573" }, spanLen)
	l.spans(o, tl.Delivered, yDeliv, rowH, func(Span) (string, string, string) { return colorRow, colorInk, "#5b6573" }, spanLen)
	l.bar(o, tl.Regions, yStream, strH, func(s Span) string { return t.regions[s.Name] })
	var reads []Span
	for _, s := range tl.Read {
		if !isMark(s) {
			reads = append(reads, s)
		}
	}
	l.spans(o, reads, yRead, rowH, func(s Span) (string, string, string) { return colorRow, colorInk, "#5b6573" }, spanLen)
	if m := tl.Mark; m != nil {
		// The marked read, cut where its regions meet, each part tinted
		// with its region's colour and labelled with its bytes.
		var parts []Span
		for _, p := range m.Parts {
			parts = append(parts, Span{Off: p.Off, End: p.End, Name: p.Region.Name})
		}
		l.spans(o, parts, yRead, rowH, func(s Span) (string, string, string) {
			return regionTint(s.Name), colorMark, colorMark
		}, spanLen)
		a, _ := l.col(m.Off)
		b, _ := l.col(m.End)
		cap := r.Lang.markShort(tl)
		x, anchor := (a+b)/2, "middle"
		if x+textW(cap, 18)/2 > svgW-10 {
			x, anchor = b, "end"
		}
		o.text(x, yRead+rowH+30, 18, anchor, colorMark, "bold", cap)
	}

	// Gaps: a break in every row.
	for i, p := range tl.Pieces {
		if !p.Gap {
			continue
		}
		cx := (l.x[i] + l.x[i+1]) / 2
		for _, y := range []float64{yWrote + rowH/2, yDeliv + rowH/2, yRead + rowH/2} {
			o.text(cx, y+7, 22, "middle", colorDim, "bold", "⋯")
		}
		o.f(`<path d="M%.1f %.1f l-8 %.1f l16 %.1f l-8 %.1f" stroke="#ffffff" stroke-width="5" fill="none"/>`+"\n",
			cx+4, yStream-2, strH/3+1, strH/3, strH/3+1)
		o.f(`<path d="M%.1f %.1f l-8 %.1f l16 %.1f l-8 %.1f" stroke="#ffffff" stroke-width="5" fill="none"/>`+"\n",
			cx+14, yStream-2, strH/3+1, strH/3, strH/3+1)
	}

	// The marked read: a thick outline, and brackets down to the sentence.
	if m := tl.Mark; m != nil {
		a, _ := l.col(m.Off)
		b, _ := l.col(m.End)
		o.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s" stroke-width="4" rx="4"/>`+"\n",
			a, yRead-4, b-a, rowH+8, colorMark)
		// Where the regions meet inside the mark.
		for _, p := range m.Parts[1:] {
			x, _ := l.col(p.Off)
			o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3" stroke-dasharray="6 4"/>`+"\n",
				x, yStream-6, x, yRead+rowH+6, colorMark)
		}
	}

	// Offsets.
	yA := yAxis + 18
	placed := [][2]float64{}
	place := func(off int64, strong bool) {
		x, exact := l.col(off)
		if !exact || off < tl.Base {
			return
		}
		s := commas(off - tl.Base)
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
		o.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`+"\n", x, yAxis-16, x, yAxis-4, fill)
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
	o.text(svgLeft-16, yA, 16, "end", colorDim, "normal", t.rows[4])

	// The sentences.
	markFill := colorMark
	if tl.Mark == nil {
		markFill = colorInk
	}
	for i, s := range markLines {
		o.text(40, yMarkText+38*float64(i), 26, "start", markFill, "bold", s)
	}
	for i, s := range whyLines {
		o.text(40, yWhy+26*float64(i), 19, "start", colorInk, "normal", s)
	}
	if len(sentLines) > 0 {
		for i, line := range sentLines {
			o.text(40, ySent+22*float64(i), 16, "start", colorDim, "normal", line)
		}
	}
	o.f("</svg>\n")
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
		for _, txt := range labelForms(label(s)) {
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

// WriteHTML writes the lesson as one self-contained HTML page: the text,
// the table of outcomes and the timeline as inline SVG. It loads nothing
// from the network.
func (r *Report) WriteHTML(w io.Writer) error {
	o := &svgOut{w: bufio.NewWriter(w)}
	t := r.Lang.t()
	o.f("<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n", r.Lang)
	o.f("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n", esc(t.title))
	o.f(`<style>
body { font-family: 'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei','Helvetica Neue',Arial,sans-serif; color: #222; max-width: 1300px; margin: 2em auto; padding: 0 1em; line-height: 1.5; }
h1 { font-size: 1.8em; } h2 { font-size: 1.3em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { text-align: left; padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.mark { color: #d62728; font-weight: bold; font-size: 1.2em; }
svg { width: 100%%; height: auto; border: 1px solid #e3e6ea; }
</style>
</head>
<body>
`)
	o.f("<h1>%s</h1>\n", esc(t.title))
	for _, p := range t.intro {
		o.f("<p>%s</p>\n", esc(p))
	}
	o.f("<p>%s</p>\n<ul>\n", esc(fmt.Sprintf(t.setup, FileName, commas(r.Config.Size), r.Config.Seed)))
	for _, d := range r.deliveries() {
		o.f("<li><code>%s</code>: %s</li>\n", d, esc(t.deliveries[d]+r.deliveryDetail(d)))
	}
	o.f("</ul>\n<ul>\n")
	for _, c := range r.clients() {
		o.f("<li><code>%s</code>: %s</li>\n", c, esc(t.clients[c]))
	}
	o.f("</ul>\n")
	for _, d := range r.deliveries() {
		var rows []*Outcome
		for _, oc := range r.Outcomes {
			if oc.Delivery == d {
				rows = append(rows, oc)
			}
		}
		o.f("<h2><code>%s</code>, %s%s%s</h2>\n<table>\n<tr>", d, esc(fmt.Sprintf(t.framing, rows[0].Framing)), esc(t.colon), esc(t.deliveries[d]+r.deliveryDetail(d)))
		for _, h := range t.columns {
			o.f("<th>%s</th>", esc(h))
		}
		o.f("</tr>\n")
		for _, oc := range rows {
			cls := "ok"
			if oc.Verdict != VerdictOK {
				cls = "bad"
			}
			o.f("<tr><td><code>%s</code></td><td class=\"%s\">%s</td><td class=\"num\">%s / %s</td><td><code>%s</code></td><td><code>%s</code></td><td>%s</td></tr>\n",
				oc.Client, cls, esc(t.verdicts[oc.Verdict]), commas(oc.Written), commas(oc.Size),
				esc(htmlDigest(oc.Server, t)), esc(htmlDigest(oc.Local, t)), esc(r.Lang.why(oc)))
		}
		o.f("</table>\n")
	}
	if r.Timeline != nil {
		tr := r.Timeline.Trace
		o.f("<h2>%s</h2>\n", esc(fmt.Sprintf(t.timeline, tr.Client, tr.Delivery, tr.Framing)))
		r.svg(o, false)
		o.f("<p class=\"mark\">%s</p>\n", esc(r.Lang.markSentence(r.Timeline)))
	}
	for _, p := range t.lessons {
		o.f("<p>%s</p>\n", esc(p))
	}
	o.f("</body>\n</html>\n")
	return o.w.Flush()
}

// htmlDigest shows a whole digest, or what stood in its place.
func htmlDigest(d string, t *texts) string {
	switch {
	case d == "":
		return t.none
	case !isHex(d) || len(d) > 32:
		return t.notDigest
	case len(d) < 32:
		return fmt.Sprintf("%s (%d/32)", d, len(d))
	}
	return d
}
