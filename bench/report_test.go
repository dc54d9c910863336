package bench_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/bench"
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

func sampleTable() *bench.Table {
	return bench.NewTable([]bench.Measurement{
		{Impl: bench.ImplMD5, Size: bench.MiB, N: 100, Time: 125 * time.Millisecond},
		{Impl: bench.ImplRef, Size: bench.MiB, N: 10, Time: 25 * time.Millisecond},
		{Impl: bench.ImplMD5, Size: bench.KiB, N: 1000, Time: 2 * time.Millisecond},
		{Impl: bench.ImplRef, Size: bench.KiB, N: 1000, Time: time.Second},
		{Impl: bench.ImplNaive, Size: bench.MiB, N: 1, Time: 10 * time.Millisecond},
	})
}

// TestTableText: one row per size in ascending order, MB/s and the ratio
// to MD5, "-" where nothing was measured.
func TestTableText(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTable().WriteText(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines, want 3:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"size", "md5 MB/s", "ref MB/s", "ref/md5", "naive MB/s", "naive/md5"},
		{"1KiB", "512.0", "1.02", "0.002x", "-"},
		{"1MiB", "838.9", "419.4", "0.50x", "104.9", "0.12x"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
			}
		}
	}
	if r := sampleTable().Ratio(bench.ImplRef, bench.MiB); r != 0.5 {
		t.Errorf("Ratio(ref, 1MiB) = %v, want 0.5", r)
	}
}

// TestTableSVG: the chart is well-formed XML with one line per
// implementation.
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
	if polylines != 3 {
		t.Errorf("SVG has %d polylines, want 3 (md5, ref, naive)", polylines)
	}
	if err := bench.NewTable(nil).WriteSVG(io.Discard, "empty"); err == nil {
		t.Error("WriteSVG of an empty table = nil error, want an error")
	}
}
