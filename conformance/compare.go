package conformance

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strconv"

	"github.com/stickykit/stickykit/spec"
)

// Comparing what arrived with what was due.

// digestOf returns the digest of b as the wire carries it: 32 lowercase hex
// digits of its MD5.
func digestOf(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// firstDiff returns the offset of the first byte at which a and b differ,
// or the length of the shorter when one begins the other.
func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// startsWithSize reports whether b begins with the decimal size n followed
// by more bytes: a size glued to the data behind it.
func startsWithSize(b []byte, n int) bool {
	s := strconv.Itoa(n)
	return len(b) > len(s) && string(b[:len(s)]) == s
}

// readRawLine reads one line from r as its sender wrote it, terminator
// included: the bytes up to and including the first LF, at most
// spec.MaxControlLen+2 of them. It returns what it read in every case, with
// spec.ErrTooLong when no LF came within the bound, io.ErrUnexpectedEOF
// when the stream ended inside the line, io.EOF when it ended before it
// (io.ErrUnexpectedEOF from r counts as an end of stream), or the read's
// error.
//
// The kit reads the peer's control messages with spec.Reader, except where
// it must judge the bytes as sent: the terminators spec.Reader removes (a
// CRLF, a bare LF, an LF where none may be), and the partial line it drops
// on an error, which the kit quotes in its verdict. That is what this raw
// reader is for; r is read one byte at a time, so it must be buffered.
func readRawLine(r io.Reader) ([]byte, error) {
	var line []byte
	var b [1]byte
	for len(line) < spec.MaxControlLen+2 {
		n, err := r.Read(b[:])
		if n > 0 {
			line = append(line, b[0])
			if b[0] == '\n' {
				return line, nil
			}
		}
		switch {
		case (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) && len(line) == 0:
			return nil, io.EOF
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			return line, io.ErrUnexpectedEOF
		case err != nil:
			return line, err
		}
	}
	return line, spec.ErrTooLong
}
