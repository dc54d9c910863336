package conformance

import (
	"fmt"
	"net"

	"time"

	"github.com/stickykit/stickykit/spec"
)

// The last checks of server/makes-room: the limit per address once every
// connection of the address has sent a request, and the connection that
// makes room when none of the address has sent nothing.

// addressFull opens one more connection from the newcomer's address of
// the per-address part, once every connection the kit holds from there
// has sent a request (the one that sent a request, the others their
// names that cannot exist, the newcomer its own): none of them can make
// room, so the server must answer it ERR busy. A server that counts
// fewer connections than it holds, one that made room having freed its
// slot twice, serves it.
func (r *room) addressFull(l limitSeen, pushed *roomConn) Outcome {
	c, o := r.open(l.part.newFrom, true)
	if o.Verdict != "" {
		return o
	}
	busy, err := r.serveNewcomer(c)
	switch {
	case busy != nil:
		return Outcome{}
	case err == nil:
		return fail("%s; connection %d was pushed out and the newcomer served; then each of the %d connections the kit still held from that address had sent a request, and connection %d, from the same address, was served too: the server held %d connections from one address, counting fewer than it held (a connection that made room freed its slot twice?) (%s)",
			l.what(), pushed.n, defaultPerAddr, c.n, defaultPerAddr+1, cite("REQ-LIM-14"))
	}
	return fail("%s; connection %d was pushed out and the newcomer served; then each of the %d connections the kit still held from that address had sent a request, and connection %d, from the same address, was neither served nor answered ERR busy: %v (%s: only when no connection can make room is the newcomer answered ERR busy)",
		l.what(), pushed.n, defaultPerAddr, c.n, err, cite("REQ-LIM-13"))
}

// stuckWait is how long the kit lets pass, once the server has read the
// first octet of each connection's request, before the newcomer of the
// stuck part comes. SPEC.md gives no figure for a connection stuck inside
// a partial request; half a second is five times the reference server's
// (100 ms), and below the shortest first-request timeout REQ-LIM-9 lets a
// server configure (1 s). It is the condition itself (no byte for that
// long), not a wait standing in for an event.
const stuckWait = 500 * time.Millisecond

// stuckPart runs the last part of server/makes-room: from an address of
// its own, 32 connections that each send the first octet of a request and
// no more; once the server has read every octet and stuckWait has passed,
// a newcomer from that address. None has sent nothing, so the oldest,
// stuck inside its partial request, must make room: ERR busy and a close;
// the newcomer must be served, and each of the others, completing its
// request (a name that cannot exist), must get ERR not-found.
func (r *room) stuckPart(from *net.TCPAddr) (string, Outcome) {
	x := r.x
	x.logf("-- stuck: %d connections that each send the first octet of a request and no more, then a newcomer from %s", defaultPerAddr, fromWords(from))
	octet := []byte(spec.RequestVerb[:1])
	var held []*roomConn
	for i := range defaultPerAddr {
		c, o := r.open(from, i == 0)
		if o.Verdict != "" {
			return "", o
		}
		if err := c.k.write(octet); err != nil {
			return "", inconclusive("connection %d (from %s) could not send the first octet of a request before any limit was near: %v", c.n, fromWords(from), err)
		}
		held = append(held, c)
	}
	read := r.allTaken(held)
	if !pause(r.ctx, stuckWait) {
		return "", Outcome{Verdict: Error, Detail: "interrupted"}
	}
	what := fmt.Sprintf("from %s the kit held connections %d to %d, each of which had sent %s, the first octet of a request, and then nothing for %v (%s); connection %d came from the same address, the %d%s from it",
		fromWords(from), held[0].n, held[len(held)-1].n, quote(octet), stuckWait, read, r.made+1, defaultPerAddr+1, ordinal(defaultPerAddr+1))
	wanted := make([]int, len(held))
	for i := range wanted {
		wanted[i] = i
	}
	a, o := r.arrive(held, from, wanted...)
	if o.Verdict != "" {
		return "", o
	}
	busy, nerr, e, pushed := a.busy, a.nerr, a.e, a.pushed
	oldest := held[0]
	switch {
	case busy != nil:
		return "", fail("%s; the newcomer got ERR busy %q, while connection %d, the oldest, was stuck inside a partial request: when no connection of the address has sent nothing, a server should push out the oldest stuck inside a partial request rather than refuse the newcomer (%s)",
			what, busy.Text, oldest.n, cite("REQ-LIM-13"))
	case !pushed:
		return "", fail("%s; the newcomer was %s, and within %v the server pushed out none of the %d connections the kit held from that address (%s)",
			what, newcomerFate(r.newcomer, nerr), x.timeout, len(held), cite("REQ-LIM-13", "REQ-LIM-14"))
	case e.i != 0:
		return "", fail("%s; the server %s connection %d, not connection %d, the oldest stuck inside a partial request (%s)",
			what, e.verb(), held[e.i].n, oldest.n, cite("REQ-LIM-13"))
	case nerr != nil:
		return "", fail("%s; the server pushed out connection %d, the oldest stuck inside a partial request, yet the newcomer was not served: %v (%s: the room made is the newcomer's)",
			what, oldest.n, nerr, cite("REQ-LIM-13"))
	}
	if o := r.judgePushed(what, "the oldest stuck inside a partial request", oldest); o.Verdict != "" {
		return "", o
	}
	if o := r.completeStuck(what, held[1:]); o.Verdict != "" {
		return "", o
	}
	return fmt.Sprintf("%s; connection %d, the oldest, got ERR busy and was closed, the newcomer was %s, and the other %d, completing their requests, got ERR not-found",
		what, oldest.n, r.newcomer.served(), len(held)-1), Outcome{}
}

// newcomerFate says how the newcomer fared, for a detail.
func newcomerFate(p probe, nerr error) string {
	if nerr != nil {
		return fmt.Sprintf("not served (%v)", nerr)
	}
	return p.served()
}

// allTaken waits, each under the timeout, until the server has taken the
// octet every connection of conns sent, and says what it saw, for a
// detail.
func (r *room) allTaken(conns []*roomConn) string {
	for _, c := range conns {
		if what, read := c.k.taken(); !read {
			return what
		}
	}
	return "the server had read each octet: its receive queues were empty"
}

// completeStuck has each of conns, which sent the first octet of a
// request, send the rest, for a name that cannot exist: each must get
// ERR not-found, one newcomer needing room for one.
func (r *room) completeStuck(what string, conns []*roomConn) Outcome {
	x := r.x
	for _, c := range conns {
		name := x.fx.name(fmt.Sprintf("stuck-%d", c.n))
		req, err := spec.EncodeRequest(x.framing, name)
		if err != nil {
			return errored("the kit made an invalid name %q: %v", name, err)
		}
		if err = c.k.write(req[1:]); err == nil {
			err = c.k.notFound(name)
		}
		if err != nil {
			return fail("%s; connection %d, the oldest, was pushed out and the newcomer served; but then connection %d, completing its request for a name that cannot exist, got no ERR not-found: %v (%s: one newcomer needs room for one)",
				what, conns[0].n-1, c.n, err, cite("REQ-LIM-13"))
		}
		c.requested = true
	}
	return Outcome{}
}
