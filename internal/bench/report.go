package bench

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Table holds the comparisons of one run of "stickykit bench", one per
// file size, and prints or draws them.
type Table struct {
	cmps []*Comparison
}

// NewTable returns a table of cs.
func NewTable(cs ...*Comparison) *Table {
	t := &Table{}
	for _, c := range cs {
		t.Add(c)
	}
	return t
}

// Add adds c, replacing a comparison of the same size.
func (t *Table) Add(c *Comparison) {
	t.cmps = slices.DeleteFunc(t.cmps, func(o *Comparison) bool { return o.Size == c.Size })
	t.cmps = append(t.cmps, c)
	slices.SortFunc(t.cmps, func(a, b *Comparison) int { return int(a.Size - b.Size) })
}

// find returns the measurement of impl in cache state, or nil.
func (c *Comparison) find(impl, cache string) *Measurement {
	for i := range c.Measurements {
		if m := &c.Measurements[i]; m.Impl == impl && m.Cache == cache {
			return m
		}
	}
	return nil
}

// cpuMinSize is the smallest file whose CPU time per GiB the table shows:
// the server's is read in 10ms ticks, and small transfers cost mostly a
// process start.
const cpuMinSize = 16 * MiB

// WriteText writes the comparisons as two tables: throughput (MB/s, 10^6
// bytes per second) with each transfer's ratio to its baseline, and, for
// files of cpuMinSize or more, the CPU seconds per GiB of each end.
func (t *Table) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tcache\tmd5sum\tpipe\tpipe/md5sum\tdd\tdisk\tdisk/dd\tnaive\tpython\t")
	for _, c := range t.cmps {
		for _, cache := range []string{Cold, Warm} {
			row := []string{FormatSize(c.Size), cache}
			row = append(row, rate(c.find(ImplMD5sum, cache)), rate(c.find(ImplPipe, cache)), ratio(c.find(ImplPipe, cache)))
			row = append(row, rate(c.find(ImplDD, cache)), rate(c.find(ImplDisk, cache)), ratio(c.find(ImplDisk, cache)))
			row = append(row, rate(c.find(ImplNaive, cache)), rate(c.find(ImplPython, cache)))
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(t.cmps) == 0 || t.cmps[len(t.cmps)-1].Size < cpuMinSize {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "CPU seconds per GiB (user+system, median), files of %s or more:\n", FormatSize(cpuMinSize))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tcache\tmd5sum\tserver\tserver/md5sum\tclient pipe\tclient disk\tdd\t")
	for _, c := range t.cmps {
		if c.Size < cpuMinSize {
			continue
		}
		for _, cache := range []string{Cold, Warm} {
			md5 := c.find(ImplMD5sum, cache)
			srv := c.find(ImplPipe, cache)
			if srv == nil {
				srv = c.find(ImplDisk, cache)
			}
			row := []string{FormatSize(c.Size), cache, cpu(md5, false), cpu(srv, true), cpuRatio(srv, md5),
				cpu(c.find(ImplPipe, cache), false), cpu(c.find(ImplDisk, cache), false), cpu(c.find(ImplDD, cache), false)}
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
	}
	return tw.Flush()
}

// rate formats m's median MB/s, or "-".
func rate(m *Measurement) string {
	if m == nil || m.Rate() == 0 {
		return "-"
	}
	v := m.MBps()
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// ratio formats m's median ratio to its baseline as "0.93x", or "-".
func ratio(m *Measurement) string {
	if m == nil || m.Ratio() == 0 {
		return "-"
	}
	return fmtRatio(m.Ratio())
}

// fmtRatio formats a ratio as "0.69x", or with two significant digits
// when it is below 0.095 (which would print as 0.10x or less).
func fmtRatio(r float64) string {
	if r >= 0.095 {
		return fmt.Sprintf("%.2fx", r)
	}
	return strconv.FormatFloat(r, 'g', 2, 64) + "x"
}

// cpu formats the CPU seconds per GiB of m's program, or of its server.
func cpu(m *Measurement, server bool) string {
	if m == nil {
		return "-"
	}
	v := m.CPUPerGiB()
	if server {
		v = m.ServerCPUPerGiB()
	}
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

// cpuRatio formats the server's CPU time over the baseline's.
func cpuRatio(srv, base *Measurement) string {
	if srv == nil || base == nil || srv.ServerCPUPerGiB() == 0 || base.CPUPerGiB() == 0 {
		return "-"
	}
	return fmtRatio(srv.ServerCPUPerGiB() / base.CPUPerGiB())
}

// WriteRemembered writes, for each size, how many warm transfers the server
// sent from a remembered digest.
func (t *Table) WriteRemembered(w io.Writer) {
	var parts []string
	for _, c := range t.cmps {
		if c.Served > 0 {
			parts = append(parts, fmt.Sprintf("%s %d of %d", FormatSize(c.Size), c.Remembered, c.Served))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "warm transfers sent from a remembered digest: %s\n", strings.Join(parts, ", "))
	}
}

// Evicted says whether every comparison dropped its file from the page
// cache before the cold runs.
func (t *Table) Evicted() bool {
	for _, c := range t.cmps {
		if !c.Evicted {
			return false
		}
	}
	return len(t.cmps) > 0
}
