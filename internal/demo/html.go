package demo

import (
	"bufio"
	"fmt"
	"html"
	"io"

	"github.com/stickykit/stickykit/internal/timeline"
)

// htmlOut writes a page.
type htmlOut struct {
	w *bufio.Writer
}

func (o *htmlOut) f(format string, args ...any) { fmt.Fprintf(o.w, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

// WriteHTML writes the lesson as one self-contained HTML page: the
// timeline first (the picture, the read that crossed a boundary, the fix),
// then the setup, the table of outcomes and what to learn. It loads
// nothing from the network, and fits a window 800 pixels wide: the picture
// scales, the tables take the page's width, and no header, verdict or
// number wraps (in Chinese a cell may otherwise break after every
// character).
func (r *Report) WriteHTML(w io.Writer) error {
	o := &htmlOut{w: bufio.NewWriter(w)}
	t := r.Lang.t()
	o.f("<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n", r.Lang)
	o.f("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n", esc(t.title))
	o.f("<style>\n%s</style>\n</head>\n<body>\n", htmlStyle)
	o.f("<h1>%s</h1>\n", esc(t.title))
	if r.Timeline != nil {
		if err := r.htmlTimeline(o); err != nil {
			return err
		}
	}
	for _, p := range t.intro {
		o.f("<p>%s</p>\n", esc(p))
	}
	o.f("<p>%s</p>\n<ul>\n", esc(fmt.Sprintf(t.setup, FileName, timeline.Commas(r.Config.Size), r.Config.Seed)))
	for _, d := range r.deliveries() {
		o.f("<li><code>%s</code>: %s</li>\n", d, esc(t.deliveries[d]+r.deliveryDetail(d)))
	}
	o.f("</ul>\n<ul>\n")
	for _, c := range r.clients() {
		o.f("<li><code>%s</code>: %s</li>\n", c, esc(t.clients[c]))
	}
	o.f("</ul>\n")
	for _, d := range r.deliveries() {
		r.htmlTable(o, d)
	}
	for _, p := range t.lessons {
		o.f("<p>%s</p>\n", esc(p))
	}
	o.f("</body>\n</html>\n")
	return o.w.Flush()
}

// htmlStyle is the page's style sheet. Headers, verdicts, numbers and
// digests never wrap; the reason takes the rest of the width.
const htmlStyle = `body { font-family: 'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei','Helvetica Neue',Arial,sans-serif; color: #222; max-width: 1300px; margin: 1em auto; padding: 0 1em; line-height: 1.5; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; width: 100%; }
th, td { text-align: left; padding: 0.25em 0.5em; border-bottom: 1px solid #ddd; vertical-align: top; }
th, td.nw { white-space: nowrap; word-break: keep-all; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; }
.ok { color: #2e7d32; font-weight: bold; } .bad { color: #c62828; font-weight: bold; }
.mark { color: #d62728; font-weight: bold; font-size: 1.15em; }
svg { width: 100%; height: auto; border: 1px solid #e3e6ea; }
`

// htmlTimeline writes the timeline section: the heading, the picture, the
// sentence about the marked read, the fix and the verdicts.
func (r *Report) htmlTimeline(o *htmlOut) error {
	t := r.Lang.t()
	tr := r.Timeline.Trace
	o.f("<p>%s</p>\n", esc(fmt.Sprintf(t.shortIntro, t.deliveries[Delivery(tr.Delivery)])))
	o.f("<h2>%s</h2>\n", esc(fmt.Sprintf(t.timeline, tr.Client, tr.Delivery, tr.Framing)))
	if err := timeline.WriteSVG(o.w, r.Timeline, r.picture(), false); err != nil {
		return err
	}
	o.f("<p class=\"mark\">%s</p>\n", esc(r.Lang.markSentence(r.Timeline)))
	if r.Fix != nil {
		o.f("<p>%s</p>\n", esc(fmt.Sprintf(t.fixShort, r.Fix.Client)))
	}
	o.f("<p>%s</p>\n", esc(r.verdictLine(Delivery(tr.Delivery))))
	return nil
}

// htmlTable writes the outcomes of delivery d.
func (r *Report) htmlTable(o *htmlOut, d Delivery) {
	t := r.Lang.t()
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
		o.f("<tr><td class=\"nw\"><code>%s</code></td><td class=\"nw %s\">%s</td><td class=\"nw num\">%s / %s</td>"+
			"<td class=\"nw\" title=\"%s\"><code>%s</code></td><td class=\"nw\" title=\"%s\"><code>%s</code></td><td>%s</td></tr>\n",
			oc.Client, cls, esc(t.verdicts[oc.Verdict]), timeline.Commas(oc.Written), timeline.Commas(oc.Size),
			esc(htmlDigest(oc.Server, t)), esc(shortDigest(oc.Server, t)), esc(htmlDigest(oc.Local, t)), esc(shortDigest(oc.Local, t)), esc(r.Lang.why(oc)))
	}
	o.f("</table>\n")
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
