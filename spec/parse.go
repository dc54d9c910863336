package spec

import (
	"bytes"
	"fmt"
	"strconv"
)

// ParseRequest parses the content of a request (without any line
// terminator): "get " followed by a name that ValidateName accepts. The name
// is everything after the verb, spaces included.
func ParseRequest(b []byte) (string, error) {
	if len(b) > MaxControlLen {
		return "", fmt.Errorf("%w: request is %d bytes, limit %d", ErrTooLong, len(b), MaxControlLen)
	}
	if !bytes.HasPrefix(b, []byte(RequestVerb)) {
		return "", protoErr(PhaseRequest, `does not begin with "get "`, b)
	}
	name := string(b[len(RequestVerb):])
	if err := ValidateName(name); err != nil {
		return "", err
	}
	return name, nil
}

// ParseSize parses a size: 1 to 19 ASCII digits with no sign and no leading
// zero (except "0" itself), at most the largest int64.
func ParseSize(b []byte) (int64, error) {
	switch {
	case len(b) == 0:
		return 0, protoErr(PhaseReply, "empty size", b)
	case len(b) > MaxSizeDigits:
		return 0, protoErr(PhaseReply, fmt.Sprintf("size has %d bytes, at most %d digits allowed", len(b), MaxSizeDigits), b)
	case len(b) > 1 && b[0] == '0':
		return 0, protoErr(PhaseReply, "size has a leading zero", b)
	}
	for i, c := range b {
		if c < '0' || c > '9' {
			return 0, protoErr(PhaseReply, fmt.Sprintf("byte %d of the size is not a decimal digit", i), b)
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, protoErr(PhaseReply, "size does not fit in 63 bits", b)
	}
	return n, nil
}

// ParseReply parses what a server sends in answer to a request (without any
// line terminator): a size, or an error reply, which it returns as a
// *ErrorReply error.
func ParseReply(b []byte) (int64, error) {
	if bytes.HasPrefix(b, []byte(ErrorPrefix)) {
		e, err := ParseErrorReply(b)
		if err != nil {
			return 0, err
		}
		return 0, e
	}
	return ParseSize(b)
}

// ParseErrorReply parses "ERR CODE [TEXT]".
func ParseErrorReply(b []byte) (*ErrorReply, error) {
	if !bytes.HasPrefix(b, []byte(ErrorPrefix)) {
		return nil, protoErr(PhaseReply, `error reply does not begin with "ERR "`, b)
	}
	rest := b[len(ErrorPrefix):]
	code, text, _ := bytes.Cut(rest, []byte(" "))
	if len(code) == 0 {
		return nil, protoErr(PhaseReply, "error reply has no code", b)
	}
	if len(code) > MaxCodeLen {
		return nil, protoErr(PhaseReply, fmt.Sprintf("error code is %d bytes, at most %d allowed", len(code), MaxCodeLen), b)
	}
	for _, c := range code {
		if !isCodeByte(c) {
			return nil, protoErr(PhaseReply, "error code is not [a-z0-9-]+", b)
		}
	}
	return &ErrorReply{Code: string(code), Text: string(text)}, nil
}

// ParseDigest checks that b is exactly 32 lowercase hex digits and returns
// them as a string.
func ParseDigest(b []byte) (string, error) {
	if len(b) != DigestLen {
		return "", protoErr(PhaseDigest, fmt.Sprintf("digest is %d bytes, want %d", len(b), DigestLen), b)
	}
	for i, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", protoErr(PhaseDigest, fmt.Sprintf("byte %d of the digest is not a lowercase hex digit", i), b)
		}
	}
	return string(b), nil
}

// TrimLine removes one trailing LF or CRLF from b, if present.
func TrimLine(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
