package demo_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/internal/demo"
	"github.com/stickykit/stickykit/internal/timeline"
	"github.com/stickykit/stickykit/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata with the actual output")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// allCases returns every client under every delivery, in its default
// framing: what `stickykit demo` runs.
func allCases() []demo.Case {
	var cs []demo.Case
	for _, d := range demo.Deliveries {
		for _, c := range demo.Clients {
			cs = append(cs, demo.Case{Client: c, Delivery: d, Framing: d.DefaultFraming()})
		}
	}
	return cs
}

func run(t *testing.T, cfg demo.Config, cases ...demo.Case) []*demo.Outcome {
	t.Helper()
	out, err := demo.Run(context.Background(), cfg, cases)
	if err != nil {
		t.Fatalf("Run(size %d, seed %d): %v", cfg.Size, cfg.Seed, err)
	}
	return out
}

func find(t *testing.T, out []*demo.Outcome, c demo.ClientKind, d demo.Delivery) *demo.Outcome {
	t.Helper()
	for _, o := range out {
		if o.Client == c && o.Delivery == d {
			return o
		}
	}
	t.Fatalf("no outcome for %s/%s", c, d)
	return nil
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenFile(t, filepath.Join("testdata", name), got)
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
		t.Fatalf("%v (run go test ./demo -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test ./demo -update to accept it):\n%s", path, diff(string(want), string(got)))
	}
}

// diff shows the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  got  %q\n  want %q\n", i+1, gl, wl)
			shown++
		}
	}
	return b.String()
}

// lesson runs the whole lesson with the default settings and the timeline
// of naive/sticky, as `stickykit demo` does.
func lesson(t *testing.T, lang demo.Lang) *demo.Report {
	t.Helper()
	cfg := demo.DefaultConfig()
	out := run(t, cfg, allCases()...)
	tl := find(t, out, demo.NaiveClient, demo.Sticky)
	return &demo.Report{Config: cfg, Lang: lang, Outcomes: out, Timeline: timeline.NewLayout(tl.Trace), TimelineOutcome: tl,
		Fix: find(t, out, demo.ArticleClient, demo.Sticky), Full: true}
}

func TestGoldenText(t *testing.T) {
	for _, lang := range []demo.Lang{demo.English, demo.Chinese} {
		t.Run(string(lang), func(t *testing.T) {
			r := lesson(t, lang)
			var b bytes.Buffer
			if err := r.WriteText(&b, false); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "\x1b[") {
				t.Errorf("WriteText(color=false) wrote an ANSI escape")
			}
			golden(t, "lesson_"+string(lang)+".txt", b.Bytes())
		})
	}
}

// TestGoldenFirstScreen: what `stickykit demo` prints without --full.
func TestGoldenFirstScreen(t *testing.T) {
	for _, lang := range []demo.Lang{demo.English, demo.Chinese} {
		t.Run(string(lang), func(t *testing.T) {
			r := lesson(t, lang)
			r.Full = false
			var b bytes.Buffer
			if err := r.WriteText(&b, false); err != nil {
				t.Fatal(err)
			}
			golden(t, "first_"+string(lang)+".txt", b.Bytes())
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			if len(lines) > 25 {
				t.Errorf("the first screen has %d lines, want at most 25", len(lines))
			}
			for _, l := range lines {
				if w := timeline.Width(l); w > 80 {
					t.Errorf("line of %d columns, want at most 80: %q", w, l)
				}
			}
			// The bug happening, the read that crossed the boundary, and
			// the fix beside it, all on the first screen.
			want := map[demo.Lang][]string{
				demo.English: {
					"  naive read    |   6   | 1,024 | ... | 1,024 |      704      |",
					"  article read  |   6   | 1,024 | ... | 1,024 |  672  |  32   |",
					"The 98th read after the size took bytes 99,328–100,031: 672 bytes of file and",
					"The fix, in the article row: ask for min(1024, SIZE - received), so the last",
				},
				demo.Chinese: {
					"大小之后的第 98 次读取拿到第 99,328–100,031 字节：672 字节数据和 32 字节摘要。",
					"修正见 article 那一行：每次请求 min(1024, SIZE - 已收字节)，最后一次读数据就停",
				},
			}[lang]
			for _, w := range want {
				if !slices.Contains(lines, w) {
					t.Errorf("the first screen lacks the line %q", w)
				}
			}
		})
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	r := lesson(t, demo.English)
	var plain, color bytes.Buffer
	if err := r.WriteText(&plain, false); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteText(&color, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(color.String(), "\x1b[1;31m") {
		t.Errorf("WriteText(color=true) has no red mark")
	}
	stripped := stripANSI(color.String())
	if stripped != plain.String() {
		t.Errorf("coloured text without its escapes differs from plain text:\n%s", diff(plain.String(), stripped))
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestGoldenTrace(t *testing.T) {
	cfg := demo.DefaultConfig()
	for _, c := range []demo.Case{
		{Client: demo.NaiveClient, Delivery: demo.Sticky, Framing: spec.Lockstep},
		{Client: demo.ArticleClient, Delivery: demo.Half, Framing: spec.Lockstep},
	} {
		t.Run(c.String(), func(t *testing.T) {
			o := run(t, cfg, c)[0]
			var b bytes.Buffer
			if err := o.Trace.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, fmt.Sprintf("trace_%s_%s.json", c.Client, c.Delivery), b.Bytes())
			back, err := timeline.ReadTrace(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatalf("ReadTrace of WriteJSON's output: %v", err)
			}
			if len(back.Events) != len(o.Trace.Events) || back.Client != o.Trace.Client {
				t.Errorf("ReadTrace: got %d events of client %q, want %d of %q", len(back.Events), back.Client, len(o.Trace.Events), o.Trace.Client)
			}
		})
	}
}

// TestOutcomes checks what the lesson claims, case by case.
func TestOutcomes(t *testing.T) {
	cfg := demo.DefaultConfig()
	out := run(t, cfg, allCases()...)
	tests := []struct {
		client   demo.ClientKind
		delivery demo.Delivery
		verdict  demo.Verdict
		reason   demo.Reason
		written  int64
	}{
		{demo.NaiveClient, demo.Plain, demo.VerdictOK, demo.ReasonLucky, 100000},
		{demo.ArticleClient, demo.Plain, demo.VerdictOK, demo.ReasonExactData, 100000},
		{demo.RefClient, demo.Plain, demo.VerdictOK, demo.ReasonExact, 100000},
		{demo.NaiveClient, demo.Sticky, demo.VerdictWrong, demo.ReasonSticky, 100032},
		{demo.ArticleClient, demo.Sticky, demo.VerdictOK, demo.ReasonExactData, 100000},
		{demo.RefClient, demo.Sticky, demo.VerdictOK, demo.ReasonExact, 100000},
		{demo.NaiveClient, demo.Half, demo.VerdictWrong, demo.ReasonHalf, 100000},
		{demo.ArticleClient, demo.Half, demo.VerdictWrong, demo.ReasonHalf, 100000},
		{demo.RefClient, demo.Half, demo.VerdictOK, demo.ReasonExact, 100000},
		{demo.NaiveClient, demo.SplitSize, demo.VerdictWrong, demo.ReasonSize, -1},
		{demo.ArticleClient, demo.SplitSize, demo.VerdictWrong, demo.ReasonSize, 100},
		{demo.RefClient, demo.SplitSize, demo.VerdictOK, demo.ReasonExact, 100000},
	}
	for _, tt := range tests {
		o := find(t, out, tt.client, tt.delivery)
		if o.Verdict != tt.verdict || o.Reason != tt.reason {
			t.Errorf("%s: got %s (%s), want %s (%s); err %v", o.Case, o.Verdict, o.Reason, tt.verdict, tt.reason, o.Err)
		}
		if tt.written >= 0 && o.Written != tt.written {
			t.Errorf("%s: wrote %d bytes, want %d", o.Case, o.Written, tt.written)
		}
		if o.Verdict == demo.VerdictOK && o.Server != o.Local {
			t.Errorf("%s: ok with digests %q and %q", o.Case, o.Server, o.Local)
		}
	}
	if o := find(t, out, demo.NaiveClient, demo.Half); len(o.Server) != 20 {
		t.Errorf("naive/half: digest read got %d bytes, want 20", len(o.Server))
	}
	if o := find(t, out, demo.NaiveClient, demo.SplitSize); o.SizeRead != 100 {
		t.Errorf("naive/split-size: read the size as %d, want 100", o.SizeRead)
	}
}

// TestAppendixA checks the numbers of SPEC.md Appendix A against the
// recorded reads: the 98th read after the size takes 672 bytes of data and
// 32 of digest, offsets 99,328–100,031 from the first data byte.
func TestAppendixA(t *testing.T) {
	o := run(t, demo.DefaultConfig(), demo.Case{Client: demo.NaiveClient, Delivery: demo.Sticky, Framing: spec.Lockstep})[0]
	tl := timeline.NewLayout(o.Trace)
	m := tl.Mark
	if m == nil {
		t.Fatal("no marked read")
	}
	if !m.AfterSize || m.Index != 98 || m.Off-tl.Base != 99328 || m.End-tl.Base != 100032 {
		t.Errorf("mark: read %d (after size %v) at %d..%d, want read 98 after the size at 99328..100032",
			m.Index, m.AfterSize, m.Off-tl.Base, m.End-tl.Base)
	}
	if len(m.Parts) != 2 || m.Parts[0].Region.Name != timeline.RegionData || m.Parts[0].Len() != 672 ||
		m.Parts[1].Region.Name != timeline.RegionDigest || m.Parts[1].Len() != 32 {
		t.Errorf("mark parts: got %+v, want 672 of data and 32 of digest", m.Parts)
	}
	if n := len(tl.Read); n != 99 {
		t.Errorf("client reads: got %d, want 99 (the size, then 98 of the body)", n)
	}
}

// TestMultipleOf1024HidesBug: with a file of 100 x 1,024 bytes every naive
// read is full, the last ends at the data's end, and the sticky delivery
// does no harm (SPEC.md Appendix A).
func TestMultipleOf1024HidesBug(t *testing.T) {
	cfg := demo.DefaultConfig()
	cfg.Size = 102400
	o := run(t, cfg, demo.Case{Client: demo.NaiveClient, Delivery: demo.Sticky, Framing: spec.Lockstep})[0]
	if o.Verdict != demo.VerdictOK || o.Reason != demo.ReasonLucky {
		t.Errorf("naive/sticky with 102,400 bytes: got %s (%s), want ok (lucky)", o.Verdict, o.Reason)
	}
}

// TestHazard: in lockstep a split size defeats even the reference client,
// and the lesson says why.
func TestHazard(t *testing.T) {
	o := run(t, demo.DefaultConfig(), demo.Case{Client: demo.RefClient, Delivery: demo.SplitSize, Framing: spec.Lockstep})[0]
	if o.Verdict != demo.VerdictFailed || o.Reason != demo.ReasonHazard {
		t.Errorf("ref/split-size in lockstep: got %s (%s), want failed (hazard); err %v", o.Verdict, o.Reason, o.Err)
	}
}

// TestSizes runs every case with small and odd sizes: nothing hangs or
// panics, and the reference client always succeeds where it can.
func TestSizes(t *testing.T) {
	for _, size := range []int64{0, 1, 9, 31, 1023, 1024, 1025, 70001} {
		cfg := demo.DefaultConfig()
		cfg.Size, cfg.Seed = size, uint64(size)
		out := run(t, cfg, allCases()...)
		for _, o := range out {
			if o.Client == demo.RefClient && o.Verdict != demo.VerdictOK {
				t.Errorf("size %d: %s: got %s, want ok; err %v", size, o.Case, o.Verdict, o.Err)
			}
		}
		r := &demo.Report{Config: cfg, Lang: demo.English, Outcomes: out}
		for _, o := range out {
			r.Timeline, r.TimelineOutcome = timeline.NewLayout(o.Trace), o
			if err := r.WriteText(io.Discard, false); err != nil {
				t.Errorf("size %d: %s: WriteText: %v", size, o.Case, err)
			}
			var b bytes.Buffer
			if err := r.WriteSVG(&b); err != nil {
				t.Fatal(err)
			}
			if err := parseXML(b.Bytes()); err != nil {
				t.Errorf("size %d: %s: SVG does not parse: %v", size, o.Case, err)
			}
		}
	}
}

func TestRunRejectsBadSize(t *testing.T) {
	cfg := demo.DefaultConfig()
	for _, size := range []int64{-1, demo.MaxSize + 1} {
		cfg.Size = size
		if _, err := demo.Run(context.Background(), cfg, allCases()[:1]); err == nil {
			t.Errorf("Run with size %d: no error", size)
		}
	}
}

// parseXML decodes every token of b.
func parseXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// svgTexts returns the character data of every <text> element of an SVG.
func svgTexts(t *testing.T, b []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var texts []string
	in := false
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse as XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			in = tok.Name.Local == "text"
		case xml.EndElement:
			in = false
		case xml.CharData:
			if in {
				texts = append(texts, string(tok))
			}
		}
	}
	if root != "svg" {
		t.Fatalf("root element is %q, want svg", root)
	}
	return texts
}

func TestSVG(t *testing.T) {
	for _, lang := range []demo.Lang{demo.English, demo.Chinese} {
		t.Run(string(lang), func(t *testing.T) {
			r := lesson(t, lang)
			var b bytes.Buffer
			if err := r.WriteSVG(&b); err != nil {
				t.Fatal(err)
			}
			texts := svgTexts(t, b.Bytes())
			want := map[demo.Lang][]string{
				demo.English: {"size", "data", "digest", "server wrote", "client read", "672", "32",
					"The 98th read after the size took bytes 99,328–100,031: 672 bytes of file and 32 of"},
				demo.Chinese: {"大小", "数据", "摘要", "672", "32", "大小之后的第 98 次读取拿到第 99,328–100,031 字节：672 字节数据和 32 字节摘要。"},
			}[lang]
			for _, w := range want {
				found := false
				for _, s := range texts {
					if s == w {
						found = true
					}
				}
				if !found {
					t.Errorf("SVG has no text %q; texts: %q", w, texts)
				}
			}
		})
	}
}

// TestDocsTimeline keeps docs/timeline.svg what the command draws:
//
//	go run ./cmd/stickykit demo --lang en --svg docs/timeline.svg
func TestDocsTimeline(t *testing.T) {
	var b bytes.Buffer
	if err := lesson(t, demo.English).WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	goldenFile(t, filepath.Join("..", "..", "docs", "timeline.svg"), b.Bytes())
}

func TestHTMLSelfContained(t *testing.T) {
	r := lesson(t, demo.English)
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, w := range []string{"<!DOCTYPE html>", "<svg ", "</svg>", "100,032 / 100,000", "</html>"} {
		if !strings.Contains(page, w) {
			t.Errorf("HTML page lacks %q", w)
		}
	}
	// Nothing is loaded: the only URL is the SVG namespace name.
	rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"http:", "https:", "src=", "href=", "url(", "@import"} {
		if strings.Contains(rest, bad) {
			t.Errorf("HTML page contains %q: it must load nothing", bad)
		}
	}
	// The SVG inside parses on its own.
	i, j := strings.Index(page, "<svg "), strings.Index(page, "</svg>")
	if err := parseXML([]byte(page[i : j+len("</svg>")])); err != nil {
		t.Errorf("inline SVG does not parse: %v", err)
	}
}

func TestLangFromEnv(t *testing.T) {
	for in, want := range map[string]demo.Lang{"zh_CN.UTF-8": demo.Chinese, "zh_TW": demo.Chinese, "en_US.UTF-8": demo.English, "": demo.English, "C": demo.English} {
		if got := demo.LangFromEnv(in); got != want {
			t.Errorf("LangFromEnv(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTMLNarrowWindow: the page puts the timeline first and fits a window
// 800 pixels wide: the picture scales to the width, the tables take the
// width, and no header, verdict, number or digest may wrap (in Chinese a
// cell without that rule breaks after every character).
func TestHTMLNarrowWindow(t *testing.T) {
	for _, lang := range []demo.Lang{demo.English, demo.Chinese} {
		t.Run(string(lang), func(t *testing.T) {
			var b bytes.Buffer
			if err := lesson(t, lang).WriteHTML(&b); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			svg, table := strings.Index(page, "<svg "), strings.Index(page, "<table>")
			if svg < 0 || table < 0 || svg > table {
				t.Errorf("the timeline (at %d) does not come before the first table (at %d)", svg, table)
			}
			for _, rule := range []string{"svg { width: 100%; height: auto;", "table { border-collapse: collapse; margin: 0.5em 0 1em; width: 100%; }",
				"th, td.nw { white-space: nowrap; word-break: keep-all; }", `content="width=device-width, initial-scale=1"`} {
				if !strings.Contains(page, rule) {
					t.Errorf("the page lacks %q", rule)
				}
			}
			// Every cell but the reason is one that does not wrap.
			for _, row := range strings.Split(page, "<tr>")[1:] {
				if strings.HasPrefix(row, "<th>") {
					continue
				}
				cells := strings.Split(row, "<td")[1:]
				if len(cells) != 6 {
					t.Fatalf("a row of %d cells: %q", len(cells), row)
				}
				for i, c := range cells[:5] {
					if !strings.HasPrefix(c, ` class="nw`) {
						t.Errorf("cell %d may wrap: <td%s", i, c)
					}
				}
			}
			want := map[demo.Lang]string{demo.English: `<td class="nw bad">WRONG</td>`, demo.Chinese: `<td class="nw bad">错误</td>`}[lang]
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %q", want)
			}
		})
	}
}

// TestStuckReadEnds checks that a client read waiting for bytes the server
// will never send ends at once, whatever its bound: with every bound at an
// hour, the naive client's digest read after the sticky packet (it took
// the digest as data) returns empty, and the half delivery's digest read
// still gets its 20 bytes. Each outcome is the same on a busy machine as
// on an idle one.
func TestStuckReadEnds(t *testing.T) {
	cfg := demo.DefaultConfig()
	cfg.DigestWait, cfg.Timeout = time.Hour, time.Hour
	cases := []demo.Case{
		{Client: demo.NaiveClient, Delivery: demo.Sticky, Framing: spec.Lockstep},
		{Client: demo.ArticleClient, Delivery: demo.Half, Framing: spec.Lockstep},
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	var out []*demo.Outcome
	go func() {
		var err error
		out, err = demo.Run(ctx, cfg, cases)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		cancel()
		<-done
		t.Fatal("a read still waited a minute after the server had stopped sending")
	}
	if o := out[0]; o.Reason != demo.ReasonSticky || o.Server != "" {
		t.Errorf("naive/sticky: reason %s, digest read %q; want sticky and an empty digest read", o.Reason, o.Server)
	}
	if o := out[1]; o.Reason != demo.ReasonHalf || len(o.Server) != 20 {
		t.Errorf("article/half: reason %s, digest read %q; want half and 20 bytes", o.Reason, o.Server)
	}
}
