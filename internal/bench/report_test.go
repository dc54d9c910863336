package bench_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/internal/bench"
)

var parseSizeTests = []struct {
	in   string
	want int64
	ok   bool
}{
	{"1KiB", 1 << 10, true},
	{"64MiB", 64 << 20, true},
	{"1GiB", 1 << 30, true},
	{"512k", 512 << 10, true},
	{" 2 M ", 2 << 20, true},
	{"1000", 1000, true},
	{"1000B", 1000, true},
	{"0", 0, true},
	{"", 0, false},
	{"-1KiB", 0, false},
	{"1.5MiB", 0, false},
	{"KiB", 0, false},
	{"99999999999GiB", 0, false},
}

func TestParseSize(t *testing.T) {
	for _, tt := range parseSizeTests {
		got, err := bench.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	sizes, err := bench.ParseSizes("1KiB,1MiB,,64MiB")
	if err != nil || len(sizes) != 3 || sizes[2] != 64<<20 {
		t.Errorf("ParseSizes = %v, %v; want [1024 1048576 67108864]", sizes, err)
	}
	if _, err := bench.ParseSizes(" , "); err == nil {
		t.Error("ParseSizes(\" , \") = nil error, want an error")
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{1 << 10: "1KiB", 64 << 20: "64MiB", 1 << 30: "1GiB", 1000: "1000B", 1536: "1536B", 0: "0B"} {
		if got := bench.FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
		if back, err := bench.ParseSize(bench.FormatSize(n)); err != nil || back != n {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", n, back, err)
		}
	}
}

// ms is n milliseconds.
func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// sampleTable has two sizes: 1MiB (every program, warm and cold) and
// 64MiB (warm pipe only, with CPU times).
func sampleTable() *bench.Table {
	small := &bench.Comparison{Size: bench.MiB, Measurements: []bench.Measurement{
		{Impl: bench.ImplMD5sum, Cache: bench.Warm, Size: bench.MiB, Runs: []bench.Run{{Wall: ms(2)}, {Wall: ms(1)}, {Wall: ms(4)}}},
		{Impl: bench.ImplPipe, Cache: bench.Warm, Size: bench.MiB, Runs: []bench.Run{{Wall: ms(4), Base: ms(2)}, {Wall: ms(2), Base: ms(1)}, {Wall: ms(4), Base: ms(4)}}},
		{Impl: bench.ImplMD5sum, Cache: bench.Cold, Size: bench.MiB, Runs: []bench.Run{{Wall: ms(10)}}},
		{Impl: bench.ImplPipe, Cache: bench.Cold, Size: bench.MiB, Runs: []bench.Run{{Wall: ms(20), Base: ms(10)}}},
		{Impl: bench.ImplNaive, Cache: bench.Warm, Size: bench.MiB, Runs: []bench.Run{{Wall: ms(100), Base: ms(2)}}},
	}}
	big := &bench.Comparison{Size: 64 * bench.MiB, Measurements: []bench.Measurement{
		{Impl: bench.ImplMD5sum, Cache: bench.Warm, Size: 64 * bench.MiB, Runs: []bench.Run{{Wall: ms(100), CPU: ms(100)}}},
		{Impl: bench.ImplPipe, Cache: bench.Warm, Size: 64 * bench.MiB, Runs: []bench.Run{{Wall: ms(125), CPU: ms(110), ServerCPU: ms(10), Base: ms(100)}}},
	}}
	return bench.NewTable(big, small)
}

// TestMeasurement: medians of rates and of run-by-run ratios, and CPU
// time per GiB.
func TestMeasurement(t *testing.T) {
	m := bench.Measurement{Size: bench.MiB, Runs: []bench.Run{
		{Wall: ms(4), Base: ms(2), CPU: ms(8)}, {Wall: ms(2), Base: ms(1), CPU: ms(2)}, {Wall: ms(4), Base: ms(4), CPU: ms(4)}}}
	if got, want := m.MBps(), float64(bench.MiB)/0.004/1e6; got != want {
		t.Errorf("MBps = %v, want the median run's %v", got, want)
	}
	if got := m.Ratio(); got != 0.5 {
		t.Errorf("Ratio = %v, want 0.5 (ratios 0.5, 0.5, 1)", got)
	}
	if got, want := m.CPUPerGiB(), 4.0/1000*1024; got != want {
		t.Errorf("CPUPerGiB = %v, want %v", got, want)
	}
	if got := m.ServerCPUPerGiB(); got != 0 {
		t.Errorf("ServerCPUPerGiB = %v with no server time, want 0", got)
	}
	two := bench.Measurement{Size: 1, Runs: []bench.Run{{Wall: ms(1)}, {Wall: ms(4)}}}
	if got := two.Rate(); got != 625 {
		t.Errorf("Rate of runs of 1ms and 4ms = %v, want 625 (the mean of the middle two rates, 1000 and 250)", got)
	}
}

var spaces = regexp.MustCompile(` {2,}`)

// TestTableText: one row per size and cache state in ascending order,
// MB/s and ratios, "-" where nothing was measured; the CPU table for the
// large size only.
func TestTableText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTable().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := []string{
		"size  cache  md5sum  pipe  pipe/md5sum  dd  disk  disk/dd  naive  python",
		"1MiB  cold  105  52.4  0.50x  -  -  -  -  -",
		"1MiB  warm  524  262  0.50x  -  -  -  10.5  -",
		"64MiB  cold  -  -  -  -  -  -  -  -",
		"64MiB  warm  671  537  0.80x  -  -  -  -  -",
		"",
		"CPU seconds per GiB (user+system, median), files of 16MiB or more:",
		"size  cache  md5sum  server  server/md5sum  client pipe  client disk  dd",
		"64MiB  cold  -  -  -  -  -  -",
		"64MiB  warm  1.60  0.16  0.10x  1.76  -  -",
	}
	if len(lines) != len(want) {
		t.Fatalf("table has %d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i := range want {
		if got := spaces.ReplaceAllString(strings.TrimSpace(lines[i]), "  "); got != want[i] {
			t.Errorf("line %d = %q, want %q", i, got, want[i])
		}
	}
}

// TestTableSVG: the chart is well-formed XML with one line per program
// and cache state measured, on a logarithmic throughput axis: 10 and 100
// MB/s are as far apart as 100 and 1000.
func TestTableSVG(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTable().WriteSVG(&b, "a <title> & more"); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 4 {
		t.Errorf("SVG has %d polylines, want 4 (md5sum, pipe warm, pipe cold, naive)", polylines)
	}
	one := func(mbps float64) float64 {
		t.Helper()
		m := bench.Measurement{Impl: bench.ImplMD5sum, Cache: bench.Warm, Size: 1e6, Runs: []bench.Run{{Wall: time.Duration(float64(time.Second) / mbps)}}}
		tab := bench.NewTable(&bench.Comparison{Size: 1e6, Measurements: []bench.Measurement{m,
			{Impl: bench.ImplPipe, Cache: bench.Warm, Size: 1e6, Runs: []bench.Run{{Wall: ms(1000)}}},
			{Impl: bench.ImplNaive, Cache: bench.Warm, Size: 1e6, Runs: []bench.Run{{Wall: ms(1)}}}}})
		var b bytes.Buffer
		if err := tab.WriteSVG(&b, "t"); err != nil {
			t.Fatal(err)
		}
		// The first circle is the md5sum point.
		s := b.String()
		i := strings.Index(s, `<circle cx="`)
		var cx, cy float64
		if _, err := fmt.Sscanf(s[i:], `<circle cx="%g" cy="%g"`, &cx, &cy); err != nil {
			t.Fatalf("no circle in the SVG: %v", err)
		}
		return cy
	}
	y10, y100, y1000 := one(10), one(100), one(1000)
	if d1, d2 := y10-y100, y100-y1000; d1 <= 0 || math.Abs(d1-d2) > 0.2 {
		t.Errorf("y of 10, 100, 1000 MB/s = %.1f, %.1f, %.1f: want equal steps up (a log scale)", y10, y100, y1000)
	}
	if err := bench.NewTable().WriteText(io.Discard); err != nil {
		t.Errorf("WriteText of an empty table = %v, want nil", err)
	}
	if err := bench.NewTable().WriteSVG(io.Discard, "empty"); err == nil {
		t.Error("WriteSVG of an empty table = nil error, want an error")
	}
}
