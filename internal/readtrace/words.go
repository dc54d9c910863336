package readtrace

import (
	"fmt"
	"strconv"
	"strings"
)

// Words says the finding in one sentence, without a capital or a final
// period, so that a verdict can quote it:
//
//	read 98 after the size asked for 1024 bytes and got 704: the last 672 bytes of the file and 32 bytes of the digest
//	read 4 after the size asked for 1024 bytes and got 16: the first 16 bytes of the digest
//	the client read 16 of the 32 bytes of the digest and no more (read 4 after the size asked for 1024 bytes and got 16)
//	the client read all 3000 bytes of the file and none of the digest
//	the server read 3 bytes, `get`, and no more of the 13-byte request `get video.mp4`
func (f Finding) Words() string {
	l := f.Layout
	switch f.Kind {
	case NoDigest:
		size := l.Digest - l.Data
		if size == 0 {
			return "the client read none of the digest of the empty file"
		}
		if f.DataRead >= size {
			return fmt.Sprintf("the client read all %d bytes of the file and none of the digest", size)
		}
		return fmt.Sprintf("the client read %d of the %d bytes of the file and none of the digest", f.DataRead, size)
	case PartDigest:
		return fmt.Sprintf("the client read %d of the %d bytes of the digest and no more (%s)", f.DigestRead, l.End-l.Digest, f.readWords())
	case RequestWhole, RequestPieces, RequestPart, RequestWaiting, RequestNone:
		return f.requestWords()
	}
	return f.readWords() + ": " + joinAnd(f.shares())
}

// readWords names the read and says what it asked for and got:
// "read 98 after the size asked for 1024 bytes and got 704".
func (f Finding) readWords() string {
	r := f.Read
	if r.Asked < 0 {
		return fmt.Sprintf("%s got %d bytes", f.name(), r.Got)
	}
	return fmt.Sprintf("%s asked for %d bytes and got %d", f.name(), r.Asked, r.Got)
}

// name is "read N after the size" or "read N".
func (f Finding) name() string {
	if f.AfterSize {
		return fmt.Sprintf("read %d after the size", f.N)
	}
	return fmt.Sprintf("read %d", f.N)
}

// shares says what the read took of each message: "the last 672 bytes of
// the file", "32 bytes of the digest".
func (f Finding) shares() []string {
	l, r := f.Layout, f.Read
	var out []string
	if s := share(r, 0, l.Data, "size"); s != "" {
		out = append(out, s)
	}
	if s := share(r, l.Data, l.Digest, "file"); s != "" {
		out = append(out, s)
	}
	if s := share(r, l.Digest, l.End, "digest"); s != "" {
		out = append(out, s)
	}
	if n := overlap(r.Offset, r.End(), l.End, r.End()); n > 0 {
		out = append(out, fmt.Sprintf("%d %s after the digest", n, bytesWord(n)))
	}
	return out
}

// share says what r took of the message [a, b) called what.
func share(r Read, a, b int64, what string) string {
	lo, hi := max(r.Offset, a), min(r.End(), b)
	if hi <= lo {
		return ""
	}
	n, total := hi-lo, b-a
	switch {
	case n == total && what == "digest":
		// As a learner counts it: the digest is 32 bytes.
		return fmt.Sprintf("%d bytes of the digest", n)
	case n == total && what == "size":
		return fmt.Sprintf("the %d %s of the size", n, bytesWord(n))
	case n == total:
		return fmt.Sprintf("all %d %s of the %s", n, bytesWord(n), what)
	case lo == a && what == "size":
		return fmt.Sprintf("the first %d of the %d bytes of the size", n, total)
	case lo == a:
		return fmt.Sprintf("the first %d %s of the %s", n, bytesWord(n), what)
	case hi == b:
		return fmt.Sprintf("the last %d %s of the %s", n, bytesWord(n), what)
	}
	return fmt.Sprintf("%d %s of the %s (from byte %d)", n, bytesWord(n), what, lo-a)
}

func bytesWord(n int64) string {
	if n == 1 {
		return "byte"
	}
	return "bytes"
}

// requestWords says how the server took the request.
func (f Finding) requestWords() string {
	req := f.Request
	whole := fmt.Sprintf("the %d-byte request %s", len(req), Quote(req))
	if f.Kind == RequestNone {
		return "the server read none of " + whole
	}
	r := f.Read
	took := req[min(r.Offset, int64(len(req))):min(r.End(), int64(len(req)))]
	switch f.Kind {
	case RequestWhole:
		if int64(len(took)) < r.Got {
			return fmt.Sprintf("the server read %s and %d bytes after it in one read of %d bytes", whole, r.Got-int64(len(took)), r.Got)
		}
		return fmt.Sprintf("the server read %s in one read", whole)
	case RequestPieces:
		n := int64(len(took))
		return fmt.Sprintf("the server read %s in pieces: first %d %s, %s, then the rest from read %d on", whole, n, bytesWord(n), Quote(took), f.Next)
	}
	n := min(f.DataRead, int64(len(req)))
	if f.Kind == RequestWaiting {
		return fmt.Sprintf("the server read %d %s, %s, and was waiting for the rest of %s when it was stopped", n, bytesWord(n), Quote(req[:n]), whole)
	}
	return fmt.Sprintf("the server read %d %s, %s, and no more of %s", n, bytesWord(n), Quote(req[:n]), whole)
}

// Quote shows bytes the kit sent in words: between backquotes when they
// are printable ASCII without a backquote, else as a Go string; at most 80
// bytes of them.
func Quote(s string) string {
	cut := ""
	if len(s) > 80 {
		s, cut = s[:80], "..."
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '`' {
			return strconv.Quote(s) + cut
		}
	}
	return "`" + s + "`" + cut
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return "nothing"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
