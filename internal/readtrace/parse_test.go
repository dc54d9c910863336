package readtrace_test

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stickykit/stickykit/internal/readtrace"
)

// conn is the client's view of the connection the hand-written lines use.
var conn = readtrace.Conn{
	Local: netip.MustParseAddrPort("127.0.0.1:40000"),
	Peer:  netip.MustParseAddrPort("127.0.0.1:8888"),
}

const sock = "3<TCP:[127.0.0.1:40000->127.0.0.1:8888]>"

func parse(t *testing.T, text string) *readtrace.Trace {
	t.Helper()
	tr, err := readtrace.Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tr
}

// rd is a read as the tests write it: asked, got, offset.
type rd struct{ asked, got, off int64 }

func reads(s *readtrace.Stream) []rd {
	var out []rd
	for _, r := range s.Reads {
		out = append(out, rd{r.Asked, r.Got, r.Offset})
	}
	return out
}

var parseTests = []struct {
	name    string
	trace   string
	want    []rd
	failed  map[string]int
	pending int
}{
	{
		name: "one process, no PIDs",
		trace: `recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 6
sendto(` + sock + `, ""..., 18, 0, NULL, 0) = 18
recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 1024
`,
		want: []rd{{1024, 6, 0}, {1024, 1024, 6}},
	},
	{
		name: "PIDs as -f -o FILE writes them, files and pipes left out",
		trace: `4242  read(3</usr/lib/x86_64-linux-gnu/libc.so.6>, ""..., 832) = 832
4242  read(5<pipe:[6070505]>, ""..., 4096) = 18
4243  read(` + sock + `, ""..., 4096) = 100
4242  read(7</tmp/we\76ird,dir/f\76i,le>, ""..., 4096) = 3
4243  read(` + sock + `, ""..., 4096) = 0
`,
		want: []rd{{4096, 100, 0}, {4096, 0, 100}},
	},
	{
		name: "PIDs as strace writes them on stderr",
		trace: `[pid  4243] recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 10
[pid  4244] recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 20
`,
		want: []rd{{1024, 10, 0}, {1024, 20, 10}},
	},
	{
		name: "unfinished and resumed, interleaved with another thread",
		trace: `100   read(` + sock + `,  <unfinished ...>
101   read(4</etc/hosts>, ""..., 4096) = 12
101   recvfrom(` + sock + `,  <unfinished ...>
100   <... read resumed>""..., 4096)    = 21
101   <... recvfrom resumed>""..., 1024, 0, NULL, NULL) = 5
`,
		want: []rd{{4096, 21, 0}, {1024, 5, 21}},
	},
	{
		name: "signals, exits and timestamps",
		trace: `100   12:00:00.000001 recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 7
100   12:00:00.000002 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101, si_uid=0, si_status=0, si_utime=0, si_stime=0} ---
101   12:00:00.000003 +++ exited with 0 +++
100   12:00:00.000004 recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 8 <0.000010>
100   12:00:00.000005 +++ exited with 1 +++
`,
		want: []rd{{1024, 7, 0}, {1024, 8, 7}},
	},
	{
		name: "errors take nothing; the offset goes on after them",
		trace: `recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 4
read(` + sock + `, 0xc000100000, 65536) = -1 EAGAIN (Resource temporarily unavailable)
read(` + sock + `, 0xc000100000, 65536) = -1 EINTR (Interrupted system call)
read(` + sock + `, 0xc000100000, 65536) = -1 EAGAIN (Resource temporarily unavailable)
read(` + sock + `, ""..., 65536) = 3000
read(` + sock + `, 0xc000100000, 65536) = ? ERESTARTSYS (To be restarted if SA_RESTART is set)
`,
		want:   []rd{{1024, 4, 0}, {65536, 3000, 4}},
		failed: map[string]int{"EAGAIN": 2, "EINTR": 1, "ERESTARTSYS": 1},
	},
	{
		name: "a read still waiting when the program was killed",
		trace: `100   recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 4
100   recvfrom(` + sock + `,  <unfinished ...>
101   read(` + sock + `,  <unfinished ...>
101   <... read resumed> <unfinished ...>) = ?
100   +++ killed by SIGKILL +++
`,
		want:    []rd{{1024, 4, 0}},
		pending: 2,
	},
	{
		name:    "a read left unfinished at the end of the trace",
		trace:   `100   recvfrom(` + sock + `,  <unfinished ...>`,
		pending: 1,
	},
	{
		name: "readv and recvmsg: the size asked is the sum of the iovecs",
		trace: `readv(` + sock + `, [{iov_base=""..., iov_len=10}, {iov_base=""..., iov_len=20}, {iov_base="", iov_len=30}], 3) = 25
recvmsg(` + sock + `, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=""..., iov_len=7}, {iov_base=""..., iov_len=9}], msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0) = 16
recvmsg(` + sock + `, {msg_name=0x7ffd132d9370, msg_namelen=16 => 0, msg_iov=[{iov_base="", iov_len=100}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_DONTWAIT) = 0
preadv2(` + sock + `, [{iov_base=""..., iov_len=64}], 1, -1, 0) = 2
`,
		want: []rd{{60, 25, 0}, {16, 16, 25}, {100, 0, 41}, {64, 2, 41}},
	},
	{
		name: "recvmmsg: one read per message received",
		trace: `recvmmsg(` + sock + `, [{msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=""..., iov_len=10}, {iov_base=""..., iov_len=20}], msg_iovlen=2, msg_controllen=0, msg_flags=0}, msg_len=30}, {msg_hdr={msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base=""..., iov_len=30}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, msg_len=12}], 2, 0, NULL) = 2
`,
		want: []rd{{30, 30, 0}, {30, 12, 30}},
	},
	{
		name: "splice from the socket to a pipe, and to the socket (not a read)",
		trace: `splice(` + sock + `, NULL, 7<pipe:[6162617]>, NULL, 4096, 0) = 90
splice(7<pipe:[6162617]>, NULL, ` + sock + `, NULL, 4096, 0) = 90
splice(` + sock + `, NULL, 8</tmp/a,b>, NULL, 65536, SPLICE_F_MOVE) = 10
`,
		want: []rd{{4096, 90, 0}, {65536, 10, 90}},
	},
	{
		name: "MSG_PEEK leaves the bytes in the stream, by name or by value",
		trace: `recvfrom(` + sock + `, ""..., 5, MSG_PEEK, NULL, NULL) = 5
recvfrom(` + sock + `, ""..., 5, 0x2, NULL, NULL) = 5
recvfrom(` + sock + `, ""..., 1024, 0, NULL, NULL) = 84
`,
		want: []rd{{5, 5, 0}, {5, 5, 0}, {1024, 84, 0}},
	},
	{
		name: "another connection and sockets without addresses are not this one",
		trace: `read(4<TCP:[127.0.0.1:40001->127.0.0.1:8888]>, ""..., 10) = 10
read(5<UNIX-STREAM:[12345->12346]>, ""..., 10) = 10
read(6<socket:[98765]>, ""..., 10) = 10
read(` + sock + `, ""..., 10) = 1
`,
		want: []rd{{10, 1, 0}},
	},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			tr := parse(t, tt.trace)
			s := tr.Stream(conn)
			if got := reads(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reads (asked, got, offset) = %v, want %v", got, tt.want)
			}
			if tt.failed == nil {
				tt.failed = map[string]int{}
			}
			if !reflect.DeepEqual(s.Failed, tt.failed) {
				t.Errorf("Failed = %v, want %v", s.Failed, tt.failed)
			}
			if s.Pending != tt.pending {
				t.Errorf("Pending = %d, want %d", s.Pending, tt.pending)
			}
			if tr.MalformedCount != 0 {
				t.Errorf("malformed lines: %q", tr.Malformed)
			}
		})
	}
}

func TestParsePeek(t *testing.T) {
	s := parse(t, parseTests[11].trace).Stream(conn)
	for i, want := range []bool{true, true, false} {
		if s.Reads[i].Peek != want {
			t.Errorf("read %d: Peek = %v, want %v", i, s.Reads[i].Peek, want)
		}
	}
	if s.Consumed() != 84 {
		t.Errorf("Consumed() = %d, want 84", s.Consumed())
	}
}

func TestParseCallAndPID(t *testing.T) {
	s := parse(t, parseTests[3].trace).Stream(conn)
	if s.Reads[0].Call != "read" || s.Reads[0].PID != 100 || s.Reads[1].Call != "recvfrom" || s.Reads[1].PID != 101 {
		t.Errorf("reads: %+v", s.Reads)
	}
}

func TestParseIPv6AndMapped(t *testing.T) {
	tr := parse(t, `read(8<TCPv6:[[::1]:43692->[::1]:40781]>, ""..., 9) = 3
read(9<TCPv6:[[::ffff:127.0.0.1]:50000->[::ffff:127.0.0.1]:8888]>, ""..., 9) = 4
`)
	v6 := readtrace.Conn{Local: netip.MustParseAddrPort("[::1]:43692"), Peer: netip.MustParseAddrPort("[::1]:40781")}
	if got := reads(tr.Stream(v6)); !reflect.DeepEqual(got, []rd{{9, 3, 0}}) {
		t.Errorf("IPv6 reads = %v", got)
	}
	// The kit sees an IPv4 connection; the program's IPv6 socket shows it
	// mapped.
	v4 := readtrace.Conn{Local: netip.MustParseAddrPort("127.0.0.1:50000"), Peer: netip.MustParseAddrPort("127.0.0.1:8888")}
	if got := reads(tr.Stream(v4)); !reflect.DeepEqual(got, []rd{{9, 4, 0}}) {
		t.Errorf("mapped reads = %v", got)
	}
	if n := len(tr.Conns()); n != 2 {
		t.Errorf("Conns() has %d connections, want 2", n)
	}
}

func TestParseUndecodedAndMalformed(t *testing.T) {
	tr := parse(t, `read(6<socket:[98765]>, ""..., 10) = 10
read(6<TCP:[98765]>, ""..., 10) = 10
read(`+sock+`, ""..., 10) = what
<... recvfrom resumed>""..., 1024, 0, NULL, NULL) = 5 `+sock+`
recvmmsg(`+sock+`, [{msg_hdr={}}], 2, 0, NULL) = 1
`)
	if tr.Undecoded != 2 {
		t.Errorf("Undecoded = %d, want 2", tr.Undecoded)
	}
	if tr.MalformedCount != 3 {
		t.Errorf("MalformedCount = %d, want 3; kept %q", tr.MalformedCount, tr.Malformed)
	}
}

func TestParseSizeUnknown(t *testing.T) {
	s := parse(t, `readv(`+sock+`, [...], 40) = 100
`).Stream(conn)
	if len(s.Reads) != 1 || s.Reads[0].Asked != -1 || s.Reads[0].Got != 100 || s.Unsized != 1 {
		t.Errorf("reads %+v, Unsized %d; want one read of 100 bytes of unknown size asked", s.Reads, s.Unsized)
	}
}

func TestParseLongLine(t *testing.T) {
	long := "readv(" + sock + ", [" + strings.Repeat(`{iov_base="", iov_len=1}, `, 60000) + "], 60000) = 1\n"
	tr := parse(t, long+`read(`+sock+`, ""..., 10) = 2
`)
	if got := reads(tr.Stream(conn)); !reflect.DeepEqual(got, []rd{{10, 2, 0}}) || tr.MalformedCount != 1 {
		t.Errorf("after a line over the limit: reads %v, malformed %d; want the next read whole and 1 malformed", got, tr.MalformedCount)
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := readtrace.Parse(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("Parse of a failing reader: %v, want %v", err, boom)
	}
}

// FuzzParse: any input parses without a panic, and offsets never go back.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.trace)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := readtrace.Parse(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tr.Conns() {
			var off int64
			for _, r := range tr.Stream(c).Reads {
				if r.Offset < off || r.Got < 0 {
					t.Fatalf("read %+v after offset %d", r, off)
				}
				off = r.Offset
			}
		}
	})
}
