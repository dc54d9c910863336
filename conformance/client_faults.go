package conformance

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Client cases about server faults a client must report: a wrong or
// malformed digest, a truncated transfer, and a name it must refuse to
// send (the replies it must refuse or report are client_replies.go's).
// In each the transfer cannot succeed; the client must report failure,
// close the connection and leave nothing at {out}.

// refused is the judgement of a client that must report failure: success
// breaks success, a file left breaks REQ-CLI-5, and a crash REQ-CLI-18;
// closes is what a connection left open breaks.
func refused(success, closes citation) clientRules {
	return clientRules{success: success, kept: cite("REQ-CLI-5"), closes: closes, crash: cite("REQ-CLI-18")}
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
	rules := refused(cite("REQ-CLI-9", "REQ-GEN-5", "REQ-CLI-12"), cite("REQ-CLI-13"))
	rules.hangs = cite("REQ-CLI-9", "REQ-GEN-5")
	rules.hangWhy = "a read that returns 0 bytes is the end of the stream, and must end the transfer as a failure, but it went on reading"
	var runs []clientRun
	for _, t := range truncations(x, len(data)) {
		runs = append(runs, clientRun{what: t.what, run: func(ctx context.Context) Outcome { return x.truncatedRun(ctx, data, t.cut, rules, nil) }})
	}
	return x.runEach(ctx, runs, "the client reported failure and left nothing at %s each time the kit ended its stream early (%s)", x.outWords(), truncationWords(x, len(data)))
}

// truncation is where the kit ends its stream in a case about
// truncations: after cut bytes of data (all of them: right before the
// digest), and what the client's report of it must count.
type truncation struct {
	what   string
	cut    int
	counts []string // the numbers a report of it gives (REQ-ERR-8)
}

// truncations are the ends of stream of the truncation cases for a file
// of size bytes: inside the data, and (with a digest) right before it.
func truncations(x *clientCheck, size int) []truncation {
	half := size / 2
	ts := []truncation{{what: fmt.Sprintf("when the stream ends after %d of the %d bytes of data", half, size), cut: half,
		counts: []string{strconv.Itoa(half), strconv.Itoa(size)}}}
	if x.digest != spec.DigestNone {
		ts = append(ts, truncation{what: "when the stream ends right before the digest", cut: size,
			counts: []string{"0", strconv.Itoa(spec.DigestLen)}})
	}
	return ts
}

// truncationWords lists where the truncation cases end the stream.
func truncationWords(x *clientCheck, size int) string {
	ts := truncations(x, size)
	w := make([]string, len(ts))
	for i, t := range ts {
		w[i] = strings.TrimPrefix(t.what, "when the stream ends ")
	}
	return strings.Join(w, "; ")
}

// truncatedRun runs the client once: the kit sends the size, the first
// cut bytes of data and no more, and ends its stream. With say it judges
// only the client's report of the failure (judgeReport).
func (x *clientCheck) truncatedRun(ctx context.Context, data []byte, cut int, rules clientRules, say *mustSay) Outcome {
	return x.session(ctx, "truncated.bin", rules, func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			return o
		}
		if cut > 0 {
			s.write("data, first part", data[:cut])
		}
		s.endStream()
		s.finish()
		what := finding("the kit closed its side of the connection after %d of the %d bytes", cut, len(data))
		if cut == len(data) {
			what = finding("the kit closed its side of the connection after all %d bytes of data, before the digest", len(data))
		}
		if say != nil {
			return s.judgeReport(what, say)
		}
		return s.judgeRefused(what, data)
	})
}

func runClientTruncationReport(ctx context.Context, x *clientCheck) Outcome {
	if x.target.IgnoreStatus {
		return skip("the client's report is not judged: its exit status is ignored (--ignore-status)")
	}
	data := x.content("file", stickySize)
	var runs []clientRun
	for _, t := range truncations(x, len(data)) {
		say := &mustSay{what: "how much arrived of how much (the counts of the truncation)", words: t.counts, cites: cite("REQ-ERR-8")}
		runs = append(runs, clientRun{what: t.what, run: func(ctx context.Context) Outcome {
			return x.truncatedRun(ctx, data, t.cut, clientRules{}, say)
		}})
	}
	return x.runEach(ctx, runs, "the client reported each truncation with its counts (%s)", truncationWords(x, len(data)))
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
