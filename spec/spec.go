package spec

import (
	"errors"
	"fmt"
	"strings"
)

// Framing selects how control messages (request, size, error reply, ack)
// are delimited on the wire.
type Framing int

const (
	// Lockstep is the tutorial's framing: control messages carry no
	// terminator and are delimited only by turn-taking. It is the default.
	Lockstep Framing = iota
	// Line ends every control message with LF; CRLF is accepted on input.
	Line
)

// String returns "lockstep" or "line".
func (f Framing) String() string {
	switch f {
	case Lockstep:
		return "lockstep"
	case Line:
		return "line"
	}
	return fmt.Sprintf("Framing(%d)", int(f))
}

// Set parses s as a framing name; it lets a *Framing be a flag.Value.
func (f *Framing) Set(s string) error {
	v, err := ParseFraming(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Framings lists every framing, in a stable order.
var Framings = []Framing{Lockstep, Line}

// ParseFraming returns the framing named s ("lockstep" or "line").
func ParseFraming(s string) (Framing, error) {
	switch strings.ToLower(s) {
	case "lockstep":
		return Lockstep, nil
	case "line":
		return Line, nil
	}
	return 0, fmt.Errorf("spec: unknown framing %q (want lockstep or line)", s)
}

// Limits and fixed texts of the exchange (SPEC.md, "Limits").
const (
	// DigestLen is the length of the digest on the wire: 32 lowercase hex
	// digits of an MD5 sum.
	DigestLen = 32

	// MaxControlLen bounds every control message (request, size, error
	// reply, ack), excluding the line terminator in the line framing. A
	// lockstep decoder reads a control message with one read of at most
	// MaxControlLen bytes, as the tutorial's recv(1024) did.
	MaxControlLen = 1024

	// MaxNameLen bounds a requested name, in bytes: MaxControlLen less the
	// "get " verb.
	MaxNameLen = MaxControlLen - len(RequestVerb)

	// MaxSizeDigits bounds the size field: every int64 fits in 19 digits.
	MaxSizeDigits = 19

	// MaxCodeLen bounds the code of an error reply.
	MaxCodeLen = 32

	// MaxErrorTextLen bounds the human-readable text of an error reply.
	MaxErrorTextLen = 200

	// RequestVerb begins every request.
	RequestVerb = "get "

	// AckText is the acknowledgement a client sends after a size. A server
	// reads one ack and ignores its content.
	AckText = "ready to recv file"

	// ErrorPrefix begins every error reply.
	ErrorPrefix = "ERR "
)

// Error codes carried by an error reply (SPEC.md, "Error reply").
const (
	CodeNotFound   = "not-found"   // no such file under the root
	CodeNotRegular = "not-regular" // a directory, FIFO, device or socket
	CodeForbidden  = "forbidden"   // the name leaves the root
	CodeBadRequest = "bad-request" // the request is malformed
	CodeTooLong    = "too-long"    // the request exceeds MaxControlLen
	CodeUnreadable = "unreadable"  // the file exists but cannot be read
	CodeBusy       = "busy"        // the server is at its connection limit
)

// Codes lists every error code defined by SPEC.md.
var Codes = []string{CodeNotFound, CodeNotRegular, CodeForbidden, CodeBadRequest, CodeTooLong, CodeUnreadable, CodeBusy}

// ErrTooLong reports a control message longer than MaxControlLen.
var ErrTooLong = errors.New("spec: control message too long")

// ErrorReply is a well-formed error reply from a server: "ERR code text".
// A client receives it in place of a size.
type ErrorReply struct {
	Code string // one of the Code constants, or an unknown code
	Text string // human-readable detail; may be empty
}

// Error returns "server says CODE: TEXT".
func (e *ErrorReply) Error() string {
	if e.Text == "" {
		return "server says " + e.Code
	}
	return "server says " + e.Code + ": " + e.Text
}

// Phase names the message a decoder was reading when it failed.
type Phase string

// The phases of the exchange, in order.
const (
	PhaseRequest Phase = "request"
	PhaseReply   Phase = "size"
	PhaseAck     Phase = "ack"
	PhaseData    Phase = "data"
	PhaseDigest  Phase = "digest"
)

// ProtocolError reports bytes that do not match the grammar of the message
// being read. Data holds at most the first 80 bytes of the offending input.
type ProtocolError struct {
	Phase  Phase
	Reason string
	Data   []byte
}

// Error returns "spec: malformed PHASE: REASON (got "...")".
func (e *ProtocolError) Error() string {
	if e.Data == nil {
		return fmt.Sprintf("spec: malformed %s: %s", e.Phase, e.Reason)
	}
	return fmt.Sprintf("spec: malformed %s: %s (got %q)", e.Phase, e.Reason, e.Data)
}

const quoteLimit = 80

func protoErr(p Phase, reason string, data []byte) *ProtocolError {
	if len(data) > quoteLimit {
		data = data[:quoteLimit]
	}
	return &ProtocolError{Phase: p, Reason: reason, Data: append([]byte{}, data...)}
}
