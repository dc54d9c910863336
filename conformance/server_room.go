package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// server/makes-room: how a server makes room for a newcomer. A connection
// whose client has sent nothing costs that client nothing to open and
// hold; a server SHOULD keep a budget of such connections (REQ-LIM-12,
// default 64) and a limit per address (REQ-LIM-14, default 32), and at
// either limit push out the oldest connection whose client has sent
// nothing (of the newcomer's address, for the per-address limit),
// answering it ERR busy, rather than refuse the newcomer; a connection
// whose request has arrived never makes room (REQ-LIM-13). The case has
// three parts, run in turn against the same server:
//
//	per address  one connection that sends nothing, from an address of its
//	             own; then from the neighbouring address (the two share a
//	             /31): a connection that sends a request (for a fixture:
//	             the size is announced, the kit holds back its ack), 31
//	             that send nothing, and a 33rd.
//	budget       from three more addresses, at most 22 from each: one
//	             connection that sends a request and 64 that send nothing;
//	             then a newcomer from a fourth.
//	stuck        (line framing) from a sixth address, 32 connections that
//	             each send the first octet of a request and no more; once
//	             the server has read them and stuckWait has passed, a 33rd.
//
// In the first two parts the oldest connection of the newcomer's address
// (per address) or of all (budget) that sent nothing must get ERR busy and
// a close; the newcomer must be served; the connection that sent a request
// must still be served, byte-exact. Then every other connection that sent
// nothing asks for a name that cannot exist and must get ERR not-found:
// one newcomer needs room for one. So none of them waits for its first
// request any more when the budget part begins. In the per-address part,
// every connection of the address having then sent a request, one more
// from it must get ERR busy: a server that counts fewer connections than
// it holds serves it. In the stuck part no connection has sent nothing,
// so the oldest stuck inside its partial request must go, and the others,
// completing their requests, must be answered.
//
// The limits are checked at their defaults, as server/default-limit checks
// the connection limit's: a server configured with a larger budget or a
// larger limit per address pushes out none, one configured with a smaller
// one pushes out more than one, and both fail this SHOULD case by design
// (no client can tell a configured limit from a wrong one).
//
// The age of a connection is the order in which the server accepted it.
// The kit opens each connection only once the server has taken the one
// before from its listen queue (where the kit can see the server's socket:
// a server on this host, on Linux), so that no server, however it
// accepts, can take them in another order. No wait is timed: the kit
// waits for the kernel's word, and for the ERR busy itself, each under its
// per-operation timeout. Without a root, names that cannot exist stand in
// for the fixtures: ERR not-found shows a request has arrived and the
// server still answers.

// The defaults of SPEC.md that server/makes-room checks.
const (
	defaultPerAddr = 32 // REQ-LIM-14
	defaultPending = 64 // REQ-LIM-12
)

// roomRuns counts the runs of server/makes-room in this process. Each
// connects from addresses of its own, 127.0.N.2 to 127.0.N.8 with N from 3
// on: apart from those of the cases about the connection limit (127.0.0.x)
// and from those of the run before against the same server, so that no
// connection the server has yet to release counts against them.
var roomRuns atomic.Uint32

// roomBase returns the first address the next run of server/makes-room
// connects from.
func roomBase() netip.Addr {
	n := roomRuns.Add(1) - 1
	return netip.AddrFrom4([4]byte{127, 0, byte(3 + n%200), 2})
}

// roomConn is a connection server/makes-room holds.
type roomConn struct {
	k         *kitConn
	n         int          // its number among the case's connections
	from      *net.TCPAddr // nil: the system's choice
	at        time.Time    // when it connected
	requested bool         // it sent a request, and the server answered it
}

// room is the run of server/makes-room.
type room struct {
	x   *serverCheck
	ctx context.Context
	src *sources
	// see says the kit sees when the server accepts a connection.
	see bool
	// held is what the connection that sends a request asks for;
	// newcomer, what each newcomer asks for.
	held, newcomer probe
	made           int
	conns          []*roomConn // every connection, for close
}

// roomPart is one part of server/makes-room.
type roomPart struct {
	name    string         // for the log
	froms   []*net.TCPAddr // where its held connections come from, in turn
	each    int            // held connections from each of froms, at most
	silent  int            // held connections that send nothing
	newFrom *net.TCPAddr   // the newcomer's address
	// other, when not nil, is where a silent connection older than all
	// the others comes from: of another address, it may not make room at
	// the limit per address.
	other *net.TCPAddr
}

func runServerMakesRoom(ctx context.Context, x *serverCheck) Outcome {
	held, err := x.probeFile("requested.bin", 300000)
	if err != nil {
		return setupFailed(err)
	}
	newcomer, err := x.probeFile("newcomer.bin", 100000)
	if err != nil {
		return setupFailed(err)
	}
	src := newSources(x.addr)
	if src.spread {
		src.next = roomBase()
	}
	r := &room{x: x, ctx: ctx, src: src, see: acceptVisible(x.addr), held: held, newcomer: newcomer}
	defer r.close()
	if !r.see {
		x.logf("kit: it cannot see when the server accepts a connection here; it opens them one after another")
	}
	// The newcomer's address and the bystander's are neighbours, 127.0.N.2
	// and 127.0.N.3: a server that counts its limit per address over a
	// wider prefix (a /31, a /24) counts them as one.
	one := src.fresh()
	var other *net.TCPAddr
	if src.spread {
		other = src.fresh()
	}
	per := roomPart{name: "per address", froms: []*net.TCPAddr{one}, each: defaultPerAddr, silent: defaultPerAddr - 1, newFrom: one, other: other}
	first, o := r.part(per)
	if o.Verdict != "" {
		return o
	}
	if !src.spread {
		return inconclusive("%s; the kit could connect from one address only, so it could not hold %d connections that sent nothing from addresses each below the limit of %d, and did not check the budget for them (%s)",
			first, defaultPending, defaultPerAddr, cite("REQ-LIM-12"))
	}
	// One connection that sends a request and 64 that send nothing, 22
	// at most from each of three addresses: none near the limit per
	// address.
	budget := roomPart{name: "budget", froms: []*net.TCPAddr{src.fresh(), src.fresh(), src.fresh()}, each: 22, silent: defaultPending, newFrom: src.fresh()}
	second, o := r.part(budget)
	if o.Verdict == Fail {
		return fail("%s; the per-address part passed: %s", o, first)
	}
	if o.Verdict != "" {
		return o
	}
	if x.framing != spec.Line {
		// One read is one whole message (REQ-LOCK-3): a request
		// is never partial, and the first octet of one is a
		// malformed request.
		return pass("per address: %s; budget: %s; (in the lockstep framing no request is ever partial, so the kit did not check which connection makes room when none of an address has sent nothing)", first, second)
	}
	third, o := r.stuckPart(src.fresh())
	if o.Verdict == Fail {
		return fail("%s; the other parts passed: per address: %s; budget: %s", o, first, second)
	}
	if o.Verdict != "" {
		return o
	}
	return pass("per address: %s; budget: %s; stuck: %s", first, second, third)
}

// close closes every connection of the case.
func (r *room) close() {
	for _, c := range r.conns {
		c.k.close()
	}
}

// part runs one part of the case: the connection that sends a request and
// the silent ones, then the newcomer. It returns what it saw, for a PASS,
// or an outcome that ends the case.
func (r *room) part(p roomPart) (string, Outcome) {
	x := r.x
	x.logf("-- %s: a connection that sends a request, %d that send nothing, then a newcomer from %s",
		p.name, p.silent, fromWords(p.newFrom))
	var bystander *roomConn
	if p.other != nil {
		c, o := r.open(p.other, true)
		if o.Verdict != "" {
			return "", o
		}
		bystander = c
	}
	var held []*roomConn
	for i := range 1 + p.silent {
		c, o := r.open(p.froms[i/p.each], i == 0)
		if o.Verdict != "" {
			return "", o
		}
		if i == 0 {
			if err := r.begin(c); err != nil {
				return "", inconclusive("connection %d (from %s) sent a request before any limit was near: %v; the kit needs a connection whose request the server answered",
					c.n, fromWords(c.from), err)
			}
			c.requested = true
		}
		held = append(held, c)
	}
	x.logf("kit: holds connections %d to %d; connection %d sent a request, the others nothing", held[0].n, held[len(held)-1].n, held[0].n)
	watched := held
	if bystander != nil {
		watched = append(slices.Clip(held), bystander)
	}
	// The oldest that sent nothing must go; the one that sent a request
	// never. The kit waits for either, not for the first to be heard: a
	// server whose limit is below the default pushes out others too. A
	// newcomer refused says enough.
	a, o := r.arrive(watched, p.newFrom, 0, 1, len(held))
	if o.Verdict != "" {
		return "", o
	}
	nc, busy, nerr, e, pushed := a.nc, a.busy, a.nerr, a.e, a.pushed
	lim := limitSeen{part: p, held: held, nc: nc, room: r, bystander: bystander}
	var ev event
	if pushed {
		ev = event{c: watched[e.i], e: e}
	}
	if o := lim.judge(busy, nerr, ev, a.heard); o.Verdict != "" {
		return "", o
	}
	if o := r.judgePushed(lim.what(), "the oldest that had sent nothing", ev.c); o.Verdict != "" {
		return "", o
	}
	if err := r.end(held[0]); err != nil {
		return "", fail("%s; connection %d was pushed out and the newcomer served, but then connection %d, whose request had arrived before, was no longer served: %v (%s: a connection whose request has arrived never makes room)",
			lim.what(), ev.c.n, held[0].n, err, cite("REQ-LIM-13"))
	}
	if o := r.stillServed(lim, ev.c); o.Verdict != "" {
		return "", o
	}
	full := ""
	if lim.perAddr() {
		if o := r.addressFull(lim, ev.c); o.Verdict != "" {
			return "", o
		}
		full = fmt.Sprintf("; then, with all %d connections of the address after a request, a newcomer from it got ERR busy", defaultPerAddr)
	}
	return fmt.Sprintf("%s; connection %d, the oldest that had sent nothing, got ERR busy and was closed, the newcomer was %s, connection %d was still %s, and every other connection still answered%s",
		lim.what(), ev.c.n, r.newcomer.served(), held[0].n, r.held.served(), full), Outcome{}
}

// arrival is what became of a newcomer: the connection; the ERR busy
// that refused it, or what went wrong serving it; and the connection
// among those wanted on which the server sent something or which it
// ended (e, when pushed), and all such among those watched (heard).
type arrival struct {
	nc     *roomConn
	busy   *spec.ErrorReply
	nerr   error
	e      heard
	pushed bool
	heard  []*roomConn
}

// arrive watches the connections watched, opens the newcomer from
// from and has it ask for its file; unless it was refused, it waits, at
// most the timeout, for the server to send something on, or end, one of
// those wanted (indices among watched).
func (r *room) arrive(watched []*roomConn, from *net.TCPAddr, wanted ...int) (arrival, Outcome) {
	w := startWatch(r.ctx, watched)
	nc, o := r.open(from, true)
	if o.Verdict != "" {
		w.stop()
		return arrival{}, o
	}
	a := arrival{nc: nc}
	a.busy, a.nerr = r.serveNewcomer(nc)
	if a.busy == nil {
		a.e, a.pushed = w.until(r.x.timeout, wanted...)
	}
	w.stop()
	a.heard = w.heardFrom()
	return a, Outcome{}
}

// open makes connection n+1 from from and waits, where the kit can see
// it, until the server has accepted it. loud says to log it in full.
func (r *room) open(from *net.TCPAddr, loud bool) (*roomConn, Outcome) {
	x := r.x
	r.made++
	n := r.made
	logf := quietLog
	if loud {
		logf = func(format string, a ...any) { x.logf("connection %d: %s", n, fmt.Sprintf(format, a...)) }
	}
	k, err := x.dialFrom(r.ctx, from, logf)
	switch {
	case err == nil:
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return nil, errored("the kit could not make connection %d: %v", n, err)
	case n == 1:
		return nil, cannotConnect(err)
	default:
		return nil, inconclusive("with %s held, connection %d (from %s) could not connect: %v (server/conn-limit judges a server that leaves connections unanswered)",
			count(n-1, "connection"), n, fromWords(from), err)
	}
	c := &roomConn{k: k, n: n, from: from, at: time.Now()}
	r.conns = append(r.conns, c)
	if !r.awaitAccepted(c) {
		return nil, inconclusive("connection %d (from %s) was still in the server's listen queue %v after it connected, with %s held: the server did not accept it, and the kit cannot go on (a server that serves one connection at a time leaves the others there, which server/concurrent judges; server/conn-limit judges one that leaves connections unanswered)",
			n, fromWords(from), x.timeout, count(n-1, "connection"))
	}
	return c, Outcome{}
}

// awaitAccepted waits, at most the timeout, until the server has taken c
// from its listen queue, or has ended it. It reports false when the time
// ran out; true at once where the kit cannot see.
func (r *room) awaitAccepted(c *roomConn) bool {
	tc, ok := c.k.nc.(*net.TCPConn)
	if !r.see || !ok {
		return true
	}
	var err error
	done := pollUntil(r.ctx, time.Now().Add(r.x.timeout), func() bool {
		var acc bool
		if acc, _, err = serverAccepted(tc); acc || err != nil {
			return true
		}
		gone, gerr := peerEnded(tc)
		return gone || gerr != nil
	})
	if err != nil {
		r.see = false
		r.x.logf("kit: it can no longer see when the server accepts a connection (%v)", err)
	}
	return done || r.ctx.Err() != nil
}

// begin sends the request of the connection that sends one: for a
// fixture, the size must be announced (the kit then holds back its ack);
// for a name that cannot exist, ERR not-found must come.
func (r *room) begin(c *roomConn) error {
	p := r.held
	if err := c.k.request(p.name); err != nil {
		return err
	}
	if p.missing {
		return c.k.notFound(p.name)
	}
	size, er, err := c.k.reply(p.name)
	if err == nil {
		err = announces(p.name, p.data, size, er)
	}
	if err == nil {
		c.k.logf("(the kit holds back its ack)")
	}
	return err
}

// end finishes what begin began: the ack, and the file byte-exact; or
// another name that cannot exist, answered ERR not-found.
func (r *room) end(c *roomConn) error {
	p := r.held
	if p.missing {
		return c.k.getProbe(p)
	}
	c.k.logf("(the kit sends its ack at last)")
	if err := c.k.ack(); err != nil {
		return err
	}
	return c.k.receive(p.name, p.data)
}

// stillServed has every connection of the part that sent nothing, but
// pushed, the one pushed out, send a request for a name that cannot exist
// and read the reply: each must get ERR not-found. A connection pushed out
// too would have its ERR busy, or its end, come first: the server decided
// when the connections came. So none waits for its first request any more
// when the next part begins.
func (r *room) stillServed(l limitSeen, pushed *roomConn) Outcome {
	x := r.x
	conns := slices.Clone(l.held[1:])
	if l.bystander != nil {
		conns = append(conns, l.bystander)
	}
	var gone []*roomConn
	var first error
	for _, c := range conns {
		if c == pushed {
			continue
		}
		name := x.fx.name(fmt.Sprintf("still-%d", c.n))
		err := c.k.request(name)
		if err == nil {
			err = c.k.notFound(name)
		}
		if err != nil {
			if first == nil {
				c.k.logf = x.logf
				x.logf("connection %d: %v", c.n, err)
				first = err
			}
			gone = append(gone, c)
			continue
		}
		c.requested = true
	}
	x.logf("kit: %s that had sent nothing asked for a name that cannot exist: %d answered ERR not-found", count(len(conns)-1, "connection"), len(conns)-1-len(gone))
	if len(gone) == 0 {
		return Outcome{}
	}
	if b := l.bystander; b != nil && slices.Contains(gone, b) {
		return fail("%s; connection %d, the oldest that had sent nothing, got ERR busy, and the newcomer was served; but then, asked for a name that cannot exist, connection %d, from %s, another address, no longer answered: the server pushed it out at the limit of %s, counting the two addresses as one (a limit per prefix wider than one IPv4 address or IPv6 /64) (%s)",
			l.what(), pushed.n, b.n, fromWords(b.from), fromWords(l.part.newFrom), cite("REQ-LIM-14", "REQ-LIM-13"))
	}
	return fail("%s; connection %d, the oldest that had sent nothing, got ERR busy, and the newcomer was served; but then, asked for a name that cannot exist, %s no longer answered (connection %d: %v): the server pushed out more than the one connection the newcomer needed, so its limit per address is below %d or its budget of connections without a request below %d (%s)",
		l.what(), pushed.n, l.connWords(gone), gone[0].n, first, defaultPerAddr, defaultPending, cite("REQ-LIM-14", "REQ-LIM-12"))
}

// event is a held connection on which the server sent something or which
// it ended, and what the kit read there.
type event struct {
	c *roomConn
	e heard
}

// minTimeout is the shortest timeout REQ-LIM-9 lets a server configure:
// a connection that sent nothing may have met its first-request timeout
// once that long has passed.
const minTimeout = time.Second

// endedErr reports whether err says the server ended the connection.
func endedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// judgePushed judges the connection the server pushed out: ERR busy, then
// a close.
func (r *room) judgePushed(what, who string, v *roomConn) Outcome {
	x := r.x
	v.k.logf = func(format string, a ...any) { x.logf("connection %d: %s", v.n, fmt.Sprintf(format, a...)) }
	_, err := v.k.r.ReadReply()
	var er *spec.ErrorReply
	at := fmt.Sprintf("%s; connection %d, %s, was pushed out as it should be", what, v.n, who)
	switch {
	case errors.As(err, &er) && er.Code == spec.CodeBusy:
		v.k.logf("<- %s", quote(spec.EncodeError(x.framing, er.Code, er.Text)))
	case errors.As(err, &er):
		return fail("%s, but it got ERR %s, not ERR busy (%s: the connection pushed out is answered ERR busy before it is closed)", at, er.Code, cite("REQ-LIM-13"))
	case endedErr(err) && time.Since(v.at) >= minTimeout:
		return inconclusive("%s; connection %d, %s, ended without a word (%s) %v after it connected: that may have been its first-request timeout (one may be as short as %v), not room made for the newcomer, and the kit cannot tell which",
			what, v.n, who, netWords(err), time.Since(v.at).Round(time.Millisecond), minTimeout)
	case endedErr(err):
		return fail("%s, but it ended without a word (%s; %s: the connection pushed out is answered ERR busy before it is closed, so that its client knows why)", at, netWords(err), cite("REQ-LIM-13"))
	case err != nil:
		return fail("%s, but %s (%s: the connection pushed out is answered ERR busy)", at, describe(err, x.timeout, "ERR busy"), cite("REQ-LIM-13"))
	default:
		return fail("%s, but it was sent a size, not ERR busy (%s)", at, cite("REQ-LIM-13"))
	}
	extra, _, closed := v.k.closeWait()
	switch {
	case len(extra) > 0:
		return fail("%s, and after ERR busy it was sent %s more (%s: ERR busy, then the close)", at, quote(extra), cite("REQ-LIM-13"))
	case !closed:
		return fail("%s and got ERR busy, but then stayed open for %v (%s: the connection pushed out is closed)", at, x.timeout, cite("REQ-LIM-13"))
	}
	// The kit closes its side too, so that a server draining the
	// connection before its close (as it may, so that ERR busy is not lost
	// to a reset) ends at once, not at the end of its drain, and is done
	// with it long before the next part of the case, many round trips on.
	v.k.close()
	return Outcome{}
}

// serveNewcomer asks for the newcomer's file on c: it returns the error
// reply ERR busy when the server refused c, or else what went wrong, if
// anything, with the file or the ERR not-found due.
func (r *room) serveNewcomer(c *roomConn) (busy *spec.ErrorReply, err error) {
	p := r.newcomer
	if err := c.k.request(p.name); err != nil {
		return nil, err
	}
	size, er, err := c.k.reply(p.name)
	switch {
	case err != nil:
		return nil, err
	case er != nil && er.Code == spec.CodeBusy:
		return er, nil
	case p.missing && er == nil:
		return nil, fmt.Errorf("the server announced %s for %q, a name that cannot exist", count(size, "byte"), p.name)
	case p.missing && er.Code != spec.CodeNotFound:
		return nil, fmt.Errorf("the server answered `get %s`, a name that cannot exist, with ERR %s, want ERR %s", p.name, er.Code, spec.CodeNotFound)
	case p.missing:
		c.requested = true
		return nil, nil
	}
	if err := announces(p.name, p.data, size, er); err != nil {
		return nil, err
	}
	if err := c.k.ack(); err != nil {
		return nil, err
	}
	if err := c.k.receive(p.name, p.data); err != nil {
		return nil, err
	}
	c.requested = true
	return nil, nil
}

// heard is what a watched connection's read returned: the bytes read, or
// the error that ended it.
type heard struct {
	i        int // the connection's index among those watched
	b        []byte
	err      error
	buffered bool // the kit's reader already held bytes
}

// something reports whether the server sent something on the connection
// or ended it.
func (h heard) something() bool {
	return h.buffered || len(h.b) > 0 || h.err != nil && !isTimeout(h.err)
}

// watch waits on the connections the kit holds for the server to send
// something on one, or end one: a read on each, in a goroutine, each
// ended by stop.
type watch struct {
	ctx   context.Context
	conns []*roomConn
	ch    chan heard
	left  int     // reads not yet returned
	got   []heard // reads returned
}

// watchRead bounds a watched read: a whole lockstep control message and
// one octet more, as the kit's reader reads one (spec.Reader), so that the
// bytes put back read as they would have.
const watchRead = spec.MaxControlLen + 1

// startWatch starts a read on each of conns, with no deadline until
// first sets one.
func startWatch(ctx context.Context, conns []*roomConn) *watch {
	w := &watch{ctx: ctx, conns: conns, ch: make(chan heard, len(conns)), left: len(conns)}
	for i, c := range conns {
		if c.k.r.Buffered() > 0 {
			w.ch <- heard{i: i, buffered: true}
			continue
		}
		nc := c.k.nc
		nc.SetReadDeadline(time.Time{})
		go func() {
			b := make([]byte, watchRead)
			n, err := nc.Read(b)
			w.ch <- heard{i: i, b: b[:n], err: err}
		}()
	}
	return w
}

// until gives every watched read a deadline d from now, and returns the
// first connection among wanted (indices among those watched) on which
// the server sent something or which it ended; false when none did by
// the deadline.
func (w *watch) until(d time.Duration, wanted ...int) (heard, bool) {
	dl := time.Now().Add(d)
	for _, c := range w.conns {
		c.k.nc.SetReadDeadline(dl)
	}
	for w.left > 0 {
		h := <-w.ch
		w.left--
		w.got = append(w.got, h)
		if h.something() && w.ctx.Err() == nil && slices.Contains(wanted, h.i) {
			return h, true
		}
	}
	return heard{}, false
}

// heardFrom returns the connections on which the server sent something,
// or which it ended, among the reads returned so far, oldest first.
func (w *watch) heardFrom() []*roomConn {
	var out []*roomConn
	for _, h := range w.got {
		if h.something() {
			out = append(out, w.conns[h.i])
		}
	}
	slices.SortFunc(out, func(a, b *roomConn) int { return a.n - b.n })
	return out
}

// past is a deadline that has passed: setting it ends a read at once.
var past = time.Unix(1, 0)

// stop ends every watched read, waits for each, and puts back what each
// read, for the kit's reader of that connection to read next.
func (w *watch) stop() {
	for _, c := range w.conns {
		c.k.nc.SetReadDeadline(past)
	}
	for ; w.left > 0; w.left-- {
		w.got = append(w.got, <-w.ch)
	}
	for _, h := range w.got {
		if len(h.b) > 0 {
			w.conns[h.i].k.unread(h.b)
		}
	}
}

// limitSeen is what one part of server/makes-room did: the connections it
// held, the newcomer, and what the server did.
type limitSeen struct {
	part roomPart
	held []*roomConn // the one that sent a request, then the silent ones, oldest first
	nc   *roomConn   // the newcomer
	room *room
	// bystander is a connection that sent nothing, from another address,
	// older than held, or nil.
	bystander *roomConn
}

// perAddr reports whether the part is about the limit per address.
func (l limitSeen) perAddr() bool { return l.part.name == "per address" }

// what says what the kit held and what came, for a detail.
func (l limitSeen) what() string {
	h, p := l.held, l.part
	from := fromWords(p.froms[0])
	if len(p.froms) > 1 {
		from = fmt.Sprintf("%d addresses, %s to %s (at most %d from each)", len(p.froms), fromWords(p.froms[0]), fromWords(p.froms[len(p.froms)-1]), p.each)
	}
	comes := fmt.Sprintf("connection %d came from %s", l.nc.n, fromWords(p.newFrom))
	if l.perAddr() {
		comes = fmt.Sprintf("connection %d came from the same address, the %d%s from it", l.nc.n, len(h)+1, ordinal(len(h)+1))
	}
	before := ""
	if b := l.bystander; b != nil {
		before = fmt.Sprintf("from %s the kit held connection %d, which had sent nothing; ", fromWords(b.from), b.n)
	}
	return fmt.Sprintf("%sfrom %s the kit held connection %d, whose request the server had answered (%s), and connections %d to %d, %d that had sent nothing; %s",
		before, from, h[0].n, l.room.held.heldWords(), h[1].n, h[len(h)-1].n, len(h)-1, comes)
}

// heldWords says how the server answered the request of the connection
// that sent one.
func (p probe) heldWords() string {
	if p.missing {
		return "ERR not-found for a name that cannot exist"
	}
	return fmt.Sprintf("the size of a %d-byte file; the kit held back its ack", len(p.data))
}

// limitWords names the limit the part reaches, for a detail.
func (l limitSeen) limitWords() string {
	if l.perAddr() {
		return fmt.Sprintf("the limit of %d connections per address", defaultPerAddr)
	}
	return fmt.Sprintf("the budget of %d connections that have not sent a request", defaultPending)
}

// judge judges how the server made room, if it did: the newcomer's fate
// (busy: refused; nerr: not served); ev, the connection that sent a
// request or the oldest that sent nothing, whichever the server pushed
// out (ev.c nil: neither, within the timeout); and every connection it
// pushed out or ended, oldest first.
func (l limitSeen) judge(busy *spec.ErrorReply, nerr error, ev event, pushed []*roomConn) Outcome {
	oldest := l.held[1]
	switch {
	case busy != nil:
		return fail("%s; the newcomer got ERR busy %q, while connection %d, which had sent nothing at all, could have made room: at %s a server should push out the oldest connection%s whose client has sent nothing, answering it ERR busy, and refuse a newcomer only when no connection can go (%s)",
			l.what(), busy.Text, oldest.n, l.limitWords(), l.addrWords(), cite("REQ-LIM-13"))
	case ev.c != nil && ev.c == l.bystander:
		return fail("%s; then the server %s connection %d, from %s, another address: at the limit per address the connection that makes room is of the newcomer's address, here connection %d, the oldest of it that had sent nothing (%s)",
			l.what(), ev.e.verb(), ev.c.n, fromWords(ev.c.from), oldest.n, cite("REQ-LIM-13"))
	case ev.c == l.held[0]:
		return fail("%s; then the server %s connection %d, whose request had arrived: a connection whose request has arrived never makes room; connection %d, which had sent nothing at all, should have (%s)",
			l.what(), ev.e.verb(), ev.c.n, oldest.n, cite("REQ-LIM-13"))
	case ev.c == nil && len(pushed) > 0:
		return fail("%s; then the server pushed out or ended %s, but not connection %d within %v: the oldest connection whose client has sent nothing makes room first (%s)",
			l.what(), l.connWords(pushed), oldest.n, l.room.x.timeout, cite("REQ-LIM-13"))
	case ev.c == nil && l.perAddr():
		return fail("%s; %s, and within %v the server pushed out none of the %d connections the kit held from that address: it keeps no limit of %d connections per address, so that one host can take the whole server (%s); its limit is above the default, or it has none, and no client can tell which",
			l.what(), l.newcomerWords(nerr), l.room.x.timeout, len(l.held), defaultPerAddr, cite("REQ-LIM-14"))
	case ev.c == nil:
		return fail("%s; %s, and within %v the server pushed out none of the %d connections that had sent nothing: it keeps no budget of %d for connections that have not sent a request (%s); its budget is above the default, or it has none, and no client can tell which",
			l.what(), l.newcomerWords(nerr), l.room.x.timeout, len(l.held)-1, defaultPending, cite("REQ-LIM-12"))
	case nerr != nil:
		return fail("%s; the server pushed out connection %d, the oldest that had sent nothing, yet the newcomer was not served: %v (%s: the room made is the newcomer's)",
			l.what(), oldest.n, nerr, cite("REQ-LIM-13"))
	}
	return Outcome{}
}

// connWords names connections the kit held, for a detail: the newest of
// those that sent nothing is called so.
func (l limitSeen) connWords(cs []*roomConn) string {
	words := make([]string, len(cs))
	for i, c := range cs {
		words[i] = fmt.Sprintf("connection %d", c.n)
		if c == l.held[len(l.held)-1] {
			words[i] += " (the newest of those that had sent nothing)"
		}
	}
	if len(words) > 3 {
		words = append(words[:3], fmt.Sprintf("%d more", len(words)-3))
	}
	return strings.Join(words, ", ")
}

// addrWords is ", of that address," for the limit per address.
func (l limitSeen) addrWords() string {
	if l.perAddr() {
		return " of that address"
	}
	return ""
}

// newcomerWords says how the newcomer fared, when no room was made.
func (l limitSeen) newcomerWords(nerr error) string {
	if nerr != nil {
		return fmt.Sprintf("the newcomer was not served (%v)", nerr)
	}
	return "the newcomer was " + l.room.newcomer.served()
}

// verb says what the server did to a watched connection.
func (h heard) verb() string {
	if h.buffered || len(h.b) > 0 {
		return fmt.Sprintf("sent %s to", quote(h.b))
	}
	if errors.Is(h.err, io.EOF) {
		return "closed"
	}
	return fmt.Sprintf("ended (%s)", netWords(h.err))
}
