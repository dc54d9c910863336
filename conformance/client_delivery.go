package conformance

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

func init() {
	register(
		&Case{
			ID:           "client/plain",
			Title:        "fetch a 100000-byte file with every message arriving on its own",
			Requirements: []string{"REQ-GEN-4", "REQ-MSG-8", "REQ-LOCK-1", "REQ-LINE-1", "REQ-LINE-5", "REQ-CLI-12", "REQ-CLI-17", "REQ-SEC-11"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientPlain,
		},
		&Case{
			ID:           "client/sticky",
			Title:        "the file's last 672 bytes and the digest arrive in one segment",
			Requirements: []string{"REQ-CLI-2", "REQ-GEN-1", "REQ-GEN-2"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientSticky,
		},
		&Case{
			ID:           "client/split-body",
			Title:        "the data arrives one byte per segment",
			Requirements: []string{"REQ-CLI-16", "REQ-GEN-1"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientSplitBody,
		},
		&Case{
			ID:           "client/split-digest",
			Title:        "the digest arrives as 16 bytes, then 16 more",
			Requirements: []string{"REQ-CLI-3", "REQ-GEN-1"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientSplitDigest,
		},
		&Case{
			ID:           "client/split-size",
			Title:        "the size arrives in two pieces (a hazard in lockstep)",
			Requirements: []string{"REQ-CLI-15", "REQ-LINE-6", "REQ-LOCK-3"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientSplitSize,
		},
		&Case{
			ID:           "client/wrong-digest",
			Title:        "the digest does not match the data",
			Requirements: []string{"REQ-CLI-4", "REQ-CLI-5", "REQ-CLI-12", "REQ-CLI-13"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientWrongDigest,
		},
		&Case{
			ID:           "client/truncated",
			Title:        "the server closes after half the data",
			Requirements: []string{"REQ-CLI-9", "REQ-GEN-5", "REQ-CLI-5", "REQ-CLI-12", "REQ-CLI-13"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientTruncated,
		},
		&Case{
			ID:           "client/error-reply",
			Title:        "the server answers ERR not-found",
			Requirements: []string{"REQ-CLI-7", "REQ-MSG-5", "REQ-CLI-5", "REQ-CLI-12"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientErrorReply,
		},
		&Case{
			ID:           "client/unknown-error",
			Title:        "the server answers an error reply with an unknown code and no text",
			Requirements: []string{"REQ-MSG-7", "REQ-CLI-7", "REQ-CLI-5", "REQ-CLI-12"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientUnknownError,
		},
		&Case{
			ID:           "client/bad-size",
			Title:        "the server's reply is neither a size nor an error reply",
			Requirements: []string{"REQ-CLI-8", "REQ-MSG-4", "REQ-MSG-5", "REQ-CLI-5"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientBadSize,
		},
		&Case{
			ID:           "client/bad-digest",
			Title:        "the digest is the right MD5 in uppercase hex (malformed)",
			Requirements: []string{"REQ-CLI-10", "REQ-MSG-10", "REQ-CLI-5"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientBadDigest,
		},
		&Case{
			ID:           "client/bad-name",
			Title:        "the client is asked for a 1021-byte name, one byte over the limit",
			Requirements: []string{"REQ-CLI-1", "REQ-MSG-2"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientBadName,
		},
		&Case{
			ID:           "client/crlf",
			Title:        "the size line ends with CRLF",
			Requirements: []string{"REQ-LINE-3"},
			Severity:     Must,
			Framings:     []spec.Framing{spec.Line},
			Role:         RoleClient,
			run:          runClientCRLF,
		},
		&Case{
			ID:           "client/empty-file",
			Title:        "fetch an empty file (size 0)",
			Requirements: []string{"REQ-CLI-6"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientEmptyFile,
		},
		&Case{
			ID:           "client/large-file",
			Title:        "fetch an 8 MiB file at full speed",
			Requirements: []string{"REQ-MSG-9", "REQ-LIM-3", "REQ-CLI-2", "REQ-CLI-12"},
			Severity:     Must,
			Role:         RoleClient,
			run:          runClientLargeFile,
		},
	)
}

// stickySize is the file of client/plain and client/sticky, as in SPEC.md
// Appendix A: 100000 is not a multiple of 1024, and its last 672 bytes
// plus the 32-byte digest fit in one 1024-byte read.
const (
	stickySize = 100000
	stickyTail = stickySize % 1024
)

func runClientPlain(ctx context.Context, x *checker) Outcome {
	data := fixture("plain", stickySize)
	s := newClientSession(ctx, x, "plain.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), true); !ok {
		return o
	}
	s.write("data", data)
	s.drain("the data reached the client before the digest was sent")
	s.write("digest", []byte(digestOf(data)))
	s.finish()
	s.noteReset("the connection was reset: the client closed it with bytes still unread")
	o := s.judgeReceived(data, "the size, the data and the digest each reached the client on its own (no coalescing)", "REQ-CLI-12")
	if o.Verdict == Pass && s.stillOn {
		return fail("the client received the file but ended without closing the connection (REQ-CLI-17)")
	}
	if left := s.leftovers(); o.Verdict == Pass && len(left) > 0 {
		return fail("the client received the file but also wrote %s in its working directory: it must write only to {out} (REQ-SEC-11)", strings.Join(left, ", "))
	}
	return o
}

func runClientSticky(ctx context.Context, x *checker) Outcome {
	data := fixture("sticky", stickySize)
	digest := digestOf(data)
	s := newClientSession(ctx, x, "sticky.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), false); !ok {
		return o
	}
	head := len(data) - stickyTail
	s.write("data", data[:head])
	s.drain(fmt.Sprintf("the first %d bytes of data reached the client before the tail", head))
	last := append(append([]byte{}, data[head:]...), digest...)
	s.write(fmt.Sprintf("data tail (%d bytes) and digest (32 bytes) together", stickyTail), last)
	if s.sent() {
		x.logf("kit: the %d bytes left in one segment: the client's next read can return the tail and the digest together", len(last))
	} else if s.werr == nil {
		s.unconfirm("the tail and the digest could not be confirmed to have left in one segment")
	}
	s.finish()
	s.noteReset("the connection was reset: the client closed it with bytes still unread")
	return s.judgeReceived(data, fmt.Sprintf("the last %d bytes of data and the digest reached the client in one segment, after it had read the rest (the sticky packet)", stickyTail), "REQ-CLI-2")
}

func runClientSplitBody(ctx context.Context, x *checker) Outcome {
	data := fixture("split-body", 300)
	s := newClientSession(ctx, x, "split-body.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), false); !ok {
		return o
	}
	confirmed := 0
	for i := range data {
		if s.werr != nil {
			break
		}
		s.conn.SetWriteDeadline(time.Now().Add(x.timeout))
		if _, err := s.conn.Write(data[i : i+1]); err != nil {
			s.werr = err
			x.logf("kit → client: data byte %d: %v", i, err)
			break
		}
		if s.sent() {
			confirmed++
		}
		if !s.pause(bytePace) {
			break
		}
	}
	if s.werr == nil {
		x.logf("kit → client: data as %d one-byte writes, %v apart; %d of them confirmed to have left as a segment of their own", len(data), bytePace, confirmed)
		if confirmed < len(data) {
			s.unconfirm(fmt.Sprintf("only %d of the %d one-byte segments were confirmed to have left alone", confirmed, len(data)))
		}
	}
	s.write("digest", []byte(digestOf(data)))
	s.finish()
	s.noteReset("the connection was reset: the client closed it with bytes still unread")
	return s.judgeReceived(data, fmt.Sprintf("the %d bytes of data left in %d one-byte segments, %v apart", len(data), len(data), bytePace), "REQ-CLI-16")
}

func runClientSplitDigest(ctx context.Context, x *checker) Outcome {
	data := fixture("split-digest", 3000)
	digest := []byte(digestOf(data))
	s := newClientSession(ctx, x, "split-digest.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), false); !ok {
		return o
	}
	s.write("data", data)
	s.write("digest, first 16 bytes", digest[:16])
	s.drain("the first 16 bytes of the digest reached the client before the other 16 were sent")
	if _, closed := s.early(time.Millisecond); closed && s.werr == nil {
		s.note("the client closed the connection after the first 16 bytes of the digest, before the kit sent the other 16: it read only part of the digest (half packet, REQ-CLI-3)")
	}
	s.write("digest, last 16 bytes", digest[16:])
	s.finish()
	s.noteReset("the client closed with up to 16 bytes of the digest unread: it read only part of the digest (half packet, REQ-CLI-3)")
	return s.judgeReceived(data, fmt.Sprintf("the digest reached the client as 16 bytes, then %v later 16 more", catchUp), "REQ-CLI-3")
}

func runClientSplitSize(ctx context.Context, x *checker) Outcome {
	data := fixture("split-size", stickySize)
	s := newClientSession(ctx, x, "split-size.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	size, _ := spec.EncodeSize(x.framing, int64(len(data)))
	first, rest := size[:3], size[3:]
	s.write("size, first piece", first)
	s.drainPause(fmt.Sprintf("the size piece %s reached the client before the rest was sent", quote(first)), 0)
	firstAt := time.Now()
	acked, _ := s.early(catchUp)
	gap := time.Since(firstAt).Round(time.Millisecond)
	if acked {
		x.logf("client → kit: bytes arrived within %v of the first piece of the size, before the rest was sent", catchUp)
	} else {
		x.logf("kit: nothing from the client within %v of the first piece", catchUp)
	}
	s.write("size, rest", rest)
	if o, ok := s.readAck(false); !ok {
		return o
	}
	s.write("data", data)
	s.write("digest", []byte(digestOf(data)))
	s.finish()
	s.noteReset("the connection was reset: the client closed it with bytes still unread")

	sent := fmt.Sprintf("the size %s was sent as %s, then %v later %s", quote(spec.TrimLine(size)), quote(first), gap, quote(rest))
	if acked {
		sent = fmt.Sprintf("the size %s was sent as %s, then %s once the client had answered", quote(spec.TrimLine(size)), quote(first), quote(rest))
	}
	if x.framing == spec.Line {
		o := s.judgeReceived(data, sent, "REQ-CLI-15", "REQ-LINE-6")
		if acked && o.Verdict != Skip && o.Verdict != Inconclusive {
			return fail("the client acknowledged after only %s of the size line %s: it acted on a partial line instead of reading up to LF (half packet, REQ-LINE-6, REQ-CLI-15); %s",
				quote(first), quote(size), o.Detail)
		}
		return o
	}
	// Lockstep: nothing marks where the size ends (HAZARD-FRAG-CONTROL).
	// Only what is forbidden whatever the client read as the size fails:
	// success with a wrong file, or a corrupt file left behind.
	if o, ok := s.exitVerdict("after the split size"); !ok {
		return o
	}
	o := s.judgeReceived(data, sent, "REQ-CLI-12")
	e := &s.exit
	_, statErr := os.Lstat(s.out)
	switch {
	case o.Verdict == Pass:
		return hazard("%s; the client got the file right this time (it read the size after both pieces had arrived, or waited), but in lockstep nothing marks where the size ends, so no client can count on that (HAZARD-FRAG-CONTROL)", sent)
	case e.err == nil || statErr == nil:
		return o
	case acked:
		return hazard("%s; the client took the first piece %s as the whole size and acknowledged at once: in lockstep nothing marks where the size ends, so no client can do better (HAZARD-FRAG-CONTROL); it then %s and left no file, as it must",
			sent, quote(first), e)
	}
	return hazard("%s; the client %s and left no file: in lockstep a fragmented size cannot be survived (HAZARD-FRAG-CONTROL)", sent, e)
}

func runClientWrongDigest(ctx context.Context, x *checker) Outcome {
	data := fixture("wrong-digest", 4096)
	other := append([]byte{}, data...)
	other[len(other)-1] ^= 0xff
	wrong := digestOf(other)
	s := newClientSession(ctx, x, "wrong-digest.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), false); !ok {
		return o
	}
	s.write("data", data)
	x.logf("kit: the data hashes to %s; the kit sends %s instead", digestOf(data), wrong)
	s.write("digest (wrong)", []byte(wrong))
	s.finish()
	return s.judgeRefused("the digest the kit sent does not match the data", data, "REQ-CLI-4", "REQ-CLI-12")
}

func runClientTruncated(ctx context.Context, x *checker) Outcome {
	data := fixture("truncated", stickySize)
	half := len(data) / 2
	s := newClientSession(ctx, x, "truncated.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), false); !ok {
		return o
	}
	s.write("data, first half", data[:half])
	if s.werr == nil {
		if err := s.conn.CloseWrite(); err != nil {
			x.logf("kit: closing its side: %v", err)
		} else {
			x.logf("kit: closed its side of the connection (FIN) after %d of %d bytes of data", half, len(data))
		}
	}
	s.finish()
	return s.judgeRefused(fmt.Sprintf("the kit closed the connection after %d of the %d bytes", half, len(data)), data, "REQ-CLI-9", "REQ-CLI-12")
}

func runClientErrorReply(ctx context.Context, x *checker) Outcome {
	s := newClientSession(ctx, x, "missing.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	s.write("error reply", spec.EncodeError(x.framing, spec.CodeNotFound, "no such file"))
	extra := s.watch()
	s.finish()
	o := s.judgeRefused("the server refused the request with ERR not-found", nil, "REQ-CLI-7", "REQ-CLI-12")
	return noAckAfterRefusal(x, o, extra, "REQ-CLI-7")
}

// noAckAfterRefusal judges what a client sent after an error reply: nothing,
// or (line framing) an ack it had pipelined before the reply arrived.
func noAckAfterRefusal(x *checker, o Outcome, extra []byte, ids ...string) Outcome {
	if extra == nil || o.Verdict != Pass {
		return o
	}
	if x.framing == spec.Line && string(extra) == string(spec.EncodeAck(spec.Line)) {
		return pass("%s; it had sent the ack (allowed only when pipelined before the reply, REQ-LINE-7)", o.Detail)
	}
	return fail("the client sent %s after the error reply: on an error reply it must not send the ack (%s); %s", quote(extra), reqs(ids...), o.Detail)
}

func runClientUnknownError(ctx context.Context, x *checker) Outcome {
	s := newClientSession(ctx, x, "teapot.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	reply := spec.EncodeError(x.framing, "teapot", "")
	s.write("error reply with an unknown code", reply)
	extra := s.watch()
	s.finish()
	o := s.judgeRefused(fmt.Sprintf("the server refused the request with %s, a code the client cannot know", quote(spec.TrimLine(reply))), nil, "REQ-MSG-7", "REQ-CLI-12")
	return noAckAfterRefusal(x, o, extra, "REQ-CLI-7", "REQ-MSG-7")
}

func runClientBadSize(ctx context.Context, x *checker) Outcome {
	s := newClientSession(ctx, x, "bad-size.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	reply := []byte("100000 bytes")
	if x.framing == spec.Line {
		reply = append(reply, '\n')
	}
	s.write("malformed reply", reply)
	extra := s.watch()
	s.finish()
	o := s.judgeRefused(fmt.Sprintf("the reply %s is not a size (digits only, REQ-MSG-4)", quote(spec.TrimLine(reply))), nil, "REQ-CLI-8", "REQ-CLI-12")
	if extra == nil || o.Verdict == Skip || o.Verdict == Inconclusive {
		return o
	}
	return fail("the client answered the malformed reply %s with %s: it must not send the ack, but report failure and close (REQ-CLI-8); %s", quote(spec.TrimLine(reply)), quote(extra), o.Detail)
}

func runClientBadDigest(ctx context.Context, x *checker) Outcome {
	data := fixture("bad-digest", 4096)
	digest := digestOf(data)
	upper := strings.ToUpper(digest)
	if upper == digest {
		return inconclusive("setting up: the fixture's digest %s has no hex letter to put in uppercase", digest)
	}
	s := newClientSession(ctx, x, "bad-digest.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), false); !ok {
		return o
	}
	s.write("data", data)
	s.write("digest in uppercase (malformed)", []byte(upper))
	s.finish()
	return s.judgeRefused(fmt.Sprintf("the digest %s is in uppercase hex, which is malformed (REQ-MSG-10)", upper), data, "REQ-CLI-10")
}

func runClientBadName(ctx context.Context, x *checker) Outcome {
	name := strings.Repeat("n", spec.MaxNameLen+1)
	s := newClientSession(ctx, x, name)
	defer s.close()
	if o, ok := s.launch(); !ok {
		return o
	}
	connected, o, ok := s.acceptConn()
	if !ok {
		return o
	}
	what := fmt.Sprintf("the name is %d bytes, over the limit of %d", len(name), spec.MaxNameLen)
	if connected {
		b, err := s.readControl("request")
		switch {
		case err == nil:
			s.conn.Close()
			s.finish()
			if o, ok := s.exitVerdict("after sending the over-long name"); !ok && o.Verdict != Fail {
				return o
			}
			return fail("the client sent a request with the %d-byte name (%d bytes: %s): it must check the name and report it locally without sending (REQ-CLI-1, REQ-MSG-2)", len(name), len(b), quote(b))
		case isNetTimeout(err):
			return s.endedEarly(fmt.Sprintf("the client connected but neither sent a request nor closed within %v", x.timeout))
		}
		x.logf("kit: the client sent no request (%s)", readWords(err, x.timeout))
	}
	s.finish()
	return s.judgeRefused(what, nil, "REQ-CLI-1")
}

func runClientCRLF(ctx context.Context, x *checker) Outcome {
	data := fixture("crlf", 3000)
	s := newClientSession(ctx, x, "crlf.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	size := []byte(fmt.Sprintf("%d\r\n", len(data)))
	s.write("size line ending in CRLF", size)
	if o, ok := s.readAck(false); !ok {
		if o.Verdict == Fail {
			o.Detail = fmt.Sprintf("the size line %s ended with CRLF, which a receiver must accept as a terminator (REQ-LINE-3): %s", quote(size), o.Detail)
		}
		return o
	}
	s.write("data", data)
	s.write("digest", []byte(digestOf(data)))
	s.finish()
	s.noteReset("the connection was reset: the client closed it with bytes still unread")
	return s.judgeReceived(data, "the size line ended with CRLF", "REQ-LINE-3")
}

func runClientEmptyFile(ctx context.Context, x *checker) Outcome {
	s := newClientSession(ctx, x, "empty.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(0, false); !ok {
		if o.Verdict == Fail {
			o.Detail = "size 0 is a valid size, to be acknowledged like any other (REQ-CLI-6): " + o.Detail
		}
		return o
	}
	s.write("digest of no data", []byte(digestOf(nil)))
	s.finish()
	s.noteReset("the connection was reset: the client closed it with bytes still unread")
	return s.judgeReceived([]byte{}, "size 0, no data, then the digest of nothing", "REQ-CLI-6")
}

func runClientLargeFile(ctx context.Context, x *checker) Outcome {
	data := fixture("large-file", 8<<20)
	s := newClientSession(ctx, x, "large.bin")
	defer s.close()
	if o, ok := s.open(); !ok {
		return o
	}
	if o, ok := s.sendSize(len(data), false); !ok {
		if o.Verdict == Fail {
			o.Detail = "a size of 8 MiB must be accepted: sizes range up to 2^63−1 (REQ-LIM-3): " + o.Detail
		}
		return o
	}
	s.writeData(data, 64<<10)
	s.write("digest", []byte(digestOf(data)))
	s.finish()
	s.noteReset("the connection was reset: the client closed it with bytes still unread")
	return s.judgeReceived(data, "8 MiB of data in 64 KiB writes with the digest right behind", "REQ-MSG-9", "REQ-CLI-2", "REQ-CLI-12")
}
