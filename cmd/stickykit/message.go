package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// Bounds on what a message quotes of a peer's bytes (SPEC.md REQ-SEC-10).
const (
	maxPeerText = 200  // an error reply's text, the most REQ-LIM-4 allows
	maxMessage  = 1500 // a whole message line: room for a 1020-byte name
)

// clean returns s fit for a terminal or a log line: every byte that is not
// part of a printable character (control bytes such as ESC, CR and BEL,
// invalid UTF-8, and format characters such as bidirectional overrides) is
// written as a Go escape (\x1b, \r, \u202e), and s is cut to at most max
// bytes, marked with "...".
func clean(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case unicode.IsPrint(r):
			piece = s[i : i+size]
		default:
			q := strconv.QuoteRune(r)
			piece = q[1 : len(q)-1]
		}
		if b.Len()+len(piece) > max {
			b.WriteString("...")
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}

// packagePrefixes are the prefixes Go packages give their errors; users of
// the command must not see them.
var packagePrefixes = []string{"spec: ", "ref: ", "naive: ", "shape: ", "conformance: "}

// stripPackages removes Go package prefixes from an error message, where
// they begin it or one of its ": "-separated parts.
func stripPackages(msg string) string {
	for _, p := range packagePrefixes {
		msg = strings.TrimPrefix(msg, p)
		msg = strings.ReplaceAll(msg, ": "+p, ": ")
		msg = strings.ReplaceAll(msg, "("+p, "(")
	}
	return msg
}

// describe returns err as a user reads it: no Go package prefix, a
// server's error text quoted and bounded, every byte safe for a terminal.
func describe(err error) string {
	var er *spec.ErrorReply
	if errors.As(err, &er) {
		msg := "server says " + clean(er.Code, spec.MaxCodeLen)
		if er.Text != "" {
			msg += ": " + clean(er.Text, maxPeerText)
		}
		return msg
	}
	return clean(stripPackages(err.Error()), maxMessage)
}

// noReply says how a request went unanswered.
func noReply(err error, f spec.Framing) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "the server sent no reply to the request before the timeout (--timeout)"
	case errors.Is(err, syscall.ECONNRESET):
		return "the server reset the connection after the request, without a reply"
	case f == spec.Line:
		return "the server closed the connection after the request, before a complete reply line (ended by LF)"
	}
	return "the server closed the connection after the request, without a reply"
}

// describeGet returns the message for a failed download: describe's, and
// a hint when the failure is what a framing mismatch looks like, or names
// the flag behind a limit.
func describeGet(err error, f spec.Framing) string {
	msg := describe(err)
	var (
		er *spec.ErrorReply
		nr *ref.NoReplyError
		pe *spec.ProtocolError
		tl *ref.TimeLimitError
		re *ref.RateError
	)
	switch {
	case errors.As(err, &tl):
		return msg + " (--max-time)"
	case errors.As(err, &re):
		return msg + " (--speed-limit over --speed-time)"
	case errors.As(err, &nr):
		msg = noReply(err, f)
	}
	switch {
	case errors.As(err, &nr) && f == spec.Lockstep:
		return msg + "; hint: a server of the line framing waits for an LF that a lockstep request never sends: does the server speak --framing line?"
	case errors.As(err, &nr) && f == spec.Line:
		return msg + "; hint: a server of the lockstep framing sends its reply with no LF: does the server speak --framing lockstep (the default)?"
	case errors.As(err, &er) && er.Code == spec.CodeBadRequest && f == spec.Line:
		return msg + "; hint: a server of the lockstep framing takes the request's LF as part of the name: does the server speak --framing lockstep (the default)?"
	case errors.As(err, &pe) && pe.Phase == spec.PhaseReply && f == spec.Lockstep && bytes.ContainsAny(pe.Data, "\r\n"):
		return msg + "; hint: the reply ends with a line terminator: does the server speak --framing line?"
	}
	return msg
}
