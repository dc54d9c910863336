package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// series is one line of the chart.
type series struct {
	impl, cache string
	color, dash string
	label       string
}

// chart lists the lines of WriteSVG, baselines first.
var chart = []series{
	{ImplMD5sum, Warm, "#777777", "6 4", "md5sum FILE (baseline of pipe)"},
	{ImplDD, Warm, "#b8860b", "6 4", "dd bs=1M conv=fsync (baseline of disk)"},
	{ImplPipe, Warm, "#1f5fbf", "", "pipe, warm: reference server → client, verified, to a pipe"},
	{ImplPipe, Cold, "#1f5fbf", "2 3", "pipe, cold: new server, file not in the page cache"},
	{ImplDisk, Warm, "#2e8b57", "", "disk, warm: reference server → stickykit get (fsync, rename)"},
	{ImplDisk, Cold, "#2e8b57", "2 3", "disk, cold: new server, file not in the page cache"},
	{ImplNaive, Warm, "#c0392b", "", "naive: stickykit naive-get --variant article (recv ≤ 1024)"},
	{ImplPython, Warm, "#8e44ad", "", "python: the tutorial's Python server → stickykit get"},
}

// WriteSVG draws throughput (MB/s, logarithmic) against file size
// (logarithmic), one line per program and cache state, as a standalone
// SVG document.
func (t *Table) WriteSVG(w io.Writer, title string) error {
	const (
		width, height          = 760, 520
		left, right, top, bott = 70, 20, 50, 200
	)
	if len(t.cmps) == 0 {
		return fmt.Errorf("no measurements to draw")
	}
	lo, hi := math.Inf(1), 0.0
	for _, c := range t.cmps {
		for _, m := range c.Measurements {
			if v := m.MBps(); v > 0 {
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if hi == 0 {
		return fmt.Errorf("no measurements to draw")
	}
	// Whole decades, so that the grid lines are 1, 10, 100... MB/s.
	ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if yhi == ylo {
		yhi++
	}
	sizes := make([]int64, len(t.cmps))
	for i, c := range t.cmps {
		sizes[i] = c.Size
	}
	lx, hx := math.Log2(float64(max(sizes[0], 1))), math.Log2(float64(max(sizes[len(sizes)-1], 1)))
	pw, ph := float64(width-left-right), float64(height-top-bott)
	x := func(size int64) float64 {
		if hx == lx {
			return float64(left) + pw/2
		}
		return float64(left) + (math.Log2(float64(max(size, 1)))-lx)/(hx-lx)*pw
	}
	y := func(mbps float64) float64 { return float64(top) + ph - (math.Log10(mbps)-ylo)/(yhi-ylo)*ph }
	bottom := float64(top) + ph

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
	for d := ylo; d <= yhi; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if v > math.Pow(10, yhi) {
				break
			}
			stroke := "#e4e4e4"
			if m != 1 {
				stroke = "#f2f2f2"
			}
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`+"\n", left, y(v), width-right, y(v), stroke)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, fmtAxis(v))
		}
	}
	for _, s := range sizes {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", x(s), top, x(s), bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(s), bottom+16, FormatSize(s))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, bottom, width-right, bottom)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, top, left, bottom)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">file size (log scale)</text>`+"\n", float64(left)+pw/2, bottom+34)
	fmt.Fprintf(&b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">MB/s, 10⁶ bytes per second (log scale)</text>`+"\n", float64(top)+ph/2)
	legend := 0
	for _, s := range chart {
		var pts []string
		for _, c := range t.cmps {
			if m := c.find(s.impl, s.cache); m != nil && m.MBps() > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(c.Size), y(m.MBps())))
			}
		}
		if len(pts) == 0 {
			continue
		}
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
		}
		ly := height - bott + 56 + legend*17
		legend++
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", left, ly-4, left+24, ly-4, s.color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+32, ly, esc(s.label))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtAxis formats an axis value: 0.1, 1, 20, 500, 1000.
func fmtAxis(v float64) string {
	if v >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
