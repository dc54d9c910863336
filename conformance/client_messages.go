package conformance

import (
	"context"

	"github.com/stickykit/stickykit/spec"
)

// Client cases about what the client sends, judged apart from whether
// its transfer succeeds: the ack's exact text. (The request is judged in
// every case, as the session opens; an over-long name in client/bad-name.)

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
