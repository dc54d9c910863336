package conformance

import (
	"context"
	"encoding/hex"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Client cases about the reply: malformed replies a client must refuse
// without an ack (client/bad-size), and error replies it must report as
// what they are, with their code and text (client/error-reply,
// client/unknown-error, client/error-codes). In each the transfer cannot
// succeed: the client must report failure without crashing, close the
// connection and leave nothing at {out}.

// errorRules is the judgement of a client given an error reply: success
// breaks success, a connection left open closes, its report must hold
// words (the code, and a word of the text), and it must end promptly.
func errorRules(success, closes citation, words ...string) clientRules {
	rules := refused(success, closes)
	rules.hangs = cite("REQ-CLI-7")
	what := "the server's code and text"
	if len(words) == 1 {
		what = "the server's code"
	}
	rules.says = &mustSay{what: what, words: words, cites: cite("REQ-CLI-7")}
	return rules
}

// textMarkAt is where the word a client must report lies in a long error
// text: past the 80th octet of any reply (a client that quotes the first
// 80 octets of a reply it calls malformed does not report it), and within
// the first 200 octets of the text, which a client may cut there.
const textMarkAt = 110

// markedText returns an error text of n octets (n > textMarkAt+len(mark))
// holding the word mark at textMarkAt, between spaces.
func markedText(n int, mark string) string {
	const filler = "this error text is long on purpose, so that the word a client must report lies past the 80th octet of the reply; "
	pad := func(k int) string { return strings.Repeat(filler, k/len(filler)+1)[:k] }
	return pad(textMarkAt-1) + " " + mark + " " + pad(n-textMarkAt-len(mark)-1)
}

// mark returns the word of a case's error text a client must report: a
// fixed word for label, found nowhere else.
func (x *clientCheck) mark(label string) string {
	return "mark-" + hex.EncodeToString(x.content(label, 4))
}

// lineOf returns content as a control message of framing f.
func lineOf(f spec.Framing, content string) []byte {
	if f == spec.Line {
		return []byte(content + "\n")
	}
	return []byte(content)
}

// errorRun is one run of a case about an error reply: the kit sends
// reply where the reply is due; what says what it is, and ack what an
// ack after it breaks.
func (x *clientCheck) errorRun(ctx context.Context, name string, reply []byte, what Finding, rules clientRules, ack citation) Outcome {
	return x.session(ctx, name, rules, func(s *clientSession) Outcome {
		s.write("error reply", reply)
		extra := s.watch(nil)
		s.finish()
		o := s.judgeRefused(what, nil)
		return noAckAfterRefusal(x.framing, o, extra, ack)
	})
}

func runClientErrorReply(ctx context.Context, x *clientCheck) Outcome {
	mark := x.mark("text")
	text := markedText(150, mark)
	rules := errorRules(cite("REQ-CLI-7", "REQ-MSG-5", "REQ-CLI-12"), cite("REQ-CLI-17"), spec.CodeNotFound, mark)
	return x.errorRun(ctx, "missing.bin", spec.EncodeError(x.framing, spec.CodeNotFound, text),
		finding("the server refused the request with ERR not-found and a %d-octet text", len(text)), rules, cite("REQ-CLI-7"))
}

func runClientUnknownError(ctx context.Context, x *clientCheck) Outcome {
	rules := errorRules(cite("REQ-MSG-7", "REQ-CLI-12"), cite("REQ-CLI-17"), "teapot")
	rules.hangs = cite("REQ-MSG-7", "REQ-CLI-7")
	reply := spec.EncodeError(x.framing, "teapot", "")
	return x.errorRun(ctx, "teapot.bin", reply, finding("the server refused the request with %s, a code the client cannot know", quote(spec.TrimLine(reply))),
		rules, cite("REQ-CLI-7", "REQ-MSG-7"))
}

// edgeCode is a code of 32 octets that holds the ends of each range of
// the code alphabet: a to z, 0 to 9, and the hyphen.
const edgeCode = "abcdefghijklmnopqrstuvwxyz-01289"

func runClientErrorCodes(ctx context.Context, x *clientCheck) Outcome {
	type edge struct {
		label, code, text string
		sep               bool // a SP after the code, before an empty text
		mark              string
		why               Finding
	}
	valid, msg7 := cite("REQ-MSG-5"), cite("REQ-MSG-7")
	m := func(label string) string { return x.mark(label) }
	longest := spec.MaxControlLen - len(spec.ErrorPrefix+spec.CodeNotFound+" ")
	edges := []edge{
		{label: `a 1-octet code, "x"`, code: "x", mark: m("x")},
		{label: "a code of 32 octets, the most a code may have", code: edgeCode, mark: m("32")},
		{label: `a code with digits, "e404"`, code: "e404", mark: m("e404")},
		{label: `an empty text, "ERR withdrawn "`, code: "withdrawn", sep: true, why: finding("an empty text (%s)", msg7)},
		{label: "a text of 300 octets, more than a server sends", code: spec.CodeNotFound, mark: m("300"),
			text: markedText(300, m("300")), why: finding("a text over 200 octets (%s)", msg7)},
		{label: "a reply of 1,024 octets, the longest a control message may be", code: spec.CodeNotFound, mark: m("1024"),
			text: markedText(longest, m("1024")), why: finding("a text over 200 octets, in a reply of %d octets (%s, %s)", spec.MaxControlLen, msg7, cite("REQ-LIM-1"))},
	}
	var runs []clientRun
	for _, e := range edges {
		if e.mark != "" && e.text == "" {
			e.text = markedText(150, e.mark)
		}
		if e.why.Words == "" {
			e.why = finding("a well-formed error reply (%s)", valid)
		}
		content := spec.ErrorPrefix + e.code
		if e.text != "" || e.sep {
			content += " " + e.text
		}
		words := []string{e.code}
		if e.mark != "" {
			words = append(words, e.mark)
		}
		// Whether it closes the connection is client/error-reply's to judge.
		rules := errorRules(cite("REQ-MSG-7", "REQ-CLI-12"), nil, words...)
		what := finding("the server refused the request with %s: %s", e.label, e.why)
		runs = append(runs, clientRun{what: "with " + e.label, run: func(ctx context.Context) Outcome {
			return x.errorRun(ctx, "edge.bin", lineOf(x.framing, content), what, rules, cite("REQ-CLI-7"))
		}})
	}
	return x.runEach(ctx, runs, "each of %d valid error replies at the edges of the grammar (a code of 1 octet, of 32, with digits; an empty text; a text of 300 octets; a reply of %d octets) was taken as an error reply: no ack, failure reported with the code and text, nothing left at %s",
		len(runs), spec.MaxControlLen, x.outWords())
}

// badReply is one malformed reply of client/bad-size.
type badReply struct {
	label string   // the reply in a few words
	reply string   // what the kit sends where the reply is due, without its LF
	noLF  bool     // line framing: sent without its LF
	end   bool     // the kit ends its stream after it
	why   string   // why it is not a reply
	cites citation // what its being malformed rests on
}

// badReplies are the malformed replies of client/bad-size in framing f.
func badReplies(f spec.Framing) []badReply {
	msg4, msg5, lim1 := cite("REQ-MSG-4"), cite("REQ-MSG-5"), cite("REQ-LIM-1")
	notError := "so it is neither an error reply nor a size"
	rs := []badReply{
		{label: `"100000 bytes"`, reply: "100000 bytes", why: "is not a size: a size is digits only", cites: msg4},
		{label: "20 digits", reply: "12345678901234567890", why: "has 20 digits: a size has at most 19", cites: msg4},
		{label: "2^63", reply: "9223372036854775808", why: "is 2^63: a size is at most 2^63−1", cites: msg4},
		{label: `"01"`, reply: "01", why: "has a leading zero, which only the size 0 may be", cites: msg4},
		{label: `"+5"`, reply: "+5", why: "has a sign, which a size never has", cites: msg4},
		{label: `"-1"`, reply: "-1", why: "has a sign, which a size never has", cites: msg4},
		{label: `"ERR "`, reply: "ERR ", why: "begins with \"ERR \" but has no code, " + notError, cites: msg5},
		{label: `"ERR  text"`, reply: "ERR  no code before this text", why: "begins with \"ERR \" but has no code, " + notError, cites: msg5},
		{label: "a code of 33 octets", reply: "ERR " + edgeCode + "x too long a code", why: "has a code of 33 octets, and a code has at most 32, " + notError, cites: msg5},
		{label: "a code in capitals", reply: "ERR Not-Found no such file", why: "has a code outside [a-z0-9-], " + notError, cites: msg5},
	}
	if f == spec.Lockstep {
		rs = append(rs, badReply{label: "1,100 octets", reply: strings.Repeat("9", 1100), why: "is 1,100 octets long, and a control message has at most 1,024", cites: lim1})
	} else {
		rs = append(rs,
			badReply{label: "a line of 1,025 octets", reply: strings.Repeat("9", spec.MaxControlLen+1), why: "is a line of 1,025 octets, and a control message has at most 1,024", cites: lim1},
			badReply{label: "2,000 octets with no LF", reply: strings.Repeat("9", 2000), noLF: true,
				why: "is 2,000 octets with no LF: a receiver rejects a line as soon as it passes the 1,024-octet limit, without waiting for its LF", cites: cite("REQ-LIM-1", "REQ-LIM-2")},
			badReply{label: `"100" and the end of the stream`, reply: "100", noLF: true, end: true,
				why: "ends with the stream, before its LF: a partial line is no reply", cites: cite("REQ-LINE-6", "REQ-GEN-5")},
		)
	}
	return append(rs, badReply{label: "the end of the stream", end: true, cites: cite("REQ-GEN-5")})
}

func runClientBadSize(ctx context.Context, x *clientCheck) Outcome {
	var runs []clientRun
	var labels []string
	for _, r := range badReplies(x.framing) {
		what := "with the reply " + r.label
		if r.reply == "" {
			what = "when the stream ends where the reply is due"
		}
		runs = append(runs, clientRun{what: what, run: func(ctx context.Context) Outcome { return x.badReplyRun(ctx, r) }})
		labels = append(labels, r.label)
	}
	return x.runEach(ctx, runs, "the client refused each of %d malformed replies or ends of stream (%s): no ack, failure reported, nothing left at %s",
		len(runs), strings.Join(labels, ", "), x.outWords())
}

// emptyDigest is the digest of no data.
var emptyDigest = []byte(digestOf(nil))

// badReplyRun runs the client once against the malformed reply r.
func (x *clientCheck) badReplyRun(ctx context.Context, r badReply) Outcome {
	rules := refused(cite("REQ-CLI-8", "REQ-MSG-5"), cite("REQ-CLI-8"))
	rules.hangs = cite("REQ-CLI-8")
	what := finding("the reply %s %s (%s)", quote([]byte(r.reply)), r.why, r.cites)
	answered := "the malformed reply " + quote([]byte(r.reply))
	if r.reply == "" {
		rules = refused(cite("REQ-GEN-5"), nil)
		rules.hangs = cite("REQ-GEN-5")
		rules.hangWhy = "an end of stream where the reply is due ends the exchange as a failure, but it went on waiting"
		what = finding("the kit ended its stream where the reply was due (%s)", r.cites)
		answered = "the end of the stream"
	}
	return x.session(ctx, "bad-size.bin", rules, func(s *clientSession) Outcome {
		if r.reply != "" {
			b := []byte(r.reply)
			if x.framing == spec.Line && !r.noLF {
				b = append(b, '\n')
			}
			s.write("malformed reply", b)
		}
		var then []byte
		if r.end {
			s.endStream()
		} else {
			then = emptyDigest
		}
		if r.noLF && !r.end {
			// Nothing more will come: a client waiting for the LF waits
			// for ever.
			if sent, closed := s.early(x.timeout); !sent && !closed {
				s.violate(finding("the client neither refused the line nor closed the connection within %v of its 2,000th octet (%s: reject a line as soon as it passes the limit)", x.timeout, cite("REQ-LIM-2")))
				s.endStream()
			}
		}
		extra := s.watch(then)
		s.finish()
		o := s.judgeRefused(what, nil)
		if extra == nil || o.Verdict == Skip || o.Verdict == Inconclusive {
			return o
		}
		return fail("the client answered %s with %s: it must not send the ack, but report failure and close (%s); %s",
			answered, quote(extra), cite("REQ-CLI-8"), o)
	})
}

// endStream ends the kit's side of the connection (FIN), for a client
// that must take what it has as all there is.
func (s *clientSession) endStream() {
	if s.werr != nil {
		return
	}
	if err := s.conn.CloseWrite(); err != nil {
		s.x.logf("kit: closing its side: %v", err)
		return
	}
	s.x.logf("kit: ended its side of the connection (FIN)")
}
