package spec

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ValidateName reports whether name may be sent in a request: 1 to
// MaxNameLen bytes of valid UTF-8 with no NUL, CR or LF. It says nothing of
// whether a server will serve the name; confinement is the server's job.
func ValidateName(name string) error {
	switch {
	case name == "":
		return protoErr(PhaseRequest, "empty name", nil)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: name is %d bytes, limit %d", ErrTooLong, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return protoErr(PhaseRequest, "name is not valid UTF-8", []byte(name))
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case 0:
			return protoErr(PhaseRequest, fmt.Sprintf("NUL byte at offset %d of the name", i), []byte(name))
		case '\r', '\n':
			return protoErr(PhaseRequest, fmt.Sprintf("line break at offset %d of the name", i), []byte(name))
		}
	}
	return nil
}

func terminate(f Framing, b []byte) []byte {
	if f == Line {
		b = append(b, '\n')
	}
	return b
}

// EncodeRequest returns the request for name: "get NAME", followed by LF in
// the line framing. It fails if ValidateName does.
func EncodeRequest(f Framing, name string) ([]byte, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(RequestVerb)+len(name)+1)
	b = append(b, RequestVerb...)
	b = append(b, name...)
	return terminate(f, b), nil
}

// EncodeSize returns the size reply: SIZE in decimal ASCII with no sign and
// no leading zeros, followed by LF in the line framing. It fails for a
// negative size.
func EncodeSize(f Framing, size int64) ([]byte, error) {
	if size < 0 {
		return nil, fmt.Errorf("spec: negative size %d", size)
	}
	return terminate(f, strconv.AppendInt(nil, size, 10)), nil
}

// EncodeError returns the error reply "ERR CODE TEXT", followed by LF in the
// line framing. Bytes of code outside [a-z0-9-] become '-' and code is cut
// to MaxCodeLen bytes; control bytes
// in text become spaces, and text is cut to MaxErrorTextLen bytes, so the
// result always parses as an error reply.
func EncodeError(f Framing, code, text string) []byte {
	b := make([]byte, 0, len(ErrorPrefix)+len(code)+1+len(text)+1)
	b = append(b, ErrorPrefix...)
	if code == "" {
		code = CodeBadRequest
	}
	if len(code) > MaxCodeLen {
		code = code[:MaxCodeLen]
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !isCodeByte(c) {
			c = '-'
		}
		b = append(b, c)
	}
	if text != "" {
		if len(text) > MaxErrorTextLen {
			// Cut on a character boundary.
			cut := MaxErrorTextLen
			for cut > 0 && !utf8.RuneStart(text[cut]) {
				cut--
			}
			text = text[:cut]
		}
		b = append(b, ' ')
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c < 0x20 || c == 0x7f {
				c = ' '
			}
			b = append(b, c)
		}
	}
	return terminate(f, b)
}

// EncodeAck returns the acknowledgement "ready to recv file", followed by LF
// in the line framing.
func EncodeAck(f Framing) []byte {
	return terminate(f, []byte(AckText))
}

// EncodeDigest returns the 32 lowercase hex digits of an MD5 sum. It fails
// unless sum is 16 bytes long.
func EncodeDigest(sum []byte) ([]byte, error) {
	if len(sum) != DigestLen/2 {
		return nil, fmt.Errorf("spec: digest sum is %d bytes, want %d", len(sum), DigestLen/2)
	}
	b := make([]byte, DigestLen)
	hex.Encode(b, sum)
	return b, nil
}

func isCodeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-'
}
