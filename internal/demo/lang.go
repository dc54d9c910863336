package demo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stickykit/stickykit/internal/timeline"
	"github.com/stickykit/stickykit/spec"
)

// Lang is the language of the lesson's text.
type Lang string

// The languages of the lesson.
const (
	English Lang = "en"
	Chinese Lang = "zh"
)

// Langs lists the languages of the lesson.
var Langs = []Lang{English, Chinese}

// ParseLang returns the language named s ("en" or "zh", in any case).
func ParseLang(s string) (Lang, error) {
	return parseName(strings.ToLower(s), Langs, "language", "en or zh")
}

// parseName returns the one of all named s; what and want name them for
// an error.
func parseName[T ~string](s string, all []T, what, want string) (T, error) {
	if i := slices.Index(all, T(s)); i >= 0 {
		return all[i], nil
	}
	return "", fmt.Errorf("demo: unknown %s %q (want %s)", what, s, want)
}

// LangFromEnv returns the language for a $LANG value: Chinese for zh*,
// else English.
func LangFromEnv(lang string) Lang {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return Chinese
	}
	return English
}

// texts are the words of the lesson in one language.
type texts struct {
	title      string
	intro      []string // paragraphs: what TCP is
	setup      string   // %s name, %s size, %d seed
	deliveries map[Delivery]string
	clients    map[ClientKind]string
	framing    string // "%s framing"
	verdicts   map[Verdict]string
	none       string
	notDigest  string
	columns    []string
	colon      string

	timeline    string // %s client, %s delivery, %s framing
	offsetsNote string
	sent        string    // %q request, %s bytes, %q ack, %s bytes
	sentNoAck   string    // %q request, %s bytes
	rows        [5]string // server wrote, delivered, stream, client read, offset
	regions     map[string]string
	elided      string // %s count, %s what
	elidedReads string // "%s reads"
	noMark      string

	lessons  []string // what happened, the fix, why the article's fix is incomplete
	next     string
	svgTitle string // %s client, %s delivery
	svgSub   string // %s framing, %s size
	whyLine  string // %s client, %s verdict, %s why

	// The first screen.
	shortIntro string // %s the delivery's words
	clientRead string // "%s read": a client's row of reads
	fixShort   string // %s the fix's client
	verdictsOf string // %s delivery
	wroteOf    string // %s written, %s size
	more       string
	wrote      string // %s file
}

func (l Lang) t() *texts {
	if l == Chinese {
		return &zhTexts
	}
	return &enTexts
}

var enTexts = texts{
	title: "stickykit demo: the sticky-packet bug (粘包), byte by byte",
	intro: []string{
		"TCP is a byte stream, not a series of messages. The receiver sees bytes, not the sender's writes: one read returns whatever bytes have arrived, up to the size it asked for. The server below sends the size, the file and the file's MD5 digest with separate writes.",
	},
	setup: "Each client fetches %s (%s bytes, seed %d) from the reference server over an in-process connection that hands the server's bytes over in these ways:",
	deliveries: map[Delivery]string{
		Plain:     "each write arrives on its own",
		Sticky:    "the file's tail and the digest arrive together (sticky packet, 粘包)",
		Half:      "the digest arrives in two pieces, 20 + 12 bytes (half packet, 半包)",
		SplitSize: "the size arrives in two pieces",
	},
	clients: map[ClientKind]string{
		NaiveClient:   "recv(1024) until it has SIZE bytes or more, then one recv(1024) for the digest",
		ArticleClient: "the article's fix: recv(min(1024, remaining)), then one recv(1024) for the digest",
		RefClient:     "stickykit's reference client: exactly SIZE bytes, then exactly 32",
	},
	framing:   "%s framing",
	verdicts:  map[Verdict]string{VerdictOK: "ok", VerdictWrong: "WRONG", VerdictFailed: "FAILED"},
	none:      "(none)",
	notDigest: "not a digest",
	columns:   []string{"client", "verdict", "written / expected", "server digest", "local digest", "why"},
	colon:     ": ",

	timeline:    "Byte timeline: %s client, %s delivery, %s framing",
	offsetsNote: "The server-to-client bytes. Offsets count from the first byte of file data, as in SPEC.md Appendix A.",
	sent:        "The client sent %q (%s bytes), then after the size %q (%s bytes).",
	sentNoAck:   "The client sent %q (%s bytes).",
	rows:        [5]string{"server wrote", "delivered", "stream", "client read", "offset"},
	regions:     map[string]string{timeline.RegionSize: "size", timeline.RegionData: "data", timeline.RegionDigest: "digest"},
	elided:      "... = %s not drawn",
	elidedReads: "%s reads",
	noMark:      "No read crossed a message boundary: every read ended where a message ended.",

	lessons: []string{
		"What happened: the server wrote the data and the digest separately, but nothing in TCP keeps writes apart. When the file's tail and the digest arrive together, the naive client's last recv(1024) takes both, and the digest ends up inside the file.",
		"The fix: read exactly the bytes that remain. Ask for min(1024, SIZE - received) until SIZE bytes have arrived, then keep reading until you have exactly 32 bytes of digest (in Go: io.ReadFull).",
		"Why the article's fix is incomplete: it reads the digest, and the size, with one recv(1024). When the digest arrives in two pieces, that read returns only the first one (half packet), and a size cut in two is misread. Read the digest until you have 32 bytes; end the size with LF (line framing), because in lockstep nothing marks where it ends.",
	},
	next:     "Put it on a slide: stickykit demo --svg timeline.svg (or --html page.html). Other timelines: --timeline ref/sticky, article/half, naive/split-size.",
	svgTitle: "The sticky packet: %s client, %s delivery",
	svgSub:   "%s framing · a %s-byte file · offsets count from the first byte of file data",
	whyLine:  "%s: %s. %s",

	shortIntro: "TCP is a byte stream: the server writes the size, the file and its MD5 digest apart, but a read returns whatever bytes have arrived. Here %s:",
	clientRead: "%s read",
	fixShort:   "The fix, in the %s row: ask for min(1024, SIZE - received), so the last data read stops where the data ends; then read on until all 32 bytes of the digest are in (the article does not: see --full).",
	verdictsOf: "%s delivery: ",
	wroteOf:    " (%s of %s bytes)",
	more:       "The whole lesson: --full; for a slide: --svg FILE or --html FILE.",
	wrote:      "wrote %s",
}

var zhTexts = texts{
	title: "stickykit demo：粘包问题，逐字节演示",
	intro: []string{
		"TCP 是字节流，不是一条一条的消息。接收方看到的是字节，而不是发送方的每一次 write：一次 read 返回已经到达的字节，最多到它请求的大小。下面的服务器用几次独立的 write 发出文件大小、文件内容和文件的 MD5 摘要。",
	},
	setup: "每个客户端都从参考服务器下载 %s（%s 字节，种子 %d）。连接在进程内，服务器的字节以下面几种方式送达：",
	deliveries: map[Delivery]string{
		Plain:     "每次 write 单独到达",
		Sticky:    "文件末尾和摘要一起到达（粘包）",
		Half:      "摘要分两块到达：20 + 12 字节（半包）",
		SplitSize: "文件大小分两块到达",
	},
	clients: map[ClientKind]string{
		NaiveClient:   "一直 recv(1024)，直到收到 SIZE 字节或更多，再用一次 recv(1024) 读摘要",
		ArticleClient: "文章的修正：recv(min(1024, 剩余字节))，再用一次 recv(1024) 读摘要",
		RefClient:     "stickykit 的参考客户端：恰好读 SIZE 字节，再恰好读 32 字节",
	},
	framing:   "%s 分帧",
	verdicts:  map[Verdict]string{VerdictOK: "正确", VerdictWrong: "错误", VerdictFailed: "失败"},
	none:      "（无）",
	notDigest: "（不是摘要）",
	columns:   []string{"客户端", "结果", "写出 / 应有字节", "服务器的摘要", "本地摘要", "原因"},
	colon:     "：",

	timeline:    "字节时间线：%s 客户端，%s 送达方式，%s 分帧",
	offsetsNote: "服务器发往客户端的字节。偏移从文件数据的第一个字节算起，与 SPEC.md 附录 A 相同。",
	sent:        "客户端先发送 %q（%s 字节），收到大小后再发送 %q（%s 字节）。",
	sentNoAck:   "客户端发送了 %q（%s 字节）。",
	rows:        [5]string{"服务器 write", "送达的块", "字节流", "客户端 read", "偏移"},
	regions:     map[string]string{timeline.RegionSize: "大小", timeline.RegionData: "数据", timeline.RegionDigest: "摘要"},
	elided:      "... = 省略未画的 %s",
	elidedReads: "%s 次读取",
	noMark:      "没有任何一次读取跨过消息边界：每次读取都在一条消息的结尾停下。",

	lessons: []string{
		"发生了什么：服务器分别 write 了数据和摘要，但 TCP 不会把两次 write 分开。文件末尾和摘要一起到达时，naive 客户端最后一次 recv(1024) 把两者一起读走，摘要就进了文件。",
		"修正：恰好读剩下的字节。每次请求 min(1024, SIZE - 已收字节)，直到收满 SIZE 字节；然后一直读，直到恰好拿到 32 字节摘要（Go 里用 io.ReadFull）。",
		"为什么文章的修正还不完整：它读摘要和文件大小时都只用一次 recv(1024)。摘要分两块到达时，这次读取只拿到第一块（半包）；文件大小被切开时会被读错。要一直读到 32 字节摘要；用 LF 结束文件大小（line 分帧），因为 lockstep 分帧里没有任何标记说明它在哪里结束。",
	},
	next:     "放到幻灯片上：stickykit demo --svg timeline.svg（或 --html page.html）。其他时间线：--timeline ref/sticky、article/half、naive/split-size。",
	svgTitle: "粘包：%s 客户端，%s 送达方式",
	svgSub:   "%s 分帧 · %s 字节的文件 · 偏移从文件数据的第一个字节算起",
	whyLine:  "%s：%s。%s",

	shortIntro: "TCP 是字节流：服务器分别 write 文件大小、文件和它的 MD5 摘要，但一次 read 返回已经到达的字节。这里%s：",
	clientRead: "%s 的 read",
	fixShort:   "修正见 %s 那一行：每次请求 min(1024, SIZE - 已收字节)，最后一次读数据就停在数据结尾；然后一直读到 32 字节摘要收齐（文章没有这样做：见 --full）。",
	verdictsOf: "%s：",
	wroteOf:    "（%s / %s 字节）",
	more:       "完整的课：--full；放到幻灯片上：--svg 文件 或 --html 文件。",
	wrote:      "已写入 %s",
}

// Wrote says that the file at path was written, in l.
func (l Lang) Wrote(path string) string { return fmt.Sprintf(l.t().wrote, path) }

// why returns the one sentence that explains o.
func (l Lang) why(o *Outcome) string {
	zh := l == Chinese
	n := func(v int64) string { return timeline.Commas(v) }
	switch o.Reason {
	case ReasonExact:
		if o.Delivery == SplitSize && o.Framing == spec.Line {
			if zh {
				return "它一直读到 LF，拿到了完整的文件大小，再恰好读 SIZE 字节数据和 32 字节摘要。"
			}
			return "It read the size up to its LF however it was cut, then exactly SIZE bytes of data and 32 of digest."
		}
		if zh {
			return fmt.Sprintf("它恰好读了 %s 字节数据，再恰好读了 32 字节摘要，不管字节怎样到达。", n(o.Size))
		}
		return fmt.Sprintf("It read exactly %s bytes of data, then exactly 32 bytes of digest, however they arrived.", n(o.Size))
	case ReasonExactData:
		if zh {
			return "它每次只请求剩余的字节，所以没有读走摘要；读摘要的那一次 recv 碰巧拿到了全部 32 字节。"
		}
		return "It asked only for the bytes that remained, so no data read took digest bytes; its one digest read happened to get all 32."
	case ReasonLucky:
		if zh {
			return "摘要单独到达，它的读取碰巧在数据结尾停下：这是运气，不是正确。"
		}
		return "The digest arrived on its own, so its reads happened to stop where the data ended: luck, not correctness."
	case ReasonSticky:
		extra := o.Written - o.Size
		if zh {
			return fmt.Sprintf("最后一次读数据时把 %d 字节摘要当成了文件内容（粘包），写出了 %s 字节，之后已没有摘要可读。", extra, n(o.Written))
		}
		return fmt.Sprintf("Its last data read took %d bytes of digest as file data (sticky packet): it wrote %s bytes, and no digest was left to read.", extra, n(o.Written))
	case ReasonHalf:
		if zh {
			return fmt.Sprintf("读摘要的那一次 recv 只拿到 32 字节中的 %d 字节（半包）：好文件被判为损坏，其余的摘要还留在流里。", len(o.Server))
		}
		return fmt.Sprintf("Its one digest read returned %d of the 32 digest bytes (half packet): a good file looks corrupt, and the rest of the digest stays in the stream.", len(o.Server))
	case ReasonSize:
		got := strconv.FormatInt(o.SizeRead, 10)
		if zh {
			return fmt.Sprintf("读大小的那一次 recv 只拿到 %q，它以为文件只有 %s 字节，把后面的字节错当成了数据和摘要。", got, n(o.SizeRead))
		}
		return fmt.Sprintf("Its one size read returned only %q, so it expected %s bytes and took the bytes after them for data and digest.", got, n(o.SizeRead))
	case ReasonHazard:
		if zh {
			return "lockstep 分帧里没有标记说明大小在哪里结束，所以没有客户端能应付被切开的大小（HAZARD-FRAG-CONTROL）；line 分帧的 LF 解决了它。"
		}
		return "In lockstep nothing marks where the size ends, so no client can survive a size cut in two (HAZARD-FRAG-CONTROL); the line framing's LF fixes it."
	}
	if zh {
		return "失败：" + errLine(o.Err)
	}
	return "It failed: " + errLine(o.Err)
}

// readName names the marked read: "The 98th read after the size",
// "大小之后的第 98 次读取".
func (l Lang) readName(m *timeline.Mark) string {
	if l == Chinese {
		if m.AfterSize {
			return fmt.Sprintf("大小之后的第 %d 次读取", m.Index)
		}
		return fmt.Sprintf("第 %d 次读取", m.Index)
	}
	if m.AfterSize {
		return fmt.Sprintf("The %s read after the size", ordinal(m.Index))
	}
	return fmt.Sprintf("The %s read", ordinal(m.Index))
}

// ordinal returns "first", "second", "third", then "4th", "21st", ...
func ordinal(n int) string {
	switch n {
	case 1:
		return "first"
	case 2:
		return "second"
	case 3:
		return "third"
	}
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}

// markSentence describes the marked read in one sentence, with offsets
// counted from the first byte of data.
func (l Lang) markSentence(tl *timeline.Layout) string {
	t := l.t()
	m := tl.Mark
	if m == nil {
		return t.noMark
	}
	zh := l == Chinese
	who := l.readName(m)
	rel := func(o int64) string { return timeline.Commas(o - tl.Base) }
	if len(m.Parts) == 1 {
		p := m.Parts[0]
		name := t.regions[p.Region.Name]
		if p.Region.Name == timeline.RegionSize {
			got := p.Region.Text[p.Off-p.Region.Off : p.End-p.Region.Off]
			if zh {
				return fmt.Sprintf("%s只拿到 %q：%s %q 的 %d 个字节中的 %d 个。", who, got, name, p.Region.Text, p.Region.Len, p.Len())
			}
			return fmt.Sprintf("%s took only %q: %d of the %d bytes of the size %q.", who, got, p.Len(), p.Region.Len, p.Region.Text)
		}
		if zh {
			return fmt.Sprintf("%s拿到第 %s–%s 字节：只是 %d 字节%s中的 %d 字节。", who, rel(m.Off), rel(m.End-1), p.Region.Len, name, p.Len())
		}
		return fmt.Sprintf("%s took bytes %s–%s: only %d of the %d bytes of the %s.", who, rel(m.Off), rel(m.End-1), p.Len(), p.Region.Len, name)
	}
	var parts []string
	for i, p := range m.Parts {
		name := t.regions[p.Region.Name]
		if p.Region.Name == timeline.RegionData && !zh {
			name = "file"
		}
		switch {
		case zh:
			parts = append(parts, fmt.Sprintf("%s 字节%s", timeline.Commas(p.Len()), name))
		case i == 0:
			parts = append(parts, fmt.Sprintf("%s bytes of %s", timeline.Commas(p.Len()), name))
		default:
			parts = append(parts, fmt.Sprintf("%s of %s", timeline.Commas(p.Len()), name))
		}
	}
	if zh {
		return fmt.Sprintf("%s拿到第 %s–%s 字节：%s。", who, rel(m.Off), rel(m.End-1), strings.Join(parts, "和 "))
	}
	return fmt.Sprintf("%s took bytes %s–%s: %s.", who, rel(m.Off), rel(m.End-1), joinAnd(parts))
}

// markShort is the few words written under the marked read.
func (l Lang) markShort(tl *timeline.Layout) string {
	m := tl.Mark
	if m == nil {
		return ""
	}
	t := l.t()
	who := strings.ToLower(l.readName(m)[:1]) + l.readName(m)[1:]
	if l == Chinese {
		who = l.readName(m)
	} else {
		who = strings.TrimPrefix(who, "the ")
	}
	var parts []string
	for _, p := range m.Parts {
		parts = append(parts, timeline.Commas(p.Len())+" "+t.regions[p.Region.Name])
	}
	if len(m.Parts) == 1 {
		p := m.Parts[0]
		if l == Chinese {
			return fmt.Sprintf("%s：%s只收到 %d/%d", who, t.regions[p.Region.Name], p.Len(), p.Region.Len)
		}
		return fmt.Sprintf("%s: %d of %d %s bytes", who, p.Len(), p.Region.Len, t.regions[p.Region.Name])
	}
	if l == Chinese {
		return fmt.Sprintf("%s：%s", who, strings.Join(parts, " + "))
	}
	return fmt.Sprintf("%s: %s", who, strings.Join(parts, " + "))
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
