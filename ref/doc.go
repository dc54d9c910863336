// Package ref is the reference server and client of the stickykit exchange
// (see package spec and SPEC.md): the implementation every other one is
// measured against.
//
// A [Server] serves the regular files under one root directory, confined
// below it (by the kernel's openat2 on Linux, by [os.Root] elsewhere), one
// goroutine per connection, several requests per connection, in either
// framing. It streams each file through a bounded buffer while hashing it,
// so memory stays flat whatever the file size, and it never sends data
// before it has read the client's acknowledgement. It remembers the digest
// of each version of a file it has sent whole, and sends that version again
// with sendfile, unhashed, as long as the file's metadata shows no change
// before, during and after the transfer (SPEC.md REQ-SRV-18;
// Server.DisableDigestCache turns this off). Its limits keep a crowd of
// idle connections from locking clients out (see admit.go and SPEC.md,
// Limits).
//
// A [Client] downloads files. [Session.Fetch] reads exactly SIZE bytes of
// data and then exactly 32 bytes of digest from one buffered reader per
// connection, so it is immune to the sticky-packet problem; [Session.Get]
// writes to a temporary file and puts it in place only when the digest
// matches, so a failed download never leaves a file behind, and it never
// replaces what is at its destination unless it is a regular file (see
// dest.go).
//
// The errors a client returns can be told apart:
//
//	*spec.ErrorReply          the server refused the request (errors.As)
//	*spec.ProtocolError       the server sent bytes outside the grammar
//	*NoReplyError             the server closed or stayed silent instead of
//	                          replying (a framing mismatch, often)
//	io.ErrUnexpectedEOF       the data or digest was cut short (errors.Is;
//	                          also *spec.TruncatedError)
//	*DigestError              the data does not hash to the server's digest
//	*DestError                the destination is refused (nothing was sent)
//	*SpaceError               the size does not fit (no ack was sent)
//	*TimeLimitError           Client.MaxTime ran out
//	*RateError                the download was slower than Client.MinRate
//	net.Error with Timeout()  the server went silent
//	ErrSessionBroken          an earlier error left the session unusable
package ref

import (
	"errors"
	"time"
)

// Defaults for the zero values of the Server and Client fields. SPEC.md
// (Limits) gives the reason for each.
const (
	DefaultFirstRequestTimeout = 10 * time.Second // Server.FirstRequestTimeout
	DefaultIdleTimeout         = 60 * time.Second // Server.IdleTimeout
	DefaultAckTimeout          = 30 * time.Second // Server.AckTimeout
	DefaultWriteTimeout        = 30 * time.Second // Server.WriteTimeout
	DefaultMaxConns            = 256              // Server.MaxConns
	DefaultMaxPending          = 64               // Server.MaxPending
	DefaultMaxConnsPerAddr     = 32               // Server.MaxConnsPerAddr
	DefaultTimeout             = 30 * time.Second // Client.Timeout

	// DefaultServerMinRate and DefaultServerRateWindow are Server.MinRate
	// and Server.RateWindow: a client that takes less than 16 KiB/s of
	// data (128 kbit/s) over 30 s loses its connection, so that holding a
	// slot costs a peer real reading, not a trickle.
	DefaultServerMinRate    = 16 << 10         // bytes per second
	DefaultServerRateWindow = 30 * time.Second // Server.RateWindow

	// DefaultMinRate and DefaultRateWindow are Client.MinRate and
	// Client.RateWindow: a download that receives less than 1 KiB/s over
	// a whole minute fails. Generous for any real link; it ends a server
	// that trickles a byte just inside Timeout, which would otherwise hold
	// a client for ever.
	DefaultMinRate    = 1 << 10          // bytes per second
	DefaultRateWindow = 60 * time.Second // Client.RateWindow
)

// ErrSessionBroken is returned by a Session after an earlier error other
// than an error reply: the stream may be out of step, so the session
// refuses further requests.
var ErrSessionBroken = errors.New("ref: session unusable after an earlier error")

// DigestError reports data that does not hash to the digest the server sent.
type DigestError struct {
	Name   string // the requested name
	Server string // the digest the server sent
	Local  string // the MD5 of the data received
}

// Error returns "digest mismatch: server sent X, data hashes to Y".
func (e *DigestError) Error() string {
	return "digest mismatch: server sent " + e.Server + ", data hashes to " + e.Local
}
