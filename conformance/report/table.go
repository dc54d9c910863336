package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stickykit/stickykit/conformance"
)

// TableOptions tune WriteTable.
type TableOptions struct {
	// Color paints the verdicts (green PASS, red FAIL, yellow HAZARD and
	// INCONCLUSIVE) with ANSI escapes. Set it only when w is a terminal.
	Color bool
	// Verbose writes each case's byte-level log below its row.
	Verbose bool
	// Width is the line width, in columns, the table fits in; 0 means
	// 100.
	Width int
}

// WriteTable writes results as a human table, one row per case, that fits
// in opts.Width columns:
//
//	VERDICT  CASE          SEVERITY  REQUIREMENTS         TIME
//	PASS     server/sizes  MUST      REQ-SRV-1 REQ-MSG-4  12ms
//	    5 files of 0 to 5242880 bytes arrived byte-exact with matching digests
//
// followed by a summary line (see [SummaryLine]), broken after its counts
// when it does not fit. Each detail goes below
// its row, indented, or, when the line is wide enough, in a DETAIL column
// beside it; it is wrapped at spaces. A requirement ID is never split: a
// list too long for its column shows the IDs that fit and "+N" for the
// rest, and the whole list opens the detail.
func WriteTable(w io.Writer, results []conformance.Result, opts TableOptions) error {
	width := opts.Width
	if width <= 0 {
		width = 100
	}
	lay := layOut(results, width)
	bw := bufio.NewWriter(w)
	header := "DETAIL"
	if lay.below {
		header = ""
	}
	lay.row(bw, tableHeads, "", header)
	for _, r := range results {
		color := ""
		if opts.Color {
			color = ruleOf(r.Outcome.Verdict).color
		}
		cells, detail := lay.cells(r)
		lines := wrap(detail, lay.detailWidth)
		switch {
		case len(lines) == 0:
			lay.row(bw, cells, color, "")
		case lay.below:
			lay.row(bw, cells, color, "")
			for _, l := range lines {
				fmt.Fprintf(bw, "%s%s\n", tableIndent, l)
			}
		default:
			lay.row(bw, cells, color, lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(bw, "%*s%s\n", lay.detailCol, "", l)
			}
		}
		if opts.Verbose {
			for _, l := range r.Log {
				for _, part := range cut(l, width-len(tableIndent)-2) {
					fmt.Fprintf(bw, "%s| %s\n", tableIndent, part)
				}
			}
		}
	}
	// The summary breaks after its counts when it does not fit.
	sum := SummaryLine(results)
	if counts, rest, ok := strings.Cut(sum, "; "); ok && utf8.RuneCountInString(sum) > width {
		sum = counts + ";\n" + rest
	}
	fmt.Fprintln(bw, sum)
	return bw.Flush()
}

// The table's columns before the detail, and the spaces between them.
var tableHeads = [5]string{"VERDICT", "CASE", "SEVERITY", "REQUIREMENTS", "TIME"}

const (
	reqColumn   = 3      // the index of REQUIREMENTS in tableHeads
	tableGap    = "  "   // between columns
	tableIndent = "    " // before a detail or log line below its row
	// minDetail is the narrowest DETAIL column worth having beside the
	// rows; below it, details go below their rows.
	minDetail = 50
	// minReqs is the narrowest REQUIREMENTS column beside a DETAIL
	// column: room for two IDs and a count of the rest.
	minReqs = 25
)

// tableLayout is where a table's columns go at a given width.
type tableLayout struct {
	cols        [5]int // the widths of the columns before the detail
	below       bool   // details go below their rows
	detailCol   int    // the column the detail begins at, beside the rows
	detailWidth int    // the width details are wrapped to
}

// layOut fits the columns of results into width: the requirements column
// as wide as its longest list if the line allows, else narrower, with a
// DETAIL column beside the rows only if it can be minDetail wide.
func layOut(results []conformance.Result, width int) tableLayout {
	var lay tableLayout
	for j, h := range tableHeads {
		lay.cols[j] = len(h)
	}
	for _, r := range results {
		for j, s := range [5]string{string(r.Outcome.Verdict), r.Case.ID, string(r.Case.Severity),
			strings.Join(r.Case.Requirements, " "), formatDuration(r)} {
			lay.cols[j] = max(lay.cols[j], utf8.RuneCountInString(s))
		}
	}
	others := len(tableGap) * (len(tableHeads) - 1)
	for j, c := range lay.cols {
		if j != reqColumn {
			others += c
		}
	}
	reqs := lay.cols[reqColumn]
	switch {
	case width-others-reqs-len(tableGap) >= minDetail:
		// Everything fits at its natural width, detail beside.
	case width-others-minReqs-len(tableGap) >= minDetail:
		reqs = width - others - len(tableGap) - minDetail
	default:
		lay.below = true
		reqs = max(min(reqs, width-others), len(tableHeads[reqColumn]))
	}
	lay.cols[reqColumn] = reqs
	if lay.below {
		lay.detailWidth = max(width-len(tableIndent), 20)
		return lay
	}
	lay.detailCol = others + reqs + len(tableGap)
	lay.detailWidth = width - lay.detailCol
	return lay
}

// cells returns r's cells and its detail: the requirement IDs that fit in
// their column, and the detail, led by the whole list when some did not.
func (lay *tableLayout) cells(r conformance.Result) ([5]string, string) {
	reqs, all := fitIDs(r.Case.Requirements, lay.cols[reqColumn])
	detail := r.Outcome.Detail
	if !all {
		detail = strings.TrimSpace("requirements: " + strings.Join(r.Case.Requirements, " ") + "\n" + detail)
	}
	return [5]string{string(r.Outcome.Verdict), r.Case.ID, string(r.Case.Severity), reqs, formatDuration(r)}, detail
}

// row writes cells padded to their columns, then tail, with no trailing
// spaces; color paints the first cell.
func (lay *tableLayout) row(w io.Writer, cells [5]string, color, tail string) {
	var b strings.Builder
	for j, s := range cells {
		pad := strings.Repeat(" ", max(lay.cols[j]-utf8.RuneCountInString(s), 0))
		if j == 0 && color != "" {
			s = color + s + ansiReset
		}
		b.WriteString(s + pad + tableGap)
	}
	b.WriteString(tail)
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
}

// fitIDs returns as many of ids as fit in width columns, separated by
// spaces, followed by "+N" for the N that did not; all reports whether
// every one fitted. An ID is never cut.
func fitIDs(ids []string, width int) (cell string, all bool) {
	if s := strings.Join(ids, " "); utf8.RuneCountInString(s) <= width {
		return s, true
	}
	for n := len(ids) - 1; n >= 0; n-- {
		s := strings.Join(append(ids[:n:n], fmt.Sprintf("+%d", len(ids)-n)), " ")
		if utf8.RuneCountInString(s) <= width {
			return s, false
		}
	}
	return "", false
}

// formatDuration renders a case's run time for the table; "-" for a case
// that did not run.
func formatDuration(r conformance.Result) string {
	if r.Duration <= 0 {
		return "-"
	}
	if r.Duration < time.Millisecond {
		return "<1ms"
	}
	return r.Duration.Round(time.Millisecond).String()
}

// wrap splits s into lines of at most width runes, breaking at spaces; a
// word longer than width is cut. Newlines in s are kept.
func wrap(s string, width int) []string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(s), "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			for utf8.RuneCountInString(word) > width {
				if line != "" {
					out = append(out, line)
					line = ""
				}
				r := []rune(word)
				out = append(out, string(r[:width]))
				word = string(r[width:])
			}
			switch {
			case line == "":
				line = word
			case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// cut splits s into pieces of at most width runes, keeping every byte:
// a log line is shown as it is, only folded.
func cut(s string, width int) []string {
	r := []rune(s)
	if width < 1 || len(r) <= width {
		return []string{s}
	}
	var out []string
	for len(r) > width {
		out = append(out, string(r[:width]))
		r = r[width:]
	}
	return append(out, string(r))
}
