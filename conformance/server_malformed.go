package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about malformed and over-long requests: each must get its
// error reply and a closed connection, and the server must go on serving.

// refusalProbe is a request the server must refuse with an error reply
// and then close the connection after (bad-request, too-long).
type refusalProbe struct {
	what string // what the request is, for a detail: "a name with a NUL byte"
	raw  []byte // its bytes, sent in one write
	code string // the error code due
	// rule is what says the request gets ERR code: cited when the
	// server answers anything else.
	rule citation
	// silent, when set, judges a server that sends nothing at all, in
	// place of the usual finding.
	silent func(timeout string) Outcome
	// other, when set, may judge an error reply with another code
	// before the probe fails it.
	other func(er *spec.ErrorReply) (Outcome, bool)
}

// closingRefusal sends p on a fresh connection and expects a well-formed
// ERR p.code, then the server closing the connection with nothing more.
// It returns the error reply with a PASS.
func (x *serverCheck) closingRefusal(ctx context.Context, p refusalProbe) (Outcome, *spec.ErrorReply) {
	x.logf("-- %s", p.what)
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err), nil
	}
	defer k.close()
	if err := k.write(p.raw); err != nil {
		return fail("%v", err), nil
	}
	size, er, err := k.reply(p.what)
	if err != nil {
		return x.refusalMissing(k, p, err), nil
	}
	if er == nil {
		return fail("the server announced %s for %s, %s: it must refuse it with ERR %s (%s)",
			count(size, "byte"), p.what, quote(p.raw), p.code, p.rule), nil
	}
	if flaw, ids := errorReplyFlaw(er, x.framing); flaw != "" {
		return fail("the server's reply to %s is not a well-formed error reply: %s (%s)", p.what, flaw, ids), nil
	}
	if er.Code != p.code {
		if p.other != nil {
			if o, ok := p.other(er); ok {
				return o, nil
			}
		}
		return fail("the server answered %s with ERR %s, want ERR %s (%s)", p.what, er.Code, p.code, p.rule), nil
	}
	extra, how, closed := k.closeWait()
	switch {
	case len(extra) > 0:
		return fail("after ERR %s the server sent %s more (%s: exactly one reply per request)",
			er.Code, quote(extra), cite("REQ-SRV-4", "REQ-ERR-4")), nil
	case !closed:
		return fail("after ERR %s for %s the server kept the connection open for %v (%s: after %s the stream may be out of step, so the server closes it)",
			er.Code, p.what, x.timeout, cite("REQ-ERR-4"), er.Code), nil
	}
	k.logf("(closed by the server: %s)", how)
	return pass(""), er
}

// refusalMissing judges a probe whose reply never came whole: err is what
// reading it returned.
func (x *serverCheck) refusalMissing(k *kitConn, p refusalProbe, err error) Outcome {
	var pe *spec.ProtocolError
	switch {
	case isTimeout(err) && p.silent != nil:
		return p.silent(x.timeout.String())
	case isTimeout(err):
		return fail("the server sent nothing for %v after %s, %s (%s: it must answer ERR %s, never stay silent)",
			x.timeout, p.what, quote(p.raw), cite("REQ-SRV-4", "REQ-ERR-2"), p.code)
	case errors.As(err, &pe):
		return fail("the server answered %s with %s, which is neither a size nor a well-formed error reply (%s)",
			p.what, quote(pe.Data), cite("REQ-MSG-5", "REQ-MSG-6"))
	case errors.Is(err, spec.ErrTooLong):
		return fail("the server answered %s with more than %d bytes where one error reply was due (%s)",
			p.what, spec.MaxControlLen, cite("REQ-MSG-6", "REQ-LIM-4"))
	}
	return fail("%s after %s, %s (%s: it must answer ERR %s, not close alone)",
		describe(err, x.timeout, "a reply"), p.what, quote(p.raw), cite("REQ-SRV-4", "REQ-ERR-2"), p.code)
}

// errorReplyFlaw says how er breaks the form of an error reply, and the
// requirements that form rests on; "" when it is well formed. The code was
// checked when it was parsed.
func errorReplyFlaw(er *spec.ErrorReply, f spec.Framing) (string, citation) {
	if len(er.Text) > spec.MaxErrorTextLen {
		return fmt.Sprintf("its text is %d octets, over the %d allowed", len(er.Text), spec.MaxErrorTextLen), cite("REQ-MSG-6", "REQ-LIM-4")
	}
	for i := 0; i < len(er.Text); i++ {
		if c := er.Text[i]; c < 0x20 || c == 0x7f {
			why := ""
			if f == spec.Lockstep && (c == '\n' || c == '\r') && i >= len(er.Text)-2 {
				why = ": a lockstep reply carries no terminator"
			}
			return fmt.Sprintf("its text holds the control byte %#02x at offset %d, in %s%s", c, i, quote([]byte(er.Text)), why), cite("REQ-MSG-6")
		}
	}
	return "", nil
}

// badRequests are the probes of server/bad-request in framing f: contents
// of one request, before the line framing's LF. A name in them is made
// unique by the fixtures' prefix p; good is a file that exists.
func badRequests(f spec.Framing, p, good string) []refusalProbe {
	grammar, name := cite("REQ-ERR-1"), cite("REQ-MSG-2", "REQ-ERR-1")
	probes := []refusalProbe{
		{what: "a request that does not begin with \"get \"", raw: []byte("put " + good), rule: grammar},
		{what: "a request with an empty name", raw: []byte("get "), rule: name},
		{what: "a name with a NUL byte", raw: []byte("get " + p + "a\x00b.txt"), rule: name},
		{what: "a name that is not valid UTF-8", raw: []byte("get " + p + "\xff\xfe.txt"), rule: name},
		// Several codes apply; bad-request comes first in the table.
		{what: "a name that is not valid UTF-8 and leaves the root", raw: []byte("get ../" + p + "\xc3.txt"), rule: name},
		{what: "a name with a bare CR inside", raw: []byte("get " + p + "a\rb.txt"), rule: name},
		// The first byte of a name is checked like any other.
		{what: "a name that begins with a NUL byte", raw: []byte("get \x00" + p + "c.txt"), rule: name},
		{what: "a name that begins with a bare CR", raw: []byte("get \r" + p + "d.txt"), rule: name},
	}
	if f == spec.Lockstep {
		// In the line framing an LF there ends the line.
		probes = append(probes, refusalProbe{what: "a name that begins with an LF", raw: []byte("get \n" + p + "e.txt"), rule: name})
	}
	return probes
}

func runServerBadRequest(ctx context.Context, x *serverCheck) Outcome {
	good, err := x.probeFile("good.txt", 1000)
	if err != nil {
		return setupFailed(err)
	}
	probes := badRequests(x.framing, x.fx.name(""), good.name)
	var texts []string
	for _, p := range probes {
		p.code = spec.CodeBadRequest
		if x.framing == spec.Line {
			p.raw = append(p.raw, '\n')
		}
		o, er := x.closingRefusal(ctx, p)
		if o.Verdict != Pass {
			return o
		}
		texts = append(texts, quote([]byte(er.Text)))
	}
	x.logf("-- a well-formed request on a new connection")
	if err := x.fetchProbe(ctx, good); err != nil {
		return fail("after %d malformed requests, a well-formed one on a new connection failed: %v (%s)", len(probes), err, cite("REQ-SRV-16"))
	}
	return pass("%d malformed requests each got ERR bad-request (texts %s) and a closed connection; then a new connection was %s",
		len(probes), strings.Join(texts, ", "), good.served())
}

// keepOpenCodes are the codes after which the connection stays open: the
// replies to a valid request.
var keepOpenCodes = map[string]bool{
	spec.CodeNotFound: true, spec.CodeForbidden: true, spec.CodeNotRegular: true, spec.CodeUnreadable: true,
}

// tooLongProbes are the probes of server/too-long: a 1025-octet request,
// and in the line framing a 2000-octet line without its LF. A request of
// n octets has a name of n-4 octets, so it also breaks REQ-MSG-2;
// too-long comes first in the table (REQ-ERR-1).
func (x *serverCheck) tooLongProbes() []refusalProbe {
	long := func(n int) []byte {
		b := []byte(spec.RequestVerb + x.fx.name("too-long-"))
		return append(b, bytes.Repeat([]byte("a"), n-len(b))...)
	}
	rule := cite("REQ-LIM-1", "REQ-ERR-1")
	first := refusalProbe{what: "a 1025-octet request", raw: long(spec.MaxControlLen + 1), code: spec.CodeTooLong, rule: rule}
	if x.framing == spec.Lockstep {
		// A lockstep server that reads a control message with room for
		// only 1024 octets (REQ-LOCK-4 is a SHOULD) never receives more
		// than the limit: it sees a valid request for a 1020-octet name.
		first.other = func(er *spec.ErrorReply) (Outcome, bool) {
			if !keepOpenCodes[er.Code] {
				return Outcome{}, false
			}
			return inconclusive("the server answered a 1025-octet request with ERR %s, a reply to a valid request: it seems to read "+
				"a lockstep control message with room for only 1024 octets (room for 1025 is a SHOULD of the lockstep framing), so it never receives a message "+
				"over the limit and the limit (%s) cannot be checked here; the line framing can", er.Code, cite("REQ-LIM-1")), true
		}
		return []refusalProbe{first}
	}
	first.raw = append(first.raw, '\n')
	// Without its LF: 1025 octets, the first length past the limit, whose
	// last octet is no CR (a CR could still be followed by the LF of a
	// 1024-octet line), then nothing more; and 2000.
	unended := func(n int) refusalProbe {
		what := fmt.Sprintf("a %d-octet line without its LF", n)
		return refusalProbe{what: what, raw: long(n), code: spec.CodeTooLong, rule: rule,
			silent: func(timeout string) Outcome {
				return fail("the server sent nothing for %s after %s, with nothing more to come: it waits for an LF that may never come (%s: reject an over-long line as soon as the limit is passed)",
					timeout, what, cite("REQ-LIM-2", "REQ-SEC-9"))
			}}
	}
	return []refusalProbe{first, unended(spec.MaxControlLen + 1), unended(2000)}
}

func runServerTooLong(ctx context.Context, x *serverCheck) Outcome {
	good, err := x.probeFile("good.txt", 1000)
	if err != nil {
		return setupFailed(err)
	}
	var detail string
	for i, p := range x.tooLongProbes() {
		o, er := x.closingRefusal(ctx, p)
		if o.Verdict != Pass {
			return o
		}
		if i == 0 {
			detail = fmt.Sprintf("a 1025-octet request got ERR %s %q and a closed connection", er.Code, er.Text)
		} else {
			detail += "; so did " + p.what + ", with nothing more sent"
		}
	}
	x.logf("-- a well-formed request on a new connection")
	if err := x.fetchProbe(ctx, good); err != nil {
		return fail("after an over-long request, a well-formed one on a new connection failed: %v (%s)", err, cite("REQ-SRV-16"))
	}
	return pass("%s; then a new connection was %s", detail, good.served())
}

// longestComponent is the longest name of one file or directory that
// common file systems allow (NAME_MAX): a name longer than that is a path
// of several components.
const longestComponent = 255

// longestName writes the fixture of server/longest-name: a file whose
// name below the root is exactly spec.MaxNameLen (1020) bytes, made of
// directories of 255 bytes (255 + 1 + 255 + 1 + 255 + 1 + 252), so that a
// request for it is the longest valid control message, 1024 octets.
func (x *serverCheck) longestName(n int) (fixture, error) {
	var parts []string
	left := spec.MaxNameLen
	for i := 0; left > 0; i++ {
		size := min(longestComponent, left)
		if left > longestComponent {
			left -= size + 1 // and its "/"
		} else {
			left = 0
		}
		head := fmt.Sprintf("%d-", i+1)
		if i == 0 {
			head = x.fx.name("longest-")
		}
		parts = append(parts, head+strings.Repeat(string(rune('a'+i)), size-len(head)))
	}
	for i := 1; i < len(parts); i++ {
		if err := x.fx.mkdir(strings.Join(parts[:i], "/")); err != nil {
			return fixture{}, err
		}
	}
	name := strings.Join(parts, "/")
	if len(name) != spec.MaxNameLen {
		return fixture{}, fmt.Errorf("the kit made a name of %d bytes, want %d", len(name), spec.MaxNameLen)
	}
	data, err := x.fx.file(name, n)
	return fixture{name, data}, err
}

// longestLabel stands for the 1020-byte name in the details, which would
// not fit on a screen.
const longestLabel = "<the 1020-byte name>"

// longestSend is one way server/longest-name sends the longest request:
// first in one write, then (when not nil) the rest in a later write, once
// the server has taken the first.
type longestSend struct {
	what        string
	first, rest []byte
	rules       citation // what says the server must take the request so sent
}

// longestSends are the ways server/longest-name sends the request for
// name in framing f.
func longestSends(f spec.Framing, name string) []longestSend {
	req := []byte(spec.RequestVerb + name)
	base := cite("REQ-MSG-2", "REQ-LIM-1")
	if f == spec.Lockstep {
		return []longestSend{{what: "in one write", first: req, rules: base}}
	}
	line := func(end string) []byte { return append(bytes.Clone(req), end...) }
	return []longestSend{
		{what: "ending with LF", first: line("\n"), rules: base},
		{what: "ending with CRLF in one segment", first: line("\r\n"), rules: cite("REQ-MSG-2", "REQ-LIM-1", "REQ-LINE-3")},
		{what: "ending with CR, its LF in a later segment", first: line("\r"), rest: []byte("\n"),
			rules: cite("REQ-MSG-2", "REQ-LIM-1", "REQ-LINE-3", "REQ-LINE-6")},
	}
}

func runServerLongestName(ctx context.Context, x *serverCheck) Outcome {
	f, err := x.longestName(3001)
	if err != nil {
		return setupFailed(err)
	}
	var split string
	sends := longestSends(x.framing, f.name)
	for _, s := range sends {
		x.logf("-- the longest request (a %d-byte name, %d octets) %s", spec.MaxNameLen, spec.MaxControlLen, s.what)
		o, saw := x.longestOnce(ctx, f, s)
		if o.Verdict != "" {
			return o
		}
		if saw != "" {
			split = saw
		}
	}
	if x.framing == spec.Lockstep {
		return pass("a request for a %d-byte name (%d octets, the longest valid request), in one write, was served byte-exact", spec.MaxNameLen, spec.MaxControlLen)
	}
	return pass("the longest valid request (a %d-byte name, %d octets) was served byte-exact ending with LF, with CRLF in one segment, and with its CR and LF in separate segments (%s)",
		spec.MaxNameLen, spec.MaxControlLen, split)
}

// longestOnce sends the request for f as s says on a fresh connection and
// expects f byte-exact. It returns an outcome when the case ends there,
// and, for a request sent in two writes, what the kit saw in between.
func (x *serverCheck) longestOnce(ctx context.Context, f fixture, s longestSend) (Outcome, string) {
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err), ""
	}
	defer k.close()
	if err := k.write(s.first); err != nil {
		return fail("%v", err), ""
	}
	var saw string
	if s.rest != nil {
		var read bool
		saw, read = k.taken()
		k.logf("(kit: %s)", saw)
		if read {
			saw = "the server had read the first before the LF was sent"
		}
		if err := k.write(s.rest); err != nil {
			k.logf("(the LF could not be sent: %s)", netWords(err))
		}
	}
	what := fmt.Sprintf("the longest valid request %s (`get` and a %d-byte name, %d octets)", s.what, spec.MaxNameLen, spec.MaxControlLen)
	size, er, err := k.reply(longestLabel)
	switch {
	case er != nil && er.Code == spec.CodeTooLong:
		return fail("%s got ERR too-long: a name of %d bytes is valid and a request of %d octets within the limit (%s)",
			what, spec.MaxNameLen, spec.MaxControlLen, s.rules), ""
	case er != nil:
		return fail("%s, for a file that exists, got ERR %s %q (%s)", what, er.Code, er.Text, s.rules), ""
	case err != nil:
		return fail("%s: %v (%s)", what, err, s.rules), ""
	case size != int64(len(f.data)):
		return fail("%s: the server announced %s for the %d-byte file (%s)", what, count(size, "byte"), len(f.data), cite("REQ-SRV-1")), ""
	}
	if err := k.ack(); err != nil {
		return fail("%v", err), ""
	}
	if err := k.receive(longestLabel, f.data); err != nil {
		return fail("%s: %v (%s)", what, err, cite("REQ-SRV-1")), ""
	}
	return Outcome{}, saw
}
