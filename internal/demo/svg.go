package demo

import (
	"fmt"
	"io"

	"github.com/stickykit/stickykit/internal/timeline"
)

// WriteSVG draws the report's timeline as a standalone SVG picture: the
// title, the rows, the marked read and the sentence that explains it.
func (r *Report) WriteSVG(w io.Writer) error {
	return timeline.WriteSVG(w, r.Timeline, r.picture(), true)
}

// picture returns the words of the timeline's picture, in the report's
// language.
func (r *Report) picture() *timeline.Picture {
	t := r.Lang.t()
	tl := r.Timeline
	tr := tl.Trace
	p := &timeline.Picture{
		Title:    fmt.Sprintf(t.svgTitle, tr.Client, tr.Delivery),
		Subtitle: fmt.Sprintf(t.svgSub, tr.Framing, timeline.Commas(tr.Size)),
		Rows:     t.rows,
		Regions:  t.regions,
		Caption:  r.Lang.markShort(tl),
		Headline: r.Lang.markSentence(tl),
	}
	if oc := r.TimelineOutcome; oc != nil {
		p.Body = fmt.Sprintf(t.whyLine, tr.Client, t.verdicts[oc.Verdict], r.Lang.why(oc))
	}
	switch len(tl.Sent) {
	case 0:
	case 1:
		p.Footnote = fmt.Sprintf(t.sentNoAck, tl.Sent[0].Text, timeline.Commas(tl.Sent[0].Len))
	default:
		p.Footnote = fmt.Sprintf(t.sent, tl.Sent[0].Text, timeline.Commas(tl.Sent[0].Len), tl.Sent[1].Text, timeline.Commas(tl.Sent[1].Len))
	}
	return p
}
