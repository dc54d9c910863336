package demo

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/stickykit/stickykit/internal/timeline"
	"github.com/stickykit/stickykit/spec"
)

// Report is everything the lesson shows: the outcome of every case and one
// timeline.
type Report struct {
	Config   Config
	Lang     Lang
	Outcomes []*Outcome
	Timeline *timeline.Layout // nil: no timeline
	// TimelineOutcome is the outcome whose trace Timeline draws; it need
	// not be one of Outcomes.
	TimelineOutcome *Outcome
	// Fix is the outcome whose reads the first screen draws below the
	// timeline's, as the fix beside the bug (the article's client under
	// the same delivery); nil for none.
	Fix *Outcome
	// Full asks WriteText for the whole lesson, every table; without it
	// (and with a timeline) it writes the first screen: the timeline, the
	// read that crossed a boundary, and the fix beside it.
	Full bool
}

// Widths of the text drawing, in columns.
const (
	textPiece = 7 // a piece, inside its boundary bars
	textGap   = 5 // an elided run of pieces
	textWrap  = 78
)

// Styles of the text output; shown as ANSI colours only when asked.
type style uint8

const (
	plain style = iota
	styleSize
	styleData
	styleDigest
	styleMark
	styleOK
	styleBad
	styleBold
	styleDim
)

var ansi = map[style]string{
	styleSize:   "\x1b[33m",
	styleData:   "\x1b[34m",
	styleDigest: "\x1b[32m",
	styleMark:   "\x1b[1;31m",
	styleOK:     "\x1b[32m",
	styleBad:    "\x1b[1;31m",
	styleBold:   "\x1b[1m",
	styleDim:    "\x1b[2m",
}

func regionStyle(name string) style {
	switch name {
	case timeline.RegionSize:
		return styleSize
	case timeline.RegionData:
		return styleData
	case timeline.RegionDigest:
		return styleDigest
	}
	return plain
}

// textOut writes text with optional colour.
type textOut struct {
	w     *bufio.Writer
	color bool
}

func (o *textOut) paint(s string, st style) string {
	if !o.color || st == plain || s == "" {
		return s
	}
	return ansi[st] + s + "\x1b[0m"
}

func (o *textOut) line(s string) { o.w.WriteString(strings.TrimRight(s, " ") + "\n") }

// para writes s wrapped at textWrap columns, every line indented by
// indent.
func (o *textOut) para(s, indent string) {
	for _, l := range timeline.Wrap(s, textWrap-timeline.Width(indent)) {
		o.line(indent + l)
	}
}

// item writes s after a head of fixed width, wrapped, with the lines after
// the first indented to the same column.
func (o *textOut) item(head, s string) {
	ind := strings.Repeat(" ", timeline.Width(head))
	for i, l := range timeline.Wrap(s, textWrap-timeline.Width(head)) {
		if i == 0 {
			o.line(head + l)
		} else {
			o.line(ind + l)
		}
	}
}

// WriteText writes the lesson as plain text; with color, ANSI colours mark
// the regions, the verdicts and the marked read. It writes the first
// screen (at most 25 lines: the timeline, the read that crossed a
// boundary and the fix), or, with Full or without a timeline, the whole
// lesson.
func (r *Report) WriteText(w io.Writer, color bool) error {
	o := &textOut{w: bufio.NewWriter(w), color: color}
	if r.Full || r.Timeline == nil {
		r.writeFull(o)
	} else {
		r.writeShort(o)
	}
	return o.w.Flush()
}

// writeShort writes the first screen: the sticky packet happening, the
// read that crossed the boundary, the fix beside it, the verdicts, and
// where the rest is.
func (r *Report) writeShort(o *textOut) {
	t := r.Lang.t()
	tl := r.Timeline
	d := Delivery(tl.Trace.Delivery)
	o.line(o.paint(t.title, styleBold))
	o.line("")
	o.para(fmt.Sprintf(t.shortIntro, t.deliveries[d]), "")
	o.line("")
	var fix *timeline.Layout
	if r.Fix != nil {
		fix = timeline.NewLayout(r.Fix.Trace)
	}
	r.drawTimeline(o, tl, fix)
	o.line("")
	for _, l := range timeline.Wrap(r.Lang.markSentence(tl), textWrap) {
		o.line(o.paint(l, styleMark))
	}
	if r.Fix != nil {
		o.para(fmt.Sprintf(t.fixShort, r.Fix.Client), "")
	}
	o.line("")
	o.para(r.verdictLine(d), "")
	o.para(t.more, "")
}

// verdictLine gives each client's verdict under delivery d in one line.
func (r *Report) verdictLine(d Delivery) string {
	t := r.Lang.t()
	var parts []string
	for _, oc := range r.Outcomes {
		if oc.Delivery != d {
			continue
		}
		p := string(oc.Client) + " " + t.verdicts[oc.Verdict]
		if oc.Verdict != VerdictOK {
			p += fmt.Sprintf(t.wroteOf, timeline.Commas(oc.Written), timeline.Commas(oc.Size))
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf(t.verdictsOf, d) + strings.Join(parts, " · ")
}

// writeFull writes the whole lesson.
func (r *Report) writeFull(o *textOut) {
	t := r.Lang.t()
	o.line(o.paint(t.title, styleBold))
	o.line("")
	for _, p := range t.intro {
		o.para(p, "")
		o.line("")
	}
	o.para(fmt.Sprintf(t.setup, FileName, timeline.Commas(r.Config.Size), r.Config.Seed), "")
	o.line("")
	for _, d := range r.deliveries() {
		o.item(fmt.Sprintf("  %-11s ", d), t.deliveries[d]+r.deliveryDetail(d))
	}
	o.line("")
	for _, c := range r.clients() {
		o.item(fmt.Sprintf("  %-11s ", c), t.clients[c])
	}
	for _, d := range r.deliveries() {
		o.line("")
		var f spec.Framing
		for _, oc := range r.Outcomes {
			if oc.Delivery == d {
				f = oc.Framing
				break
			}
		}
		o.line(o.paint(fmt.Sprintf("%s, %s%s%s", d, fmt.Sprintf(t.framing, f), t.colon, t.deliveries[d]+r.deliveryDetail(d)), styleBold))
		r.writeOutcomeHeader(o)
		for _, oc := range r.Outcomes {
			if oc.Delivery != d {
				continue
			}
			r.writeOutcome(o, oc)
		}
	}
	if r.Timeline != nil {
		o.line("")
		r.writeTimeline(o, r.Timeline)
	}
	o.line("")
	for _, p := range t.lessons {
		o.para(p, "")
		o.line("")
	}
	o.para(t.next, "")
}

// deliveries returns the deliveries of the outcomes, in lesson order.
func (r *Report) deliveries() []Delivery {
	return shown(Deliveries, func(oc *Outcome) Delivery { return oc.Delivery }, r.Outcomes)
}

// clients returns the clients of the outcomes, in lesson order.
func (r *Report) clients() []ClientKind {
	return shown(Clients, func(oc *Outcome) ClientKind { return oc.Client }, r.Outcomes)
}

// shown returns those of all (in their order) that of gives for at least
// one of the outcomes.
func shown[T comparable](all []T, of func(*Outcome) T, outcomes []*Outcome) []T {
	var out []T
	for _, v := range all {
		if slices.ContainsFunc(outcomes, func(oc *Outcome) bool { return of(oc) == v }) {
			out = append(out, v)
		}
	}
	return out
}

// deliveryDetail returns the exact pieces of a split size, e.g.
// `: "100" + "000\n"`.
func (r *Report) deliveryDetail(d Delivery) string {
	if d != SplitSize {
		return ""
	}
	for _, oc := range r.Outcomes {
		if oc.Delivery != d {
			continue
		}
		msg, _ := spec.EncodeSize(oc.Framing, r.Config.Size)
		cut := (len(spec.TrimLine(msg)) + 1) / 2
		if cut >= len(msg) {
			return ""
		}
		return fmt.Sprintf("%s%q + %q", r.Lang.t().colon, msg[:cut], msg[cut:])
	}
	return ""
}

// Columns of an outcome line.
var outcomeCols = []int{9, 9, 21, 18}

func (r *Report) writeOutcomeHeader(o *textOut) {
	t := r.Lang.t()
	var b strings.Builder
	b.WriteString("  ")
	for i, h := range t.columns[:5] {
		if i < len(outcomeCols) {
			h = pad(h, outcomeCols[i])
		}
		b.WriteString(h)
	}
	o.line(o.paint(strings.TrimRight(b.String(), " "), styleDim))
}

func (r *Report) writeOutcome(o *textOut, oc *Outcome) {
	t := r.Lang.t()
	st := styleOK
	if oc.Verdict != VerdictOK {
		st = styleBad
	}
	cells := []string{
		string(oc.Client),
		t.verdicts[oc.Verdict],
		timeline.Commas(oc.Written) + " / " + timeline.Commas(oc.Size),
		shortDigest(oc.Server, t),
		shortDigest(oc.Local, t),
	}
	var b strings.Builder
	b.WriteString("  ")
	for i, c := range cells {
		if i < len(outcomeCols) {
			c = pad(c, outcomeCols[i])
		}
		if i == 1 {
			c = o.paint(c, st)
		}
		b.WriteString(c)
	}
	o.line(b.String())
	o.item("           ", r.Lang.why(oc))
}

// shortDigest shows the first 8 digits of a digest, and how many of the 32
// arrived when fewer did. Bytes that are not a digest are not shown.
func shortDigest(d string, t *texts) string {
	switch {
	case d == "":
		return t.none
	case !isHex(d) || len(d) > spec.DigestLen:
		return t.notDigest
	case len(d) < spec.DigestLen:
		return fmt.Sprintf("%.8s…(%d/32)", d, len(d))
	}
	return d[:8] + "…"
}

// isHex reports whether d is lowercase hex digits only.
func isHex(d string) bool {
	for i := 0; i < len(d); i++ {
		if c := d[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// column is one cell of a drawn row.
type cell struct {
	r  rune
	st style
}

// grid is one row of the drawing.
type grid []cell

func newGrid(n int) grid {
	g := make(grid, n)
	for i := range g {
		g[i] = cell{' ', plain}
	}
	return g
}

// put writes s from column x; wide runes take two columns (the second
// holds rune 0, skipped when printed).
func (g grid) put(x int, s string, st style) {
	for _, r := range s {
		if x >= len(g) {
			return
		}
		if x >= 0 {
			g[x] = cell{r, st}
			if timeline.Width(string(r)) == 2 && x+1 < len(g) {
				g[x+1] = cell{0, st}
				x++
			}
		}
		x++
	}
}

func (g grid) render(o *textOut) string {
	var b strings.Builder
	for i := 0; i < len(g); {
		j := i
		for j < len(g) && g[j].st == g[i].st {
			j++
		}
		var s strings.Builder
		for _, c := range g[i:j] {
			if c.r != 0 {
				s.WriteRune(c.r)
			}
		}
		b.WriteString(o.paint(s.String(), g[i].st))
		i = j
	}
	return b.String()
}

// textLayout maps the pieces of a timeline to columns.
type textLayout struct {
	tl *timeline.Layout
	x  []int // x[i]: column of the left bar of piece i; x[len]: the last bar
}

func newTextLayout(tl *timeline.Layout) *textLayout {
	l := &textLayout{tl: tl}
	x := 0
	for _, p := range tl.Pieces {
		l.x = append(l.x, x)
		if p.Gap {
			x += textGap + 1
		} else {
			x += textPiece + 1
		}
	}
	l.x = append(l.x, x)
	return l
}

// cols returns the columns of the drawing.
func (l *textLayout) cols() int { return l.x[len(l.x)-1] + 1 }

// col returns the column of stream offset off: the bar of the piece
// boundary it falls on (exact), or the middle of the gap it falls in.
func (l *textLayout) col(off int64) (x int, exact bool) {
	ps := l.tl.Pieces
	for i, p := range ps {
		if off == p.Off {
			return l.x[i], true
		}
		if off > p.Off && off < p.End {
			return l.x[i] + (l.x[i+1]-l.x[i])/2, false
		}
	}
	return l.x[len(ps)], true
}

// gapCols reports which columns belong to the inside of a gap.
func (l *textLayout) gapCols() []bool {
	g := make([]bool, l.cols())
	for i, p := range l.tl.Pieces {
		if p.Gap {
			for x := l.x[i] + 1; x < l.x[i+1]; x++ {
				g[x] = true
			}
		}
	}
	return g
}

// row draws spans: a bar at every exact boundary, and a label in the
// widest run of columns inside the span that is not a gap.
func (l *textLayout) row(spans []timeline.Span, label func(timeline.Span) string, fillOf func(timeline.Span) rune, st func(timeline.Span) style) grid {
	g := newGrid(l.cols())
	gaps := l.gapCols()
	for _, s := range spans {
		a, ea := l.col(s.Off)
		b, eb := l.col(s.End)
		sst := st(s)
		fill := fillOf(s)
		for x := a + 1; x < b; x++ {
			if !gaps[x] {
				g[x] = cell{fill, sst}
			}
		}
		if ea {
			g[a] = cell{'|', plain}
		}
		if eb {
			g[b] = cell{'|', plain}
		}
		// The widest run of non-gap columns strictly inside.
		bestA, bestN := 0, 0
		for x := a + 1; x < b; {
			if gaps[x] {
				x++
				continue
			}
			y := x
			for y < b && !gaps[y] {
				y++
			}
			if y-x > bestN {
				bestA, bestN = x, y-x
			}
			x = y
		}
		for _, txt := range timeline.LabelForms(label(s)) {
			if w := timeline.Width(txt); w <= bestN {
				if fill != ' ' && w+4 <= bestN {
					txt = " " + txt + " "
					w += 2
				}
				g.put(bestA+(bestN-w)/2, txt, sst)
				break
			}
		}
	}
	for i, p := range l.tl.Pieces {
		if p.Gap {
			g.put(l.x[i]+1+(textGap-3)/2, "...", styleDim)
		}
	}
	return g
}

// writeTimeline draws the timeline tl as text, rows of columns, under its
// heading, and the sentence about its marked read.
func (r *Report) writeTimeline(o *textOut, tl *timeline.Layout) {
	t := r.Lang.t()
	tr := tl.Trace
	o.line(o.paint(fmt.Sprintf(t.timeline, tr.Client, tr.Delivery, tr.Framing), styleBold))
	o.para(t.offsetsNote, "")
	switch len(tl.Sent) {
	case 0:
	case 1:
		o.para(fmt.Sprintf(t.sentNoAck, tl.Sent[0].Text, timeline.Commas(tl.Sent[0].Len)), "")
	default:
		o.para(fmt.Sprintf(t.sent, tl.Sent[0].Text, timeline.Commas(tl.Sent[0].Len), tl.Sent[1].Text, timeline.Commas(tl.Sent[1].Len)), "")
	}
	o.line("")
	r.drawTimeline(o, tl, nil)
	o.line("")
	for _, l := range timeline.Wrap(r.Lang.markSentence(tl), textWrap) {
		o.line(o.paint(l, styleMark))
	}
}

// drawTimeline draws the rows of tl: the server's writes, the delivered
// pieces, the stream, the client's reads with the marked read under them,
// then, when fix is not nil, the reads of fix's client on the same
// columns, and the offsets.
func (r *Report) drawTimeline(o *textOut, tl *timeline.Layout, fix *timeline.Layout) {
	t := r.Lang.t()
	l := newTextLayout(tl)
	rows := t.rows
	if fix != nil {
		rows[3] = fmt.Sprintf(t.clientRead, tl.Trace.Client)
	}
	lw := 0
	for _, s := range rows {
		lw = max(lw, timeline.Width(s))
	}
	var fixLabel string
	if fix != nil {
		fixLabel = fmt.Sprintf(t.clientRead, fix.Trace.Client)
		lw = max(lw, timeline.Width(fixLabel))
	}
	lw += 2
	head := func(s string) string { return "  " + pad(s, lw) }
	noStyle := func(timeline.Span) style { return plain }
	blank := func(timeline.Span) rune { return ' ' }
	bar := func(s timeline.Span) rune {
		if s.Name == timeline.RegionData {
			return '='
		}
		return ' '
	}

	o.line(head(rows[0]) + l.row(tl.Wrote, timeline.SpanLabel, blank, noStyle).render(o))
	o.line(head(rows[1]) + l.row(tl.Delivered, timeline.SpanLabel, blank, noStyle).render(o))
	regionLabel := func(s timeline.Span) string { return t.regions[s.Name] }
	regionSt := func(s timeline.Span) style { return regionStyle(s.Name) }
	o.line(head(rows[2]) + l.row(tl.Regions, regionLabel, bar, regionSt).render(o))
	markSt := func(s timeline.Span) style {
		if tl.Mark != nil && s.Off == tl.Mark.Off && s.End == tl.Mark.End {
			return styleMark
		}
		return plain
	}
	o.line(head(rows[3]) + l.row(tl.Read, timeline.SpanLabel, blank, markSt).render(o))
	if m := tl.Mark; m != nil {
		g := newGrid(l.cols() + textWrap)
		a, _ := l.col(m.Off)
		b, _ := l.col(m.End)
		for x := a; x <= b; x++ {
			g[x] = cell{'^', styleMark}
		}
		short := r.Lang.markShort(tl)
		// Under the mark if it fits before the right edge, else ending there.
		x := a
		if x+timeline.Width(short) > l.cols() {
			x = max(0, b+1-timeline.Width(short))
		}
		o.line(head("") + strings.TrimRight(g.render(o), " "))
		g = newGrid(l.cols() + textWrap)
		g.put(x, short, styleMark)
		o.line(head("") + g.render(o))
	}
	if fix != nil {
		o.line(head(fixLabel) + l.row(fix.Read, timeline.SpanLabel, blank, noStyle).render(o))
	}
	o.line(head(rows[4]) + l.offsets().render(o))
	if note := r.elidedNote(tl); note != "" {
		o.para(note, "  ")
	}
}

// offsets draws the data-relative offsets of the region boundaries and the
// mark's edges, skipping any that would overlap one already placed.
func (l *textLayout) offsets() grid {
	tl := l.tl
	g := newGrid(l.cols() + 8)
	taken := make([]bool, len(g))
	place := func(off int64) {
		x, exact := l.col(off)
		if !exact || off < tl.Base {
			return
		}
		s := timeline.Commas(off - tl.Base)
		a := x - timeline.Width(s)/2
		if a < 0 {
			a = 0
		}
		for i := max(0, a-1); i < min(len(g), a+timeline.Width(s)+1); i++ {
			if taken[i] {
				return
			}
		}
		g.put(a, s, plain)
		for i := a; i < min(len(g), a+timeline.Width(s)); i++ {
			taken[i] = true
		}
	}
	for _, r := range tl.Regions {
		place(r.Off)
	}
	for _, r := range tl.Regions {
		place(r.End)
	}
	if m := tl.Mark; m != nil {
		place(m.Off)
		place(m.End)
	}
	return g
}

// elidedNote says what the gaps of the read row hide.
func (r *Report) elidedNote(tl *timeline.Layout) string {
	t := r.Lang.t()
	n := 0
	sizes := map[int64]bool{}
	for _, p := range tl.Pieces {
		if !p.Gap {
			continue
		}
		for _, s := range tl.Read {
			if s.Off >= p.Off && s.End <= p.End {
				n++
				sizes[s.Len()] = true
			}
		}
	}
	if n == 0 {
		return ""
	}
	what := fmt.Sprintf(t.elidedReads, timeline.Commas(int64(n)))
	if len(sizes) == 1 {
		for sz := range sizes {
			if r.Lang == Chinese {
				what = fmt.Sprintf("%s 次各 %s 字节的读取", timeline.Commas(int64(n)), timeline.Commas(sz))
			} else {
				what = fmt.Sprintf("%s reads of %s bytes", timeline.Commas(int64(n)), timeline.Commas(sz))
			}
		}
	}
	return fmt.Sprintf(t.elided, what)
}

// pad pads s with spaces to n columns.
func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(0, n-timeline.Width(s)))
}
