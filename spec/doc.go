// Package spec is the wire format of the stickykit exchange: encoders and
// decoders for every message, in both framings, as SPEC.md defines them.
//
// The exchange, client to server (C) and server to client (S):
//
//	C: get NAME          request
//	S: SIZE              decimal byte count, or an error reply "ERR code text"
//	C: ready to recv file  acknowledgement (only after a SIZE)
//	S: <SIZE bytes>      file content
//	S: 0123...cdef       32 lowercase hex digits: the MD5 of the content
//
// In the lockstep framing the request, size, error reply and ack carry no
// terminator: each is delimited only by turn-taking, and a decoder reads it
// with exactly one bounded read. In the line framing each of them ends with
// LF (CRLF is accepted) and a decoder reads up to the terminator.
//
// In both framings the data is delimited by SIZE and the digest by its fixed
// length. A [Reader] never consumes a byte of the message that follows the
// one it was asked for: the body is read through a limit of exactly SIZE
// bytes and the digest with [io.ReadFull] of [DigestLen] bytes.
package spec
