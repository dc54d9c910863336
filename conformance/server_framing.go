package conformance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about turn-taking and framing: no data before the ack, a
// request that arrives in pieces, an ack sent together with its request.

func init() {
	register(
		&Case{
			ID:           "server/no-data-before-ack",
			Title:        "after the size the kit waits 300 ms before its ack: no data byte may arrive before it",
			Requirements: []string{"REQ-SRV-7", "REQ-LOCK-2"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerNoDataBeforeAck,
		},
		&Case{
			ID: "server/split-request",
			Title: "the request arrives one byte per segment: line framing must serve it; " +
				"in lockstep it is HAZARD-FRAG-CONTROL and the kit reports what the server did",
			Requirements: []string{"REQ-SRV-11", "REQ-LINE-6", "REQ-GEN-1"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerSplitRequest,
		},
		&Case{
			ID:           "server/pipelined-ack",
			Title:        "the ack sent in the same write as the request, behind a served and behind a refused request",
			Requirements: []string{"REQ-SRV-12", "REQ-LINE-4", "REQ-LINE-7"},
			Severity:     Must,
			Framings:     []spec.Framing{spec.Line},
			Role:         RoleServer,
			run:          runServerPipelinedAck,
		},
	)
}

// ackDelay is how long server/no-data-before-ack holds its ack back.
const ackDelay = 300 * time.Millisecond

func runServerNoDataBeforeAck(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/no-data-before-ack")
	defer fx.remove()
	name := fx.name("wait-for-ack.bin")
	data, err := fx.file(name, 65537)
	if err != nil {
		return setupFailed(err)
	}
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	if err := k.request(name); err != nil {
		return fail("%v", err)
	}
	size, er, err := k.reply(name)
	var pe *spec.ProtocolError
	switch {
	case errors.As(err, &pe) && len(pe.Data) > 0 && startsWithSize(pe.Data, len(data)):
		return fail("the server sent data right behind the size, before the kit's ack: the reply read %s (%s: a tutorial-style client takes it all as the size)",
			quote(pe.Data), reqs("REQ-SRV-7", "REQ-LOCK-2"))
	case errors.Is(err, spec.ErrTooLong):
		return fail("the server answered the request with more than %d bytes where only the size was due: data right behind the size, before the kit's ack (%s)",
			spec.MaxControlLen, reqs("REQ-SRV-7", "REQ-LOCK-2"))
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
			len(early), quote(early[:min(len(early), 16)]), ackDelay, reqs("REQ-SRV-7", "REQ-LOCK-2"))
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

// startsWithSize reports whether b begins with the decimal size n followed
// by more bytes: a size glued to the data behind it.
func startsWithSize(b []byte, n int) bool {
	s := strconv.Itoa(n)
	return len(b) > len(s) && string(b[:len(s)]) == s
}

// splitPause separates the one-byte writes of server/split-request, so each
// byte travels in a segment of its own.
const splitPause = time.Millisecond

func runServerSplitRequest(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/split-request")
	defer fx.remove()
	name := fx.name("split.bin")
	data, err := fx.file(name, 4097)
	if err != nil {
		return setupFailed(err)
	}
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	req, err := spec.EncodeRequest(x.framing, name)
	if err != nil {
		return setupFailed(err)
	}
	sent, werr := k.writeBytewise(req)
	if x.framing == spec.Line {
		if werr != nil {
			said := netWords(werr)
			if _, er, err := k.reply(name); er != nil {
				said = "it had answered " + quote(spec.TrimLine(spec.EncodeError(spec.Line, er.Code, er.Text)))
			} else if err != nil {
				said += "; " + err.Error()
			}
			return fail("the request was sent one byte per segment and the server stopped reading after %d of its %d bytes: %s (%s: a line ends only at its LF)",
				sent, len(req), said, reqs("REQ-SRV-11", "REQ-LINE-6", "REQ-GEN-1"))
		}
		if err := k.finish(name, data); err != nil {
			return fail("the request was sent one byte per segment: %v (%s: a line-framing server reads up to the LF however it is split)",
				err, reqs("REQ-SRV-11", "REQ-LINE-6", "REQ-GEN-1"))
		}
		return pass("a request sent as %d one-byte segments was served byte-exact", len(req))
	}
	// Lockstep: nothing marks where a request ends, so no server can
	// survive this. Say what this one did.
	lead := fmt.Sprintf("the request %s went out as %d one-byte segments", quote(req), len(req))
	if werr != nil {
		lead = fmt.Sprintf("the kit sent %d of the %d request bytes one per segment before the server stopped reading (%s)", sent, len(req), netWords(werr))
	}
	const why = "expected in lockstep, where nothing marks the end of a request (HAZARD-FRAG-CONTROL; the line framing removes it)"
	size, er, err := k.reply(name)
	switch {
	case err != nil:
		return hazard("%s; %v: %s", lead, err, why)
	case er != nil:
		return hazard("%s; the server took a fragment as the whole request and answered %s: %s", lead, quote([]byte("ERR "+er.Code+" "+er.Text)), why)
	case size != int64(len(data)):
		return hazard("%s; the server announced %d bytes for a %d-byte file, probably for a fragment of the name: %s", lead, size, len(data), why)
	}
	if err := k.ack(); err != nil {
		return hazard("%s; the server announced the right size but then: %v: %s", lead, err, why)
	}
	if err := k.receive(name, data); err != nil {
		return hazard("%s; the server announced the right size but then: %v: %s", lead, err, why)
	}
	return hazard("%s; the server happened to read the whole request at once and served the file, but with other timing it could not have: %s", lead, why)
}

// writeBytewise sends b one byte per write, pausing between writes, and
// logs it as one line. It returns how many bytes were sent.
func (k *kitConn) writeBytewise(b []byte) (int, error) {
	for i := range b {
		if i > 0 {
			time.Sleep(splitPause) // the pacing is the condition under test
		}
		k.nc.SetWriteDeadline(time.Now().Add(k.timeout))
		if _, err := k.nc.Write(b[i : i+1]); err != nil {
			k.logf("-> %s as one-byte writes: %d bytes sent, then %s", quote(b), i, netWords(err))
			return i, err
		}
	}
	k.nc.SetWriteDeadline(time.Time{})
	k.logf("-> %s (%d bytes) as %d one-byte writes, %v apart", quote(b), len(b), len(b), splitPause)
	return len(b), nil
}

func runServerPipelinedAck(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/pipelined-ack")
	defer fx.remove()
	a, b := fx.name("a.bin"), fx.name("b.bin")
	da, err := fx.file(a, 2049)
	if err != nil {
		return setupFailed(err)
	}
	db, err := fx.file(b, 1000)
	if err != nil {
		return setupFailed(err)
	}
	missing := fx.name("missing.bin")
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()

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
	size, er, err := k.reply(a)
	switch {
	case err != nil:
		return fail("request and ack sent in one write: %v (%s)", err, reqs("REQ-SRV-12"))
	case er != nil:
		return fail("request and ack sent in one write: the server refused `get %s`: %v (%s)", a, er, reqs("REQ-SRV-12"))
	case size != int64(len(da)):
		return fail("request and ack sent in one write: asked for the %d-byte file %q; the server announced %d (%s)", len(da), a, size, reqs("REQ-SRV-12"))
	}
	if err := k.receive(a, da); err != nil {
		return fail("request and ack sent in one write: %v (%s)", err, reqs("REQ-SRV-12"))
	}
	// 2. A refused request with an ack behind it: the server must skip it.
	if err := pipelined(missing); err != nil {
		return fail("%v", err)
	}
	_, er, err = k.reply(missing)
	switch {
	case err != nil:
		return fail("request for a missing file with an ack in the same write: %v (%s)", err, reqs("REQ-SRV-12", "REQ-SRV-4"))
	case er == nil:
		return fail("the server announced a size for %q, which does not exist", missing)
	}
	// 3. The next request must be read as a request, not the skipped ack.
	if err := k.get(b, db); err != nil {
		return fail("after a refused request whose ack was pipelined, the next request failed: %v (%s: the server must skip the ack line)",
			err, reqs("REQ-LINE-4", "REQ-SRV-12"))
	}
	return pass("an ack in the same write as the request was read after a size and skipped after ERR %s", er.Code)
}
