package conformance

import (
	"context"
	"fmt"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Client cases about what the client sends: the ack's exact text, judged
// apart from whether its transfer succeeds, and the longest valid name,
// which it must send as it is. (The request is judged in every case, as
// the session opens; an over-long name in client/bad-name.)

func runClientAck(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", 1000)
	return x.session(ctx, "ack.bin", clientRules{}, func(s *clientSession) Outcome {
		b, err := spec.EncodeSize(x.framing, int64(len(data)))
		if err != nil {
			return errored("setting up: %v", err)
		}
		s.announce(len(b), len(data))
		s.write("size", b)
		if s.werr != nil {
			return s.endedEarly(finding("the kit could not send the size: %v", s.werr))
		}
		ack, err := s.readControl("ack")
		if err != nil {
			return s.endedEarly(s.noAck(ack, err, ackExact))
		}
		// Whatever the ack said, the kit serves the file, so that the
		// client ends as it would: this case judges the ack alone.
		s.write("data", data)
		s.writeDigest("digest", []byte(digestOf(data)))
		s.finish()
		if o, ok := s.exitVerdict("after the kit's last byte"); !ok && o.Verdict != Fail {
			return o
		}
		if string(ack) != spec.AckText {
			return outcome(Fail, wrongAck(x.framing, ack))
		}
		if x.framing == spec.Line {
			return pass("the client's ack was exactly %q, ended by LF", spec.AckText)
		}
		return pass("the client's ack was exactly %q, with no terminator, in a read of its own", spec.AckText)
	})
}

// longestName is a name of exactly spec.MaxNameLen bytes, the longest a
// client may send: a path of four components, none longer than a file
// name may be (255 bytes).
var longestName = strings.Join([]string{
	strings.Repeat("a", 255), strings.Repeat("b", 255), strings.Repeat("c", 255), strings.Repeat("d", spec.MaxNameLen-3*256),
}, "/")

func runClientLongestName(ctx context.Context, x *clientCheck) Outcome {
	if strings.Contains(x.target.Collect, "{name}") {
		return skip("the client names its output after the name (%s), and a %d-byte name cannot be a file's name", x.target.Collect, len(longestName))
	}
	data := x.content("file", 1000)
	longest := finding("the name is %d bytes, the longest valid name (%s): the client must send it as it is and fetch the file (%s)",
		len(longestName), cite("REQ-MSG-2"), cite("REQ-CLI-1"))
	s := newClientSession(ctx, x, longestName, received(nil, false))
	defer s.close()
	if o, ok := s.open(); !ok {
		if o.Verdict == Fail {
			return fail("%s; %s", longest, o)
		}
		return o
	}
	if o, ok := s.sendSize(len(data), ackAny); !ok {
		return o
	}
	s.write("data", data)
	s.writeDigest("digest", []byte(digestOf(data)))
	return s.withReads(s.received(data, fmt.Sprintf("the client sent the request with the %d-byte name", len(longestName))))
}
