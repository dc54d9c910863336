package spec_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/spec"
)

type parseRequestTest struct {
	in   string
	want string
	err  errKind
}

var parseRequestTests = []parseRequestTest{
	{"get video.mp4", "video.mp4", errNone},
	{"get a", "a", errNone},
	{"get my file.txt", "my file.txt", errNone},
	{"get  lead", " lead", errNone},
	{"get trail ", "trail ", errNone},
	{"get get a", "get a", errNone},
	{"get 视频.mp4", "视频.mp4", errNone},
	{"get ../../etc/passwd", "../../etc/passwd", errNone},
	{"get " + name1020, name1020, errNone},
	{"get " + wide1020, wide1020, errNone},
	{"get " + name1021, "", errTooLong},
	{strings.Repeat("x", 5000), "", errTooLong},
	{"", "", errProto},
	{"get", "", errProto},
	{"get ", "", errProto},
	{"GET a", "", errProto},
	{"Get a", "", errProto},
	{"gets a", "", errProto},
	{"get\ta", "", errProto},
	{" get a", "", errProto},
	{"put a", "", errProto},
	{"get a\x00b", "", errProto},
	{"get a\rb", "", errProto},
	{"get a\nb", "", errProto},
	{"get a\n", "", errProto},   // a parser is given content, never a terminator
	{"get a\r\n", "", errProto}, //
	{"get \xff", "", errProto},
	{"get a\xc3", "", errProto},
	{"ready to recv file", "", errProto},
	{strings.Repeat("y", 1000), "", errProto},
}

func TestParseRequest(t *testing.T) {
	for _, tt := range parseRequestTests {
		got, err := spec.ParseRequest([]byte(tt.in))
		what := fmt.Sprintf("ParseRequest(%.40q) len %d", tt.in, len(tt.in))
		if checkErr(t, what, err, tt.err) && got != tt.want {
			t.Errorf("%s = %.40q, want %.40q", what, got, tt.want)
		}
	}
}

type parseSizeTest struct {
	in   string
	want int64
	err  errKind
}

var parseSizeTests = []parseSizeTest{
	{"0", 0, errNone},
	{"1", 1, errNone},
	{"9", 9, errNone},
	{"10", 10, errNone},
	{"83886080", 83886080, errNone},
	{"1000000000000000000", 1e18, errNone},      // 19 digits
	{"9223372036854775807", 1<<63 - 1, errNone}, // MaxInt64
	{"9223372036854775808", 0, errProto},        // MaxInt64+1
	{"9999999999999999999", 0, errProto},        // 19 digits, overflows
	{"10000000000000000000", 0, errProto},       // 20 digits
	{"09223372036854775807", 0, errProto},       // 20 bytes with a leading zero
	{strings.Repeat("1", 2000), 0, errProto},    // long: quoted only in part
	{"", 0, errProto},
	{"00", 0, errProto},
	{"01", 0, errProto},
	{"007", 0, errProto},
	{"-1", 0, errProto},
	{"-0", 0, errProto},
	{"+1", 0, errProto},
	{" 1", 0, errProto},
	{"1 ", 0, errProto},
	{"1 2", 0, errProto},
	{"1\n", 0, errProto},
	{"1\r\n", 0, errProto},
	{"1\x00", 0, errProto},
	{"abc", 0, errProto},
	{"12a", 0, errProto},
	{"0x10", 0, errProto},
	{"1e3", 0, errProto},
	{"1_000", 0, errProto},
	{"1,000", 0, errProto},
	{"1.0", 0, errProto},
	{"１", 0, errProto}, // FULLWIDTH DIGIT ONE
	{"٣", 0, errProto}, // ARABIC-INDIC DIGIT THREE
}

func TestParseSize(t *testing.T) {
	for _, tt := range parseSizeTests {
		got, err := spec.ParseSize([]byte(tt.in))
		what := fmt.Sprintf("ParseSize(%.40q)", tt.in)
		if checkErr(t, what, err, tt.err) && got != tt.want {
			t.Errorf("%s = %d, want %d", what, got, tt.want)
		}
		var pe *spec.ProtocolError
		if errors.As(err, &pe) && pe.Phase != spec.PhaseReply {
			t.Errorf("%s: Phase = %q, want %q", what, pe.Phase, spec.PhaseReply)
		}
	}
}

type parseReplyTest struct {
	in   string
	size int64
	code string // for errReply
	text string // for errReply
	err  errKind
}

var parseReplyTests = []parseReplyTest{
	{in: "0", size: 0},
	{in: "83886080", size: 83886080},
	{in: "9223372036854775807", size: 1<<63 - 1},
	{in: "9223372036854775808", err: errProto},
	{in: "ERR not-found no such file", code: "not-found", text: "no such file", err: errReply},
	{in: "ERR busy", code: "busy", err: errReply},
	{in: "ERR busy ", code: "busy", err: errReply},
	{in: "ERR busy  two spaces", code: "busy", text: " two spaces", err: errReply},
	{in: "ERR x-9 视频", code: "x-9", text: "视频", err: errReply},
	{in: "ERR future-code some text", code: "future-code", text: "some text", err: errReply},
	{in: "ERR -", code: "-", err: errReply},
	{in: "ERR", err: errProto},
	{in: "ERR ", err: errProto},
	{in: "ERR  text", err: errProto},
	{in: "ERRnot-found", err: errProto},
	{in: "err not-found", err: errProto},
	{in: "ERR NOT-FOUND x", err: errProto},
	{in: "ERR not_found x", err: errProto},
	{in: "ERR not.found", err: errProto},
	{in: "ERR x\ty", err: errProto},
	{in: "ERR x\x00", err: errProto},
	{in: "ERR é", err: errProto},
	{in: " ERR x", err: errProto},
	{in: "", err: errProto},
	{in: "-5", err: errProto},
	{in: "05", err: errProto},
	{in: "5 bytes", err: errProto},
}

func TestParseReply(t *testing.T) {
	for _, tt := range parseReplyTests {
		got, err := spec.ParseReply([]byte(tt.in))
		what := fmt.Sprintf("ParseReply(%q)", tt.in)
		if !checkErr(t, what, err, tt.err) {
			continue
		}
		switch tt.err {
		case errNone:
			if got != tt.size {
				t.Errorf("%s = %d, want %d", what, got, tt.size)
			}
		case errReply:
			var er *spec.ErrorReply
			errors.As(err, &er)
			if er.Code != tt.code || er.Text != tt.text {
				t.Errorf("%s = %+v, want code %q, text %q", what, *er, tt.code, tt.text)
			}
		}
	}
}

func TestParseErrorReply(t *testing.T) {
	for _, tt := range parseReplyTests {
		if !strings.HasPrefix(tt.in, "ERR ") {
			continue
		}
		want := tt.err
		if want == errReply {
			want = errNone
		}
		got, err := spec.ParseErrorReply([]byte(tt.in))
		what := fmt.Sprintf("ParseErrorReply(%q)", tt.in)
		if checkErr(t, what, err, want) && err == nil && (got.Code != tt.code || got.Text != tt.text) {
			t.Errorf("%s = %+v, want code %q, text %q", what, *got, tt.code, tt.text)
		}
	}
	// A size, or anything not beginning "ERR ", is not an error reply.
	for _, in := range []string{"123", "", "ERR", "err x", "OK"} {
		got, err := spec.ParseErrorReply([]byte(in))
		checkErr(t, fmt.Sprintf("ParseErrorReply(%q) = %v", in, got), err, errProto)
	}
}

type parseDigestTest struct {
	in  string
	err errKind
}

var parseDigestTests = []parseDigestTest{
	{"d41d8cd98f00b204e9800998ecf8427e", errNone},
	{"0123456789abcdef0123456789abcdef", errNone},
	{strings.Repeat("0", 32), errNone},
	{"D41D8CD98F00B204E9800998ECF8427E", errProto},
	{"d41d8cd98f00b204e9800998ecf8427E", errProto},
	{"d41d8cd98f00b204e9800998ecf8427", errProto},   // 31
	{"d41d8cd98f00b204e9800998ecf8427e0", errProto}, // 33
	{"d41d8cd98f00b204e9800998ecf8427e\n", errProto},
	{"", errProto},
	{"g41d8cd98f00b204e9800998ecf8427e", errProto},
	{" d41d8cd98f00b204e9800998ecf8427", errProto},
	{"d41d8cd98f00b204e9800998ecf842 e", errProto},
	{"0x1d8cd98f00b204e9800998ecf8427e", errProto},
	{strings.Repeat("z", 200), errProto},
}

func TestParseDigest(t *testing.T) {
	for _, tt := range parseDigestTests {
		got, err := spec.ParseDigest([]byte(tt.in))
		what := fmt.Sprintf("ParseDigest(%.40q)", tt.in)
		if checkErr(t, what, err, tt.err) && err == nil && got != tt.in {
			t.Errorf("%s = %q, want %q", what, got, tt.in)
		}
		var pe *spec.ProtocolError
		if errors.As(err, &pe) && pe.Phase != spec.PhaseDigest {
			t.Errorf("%s: Phase = %q, want %q", what, pe.Phase, spec.PhaseDigest)
		}
	}
}

var trimLineTests = []struct{ in, want string }{
	{"abc\n", "abc"},
	{"abc\r\n", "abc"},
	{"abc", "abc"},
	{"", ""},
	{"\n", ""},
	{"\r\n", ""},
	{"abc\n\n", "abc\n"},
	{"abc\r\r\n", "abc\r"},
	{"abc\r\n\r\n", "abc\r\n"},
	// TrimLine removes "one trailing LF or CRLF": a CR with no LF after it
	// is content, not a terminator.
	{"abc\r", "abc\r"},
	{"\r", "\r"},
	{"abc\n\r", "abc\n\r"},
}

func TestTrimLine(t *testing.T) {
	for _, tt := range trimLineTests {
		if got := spec.TrimLine([]byte(tt.in)); string(got) != tt.want {
			t.Errorf("TrimLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestProtocolErrorQuote checks that a ProtocolError quotes at most the
// first 80 bytes of the bad input, and holds its own copy of them.
func TestProtocolErrorQuote(t *testing.T) {
	long := strings.Repeat("0123456789", 200)
	for _, tt := range []struct {
		what   string
		err    func([]byte) error
		in     string
		quoted string // the bytes the error is about, when not in
	}{
		{"ParseRequest", func(b []byte) error { _, err := spec.ParseRequest(b); return err }, "put " + long[:900], ""},
		{"ParseRequest NUL", func(b []byte) error { _, err := spec.ParseRequest(b); return err }, "get " + long[:900] + "\x00", long},
		{"ParseSize", func(b []byte) error { _, err := spec.ParseSize(b); return err }, "x" + long, ""},
		{"ParseReply", func(b []byte) error { _, err := spec.ParseReply(b); return err }, "ERR BAD " + long, ""},
		{"ParseErrorReply", func(b []byte) error { _, err := spec.ParseErrorReply(b); return err }, "ERR BAD " + long, ""},
		{"ParseDigest", func(b []byte) error { _, err := spec.ParseDigest(b); return err }, long, ""},
		{"ValidateName", func(b []byte) error { return spec.ValidateName(string(b)) }, long[:900] + "\n", ""},
	} {
		in := []byte(tt.in)
		want := tt.in[:80]
		if tt.quoted != "" {
			want = tt.quoted[:80]
		}
		err := tt.err(in)
		var pe *spec.ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s(<%d bytes>) = %v, want a *ProtocolError", tt.what, len(in), err)
			continue
		}
		if len(pe.Data) != 80 || string(pe.Data) != want {
			t.Errorf("%s: Data = %q (%d bytes), want the first 80 bytes %q", tt.what, pe.Data, len(pe.Data), want)
		}
		if n := len(pe.Error()); n > 200+len(pe.Reason) {
			t.Errorf("%s: Error() is %d bytes: %q", tt.what, n, pe.Error())
		}
		for i := range in {
			in[i] = '#'
		}
		if string(pe.Data) != want {
			t.Errorf("%s: Data changed with the input to %q: it must be a copy", tt.what, pe.Data)
		}
	}
}

// TestTruncatedErrorIs checks TruncatedError matches io.ErrUnexpectedEOF
// and nothing else.
func TestTruncatedErrorIs(t *testing.T) {
	var err error = &spec.TruncatedError{Phase: spec.PhaseData, Got: 1, Want: 2}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is(%v, io.ErrUnexpectedEOF) = false, want true", err)
	}
	if errors.Is(err, io.EOF) {
		t.Errorf("errors.Is(%v, io.EOF) = true, want false", err)
	}
	wrapped := fmt.Errorf("get x: %w", err)
	var te *spec.TruncatedError
	if !errors.As(wrapped, &te) || te.Got != 1 || te.Want != 2 {
		t.Errorf("errors.As(%v) = %+v, want Got 1, Want 2", wrapped, te)
	}
}
