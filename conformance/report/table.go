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
	// Width is the line width, in columns, details are wrapped to;
	// 0 means 100.
	Width int
}

// WriteTable writes results as a human table, one row per case:
//
//	VERDICT  CASE          SEVERITY  REQUIREMENTS        TIME   DETAIL
//	PASS     server/sizes  MUST      REQ-SRV-1 REQ-MSG-2  12ms   ...
//
// followed by a summary line (see [SummaryLine]). A detail too long for the
// line is wrapped under the DETAIL column, or, when that column would be too
// narrow, below the row.
func WriteTable(w io.Writer, results []conformance.Result, opts TableOptions) error {
	width := opts.Width
	if width <= 0 {
		width = 100
	}
	rows := make([][5]string, len(results))
	cols := [5]int{len("VERDICT"), len("CASE"), len("SEVERITY"), len("REQUIREMENTS"), len("TIME")}
	for i, r := range results {
		rows[i] = [5]string{
			string(r.Outcome.Verdict),
			r.Case.ID,
			string(r.Case.Severity),
			strings.Join(r.Case.Requirements, " "),
			formatDuration(r),
		}
		for j, s := range rows[i] {
			cols[j] = max(cols[j], utf8.RuneCountInString(s))
		}
	}
	const gap = "  "
	detailCol := 0
	for _, c := range cols {
		detailCol += c + len(gap)
	}
	detailWidth := width - detailCol
	below := detailWidth < 50 // too narrow: details go on their own lines
	const indent = "    "
	if below {
		detailWidth = max(width-len(indent), 50)
	}

	bw := bufio.NewWriter(w)
	// row writes the cells padded to their columns, then tail, with no
	// trailing spaces.
	row := func(cells [5]string, color, tail string) {
		var b strings.Builder
		for j, s := range cells {
			pad := strings.Repeat(" ", cols[j]-utf8.RuneCountInString(s))
			if j == 0 && color != "" {
				s = color + s + ansiReset
			}
			b.WriteString(s + pad + gap)
		}
		b.WriteString(tail)
		bw.WriteString(strings.TrimRight(b.String(), " ") + "\n")
	}
	header := "DETAIL"
	if below {
		header = ""
	}
	row([5]string{"VERDICT", "CASE", "SEVERITY", "REQUIREMENTS", "TIME"}, "", header)
	for i, r := range results {
		color := ""
		if opts.Color {
			color = ruleOf(r.Outcome.Verdict).color
		}
		lines := wrap(r.Outcome.Detail, detailWidth)
		switch {
		case len(lines) == 0:
			row(rows[i], color, "")
		case below:
			row(rows[i], color, "")
			for _, l := range lines {
				fmt.Fprintf(bw, "%s%s\n", indent, l)
			}
		default:
			row(rows[i], color, lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(bw, "%*s%s\n", detailCol, "", l)
			}
		}
		if opts.Verbose {
			for _, l := range r.Log {
				fmt.Fprintf(bw, "%s| %s\n", indent, l)
			}
		}
	}
	fmt.Fprintln(bw, SummaryLine(results))
	return bw.Flush()
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
