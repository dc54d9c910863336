package readtrace_test

import (
	"strings"
	"testing"

	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/spec"
)

// stream makes a stream of reads from (asked, got) pairs, at the offsets
// they reach one after the other.
func stream(pairs ...[2]int64) *readtrace.Stream {
	s := &readtrace.Stream{}
	var off int64
	for _, p := range pairs {
		s.Reads = append(s.Reads, readtrace.Read{Asked: p[0], Got: p[1], Offset: off})
		off += p[1]
	}
	return s
}

// repeat returns n reads of (asked, got).
func repeat(n int, asked, got int64) [][2]int64 {
	out := make([][2]int64, n)
	for i := range out {
		out[i] = [2]int64{asked, got}
	}
	return out
}

func words(fs []readtrace.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, string(f.Kind)+": "+f.Words())
	}
	return out
}

// appendixA is the layout of SPEC.md Appendix A: "100000", then 100,000
// bytes of data and the 32-byte digest.
var appendixA = readtrace.ExchangeLayout(spec.Lockstep, 100000)

var classifyTests = []struct {
	name   string
	layout readtrace.Layout
	reads  [][2]int64
	want   []string
}{
	{
		name:   "the naive client under the sticky packet (SPEC.md Appendix A)",
		layout: appendixA,
		reads:  append(append([][2]int64{{1024, 6}}, repeat(97, 1024, 1024)...), [2]int64{1024, 704}),
		want: []string{
			"sticky: read 98 after the size asked for 1024 bytes and got 704: the last 672 bytes of the file and 32 bytes of the digest",
		},
	},
	{
		name:   "the article's fix under the half packet",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 3000),
		reads:  [][2]int64{{1024, 4}, {1024, 1024}, {1024, 1024}, {952, 952}, {1024, 16}},
		want: []string{
			"short-digest: read 4 after the size asked for 1024 bytes and got 16: the first 16 bytes of the digest",
			"part-digest: the client read 16 of the 32 bytes of the digest and no more (read 4 after the size asked for 1024 bytes and got 16)",
		},
	},
	{
		name:   "a client that reads the digest to the end survives the half packet",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 3000),
		reads:  [][2]int64{{65536, 4}, {3000, 3000}, {32, 16}, {16, 16}},
		want: []string{
			"short-digest: read 2 after the size asked for 32 bytes and got 16: the first 16 bytes of the digest",
		},
	},
	{
		name:   "exact reads: nothing to say",
		layout: appendixA,
		reads:  [][2]int64{{1024, 6}, {100000, 65483}, {34517, 34517}, {32, 32}},
	},
	{
		name:   "the size read together with data",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 3000),
		reads:  [][2]int64{{1024, 1024}, {2048, 1980}, {1024, 32}},
		want: []string{
			"size-with-data: read 1 asked for 1024 bytes and got 1024: the 4 bytes of the size and the first 1020 bytes of the file",
		},
	},
	{
		name:   "one read of everything",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 100),
		reads:  [][2]int64{{4096, 135}},
		want: []string{
			"sticky: read 1 asked for 4096 bytes and got 135: the 3 bytes of the size, all 100 bytes of the file and 32 bytes of the digest",
		},
	},
	{
		name:   "the size in two pieces, as the split size delivers it",
		layout: readtrace.ExchangeLayout(spec.Line, 100000),
		reads:  [][2]int64{{1024, 3}, {1024, 1024}},
		want: []string{
			"short-size: read 1 asked for 1024 bytes and got 3: the first 3 of the 7 bytes of the size",
			"size-with-data: read 2 asked for 1024 bytes and got 1024: the last 4 bytes of the size and the first 1020 bytes of the file",
			"no-digest: the client read 1020 of the 100000 bytes of the file and none of the digest",
		},
	},
	{
		name:   "a client that never read the digest",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 2048),
		reads:  [][2]int64{{1024, 4}, {1024, 1024}, {1024, 1024}},
		want:   []string{"no-digest: the client read all 2048 bytes of the file and none of the digest"},
	},
	{
		name:   "a read past the end of the exchange, and a size unknown",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 10),
		reads:  [][2]int64{{1024, 2}, {-1, 50}},
		want: []string{
			"sticky: read 1 after the size got 50 bytes: all 10 bytes of the file, 32 bytes of the digest and 8 bytes after the digest",
		},
	},
	{
		name:   "an empty file: the size and the digest together",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 0),
		reads:  [][2]int64{{1024, 33}},
		want: []string{
			"sticky: read 1 asked for 1024 bytes and got 33: the 1 byte of the size and 32 bytes of the digest",
		},
	},
	{
		name:   "an empty file whose digest was never read",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 0),
		reads:  [][2]int64{{1024, 1}},
		want:   []string{"no-digest: the client read none of the digest of the empty file"},
	},
	{
		name:   "the middle of the digest",
		layout: readtrace.ExchangeLayout(spec.Lockstep, 10),
		reads:  [][2]int64{{1024, 2}, {10, 10}, {10, 10}, {20, 10}},
		want: []string{
			"short-digest: read 3 after the size asked for 20 bytes and got 10: 10 bytes of the digest (from byte 10)",
			"part-digest: the client read 20 of the 32 bytes of the digest and no more (read 3 after the size asked for 20 bytes and got 10)",
		},
	},
}

func TestClassify(t *testing.T) {
	for _, tt := range classifyTests {
		t.Run(tt.name, func(t *testing.T) {
			got := words(readtrace.Classify(stream(tt.reads...), tt.layout))
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Classify:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// ReadAt names any read, one that Classify finds nothing in too: the
// article's fix stops its last data read where the data ends.
func TestReadAt(t *testing.T) {
	s := stream(append(append([][2]int64{{1024, 6}}, repeat(97, 1024, 1024)...), [2]int64{672, 672}, [2]int64{1024, 32})...)
	if fs := readtrace.Classify(s, appendixA); len(fs) != 0 {
		t.Fatalf("Classify: %q, want nothing", words(fs))
	}
	for _, tt := range []struct {
		i    int
		want string
	}{
		{98, "read 98 after the size asked for 672 bytes and got 672: the last 672 bytes of the file"},
		{0, "read 1 asked for 1024 bytes and got 6: the 6 bytes of the size"},
		{99, "read 99 after the size asked for 1024 bytes and got 32: 32 bytes of the digest"},
	} {
		if got := readtrace.ReadAt(s, tt.i, appendixA).Words(); got != tt.want {
			t.Errorf("ReadAt(%d).Words() = %q, want %q", tt.i, got, tt.want)
		}
	}
}

// Peeks are not reads of the stream: the read after a peek takes the
// same bytes, and counts as the first.
func TestClassifySkipsPeeks(t *testing.T) {
	s := stream([2]int64{1024, 4}, [2]int64{2000, 1032})
	s.Reads = append(s.Reads[:1], append([]readtrace.Read{{Asked: 2000, Got: 1032, Offset: 4, Peek: true}}, s.Reads[1:]...)...)
	fs := readtrace.Classify(s, readtrace.ExchangeLayout(spec.Lockstep, 1000))
	if len(fs) != 1 || fs[0].Kind != readtrace.Sticky || fs[0].Index != 2 || fs[0].N != 1 {
		t.Fatalf("Classify: %+v; want one sticky finding about the read at index 2, number 1 after the size", fs)
	}
}

func TestExchangeLayout(t *testing.T) {
	for _, tt := range []struct {
		f    spec.Framing
		size int64
		want readtrace.Layout
	}{
		{spec.Lockstep, 100000, readtrace.Layout{Data: 6, Digest: 100006, End: 100038}},
		{spec.Line, 100000, readtrace.Layout{Data: 7, Digest: 100007, End: 100039}},
		{spec.Lockstep, 0, readtrace.Layout{Data: 1, Digest: 1, End: 33}},
	} {
		if got := readtrace.ExchangeLayout(tt.f, tt.size); got != tt.want {
			t.Errorf("ExchangeLayout(%v, %d) = %+v, want %+v", tt.f, tt.size, got, tt.want)
		}
	}
}

var requestTests = []struct {
	name    string
	reads   [][2]int64
	pending int
	want    string
}{
	{"the tutorial server under a fragmented request", [][2]int64{{1024, 3}}, 0,
		"request-part: the server read 3 bytes, `get`, and no more of the 13-byte request `get video.mp4`"},
	{"a server waiting for the rest", [][2]int64{{1024, 3}}, 1,
		"request-waiting: the server read 3 bytes, `get`, and was waiting for the rest of the 13-byte request `get video.mp4` when it was stopped"},
	{"a line server reading on", [][2]int64{{1024, 3}, {1024, 10}}, 0,
		"request-pieces: the server read the 13-byte request `get video.mp4` in pieces: first 3 bytes, `get`, then the rest from read 2 on"},
	{"one read", [][2]int64{{1024, 13}}, 0,
		"request-whole: the server read the 13-byte request `get video.mp4` in one read"},
	{"one read with the ack", [][2]int64{{1024, 31}}, 0,
		"request-whole: the server read the 13-byte request `get video.mp4` and 18 bytes after it in one read of 31 bytes"},
	{"nothing", nil, 1,
		"request-none: the server read none of the 13-byte request `get video.mp4`"},
}

func TestClassifyRequest(t *testing.T) {
	for _, tt := range requestTests {
		t.Run(tt.name, func(t *testing.T) {
			s := stream(tt.reads...)
			s.Pending = tt.pending
			f := readtrace.ClassifyRequest(s, "get video.mp4")
			if got := string(f.Kind) + ": " + f.Words(); got != tt.want {
				t.Errorf("ClassifyRequest:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"get":                   "`get`",
		"a`b":                   "\"a`b\"",
		"ready\n":               `"ready\n"`,
		strings.Repeat("x", 90): "`" + strings.Repeat("x", 80) + "`...",
	} {
		if got := readtrace.Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
