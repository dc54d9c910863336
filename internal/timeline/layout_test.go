package timeline

import (
	"strings"
	"testing"

	"github.com/stickykit/stickykit/spec"
)

// synthetic builds a trace of one exchange of a file of size bytes whose
// server wrote the given sizes and whose client read the given sizes.
func synthetic(size int64, writes, reads []int) *Trace {
	t := &Trace{Framing: "lockstep", Name: "f", Size: size, Regions: Regions(spec.Lockstep, "f", size)}
	var off int64
	for i, n := range writes {
		t.Events = append(t.Events, Event{Who: WhoServer, Seq: i, Op: "write", Dir: ToClient, Off: off, N: n})
		t.Events = append(t.Events, Event{Who: WhoDelivered, Seq: i, Op: "write", Dir: ToClient, Off: off, N: n})
		off += int64(n)
	}
	off = 0
	for i, n := range reads {
		t.Events = append(t.Events, Event{Who: WhoClient, Seq: i, Op: "read", Dir: ToClient, Off: off, N: n})
		off += int64(n)
	}
	return t
}

func TestFindMark(t *testing.T) {
	tests := []struct {
		name         string
		writes       []int
		reads        []int
		index        int
		afterSize    bool
		parts        []int // bytes per region part
		regionOfLast string
	}{
		// size "10" (2 bytes), 10 data bytes, 32 digest.
		{"aligned", []int{2, 10, 32}, []int{2, 10, 32}, 0, false, nil, ""},
		{"sticky", []int{2, 10, 32}, []int{2, 8, 34}, 2, true, []int{2, 32}, RegionDigest},
		{"half", []int{2, 10, 32}, []int{2, 10, 20, 12}, 2, true, []int{20}, RegionDigest},
		{"size split", []int{2, 10, 32}, []int{1, 1, 10, 32}, 1, false, []int{1}, RegionSize},
		{"size and data", []int{2, 10, 32}, []int{5, 39}, 1, false, []int{2, 3}, RegionData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := NewLayout(synthetic(10, tt.writes, tt.reads))
			m := tl.Mark
			if tt.index == 0 {
				if m != nil {
					t.Fatalf("mark: got read %d, want none", m.Index)
				}
				return
			}
			if m == nil {
				t.Fatalf("mark: got none, want read %d", tt.index)
			}
			if m.Index != tt.index || m.AfterSize != tt.afterSize {
				t.Errorf("mark: got read %d (after size %v), want %d (%v)", m.Index, m.AfterSize, tt.index, tt.afterSize)
			}
			var got []int
			for _, p := range m.Parts {
				got = append(got, int(p.Len()))
			}
			if len(got) != len(tt.parts) {
				t.Fatalf("parts: got %v, want %v", got, tt.parts)
			}
			for i := range got {
				if got[i] != tt.parts[i] {
					t.Errorf("parts: got %v, want %v", got, tt.parts)
				}
			}
			if last := m.Parts[len(m.Parts)-1].Region.Name; last != tt.regionOfLast {
				t.Errorf("last part in %q, want %q", last, tt.regionOfLast)
			}
		})
	}
}

// TestLayoutElides: a long body of 1,024-byte reads is cut to the pieces
// next to the region boundaries and the mark, with one gap between.
func TestLayoutElides(t *testing.T) {
	reads := []int{6}
	for range 97 {
		reads = append(reads, 1024)
	}
	reads = append(reads, 704)
	tl := NewLayout(synthetic(100000, []int{6, 100000, 32}, reads))
	gaps := 0
	for _, p := range tl.Pieces {
		if p.Gap {
			gaps++
		}
	}
	if gaps != 1 || len(tl.Pieces) > maxPieces {
		t.Errorf("pieces: got %d with %d gaps, want at most %d with 1 gap: %+v", len(tl.Pieces), gaps, maxPieces, tl.Pieces)
	}
	// Every boundary that matters is drawn exactly.
	l := newSVGLayout(tl)
	for _, off := range []int64{0, 6, 99334, 100006, 100038} {
		if _, exact := l.col(off); !exact {
			t.Errorf("offset %d falls in a gap", off)
		}
	}
	// The pieces cover the stream, in order, without holes.
	var at int64
	for _, p := range tl.Pieces {
		if p.Off != at || p.End <= p.Off {
			t.Fatalf("pieces do not tile the stream: %+v", tl.Pieces)
		}
		at = p.End
	}
	if at != tl.End {
		t.Errorf("pieces end at %d, want %d", at, tl.End)
	}
}

func TestCommas(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 100032: "100,032", -6: "-6", 1234567: "1,234,567"} {
		if got := Commas(in); got != want {
			t.Errorf("Commas(%d) = %q, want %q", in, got, want)
		}
	}
}

// wrapTests are paragraphs of the lesson, in both its languages.
var wrapTests = []string{
	"What happened: the server wrote the data and the digest separately, but nothing in TCP keeps writes apart. When the file's tail and the digest arrive together, the naive client's last recv(1024) takes both, and the digest ends up inside the file.",
	"发生了什么：服务器分别 write 了数据和摘要，但 TCP 不会把两次 write 分开。文件末尾和摘要一起到达时，naive 客户端最后一次 recv(1024) 把两者一起读走，摘要就进了文件。",
	"TCP 是字节流，不是一条一条的消息。接收方看到的是字节，而不是发送方的每一次 write：一次 read 返回已经到达的字节，最多到它请求的大小。下面的服务器用几次独立的 write 发出文件大小、文件内容和文件的 MD5 摘要。",
}

func TestWrap(t *testing.T) {
	for _, s := range wrapTests {
		lines := Wrap(s, 40)
		if strings.Join(lines, "") == "" {
			t.Fatalf("wrap(%q) is empty", s)
		}
		for _, l := range lines {
			if Width(l) > 40 {
				t.Errorf("wrap: line %q is %d columns, want at most 40", l, Width(l))
			}
			if strings.ContainsAny(l[:1], "，。：") {
				t.Errorf("wrap: line %q begins with closing punctuation", l)
			}
		}
		joined := strings.ReplaceAll(strings.Join(lines, " "), " ", "")
		if joined != strings.ReplaceAll(s, " ", "") {
			t.Errorf("wrap lost text:\n got %q\nwant %q", joined, s)
		}
	}
}

func TestWidth(t *testing.T) {
	for in, want := range map[string]int{"abc": 3, "粘包": 4, "大小 size": 9, "（无）": 6} {
		if got := Width(in); got != want {
			t.Errorf("Width(%q) = %d, want %d", in, got, want)
		}
	}
}
