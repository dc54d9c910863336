package conformance

import (
	"context"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Client cases about server faults a client must report: a wrong or
// malformed digest, a truncated transfer, error replies, a malformed size,
// and a name it must refuse to send. In each the transfer cannot succeed;
// the client must report failure, close the connection and leave nothing
// at {out}.

// refused is the judgement of a client that must report failure: success
// breaks success, and a file left breaks REQ-CLI-5; closes is what a
// connection left open breaks.
func refused(success, closes citation) clientRules {
	return clientRules{success: success, kept: cite("REQ-CLI-5"), closes: closes}
}

// refusedDigest is refused, for a case whose digest the client must read
// whole before it can know to refuse the file (REQ-CLI-3).
func refusedDigest(success, closes citation) clientRules {
	r := refused(success, closes)
	r.digest = cite("REQ-CLI-3")
	return r
}

func runClientWrongDigest(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", 4096)
	other := append([]byte{}, data...)
	other[len(other)-1] ^= 0xff
	wrong := digestOf(other)
	return x.session(ctx, "wrong-digest.bin", refusedDigest(cite("REQ-CLI-4", "REQ-CLI-12"), cite("REQ-CLI-13")), func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			return o
		}
		s.write("data", data)
		x.logf("kit: the data hashes to %s; the kit sends %s instead", digestOf(data), wrong)
		s.writeDigest("digest (wrong)", []byte(wrong))
		s.finish()
		return s.judgeRefused(finding("the digest the kit sent does not match the data"), data)
	})
}

func runClientTruncated(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", stickySize)
	half := len(data) / 2
	rules := refused(cite("REQ-CLI-9", "REQ-GEN-5", "REQ-CLI-12"), cite("REQ-CLI-13"))
	rules.hangs = cite("REQ-CLI-9", "REQ-GEN-5")
	rules.hangWhy = "a read that returns 0 bytes is the end of the stream, and must end the transfer as a failure, but it went on reading"
	return x.session(ctx, "truncated.bin", rules, func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
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
		return s.judgeRefused(finding("the kit closed its side of the connection after %d of the %d bytes", half, len(data)), data)
	})
}

func runClientErrorReply(ctx context.Context, x *clientCheck) Outcome {
	rules := refused(cite("REQ-CLI-7", "REQ-MSG-5", "REQ-CLI-12"), cite("REQ-CLI-17"))
	rules.hangs = cite("REQ-CLI-7")
	return x.session(ctx, "missing.bin", rules, func(s *clientSession) Outcome {
		s.write("error reply", spec.EncodeError(x.framing, spec.CodeNotFound, "no such file"))
		extra := s.watch()
		s.finish()
		o := s.judgeRefused(finding("the server refused the request with ERR not-found"), nil)
		return noAckAfterRefusal(x.framing, o, extra, cite("REQ-CLI-7"))
	})
}

func runClientUnknownError(ctx context.Context, x *clientCheck) Outcome {
	rules := refused(cite("REQ-MSG-7", "REQ-CLI-12"), cite("REQ-CLI-17"))
	rules.hangs = cite("REQ-MSG-7", "REQ-CLI-7")
	return x.session(ctx, "teapot.bin", rules, func(s *clientSession) Outcome {
		reply := spec.EncodeError(x.framing, "teapot", "")
		s.write("error reply with an unknown code", reply)
		extra := s.watch()
		s.finish()
		o := s.judgeRefused(finding("the server refused the request with %s, a code the client cannot know", quote(spec.TrimLine(reply))), nil)
		return noAckAfterRefusal(x.framing, o, extra, cite("REQ-CLI-7", "REQ-MSG-7"))
	})
}

func runClientBadSize(ctx context.Context, x *clientCheck) Outcome {
	rules := refused(cite("REQ-CLI-8", "REQ-MSG-5"), cite("REQ-CLI-8"))
	rules.hangs = cite("REQ-CLI-8")
	return x.session(ctx, "bad-size.bin", rules, func(s *clientSession) Outcome {
		reply := []byte("100000 bytes")
		if x.framing == spec.Line {
			reply = append(reply, '\n')
		}
		s.write("malformed reply", reply)
		extra := s.watch()
		s.finish()
		o := s.judgeRefused(finding("the reply %s is not a size (digits only, %s)", quote(spec.TrimLine(reply)), cite("REQ-MSG-4")), nil)
		if extra == nil || o.Verdict == Skip || o.Verdict == Inconclusive {
			return o
		}
		return fail("the client answered the malformed reply %s with %s: it must not send the ack, but report failure and close (%s); %s",
			quote(spec.TrimLine(reply)), quote(extra), cite("REQ-CLI-8"), o)
	})
}

func runClientBadDigest(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", 4096)
	digest := digestOf(data)
	upper := strings.ToUpper(digest)
	if upper == digest {
		return errored("setting up: the fixture's digest %s has no hex letter to put in uppercase", digest)
	}
	return x.session(ctx, "bad-digest.bin", refusedDigest(cite("REQ-CLI-10"), cite("REQ-CLI-13")), func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			return o
		}
		s.write("data", data)
		s.writeDigest("digest in uppercase (malformed)", []byte(upper))
		s.finish()
		return s.judgeRefused(finding("the digest %s is in uppercase hex, which is malformed (%s)", upper, cite("REQ-MSG-10")), data)
	})
}

func runClientBadName(ctx context.Context, x *clientCheck) Outcome {
	name := strings.Repeat("n", spec.MaxNameLen+1)
	s := newClientSession(ctx, x, name, refused(cite("REQ-CLI-1"), nil))
	defer s.close()
	if o, ok := s.launch(); !ok {
		return o
	}
	connected, o, ok := s.acceptConn()
	if !ok {
		return o
	}
	what := finding("the name is %d bytes, over the limit of %d", len(name), spec.MaxNameLen)
	if connected {
		b, err := s.readControl("request")
		switch {
		case err == nil:
			s.conn.Close()
			s.finish()
			if o, ok := s.exitVerdict("after sending the over-long name"); !ok && o.Verdict != Fail {
				return o
			}
			return fail("the client sent a request with the %d-byte name (%d bytes: %s): it must check the name and report it locally without sending (%s)",
				len(name), len(b), quote(b), cite("REQ-CLI-1", "REQ-MSG-2"))
		case isTimeout(err):
			return s.endedEarly(finding("the client connected but neither sent a request nor closed within %v", x.timeout))
		}
		x.logf("kit: the client sent no request (%s)", readWords(err, x.timeout))
	}
	s.finish()
	return s.judgeRefused(what, nil)
}
