package readtrace

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Parsing strace's output. A line is one of these (PID prefixes appear
// with -f: "1234  " when writing to a file, "[pid  1234] " on stderr;
// timestamps, if any, follow them):
//
//	1234  recvfrom(3<TCP:[127.0.0.1:40000->127.0.0.1:8888]>, ""..., 1024, 0, NULL, NULL) = 704
//	1234  read(3<TCP:[127.0.0.1:40000->127.0.0.1:8888]>,  <unfinished ...>
//	1235  futex(...) = 0
//	1234  <... read resumed>""..., 4096)   = 21
//	1234  recvfrom(3<TCP:[...]>, 0x7f..., 1024, 0, NULL, NULL) = -1 EAGAIN (Resource temporarily unavailable)
//	1234  --- SIGCHLD {si_signo=SIGCHLD, ...} ---
//	1234  +++ exited with 0 +++
//
// A call split by another thread's line is joined again by PID: strace
// shows at most one unfinished call per thread.

// maxLine bounds one line of a trace. A readv of 1024 iovecs takes about
// 40 KiB; a longer line is counted as malformed and skipped.
const maxLine = 1 << 20

// traced reports whether a call can read from a socket; see Calls.
func traced(name string) bool {
	switch name {
	case "read", "readv", "recv", "recvfrom", "recvmsg", "recvmmsg", "splice", "preadv2":
		return true
	}
	return false
}

// Parse reads strace output, as the command of [Tracer.Command] writes
// it, and returns the reads it shows on every TCP connection. Lines it
// does not know (other calls, signals, exits, strace's own messages) are
// skipped; a traced call on a TCP socket that cannot be read is counted in
// Trace.Malformed, and reads of sockets strace could not name in
// Trace.Undecoded. The only errors are those of r.
func Parse(r io.Reader) (*Trace, error) {
	p := &parser{t: &Trace{streams: map[Conn]*Stream{}}, pending: map[int]pending{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, long, err := readLine(br)
		if long {
			p.malformed(line)
		} else if line != "" {
			p.line(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	for pid := range p.pending {
		p.abandon(pid)
	}
	return p.t, nil
}

// readLine returns the next line without its newline, and whether it was
// longer than maxLine (then only its start is returned).
func readLine(br *bufio.Reader) (string, bool, error) {
	var b []byte
	long := false
	for {
		frag, err := br.ReadSlice('\n')
		if len(b)+len(frag) <= maxLine {
			b = append(b, frag...)
		} else {
			long = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return strings.TrimRight(string(b), "\r\n"), long, err
	}
}

// pending is a call that a thread began and has not finished: its name
// and the text of its arguments so far.
type pending struct {
	name, head string
}

type parser struct {
	t       *Trace
	pending map[int]pending
}

var (
	pidPrefix = regexp.MustCompile(`^(?:\[pid\s+(\d+)\]|(\d+))\s+`)
	timestamp = regexp.MustCompile(`^\d[\d:.]*\s+`)
	callStart = regexp.MustCompile(`^([a-z_0-9]+)\(`)
)

// line handles one line of the trace.
func (p *parser) line(s string) {
	s = strings.TrimLeft(s, " ")
	pid := 0
	if m := pidPrefix.FindStringSubmatch(s); m != nil {
		pid, _ = strconv.Atoi(m[1] + m[2])
		s = s[len(m[0]):]
	}
	if loc := timestamp.FindStringIndex(s); loc != nil {
		s = s[loc[1]:]
	}
	switch {
	case strings.HasPrefix(s, "+++"):
		// The thread is gone: a call it left unfinished never returns.
		p.abandon(pid)
	case strings.HasPrefix(s, "---"):
		// A signal.
	case strings.HasPrefix(s, "<... "):
		p.resumed(pid, s[len("<... "):])
	default:
		m := callStart.FindStringSubmatch(s)
		if m == nil || !traced(m[1]) {
			return
		}
		args := s[len(m[0]):]
		if head, ok := strings.CutSuffix(args, "<unfinished ...>"); ok {
			p.abandon(pid)
			p.pending[pid] = pending{name: m[1], head: head}
			return
		}
		p.call(pid, m[1], args)
	}
}

// resumed joins "NAME resumed>REST" to the call the thread began.
func (p *parser) resumed(pid int, s string) {
	name, tail, ok := strings.Cut(s, " resumed>")
	if !ok || !traced(name) {
		return
	}
	pd, ok := p.pending[pid]
	delete(p.pending, pid)
	if !ok || pd.name != name {
		// The beginning is not in the trace: the descriptor is unknown.
		if strings.Contains(tail, "TCP") {
			p.malformed(s)
		}
		return
	}
	p.call(pid, name, pd.head+tail)
}

// abandon counts the unfinished call of a thread, if any, as one that
// never returned.
func (p *parser) abandon(pid int) {
	pd, ok := p.pending[pid]
	if !ok {
		return
	}
	delete(p.pending, pid)
	if c, ok, _ := socketOf(pd.head); ok {
		p.t.stream(c).Pending++
	}
}

// retRE splits a finished call into its arguments, its return value and
// the error's name, if any:
//
//	ARGS) = RET [ENAME (text)] [<time>]
var retRE = regexp.MustCompile(`^(.*)\)\s+= (\?|-?[0-9]+|0x[0-9a-f]+)(?: ([A-Z][A-Z0-9_]*))?`)

// call handles a finished call: name and the text after its "(".
func (p *parser) call(pid int, name, args string) {
	c, ok, undecoded := socketOf(args)
	if undecoded {
		p.t.Undecoded++
	}
	if !ok {
		return
	}
	m := retRE.FindStringSubmatch(args)
	if m == nil {
		p.malformed(name + "(" + args)
		return
	}
	st := p.t.stream(c)
	ret, errName := m[2], m[3]
	switch {
	case ret == "?" && errName == "":
		st.Pending++
		return
	case ret == "?" || strings.HasPrefix(ret, "-"):
		if errName == "" {
			errName = "error"
		}
		st.Failed[errName]++
		return
	}
	got, err := strconv.ParseInt(ret, 0, 64)
	if err != nil {
		p.malformed(name + "(" + args)
		return
	}
	_, rest := scanFD(m[1])
	reads, ok := sizes(name, splitArgs(stripStrings(rest)), got)
	if !ok {
		p.malformed(name + "(" + args)
		return
	}
	for _, r := range reads {
		r.Call, r.PID = name, pid
		st.add(r)
	}
}

// malformed keeps a line that could not be read.
func (p *parser) malformed(s string) {
	p.t.MalformedCount++
	if len(p.t.Malformed) < 10 {
		if len(s) > 120 {
			s = s[:120] + "..."
		}
		p.t.Malformed = append(p.t.Malformed, s)
	}
}

// socketOf returns the TCP connection of the descriptor that begins args,
// as -yy shows it: 3<TCP:[127.0.0.1:40000->127.0.0.1:8888]> or
// 3<TCPv6:[[::1]:40000->[::1]:8888]>. undecoded reports a socket that
// strace named without addresses (socket:[INODE], TCP:[INODE]).
func socketOf(args string) (c Conn, ok, undecoded bool) {
	dec, _ := scanFD(args)
	proto, inner, found := strings.Cut(dec, ":[")
	if !found || !strings.HasSuffix(inner, "]") {
		return Conn{}, false, false
	}
	inner = strings.TrimSuffix(inner, "]")
	switch proto {
	case "TCP", "TCPv6":
	case "socket":
		return Conn{}, false, true
	default:
		return Conn{}, false, false
	}
	l, r, found := strings.Cut(inner, "->")
	if !found {
		return Conn{}, false, true
	}
	local, err1 := netip.ParseAddrPort(l)
	peer, err2 := netip.ParseAddrPort(r)
	if err1 != nil || err2 != nil {
		return Conn{}, false, true
	}
	return Conn{Local: local, Peer: peer}.normal(), true, false
}

// scanFD splits a leading descriptor argument, "3<DECODING>, ", from s and
// returns its decoding (without the angle brackets; "" if none) and the
// text after it and its comma.
func scanFD(s string) (decoding, rest string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", s
	}
	if i < len(s) && s[i] == '<' {
		end := decodingEnd(s[i:])
		if end < 2 || s[i+end-1] != '>' {
			return "", "" // unterminated: not a descriptor strace wrote
		}
		decoding = s[i+1 : i+end-1]
		i += end
	}
	rest = strings.TrimLeft(s[i:], " ")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, ","), " ")
	return decoding, rest
}

// decodingEnd returns the length of the decoding that begins s with "<".
// A socket or pipe, "<PROTO:[...]>", ends at "]>" (an address pair holds
// "->"); a path ends at the first ">" (strace escapes one inside a path).
func decodingEnd(s string) int {
	j := 1
	for j < len(s) && (isAlnum(s[j]) || s[j] == '-') {
		j++
	}
	if strings.HasPrefix(s[j:], ":[") {
		if k := strings.Index(s, "]>"); k >= 0 {
			return k + 2
		}
	}
	if k := strings.IndexByte(s, '>'); k >= 0 {
		return k + 1
	}
	return len(s)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// stripStrings empties every quoted string of s ("..." and its escapes),
// so that no byte of data can be taken for syntax.
func stripStrings(s string) string {
	if !strings.Contains(s, `"`) {
		return s
	}
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
			b.WriteByte(c)
		case !in:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitArgs splits s at its top-level commas; a descriptor's decoding
// ("7<pipe:[123]>", "5</a,b>") stays whole.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '[' || c == '{' || c == '(':
			depth++
		case c == ']' || c == '}' || c == ')':
			depth--
		case c == '<' && i > start && isDigits(strings.TrimSpace(s[start:i])):
			i += decodingEnd(s[i:]) - 1
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

var (
	iovLenRE = regexp.MustCompile(`iov_len=(\d+)`)
	msgLenRE = regexp.MustCompile(`msg_len=(\d+)`)
)

// sizes returns the reads of one call that returned ret, from its
// arguments after the descriptor: how much each asked for and got, and
// whether it only peeked. A call that did not say what it asked for has
// Asked -1. It reports false when the arguments cannot be read.
func sizes(name string, a []string, ret int64) ([]Read, bool) {
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	num := func(s string) int64 {
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return -1
		}
		return n
	}
	r := Read{Got: ret}
	switch name {
	case "read":
		r.Asked = num(arg(1))
	case "recv", "recvfrom":
		r.Asked, r.Peek = num(arg(1)), peeks(arg(2))
	case "readv", "preadv2":
		r.Asked = iovSum(arg(0))
	case "recvmsg":
		r.Asked, r.Peek = iovSum(arg(0)), peeks(arg(1))
	case "splice":
		r.Asked = num(arg(3))
	case "recvmmsg":
		return mmsgReads(arg(0), ret, peeks(arg(2)))
	default:
		return nil, false
	}
	return []Read{r}, true
}

// iovSum returns the sum of the iov_len of an iovec array, or -1 when it
// shows none.
func iovSum(s string) int64 {
	ms := iovLenRE.FindAllStringSubmatch(s, -1)
	if ms == nil {
		return -1
	}
	var n int64
	for _, m := range ms {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		n += v
	}
	return n
}

// mmsgReads returns the reads of a recvmmsg that received ret messages:
// one per message, each with the iovecs of its header and its msg_len.
func mmsgReads(vec string, ret int64, peek bool) ([]Read, bool) {
	if !strings.HasPrefix(vec, "[") || !strings.HasSuffix(vec, "]") {
		return nil, false
	}
	msgs := splitArgs(vec[1 : len(vec)-1])
	if int64(len(msgs)) < ret {
		return nil, false
	}
	var out []Read
	for _, m := range msgs[:ret] {
		l := msgLenRE.FindStringSubmatch(m)
		if l == nil {
			return nil, false
		}
		got, _ := strconv.ParseInt(l[1], 10, 64)
		out = append(out, Read{Asked: iovSum(m), Got: got, Peek: peek})
	}
	return out, true
}

// peeks reports whether recv flags hold MSG_PEEK, by name or, as -X raw
// prints them, by value.
func peeks(flags string) bool {
	if strings.Contains(flags, "MSG_PEEK") {
		return true
	}
	n, err := strconv.ParseInt(flags, 0, 64)
	return err == nil && n&msgPeek != 0
}

// msgPeek is MSG_PEEK's value on Linux.
const msgPeek = 0x2
