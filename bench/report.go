package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// order is the order of implementations in tables and charts.
var order = []string{ImplMD5, ImplDisk, ImplRef, ImplRefMem, ImplNaive, ImplPython}

// Table is a set of measurements indexed by implementation and size.
type Table struct {
	rows  map[int64]map[string]Measurement
	impls map[string]bool
}

// NewTable returns a table of ms.
func NewTable(ms []Measurement) *Table {
	t := &Table{rows: map[int64]map[string]Measurement{}, impls: map[string]bool{}}
	for _, m := range ms {
		t.Add(m)
	}
	return t
}

// Add adds or replaces one measurement.
func (t *Table) Add(m Measurement) {
	if t.rows[m.Size] == nil {
		t.rows[m.Size] = map[string]Measurement{}
	}
	t.rows[m.Size][m.Impl] = m
	t.impls[m.Impl] = true
}

func (t *Table) sizes() []int64 {
	var s []int64
	for k := range t.rows {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

func (t *Table) columns() []string {
	var c []string
	for _, i := range order {
		if t.impls[i] {
			c = append(c, i)
		}
	}
	return c
}

// Ratio returns the rate of impl over the MD5 rate at size, or 0.
func (t *Table) Ratio(impl string, size int64) float64 {
	m, ok := t.rows[size][impl]
	b, okb := t.rows[size][ImplMD5]
	if !ok || !okb || b.Rate() == 0 {
		return 0
	}
	return m.Rate() / b.Rate()
}

// WriteText writes the table: one row per size, MB/s (10^6 bytes per
// second) per implementation and the ratio of each transfer to the MD5
// baseline.
func (t *Table) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := t.columns()
	head := []string{"size"}
	for _, c := range cols {
		head = append(head, c+" MB/s")
		if hasRatio(c) && t.impls[ImplMD5] {
			head = append(head, c+"/md5")
		}
	}
	head = append(head, "ref time/op", "runs")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, size := range t.sizes() {
		row := []string{FormatSize(size)}
		for _, c := range cols {
			m, ok := t.rows[size][c]
			if !ok {
				row = append(row, "-")
			} else {
				row = append(row, fmtRate(m.MBps()))
			}
			if hasRatio(c) && t.impls[ImplMD5] {
				if r := t.Ratio(c, size); r > 0 {
					row = append(row, fmtRatio(r))
				} else {
					row = append(row, "-")
				}
			}
		}
		if m, ok := t.rows[size][ImplRef]; ok {
			row = append(row, m.PerOp().String(), fmt.Sprint(m.N))
		} else {
			row = append(row, "-", "-")
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}

// fmtRate formats MB/s with three significant digits or one decimal.
func fmtRate(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.1f", v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// fmtRatio formats a ratio as "0.69x", or with two significant digits
// when it is small.
func fmtRatio(r float64) string {
	if r >= 0.1 {
		return fmt.Sprintf("%.2fx", r)
	}
	return strconv.FormatFloat(r, 'g', 2, 64) + "x"
}

// hasRatio says whether the table shows impl's ratio to the MD5 baseline:
// not for the baselines themselves.
func hasRatio(impl string) bool { return impl != ImplMD5 && impl != ImplDisk }

var colors = map[string]string{ImplMD5: "#777777", ImplDisk: "#b8860b", ImplRefMem: "#7fa7e0", ImplRef: "#1f5fbf", ImplNaive: "#c0392b", ImplPython: "#2e8b57"}

var labels = map[string]string{
	ImplMD5:    "MD5 of the file, one core (baseline)",
	ImplDisk:   "copy of the file to disk with fsync (baseline)",
	ImplRef:    "reference server → reference client, to disk (stickykit get)",
	ImplRefMem: "reference server → reference client, verified in memory (no disk)",
	ImplNaive:  "reference server → naive client (recv 1024)",
	ImplPython: "tutorial Python server → reference client",
}

// WriteSVG draws throughput (MB/s) against file size (log scale), one line
// per implementation, as a standalone SVG document.
func (t *Table) WriteSVG(w io.Writer, title string) error {
	const (
		width, height          = 760, 480
		left, right, top, bott = 70, 20, 50, 160
	)
	sizes := t.sizes()
	if len(sizes) == 0 {
		return fmt.Errorf("bench: no measurements to draw")
	}
	maxRate := 0.0
	for _, r := range t.rows {
		for _, m := range r {
			maxRate = max(maxRate, m.MBps())
		}
	}
	step := niceStep(maxRate / 5)
	top_ := math.Ceil(maxRate/step) * step
	if top_ == 0 {
		top_ = 1
	}
	lx, hx := math.Log2(float64(max(sizes[0], 1))), math.Log2(float64(max(sizes[len(sizes)-1], 1)))
	pw, ph := float64(width-left-right), float64(height-top-bott)
	x := func(size int64) float64 {
		if hx == lx {
			return float64(left) + pw/2
		}
		return float64(left) + (math.Log2(float64(max(size, 1)))-lx)/(hx-lx)*pw
	}
	y := func(mbps float64) float64 { return float64(top) + ph - mbps/top_*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
	for v := 0.0; v <= top_+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e4e4e4"/>`+"\n", left, y(v), width-right, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", left-6, y(v)+4, v)
	}
	for _, s := range sizes {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e4e4e4"/>`+"\n", x(s), top, x(s), y(0))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(s), y(0)+16, FormatSize(s))
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, y(0), width-right, y(0))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%.1f" stroke="black"/>`+"\n", left, top, left, y(0))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">file size (log scale)</text>`+"\n", float64(left)+pw/2, y(0)+34)
	fmt.Fprintf(&b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">MB/s (10⁶ bytes per second)</text>`+"\n", float64(top)+ph/2)
	for i, impl := range t.columns() {
		var pts []string
		for _, s := range sizes {
			if m, ok := t.rows[s][impl]; ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s), y(m.MBps())))
			}
		}
		dash := ""
		if !hasRatio(impl) {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", colors[impl], dash, strings.Join(pts, " "))
		for _, p := range pts {
			xy := strings.Split(p, ",")
			fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="3.5" fill="%s"/>`+"\n", xy[0], xy[1], colors[impl])
		}
		ly := height - bott + 52 + i*16
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`+"\n", left, ly-4, left+24, ly-4, colors[impl], dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+32, ly, esc(labels[impl]))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
