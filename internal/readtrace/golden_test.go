package readtrace_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/internal/readtrace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata with the actual output")

// load returns the golden trace NAME: what its .json says and the stream
// of its connection, parsed from its .strace.
func load(t *testing.T, name string) (*golden, *readtrace.Stream) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("%s.json: %v", name, err)
	}
	tr, err := readtrace.ReadFile(filepath.Join("testdata", name+".strace"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.MalformedCount != 0 || tr.Undecoded != 0 {
		t.Errorf("%s: %d malformed lines (%q), %d undecoded reads", name, tr.MalformedCount, tr.Malformed, tr.Undecoded)
	}
	return &g, tr.Stream(g.conn(t))
}

// report is what the parser and Classify make of a golden trace, as text:
// the reads and the layout in the JSON a report carries, then the
// findings.
func report(g *golden, s *readtrace.Stream) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "client:  %s\ndelivery: %s\nreads:   %d, failed calls %v, pending %d\n", g.Client, g.Delivery, len(s.Reads), s.Failed, s.Pending)
	j, _ := json.Marshal(struct {
		Reads  []readtrace.Read `json:"reads"`
		Layout readtrace.Layout `json:"layout"`
	}{s.Reads, g.Layout})
	b.Write(bytes.ReplaceAll(j, []byte("},{"), []byte("},\n {")))
	b.WriteString("\n")
	for _, f := range readtrace.Classify(s, g.Layout) {
		fmt.Fprintf(&b, "%s: %s\n", f.Kind, f.Words())
	}
	return b.Bytes()
}

// TestGoldens parses every recorded trace in testdata and compares what it
// makes of it with NAME.golden (rewritten with -update).
func TestGoldens(t *testing.T) {
	for _, name := range goldenNames(t) {
		t.Run(name, func(t *testing.T) {
			g, s := load(t, name)
			goldenFile(t, filepath.Join("testdata", name+".golden"), report(g, s))
		})
	}
}

// goldenFile compares got with the file at path, or rewrites it with
// -update.
func goldenFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/readtrace -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(g), len(w)); i++ {
			if i >= len(g) || i >= len(w) || g[i] != w[i] {
				t.Fatalf("%s differs from the output at line %d (go test ./internal/readtrace -update accepts it):\ngot  %q\nwant %q",
					path, i+1, at(g, i), at(w, i))
			}
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end)"
}

// TestGoldenNaiveSticky: the tutorial's naive client, from the reference
// server, the sticky packet delivered: read 98 after the size takes the
// file's last 672 bytes and the digest, at offset 99,334 of the stream,
// as SPEC.md Appendix A says.
func TestGoldenNaiveSticky(t *testing.T) {
	g, s := load(t, "naive_sticky")
	fs := readtrace.Classify(s, g.Layout)
	want := "read 98 after the size asked for 1024 bytes and got 704: the last 672 bytes of the file and 32 bytes of the digest"
	if len(fs) != 1 || fs[0].Kind != readtrace.Sticky || fs[0].Words() != want {
		t.Fatalf("findings %q, want [sticky: %s]", words(fs), want)
	}
	r := s.Reads[fs[0].Index]
	if b, _ := json.Marshal(r); string(b) != `{"asked":1024,"got":704,"offset":99334}` {
		t.Errorf("the read as JSON: %s", b)
	}
	if r.Call != "recvfrom" {
		t.Errorf("the read's call: %q, want recvfrom", r.Call)
	}
}

// TestGoldenArticleHalf: the article's fix, from the reference server,
// the digest delivered in two: its data reads stop at the boundary (the
// last one asks for exactly the 672 bytes left), and its one digest read
// gets 16 bytes.
func TestGoldenArticleHalf(t *testing.T) {
	g, s := load(t, "article_half")
	want := []string{
		"short-digest: read 99 after the size asked for 1024 bytes and got 16: the first 16 bytes of the digest",
		"part-digest: the client read 16 of the 32 bytes of the digest and no more (read 99 after the size asked for 1024 bytes and got 16)",
	}
	if got := words(readtrace.Classify(s, g.Layout)); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\ngot  %q\nwant %q", got, want)
	}
	last := s.Reads[len(s.Reads)-2]
	if last.Asked != 672 || last.Got != 672 || last.End() != g.Layout.Digest {
		t.Errorf("the last data read: %+v, want 672 asked and got, ending at %d", last, g.Layout.Digest)
	}
}

// TestGoldenRefSticky: the reference client (stickykit get, several
// threads) under the sticky packet. It reads the exchange exactly: the
// only read that takes data and digest together is one of its 64 KiB
// buffer, which it splits itself.
func TestGoldenRefSticky(t *testing.T) {
	g, s := load(t, "ref_sticky")
	if s.Consumed() != g.Layout.End {
		t.Errorf("reads took %d bytes, want the exchange's %d", s.Consumed(), g.Layout.End)
	}
	pids := map[int]bool{}
	for _, r := range s.Reads {
		pids[r.PID] = true
	}
	if len(pids) < 2 {
		t.Logf("the reads came from %d thread(s)", len(pids))
	}
	for _, f := range readtrace.Classify(s, g.Layout) {
		if f.Kind != readtrace.Sticky || f.Read.Asked < 64<<10 {
			t.Errorf("finding about the reference client: %s: %s", f.Kind, f.Words())
		}
	}
}

// TestGoldenPicture draws the naive client's recorded reads and compares
// the SVG with testdata/naive_sticky.svg, byte for byte (rewritten with
// -update): the kit's writes, the client's 99 reads, and read 98 after the
// size marked, in the demo's drawing.
func TestGoldenPicture(t *testing.T) {
	for _, name := range []string{"naive_sticky", "article_half", "ref_sticky"} {
		t.Run(name, func(t *testing.T) {
			g, s := load(t, name)
			var wrote []int64
			for _, n := range g.Wrote {
				wrote = append(wrote, int64(n))
			}
			var b bytes.Buffer
			if err := readtrace.NewPicture(g.Client, s, g.Layout, wrote).WriteSVG(&b); err != nil {
				t.Fatal(err)
			}
			if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
				t.Errorf("the SVG does not parse: %v", err)
			}
			goldenFile(t, filepath.Join("testdata", name+".svg"), b.Bytes())
			want := map[string]string{
				"naive_sticky": ">Read 98 after the size asked for 1024 bytes and got 704: the last 672 bytes of the</text>",
				"article_half": ">read 99 after the size: 16 digest</text>",
				"ref_sticky":   ">read 2 after the size: 34464 file + 32 digest</text>",
			}[name]
			if !strings.Contains(b.String(), want) {
				t.Errorf("the SVG lacks %q", want)
			}
		})
	}
}
