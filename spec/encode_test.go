package spec_test

import (
	"crypto/md5"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/spec"
)

var (
	name1020 = strings.Repeat("n", spec.MaxNameLen)
	name1021 = strings.Repeat("n", spec.MaxNameLen+1)
	// 340 three-byte runes: exactly MaxNameLen bytes of non-ASCII.
	wide1020 = strings.Repeat("视", spec.MaxNameLen/3)
)

type validateNameTest struct {
	name string
	want errKind
}

var validateNameTests = []validateNameTest{
	{"a.txt", errNone},
	{"a", errNone},
	{"my file.txt", errNone},
	{" leading and trailing ", errNone},
	{"视频.mp4", errNone},
	{"naïve résumé.pdf", errNone},
	{"../../etc/passwd", errNone}, // confinement is the server's job
	{"/abs/path", errNone},
	{"tab\there", errNone},
	{"\x7f", errNone},
	{name1020, errNone},
	{wide1020, errNone},
	{name1021, errTooLong},
	{wide1020 + "x", errTooLong},
	{strings.Repeat("n", 5000), errTooLong},
	{"", errProto},
	{"a\x00b", errProto},
	{"\x00", errProto},
	{"a\rb", errProto},
	{"a\nb", errProto},
	{"a\r\n", errProto},
	{"trailing\n", errProto},
	{"\xff", errProto},
	{"bad\xc3", errProto},              // truncated sequence
	{"\xc0\xaf", errProto},             // overlong encoding
	{"\xed\xa0\x80", errProto},         // surrogate
	{"ok\xf4\x90\x80\x80ok", errProto}, // beyond U+10FFFF
	{strings.Repeat("n", 1000) + "\x00", errProto},
}

func TestValidateName(t *testing.T) {
	for _, tt := range validateNameTests {
		err := spec.ValidateName(tt.name)
		checkErr(t, fmt.Sprintf("ValidateName(%.40q) len %d", tt.name, len(tt.name)), err, tt.want)
	}
}

type encodeRequestTest struct {
	f    spec.Framing
	name string
	want string
	err  errKind
}

var encodeRequestTests = []encodeRequestTest{
	{spec.Lockstep, "video.mp4", "get video.mp4", errNone},
	{spec.Line, "video.mp4", "get video.mp4\n", errNone},
	{spec.Lockstep, "my file.txt", "get my file.txt", errNone},
	{spec.Line, " spaced ", "get  spaced \n", errNone},
	{spec.Lockstep, "视频.mp4", "get 视频.mp4", errNone},
	{spec.Line, name1020, "get " + name1020 + "\n", errNone},
	{spec.Lockstep, name1020, "get " + name1020, errNone},
	{spec.Lockstep, name1021, "", errTooLong},
	{spec.Line, name1021, "", errTooLong},
	{spec.Lockstep, "", "", errProto},
	{spec.Line, "", "", errProto},
	{spec.Line, "a\nget b", "", errProto},
	{spec.Lockstep, "a\rb", "", errProto},
	{spec.Line, "a\x00b", "", errProto},
	{spec.Lockstep, "\xfe\xff", "", errProto},
}

func TestEncodeRequest(t *testing.T) {
	for _, tt := range encodeRequestTests {
		got, err := spec.EncodeRequest(tt.f, tt.name)
		what := fmt.Sprintf("EncodeRequest(%v, %.40q)", tt.f, tt.name)
		if !checkErr(t, what, err, tt.err) {
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s = %q, want %q", what, got, tt.want)
		}
		if len(got) > spec.MaxControlLen+1 {
			t.Errorf("%s is %d bytes, more than MaxControlLen+1", what, len(got))
		}
	}
}

type encodeSizeTest struct {
	f    spec.Framing
	size int64
	want string
	err  errKind
}

var encodeSizeTests = []encodeSizeTest{
	{spec.Lockstep, 0, "0", errNone},
	{spec.Line, 0, "0\n", errNone},
	{spec.Lockstep, 1, "1", errNone},
	{spec.Lockstep, 83886080, "83886080", errNone},
	{spec.Line, 83886080, "83886080\n", errNone},
	{spec.Lockstep, math.MaxInt64, "9223372036854775807", errNone},
	{spec.Line, math.MaxInt64, "9223372036854775807\n", errNone},
	{spec.Lockstep, -1, "", errOther},
	{spec.Line, -1, "", errOther},
	{spec.Lockstep, math.MinInt64, "", errOther},
}

func TestEncodeSize(t *testing.T) {
	for _, tt := range encodeSizeTests {
		got, err := spec.EncodeSize(tt.f, tt.size)
		what := fmt.Sprintf("EncodeSize(%v, %d)", tt.f, tt.size)
		if !checkErr(t, what, err, tt.err) {
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s = %q, want %q", what, got, tt.want)
		}
	}
}

type encodeErrorTest struct {
	f          spec.Framing
	code, text string
	want       string
}

var encodeErrorTests = []encodeErrorTest{
	{spec.Lockstep, spec.CodeNotFound, "no such file", "ERR not-found no such file"},
	{spec.Line, spec.CodeNotFound, "no such file", "ERR not-found no such file\n"},
	{spec.Lockstep, spec.CodeBusy, "", "ERR busy"},
	{spec.Line, spec.CodeBusy, "", "ERR busy\n"},
	{spec.Lockstep, "", "why", "ERR bad-request why"},
	{spec.Lockstep, "Not Found", "", "ERR -ot--ound"},
	{spec.Lockstep, "x_y.z", "t", "ERR x-y-z t"},
	{spec.Lockstep, "code9", "line1\nline2\r\tend\x00\x7f", "ERR code9 line1 line2  end  "},
	{spec.Line, "x", "a\nb", "ERR x a b\n"},
	{spec.Lockstep, "x", "视频 not found", "ERR x 视频 not found"},
	{spec.Lockstep, "x", "  spaced  ", "ERR x   spaced  "},
	{spec.Lockstep, "x", strings.Repeat("t", 500), "ERR x " + strings.Repeat("t", spec.MaxErrorTextLen)},
	{spec.Line, "x", strings.Repeat("t", spec.MaxErrorTextLen), "ERR x " + strings.Repeat("t", spec.MaxErrorTextLen) + "\n"},
	// The text is cut on a character boundary: "视" is 3 bytes.
	{spec.Lockstep, "x", strings.Repeat("t", spec.MaxErrorTextLen-1) + "视", "ERR x " + strings.Repeat("t", spec.MaxErrorTextLen-1)},
	{spec.Lockstep, "x", strings.Repeat("t", spec.MaxErrorTextLen-3) + "视视", "ERR x " + strings.Repeat("t", spec.MaxErrorTextLen-3) + "视"},
	{spec.Lockstep, strings.Repeat("c", spec.MaxCodeLen), "", "ERR " + strings.Repeat("c", spec.MaxCodeLen)},
	{spec.Lockstep, strings.Repeat("c", spec.MaxCodeLen+1), "", "ERR " + strings.Repeat("c", spec.MaxCodeLen)},
	{spec.Line, strings.Repeat("C", 5000), "t", "ERR " + strings.Repeat("-", spec.MaxCodeLen) + " t\n"},
}

func TestEncodeError(t *testing.T) {
	for _, tt := range encodeErrorTests {
		got := spec.EncodeError(tt.f, tt.code, tt.text)
		if string(got) != tt.want {
			t.Errorf("EncodeError(%v, %q, %.40q) = %q, want %q", tt.f, tt.code, tt.text, got, tt.want)
		}
	}
}

// TestEncodeErrorFitsControlLimit checks the promise that EncodeError's
// result always parses as an error reply, through a Reader too: it must fit
// in MaxControlLen whatever code it is given.
func TestEncodeErrorFitsControlLimit(t *testing.T) {
	for _, f := range spec.Framings {
		for _, codeLen := range []int{1, 100, spec.MaxControlLen, 5000} {
			code := strings.Repeat("c", codeLen)
			b := spec.EncodeError(f, code, strings.Repeat("t", 300))
			content := spec.TrimLine(b)
			if f == spec.Lockstep {
				content = b
			}
			if len(content) > spec.MaxControlLen {
				t.Errorf("EncodeError(%v, <%d-byte code>, <300-byte text>) is %d bytes, more than MaxControlLen %d",
					f, codeLen, len(content), spec.MaxControlLen)
				continue
			}
			_, err := spec.NewReader(strings.NewReader(string(b)), f).ReadReply()
			checkErr(t, fmt.Sprintf("ReadReply(EncodeError(%v, <%d-byte code>, ...))", f, codeLen), err, errReply)
		}
	}
}

func TestEncodeAck(t *testing.T) {
	if got, want := string(spec.EncodeAck(spec.Lockstep)), "ready to recv file"; got != want {
		t.Errorf("EncodeAck(Lockstep) = %q, want %q", got, want)
	}
	if got, want := string(spec.EncodeAck(spec.Line)), "ready to recv file\n"; got != want {
		t.Errorf("EncodeAck(Line) = %q, want %q", got, want)
	}
}

type encodeDigestTest struct {
	sum  []byte
	want string
	err  bool
}

func md5Sum(s string) []byte {
	sum := md5.Sum([]byte(s))
	return sum[:]
}

var encodeDigestTests = []encodeDigestTest{
	{md5Sum(""), "d41d8cd98f00b204e9800998ecf8427e", false},
	{md5Sum("abc"), "900150983cd24fb0d6963f7d28e17f72", false},
	{make([]byte, 16), strings.Repeat("0", 32), false},
	{[]byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), strings.Repeat("f", 32), false},
	{nil, "", true},
	{make([]byte, 15), "", true},
	{make([]byte, 17), "", true},
	{make([]byte, 32), "", true},
}

func TestEncodeDigest(t *testing.T) {
	for _, tt := range encodeDigestTests {
		got, err := spec.EncodeDigest(tt.sum)
		if (err != nil) != tt.err || string(got) != tt.want {
			t.Errorf("EncodeDigest(%x) = %q, %v, want %q, error %v", tt.sum, got, err, tt.want, tt.err)
		}
	}
}

func TestFraming(t *testing.T) {
	if got := spec.Lockstep.String(); got != "lockstep" {
		t.Errorf("Lockstep.String() = %q, want %q", got, "lockstep")
	}
	if got := spec.Line.String(); got != "line" {
		t.Errorf("Line.String() = %q, want %q", got, "line")
	}
	if got := spec.Framing(7).String(); got != "Framing(7)" {
		t.Errorf("Framing(7).String() = %q, want %q", got, "Framing(7)")
	}
	var zero spec.Framing
	if zero != spec.Lockstep {
		t.Errorf("zero Framing = %v, want lockstep (the default)", zero)
	}
	if len(spec.Framings) != 2 || spec.Framings[0] != spec.Lockstep || spec.Framings[1] != spec.Line {
		t.Errorf("Framings = %v, want [lockstep line]", spec.Framings)
	}
	for _, tt := range []struct {
		in   string
		want spec.Framing
		err  bool
	}{
		{"lockstep", spec.Lockstep, false},
		{"line", spec.Line, false},
		{"LINE", spec.Line, false},
		{"", 0, true},
		{"lines", 0, true},
		{" line", 0, true},
	} {
		got, err := spec.ParseFraming(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("ParseFraming(%q) = %v, %v, want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		f := spec.Framing(9)
		err = f.Set(tt.in)
		if (err != nil) != tt.err || (!tt.err && f != tt.want) || (tt.err && f != 9) {
			t.Errorf("Set(%q) = %v, leaves %v, want error %v", tt.in, err, f, tt.err)
		}
	}
}

func TestErrorStrings(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&spec.ErrorReply{Code: "not-found", Text: "no such file"}, "server says not-found: no such file"},
		{&spec.ErrorReply{Code: "busy"}, "server says busy"},
		{&spec.ProtocolError{Phase: spec.PhaseReply, Reason: "empty size"}, "spec: malformed size: empty size"},
		{&spec.ProtocolError{Phase: spec.PhaseDigest, Reason: "bad", Data: []byte("x\n")}, `spec: malformed digest: bad (got "x\n")`},
		{&spec.TruncatedError{Phase: spec.PhaseData, Got: 3, Want: 10}, "spec: data truncated: got 3 of 10 bytes"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
}
