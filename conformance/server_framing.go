package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about turn-taking and framing: no data before the ack, a
// request that arrives in pieces, an ack sent together with its request,
// line terminators, and a client's end of stream.

// ackDelay is how long server/no-data-before-ack holds its ack back.
const ackDelay = 300 * time.Millisecond

func runServerNoDataBeforeAck(ctx context.Context, x *serverCheck) Outcome {
	name := x.fx.name("wait-for-ack.bin")
	k, fs, a, o := x.opening(ctx, name, sized{"wait-for-ack.bin", 65537})
	if k == nil {
		return o
	}
	defer k.close()
	data, size, er, err := fs[0].data, a.size, a.er, a.err
	var pe *spec.ProtocolError
	switch {
	case errors.As(err, &pe) && len(pe.Data) > 0 && startsWithSize(pe.Data, len(data)):
		return fail("the server sent data right behind the size, before the kit's ack: the reply read %s (%s: a tutorial-style client takes it all as the size)",
			quote(pe.Data), cite("REQ-SRV-7", "REQ-LOCK-2"))
	case errors.Is(err, spec.ErrTooLong):
		return fail("the server answered the request with more than %d bytes where only the size was due: data right behind the size, before the kit's ack (%s)",
			spec.MaxControlLen, cite("REQ-SRV-7", "REQ-LOCK-2"))
	case err != nil:
		return fail("%v", err)
	case er != nil:
		return fail("the server refused `get %s`: %v", name, er)
	case size != int64(len(data)):
		return fail("asked for the %d-byte file %q; the server announced %d", len(data), name, size)
	}
	k.logf("(the kit waits %v before its ack)", ackDelay)
	early, err := k.quiet(ackDelay)
	if len(early) > 0 {
		k.logf("<- %s (%d bytes) before the ack", quote(early), len(early))
		return fail("the server sent %d or more bytes (starting %s) within %v of the size, before the kit's ack (%s)",
			len(early), quote(early[:min(len(early), 16)]), ackDelay, cite("REQ-SRV-7", "REQ-LOCK-2"))
	}
	if err != nil {
		return fail("the server closed the connection %v after the size, while the kit had not yet sent its ack: %s", ackDelay, netWords(err))
	}
	k.logf("<- nothing for %v: good", ackDelay)
	if err := k.ack(); err != nil {
		return fail("%v", err)
	}
	if err := k.receive(name, data); err != nil {
		return fail("after the late ack: %v", err)
	}
	return pass("nothing arrived in the %v before the ack; then the file arrived byte-exact", ackDelay)
}

func runServerSplitRequest(ctx context.Context, x *serverCheck) Outcome {
	p, err := x.probeFile("split.bin", 4097)
	if err != nil {
		return setupFailed(err)
	}
	k, _, o := x.begin(ctx)
	if k == nil {
		return o
	}
	defer k.close()
	name, data := p.name, p.data
	req, err := spec.EncodeRequest(x.framing, name)
	if err != nil {
		return setupFailed(err)
	}
	x.watchRequest(k, req)
	sent, werr := k.writeBytewise(req)
	if x.framing == spec.Lockstep {
		return splitRequestHazard(k, p, req, sent, werr)
	}
	rules := cite("REQ-SRV-11", "REQ-LINE-6", "REQ-GEN-1")
	if werr != nil {
		said := netWords(werr)
		if _, er, err := k.reply(name); er != nil {
			said = "it had answered " + quote(spec.TrimLine(spec.EncodeError(spec.Line, er.Code, er.Text)))
		} else if err != nil {
			said += "; " + err.Error()
		}
		return fail("the request was sent one byte per segment and the server stopped reading after %d of its %d bytes: %s (%s: a line ends only at its LF)",
			sent, len(req), said, rules)
	}
	if p.missing {
		err = k.notFound(name)
	} else {
		err = k.finish(name, data)
	}
	if err != nil {
		return fail("the request was sent one byte per segment: %v (%s: a line-framing server reads up to the LF however it is split)", err, rules)
	}
	if p.missing {
		return pass("a request sent as %d one-byte segments was %s", len(req), p.served())
	}
	return pass("a request sent as %d one-byte segments was served byte-exact", len(req))
}

// splitRequestHazard says what a lockstep server did with a request for p
// that arrived one byte per segment: nothing marks where a lockstep
// request ends, so no server can survive it (HAZARD-FRAG-CONTROL). For a
// name that cannot exist, ERR not-found is what the whole name gets and
// what a fragment of it may get too.
func splitRequestHazard(k *kitConn, p probe, req []byte, sent int, werr error) Outcome {
	name, data := p.name, p.data
	lead := fmt.Sprintf("the request %s went out as %d one-byte segments", quote(req), len(req))
	if p.missing {
		lead = fmt.Sprintf("the request %s, for a name that cannot exist, went out as %d one-byte segments", quote(req), len(req))
	}
	if werr != nil {
		lead = fmt.Sprintf("the kit sent %d of the %d request bytes one per segment before the server stopped reading (%s)", sent, len(req), netWords(werr))
	}
	const why = "expected in lockstep, where nothing marks the end of a request (HAZARD-FRAG-CONTROL; the line framing removes it)"
	size, er, err := k.reply(name)
	switch {
	case err != nil:
		return hazard("%s; %v: %s", lead, err, why)
	case er != nil && p.missing && er.Code == spec.CodeNotFound:
		return hazard("%s; the server answered ERR not-found, which the whole name gets, and a fragment of it may: %s", lead, why)
	case er != nil:
		return hazard("%s; the server took a fragment as the whole request and answered %s: %s", lead, quote([]byte("ERR "+er.Code+" "+er.Text)), why)
	case p.missing:
		return hazard("%s; the server announced %s, for a fragment of the name: %s", lead, count(size, "byte"), why)
	case size != int64(len(data)):
		return hazard("%s; the server announced %s for a %d-byte file, probably for a fragment of the name: %s", lead, count(size, "byte"), len(data), why)
	}
	if err := k.ack(); err != nil {
		return hazard("%s; the server announced the right size but then: %v: %s", lead, err, why)
	}
	if err := k.receive(name, data); err != nil {
		return hazard("%s; the server announced the right size but then: %v: %s", lead, err, why)
	}
	return hazard("%s; the server happened to read the whole request at once and served the file, but with other timing it could not have: %s", lead, why)
}

func runServerPipelinedAck(ctx context.Context, x *serverCheck) Outcome {
	k, fs, o := x.begin(ctx, sized{"a.bin", 2049}, sized{"b.bin", 1000})
	if k == nil {
		return o
	}
	defer k.close()
	a, da, b, db := fs[0].name, fs[0].data, fs[1].name, fs[1].data
	missing := x.fx.name("missing.bin")
	pipelined := func(name string) error {
		req, err := spec.EncodeRequest(x.framing, name)
		if err != nil {
			return err
		}
		return k.write(append(req, spec.EncodeAck(x.framing)...))
	}
	// 1. A served request with its ack in the same write.
	if err := pipelined(a); err != nil {
		return fail("%v", err)
	}
	const both = "request and ack sent in one write"
	size, er, err := k.reply(a)
	switch {
	case err != nil:
		return fail("%s: %v (%s)", both, err, cite("REQ-SRV-12"))
	case er != nil:
		return fail("%s: the server refused `get %s`: %v (%s)", both, a, er, cite("REQ-SRV-12"))
	case size != int64(len(da)):
		return fail("%s: asked for the %d-byte file %q; the server announced %d (%s)", both, len(da), a, size, cite("REQ-SRV-12"))
	}
	if err := k.receive(a, da); err != nil {
		return fail("%s: %v (%s)", both, err, cite("REQ-SRV-12"))
	}
	// 2. A refused request with an ack behind it: the server must skip it.
	if err := pipelined(missing); err != nil {
		return fail("%v", err)
	}
	_, er, err = k.reply(missing)
	switch {
	case err != nil:
		return fail("request for a missing file with an ack in the same write: %v (%s)", err, cite("REQ-SRV-12"))
	case er == nil:
		return fail("the server announced a size for %q, which does not exist", missing)
	}
	// 3. The next request must be read as a request, not the skipped ack.
	if err := k.get(b, db); err != nil {
		return fail("after a refused request whose ack was pipelined, the next request failed: %v (%s: the server must skip the ack line)",
			err, cite("REQ-LINE-4", "REQ-SRV-12"))
	}
	return pass("an ack in the same write as the request was read after a size and skipped after ERR %s", er.Code)
}

func runServerLineEndings(ctx context.Context, x *serverCheck) Outcome {
	k, fs, o := x.begin(ctx, sized{"crlf.bin", 1500}, sized{"lf.bin", 700})
	if k == nil {
		return o
	}
	defer k.close()
	a, da, b, db := fs[0].name, fs[0].data, fs[1].name, fs[1].data
	missing := x.fx.name("missing.bin")

	// 1. A request ending with CRLF, for a file.
	after := fmt.Sprintf("`get %s` ending with CRLF", a)
	l1, o := replyLine(k, spec.RequestVerb+a+"\r\n", after)
	if l1 == nil {
		return o
	}
	if o, ok := servedLine(k, l1, a, after, da); !ok {
		return o
	}
	// 2. Right after the digest, a request for a missing file: the first
	// bytes to arrive must be its reply.
	after = fmt.Sprintf("`get %s` ending with CRLF, sent after a digest", missing)
	l2, o := replyLine(k, spec.RequestVerb+missing+"\r\n", after)
	if l2 == nil {
		return o
	}
	if len(spec.TrimLine(l2)) == 0 {
		return fail("after the digest of %q the server sent %s, a line terminator, before the reply to the next request (%s: the digest carries no terminator)",
			a, quote(l2), cite("REQ-LINE-5"))
	}
	var er *spec.ErrorReply
	if _, err := spec.ParseReply(spec.TrimLine(l2)); !errors.As(err, &er) {
		return fail("the reply to %s is %s, not an error reply (the file does not exist): bytes left over from the digest? (%s)",
			after, quote(l2), cite("REQ-LINE-5"))
	}
	// 3. A request ending with LF, after the error reply.
	after = fmt.Sprintf("`get %s` ending with LF", b)
	l3, o := replyLine(k, spec.RequestVerb+b+"\n", after)
	if l3 == nil {
		return o
	}
	if o, ok := servedLine(k, l3, b, after, db); !ok {
		return o
	}
	return pass("a request ending with CRLF was served and another refused; the replies %s, %s and %s each ended with LF; after each digest the next bytes were the next reply",
		quote(l1), quote(l2), quote(l3))
}

// replyLine sends raw on k and reads the reply line as the server sent it.
// It returns the line, or nil and the outcome that ends the case.
func replyLine(k *kitConn, raw, after string) ([]byte, Outcome) {
	if err := k.write([]byte(raw)); err != nil {
		return nil, fail("%v", err)
	}
	l, err := k.rawLine()
	if err == nil {
		k.logf("<- %s (%d bytes)", quote(l), len(l))
		return l, Outcome{}
	}
	ended := netWords(err)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		ended = netWords(io.EOF)
	}
	k.logf("<- %s, then %s", quote(l), ended)
	switch {
	case errors.Is(err, spec.ErrTooLong):
		return nil, fail("the server sent %s and no LF after %s (%s)", count(len(l), "byte"), after, cite("REQ-LINE-1"))
	case len(l) > 0 && isTimeout(err):
		return nil, fail("the server sent %s after %s, and no LF within %v (%s: every reply ends with a line terminator)",
			quote(l), after, k.timeout, cite("REQ-LINE-1"))
	case len(l) > 0:
		return nil, fail("the server sent %s after %s, then %s, with no LF (%s)", quote(l), after, ended, cite("REQ-LINE-1"))
	case isTimeout(err):
		return nil, fail("the server sent nothing for %v after %s (%s)", k.timeout, after, cite("REQ-LINE-3"))
	}
	return nil, fail("the server ended the connection (%s) without a reply after %s (%s)", ended, after, cite("REQ-LINE-3"))
}

// servedLine checks that the reply line l announces the file data, then
// receives it.
func servedLine(k *kitConn, l []byte, name, after string, data []byte) (Outcome, bool) {
	size, err := spec.ParseReply(spec.TrimLine(l))
	var er *spec.ErrorReply
	switch {
	case errors.As(err, &er):
		return fail("the server refused %s: %s (%s: the CR is part of the terminator, not of the name)",
			after, quote(l), cite("REQ-LINE-3")), false
	case err != nil:
		return fail("the reply to %s, %s, is neither a size nor an error reply (%s)", after, quote(l), cite("REQ-LINE-3")), false
	case size != int64(len(data)):
		return fail("asked for the %d-byte file %q; the server announced %d", len(data), name, size), false
	}
	if err := k.ack(); err != nil {
		return fail("%v", err), false
	}
	if err := k.receive(name, data); err != nil {
		return fail("after %s: %v", after, err), false
	}
	return Outcome{}, true
}

func runServerEndOfStream(ctx context.Context, x *serverCheck) Outcome {
	due, err := x.servedFile("ack-due.bin", 4096)
	if err != nil {
		return setupFailed(err)
	}
	// 1. A client that leaves without sending a byte.
	x.logf("-- a client that ends its stream before sending a byte")
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	what := "a client connected and ended its stream without sending a byte"
	extra, o := x.closedBy(k, what, cite("REQ-GEN-5"))
	if o.Verdict != "" {
		return o
	}
	if len(extra) > 0 {
		return fail("%s; the server sent %s (%s: that client left; close without a reply)", what, quote(extra), cite("REQ-GEN-5"))
	}
	// 2. A client that ends its stream where the ack is due.
	detail := "the server closed without a reply when a client left before a request"
	if due.name == "" {
		detail += "; the kit knows no file the server serves (--root or --file names one), so it did not end its stream where an ack is due"
	} else {
		if o := x.noAckEnd(ctx, due); o.Verdict != "" {
			return o
		}
		detail += ", and sent no data when a client left where its ack was due"
	}
	if x.framing == spec.Lockstep {
		return pass("%s", detail)
	}
	// 3. Line framing: a request line cut short by the end of stream.
	name := due.name
	if name == "" {
		name = x.fx.name("partial.bin")
	}
	more, o := x.partialLineEnd(ctx, name, due.name == "")
	if o.Verdict != "" {
		return o
	}
	return pass("%s; %s", detail, more)
}

// noAckEnd asks for f, then ends the kit's stream where the ack is due:
// the server must send no data. It returns an outcome only when the case
// ends there.
func (x *serverCheck) noAckEnd(ctx context.Context, f servedFile) Outcome {
	x.logf("-- a client that ends its stream where its ack is due")
	k, o := x.announcedFile(ctx, f)
	if k == nil {
		return o
	}
	what := "after the size the kit ended its stream instead of sending its ack"
	extra, o := x.closedBy(k, what, cite("REQ-GEN-5"))
	if o.Verdict != "" {
		return o
	}
	if len(extra) > 0 {
		return fail("%s; the server sent %s anyway (%s): it took the end of stream as an ack, as the tutorial's server does when conn.recv(1024) returns b\"\" (%s: an end of stream where a message is due is a truncation, and no data goes out before an ack)",
			what, count(len(extra), "byte"), quote(extra[:min(len(extra), 16)]), cite("REQ-GEN-5", "REQ-SRV-7"))
	}
	return Outcome{}
}

// closedBy ends the kit's stream on k and waits for the server to close:
// it returns what the server sent before it did. what and ids say what the
// kit did and the rule, for a server that neither replies nor closes.
func (x *serverCheck) closedBy(k *kitConn, what string, ids citation) ([]byte, Outcome) {
	defer k.close()
	if err := k.halfClose(); err != nil {
		return nil, inconclusive("the kit cannot end its stream and go on reading: %v", err)
	}
	extra, _, ok := k.closeWait()
	if !ok && len(extra) == 0 {
		return nil, fail("%s; the server neither replied nor closed the connection within %v (%s)", what, x.timeout, ids)
	}
	return extra, Outcome{}
}

// partialLineEnd sends a request line without its LF, then ends the
// stream: the server must not act on the partial line. missing says name
// cannot exist: an ERR not-found then shows the server looked it up. It
// returns what it saw, for the detail of a PASS.
func (x *serverCheck) partialLineEnd(ctx context.Context, name string, missing bool) (string, Outcome) {
	x.logf("-- a client that ends its stream inside a request line")
	k, err := x.dial(ctx)
	if err != nil {
		return "", cannotConnect(err)
	}
	if err := k.write([]byte(spec.RequestVerb + name)); err != nil {
		k.close()
		return "", fail("%v", err)
	}
	what := fmt.Sprintf("the kit sent `get %s` without its LF and ended its stream", name)
	extra, o := x.closedBy(k, what, cite("REQ-GEN-5", "REQ-LINE-6"))
	if o.Verdict != "" {
		return "", o
	}
	first, _, _ := bytes.Cut(extra, []byte("\n"))
	if _, err := spec.ParseSize(spec.TrimLine(first)); err == nil {
		return "", fail("%s; the server answered %s: it acted on a partial line (%s)", what, quote(extra), cite("REQ-LINE-6", "REQ-GEN-5"))
	}
	var er *spec.ErrorReply
	if _, err := spec.ParseReply(spec.TrimLine(first)); missing && errors.As(err, &er) && er.Code == spec.CodeNotFound {
		return "", fail("%s, a name that cannot exist; the server answered %s: it looked the name up, acting on a partial line (%s)",
			what, quote(extra), cite("REQ-LINE-6", "REQ-GEN-5"))
	}
	if len(extra) > 0 {
		return fmt.Sprintf("a request line cut short by the end of stream got %s and no size", quote(extra)), Outcome{}
	}
	return "a request line cut short by the end of stream was not acted on", Outcome{}
}
