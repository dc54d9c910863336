package conformance

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about the connection limit. The kit holds connections
// open, each after one exchange (a request for a name that cannot exist,
// answered ERR not-found), until the server answers a newcomer ERR busy.
// A connection whose client has sent a request may not be pushed out to
// make room (REQ-LIM-13), so at its limit the server has no choice but to
// refuse the newcomer. Where it can, the kit connects from many loopback
// addresses (127.0.0.2, 127.0.0.3, ...), a few connections from each, so
// that a limit per address (REQ-LIM-14) does not hide the limit of the
// whole server.

// defaultConnLimit is the default connection limit of REQ-LIM-10.
const defaultConnLimit = 256

// connLimitCap is the most connections server/conn-limit holds: past the
// default limit, and past the 1,024 descriptors many systems let a
// process open by default, so that a server with no limit of its own
// runs out of them and shows what it does then.
const connLimitCap = 1100

// perSource is the most connections the kit makes from one loopback
// address: half the 32 per address a server SHOULD allow (REQ-LIM-14).
const perSource = 16

// sources are the local addresses the kit connects from.
type sources struct {
	spread bool       // several loopback addresses
	next   netip.Addr // the next fresh one
}

// newSources returns where the kit may connect from to reach the server
// at addr: from several loopback addresses when the server listens on
// IPv4 loopback and the system lets the kit bind 127.0.0.2 (Linux routes
// all of 127.0.0.0/8 to the loopback interface; other systems configure
// 127.0.0.1 alone); otherwise from the system's choice only.
func newSources(addr string) *sources {
	s := &sources{next: netip.AddrFrom4([4]byte{127, 0, 0, 2})}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Unmap().Is4() || !ap.Addr().IsLoopback() {
		return s
	}
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(s.next, 0).String())
	if err != nil {
		return s
	}
	ln.Close()
	s.spread = true
	return s
}

// fresh returns an address the kit has not connected from yet, or nil
// (the system's choice) when it cannot spread its connections.
func (s *sources) fresh() *net.TCPAddr {
	if !s.spread {
		return nil
	}
	a := s.next
	v := binary.BigEndian.Uint32(a.AsSlice())
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v+1)
	s.next = netip.AddrFrom4(b)
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0))
}

// fromWords names a local address for a detail.
func fromWords(a *net.TCPAddr) string {
	if a == nil {
		return "the kit's address"
	}
	return a.IP.String()
}

// refusal is a connection the server answered ERR busy.
type refusal struct {
	k    *kitConn
	n    int // its number among the connections the kit made
	er   *spec.ErrorReply
	from *net.TCPAddr
	on   int // connections the kit held from the same address
}

// holding is the connections the kit holds open on the server under
// test, each after one exchange, and what it learnt filling the server
// with them.
type holding struct {
	x     *serverCheck
	ctx   context.Context
	src   *sources
	conns []*kitConn
	made  int // connections made, the refused ones included

	cur   *net.TCPAddr // where new connections come from
	onCur int          // connections held from cur
	first *net.TCPAddr // the first address used
	addrs int          // addresses used
	most  int          // the most to hold from one address

	// busy is the first connection the server refused. perAddr, when not
	// zero, is the limit per address the server showed: it refused a
	// connection from an address from which the kit held perAddr while it
	// answered one from a fresh address. atLimit says the kit saw the
	// connection limit itself: the server refused a connection from an
	// address from which the kit held none. lastBusy is the refusal at
	// the end of the filling.
	busy, lastBusy *refusal
	perAddr        int
	atLimit        bool

	// silentAt, when not zero, says to open one connection that sends
	// nothing, from an address of its own, as the silentAt-th the server
	// holds; silent is that connection.
	silentAt int
	silent   *silentConn
}

// holdProblem is why the kit could not go on holding connections.
type holdProblem struct {
	kind  holdKind
	words string // what happened, citing nothing
}

// holdKind says what kind of problem stopped the kit holding connections.
type holdKind int

const (
	holdKitSide    holdKind = iota + 1 // the kit ran out of descriptors or ports: ERROR
	holdNoConnect                      // the very first connection failed
	holdUnanswered                     // a connection was left unanswered (the listen queue)
	holdClosed                         // a connection was closed or reset without a reply
	holdUnexpected                     // a reply other than ERR not-found or ERR busy
)

// newHolding starts holding connections to x's server.
func (x *serverCheck) newHolding(ctx context.Context) *holding {
	h := &holding{x: x, ctx: ctx, src: newSources(x.addr), most: perSource}
	if !h.src.spread {
		h.most = 0 // no bound: there is one address
	}
	h.cur = h.src.fresh()
	h.first, h.addrs = h.cur, 1
	return h
}

// close closes every connection the kit holds or was refused.
func (h *holding) close() {
	for _, k := range h.conns {
		k.close()
	}
	h.conns = nil
	if h.silent != nil {
		h.silent.k.close()
	}
	for _, r := range []*refusal{h.busy, h.lastBusy} {
		if r != nil {
			r.k.close()
		}
	}
}

// fill makes connections until the server refuses one with ERR busy from
// an address the kit holds none from (or, from one address, refuses one
// at all), or the kit holds max. It returns a problem when it could not
// go on.
func (h *holding) fill(max int) *holdProblem {
	defer func() {
		h.x.logf("kit: held %s from %s at once", count(len(h.conns), "connection"), h.addrWords())
	}()
	for len(h.conns) < max {
		if h.silentAt > 0 && h.silent == nil && len(h.conns) == h.silentAt-1 {
			if p := h.openSilent(); p != nil {
				return p
			}
		}
		if h.most > 0 && h.onCur >= h.most {
			h.cur, h.onCur = h.src.fresh(), 0
			h.addrs++
		}
		k, r, p := h.newcomer(h.cur)
		switch {
		case p != nil:
			return p
		case k != nil:
			h.conns = append(h.conns, k)
			h.onCur++
			continue
		}
		h.noteBusy(r)
		if h.onCur == 0 || !h.src.spread {
			h.atLimit = h.onCur == 0
			return nil
		}
		// A connection from a fresh address tells a limit per address from
		// the limit of the whole server.
		h.x.logf("-- a connection from a fresh address, to tell a limit per address from the connection limit")
		fresh := h.src.fresh()
		h.addrs++
		k, r2, p := h.newcomer(fresh)
		switch {
		case p != nil:
			return p
		case r2 != nil:
			h.noteBusy(r2)
			h.atLimit = true
			return nil
		}
		// A limit per address: the refused connection is done with, and
		// the kit makes no more than the limit from each address.
		r.k.close()
		h.conns = append(h.conns, k)
		h.perAddr, h.most = h.onCur, h.onCur
		h.cur, h.onCur = fresh, 1
	}
	return nil
}

// noteBusy records the refusal r.
func (h *holding) noteBusy(r *refusal) {
	switch {
	case h.busy == nil:
		h.busy = r
	case h.lastBusy != nil:
		h.lastBusy.k.close()
		h.lastBusy = r
	default:
		h.lastBusy = r
	}
}

// addrWords says where the connections came from, for a detail.
func (h *holding) addrWords() string {
	if !h.src.spread {
		return "one address"
	}
	last := h.cur
	if h.lastBusy != nil && h.lastBusy.from != nil {
		last = h.lastBusy.from
	}
	return fmt.Sprintf("%d loopback addresses (%s to %s, at most %d from each)", h.addrs, fromWords(h.first), fromWords(last), h.most)
}

// newcomer makes a connection from from, asks for a name that cannot
// exist and reads the reply: ERR not-found (or another code after which
// the connection stays open), and it returns the connection for the kit
// to hold; ERR busy, and it returns the refusal. It logs only the first
// connection and the refused ones in full.
func (h *holding) newcomer(from *net.TCPAddr) (*kitConn, *refusal, *holdProblem) {
	x := h.x
	h.made++
	n := h.made
	var lines []string
	logf := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	show := func() {
		for _, l := range lines {
			x.logf("connection %d: %s", n, l)
		}
	}
	k, err := x.dialFrom(h.ctx, from, logf)
	if err != nil {
		show()
		return nil, nil, h.dialProblem(n, from, err)
	}
	name := x.fx.name(fmt.Sprintf("held-%d", n))
	werr := k.request(name)
	size, er, err := k.reply(name)
	switch {
	case er != nil && er.Code == spec.CodeBusy:
		show()
		return nil, &refusal{k: k, n: n, er: er, from: from, on: h.onCur}, nil
	case er != nil && keepOpenCodes[er.Code]:
		if n == 1 {
			show()
		}
		return k, nil, nil
	}
	show()
	k.close()
	held := fmt.Sprintf("connection %d (from %s, with %s held)", n, fromWords(from), count(len(h.conns), "connection"))
	switch {
	case isTimeout(err):
		return nil, nil, &holdProblem{holdUnanswered, fmt.Sprintf("%s got no reply to `get %s` within %v: it seems to wait in the listen queue", held, name, x.timeout)}
	case err != nil && werr != nil:
		return nil, nil, &holdProblem{holdClosed, fmt.Sprintf("the kit could not send its request on %s (%s), and no reply came: %v", held, netWords(werr), err)}
	case err != nil:
		return nil, nil, &holdProblem{holdClosed, fmt.Sprintf("on %s: %v, with no reply", held, err)}
	case er != nil:
		return nil, nil, &holdProblem{holdUnexpected, fmt.Sprintf("the server answered `get %s`, a name that cannot exist, on %s with ERR %s", name, held, er.Code)}
	}
	return nil, nil, &holdProblem{holdUnexpected, fmt.Sprintf("the server announced %s for `get %s`, a name that cannot exist, on %s", count(size, "byte"), name, held)}
}

// dialProblem says why connection n, from from, could not be made.
func (h *holding) dialProblem(n int, from *net.TCPAddr, err error) *holdProblem {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return &holdProblem{holdKitSide, fmt.Sprintf("the kit could not make connection %d: %v", n, err)}
	case n == 1:
		return &holdProblem{holdNoConnect, err.Error()}
	case isTimeout(err):
		return &holdProblem{holdUnanswered, fmt.Sprintf("with %s held, connection %d (from %s) could not connect within %v: the server's listen queue is full",
			count(len(h.conns), "connection"), n, fromWords(from), h.x.timeout)}
	}
	return &holdProblem{holdClosed, fmt.Sprintf("with %s held, connection %d (from %s) could not connect: %v",
		count(len(h.conns), "connection"), n, fromWords(from), err)}
}

// ended returns how many of the connections the kit holds the server has
// closed or reset (seen where the system tells the kit, on Linux).
func (h *holding) ended() int {
	n := 0
	for _, k := range h.conns {
		if tc, ok := k.nc.(*net.TCPConn); ok {
			if gone, err := peerEnded(tc); err == nil && gone {
				n++
			}
		}
	}
	return n
}

// heldWords says what the kit held, for a detail.
func (h *holding) heldWords() string {
	return fmt.Sprintf("the kit held %s, each after a request answered ERR not-found, from %s",
		count(len(h.conns), "connection"), h.addrWords())
}

// perAddrWords says what the kit learnt of a limit per address, if
// anything, for a detail.
func (h *holding) perAddrWords() string {
	if h.perAddr == 0 {
		return ""
	}
	return fmt.Sprintf("; on the way, the server refused connection %d, the %d%s from %s, while it answered one from a fresh address: a limit of %d per address",
		h.busy.n, h.perAddr+1, ordinal(h.perAddr+1), fromWords(h.busy.from), h.perAddr)
}

// ordinal returns the English suffix of n: "st", "nd", "rd" or "th".
func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

func runServerConnLimit(ctx context.Context, x *serverCheck) Outcome {
	good, err := x.probeFile("good.bin", 2000)
	if err != nil {
		return setupFailed(err)
	}
	h := x.newHolding(ctx)
	defer h.close()
	if p := h.fill(connLimitCap); p != nil {
		return connLimitProblem(p)
	}
	if !h.limited() {
		return x.noBusy(h)
	}
	busy := h.busy
	if h.lastBusy != nil {
		busy = h.lastBusy
	}
	if o, ok := x.judgeBusy(busy); !ok {
		return o
	}
	limit := fmt.Sprintf("%s; connection %d (from %s) got ERR busy %q and was closed", h.heldWords(), busy.n, fromWords(busy.from), busy.er.Text)
	if !h.atLimit {
		limit += " (the kit could connect from one address only: the limit it met may be one per address)"
	}
	// Once the kit's connections are gone, the server serves again.
	n := len(h.conns)
	h.close()
	attempt, err := x.servedAgain(ctx, n, good)
	if err != nil {
		return fail("the kit closed its %d connections, yet for %v no new connection was served: %v (%s: closed connections leave the count)",
			n, x.timeout, err, cite("REQ-LIM-10"))
	}
	return pass("%s%s; once the kit closed the others, a new connection was %s (attempt %d)", limit, h.perAddrWords(), good.served(), attempt)
}

// connLimitProblem judges, for server/conn-limit, why the kit could not go
// on holding connections.
func connLimitProblem(p *holdProblem) Outcome {
	switch p.kind {
	case holdKitSide:
		return errored("%s", p.words)
	case holdNoConnect:
		return cannotConnect(errors.New(p.words))
	case holdUnanswered:
		return fail("%s (%s: a connection over the limit is accepted and answered ERR busy at once, never left waiting)", p.words, cite("REQ-LIM-10"))
	case holdClosed:
		return fail("%s (%s: a connection over the limit is answered ERR busy, not closed alone)", p.words, cite("REQ-LIM-10"))
	}
	return inconclusive("%s: the kit holds connections with such requests, which must get ERR not-found and stay open (server/missing-file checks that), so it could not fill the server", p.words)
}

// limited reports whether the filling ended at a limit: the server
// refused a connection from an address the kit held none from, or, from
// the one address the kit could use, any connection.
func (h *holding) limited() bool { return h.atLimit || h.busy != nil && !h.src.spread }

// noBusy judges a server that answered every connection the kit held
// without refusing one at its limit.
func (x *serverCheck) noBusy(h *holding) Outcome {
	if gone := h.ended(); gone > 0 {
		return inconclusive("%s, but the server had closed %d of them: it never held that many at once, and refused none; the kit could not find its limit (%s)",
			h.heldWords(), gone, cite("REQ-LIM-10"))
	}
	refused := "the server refused none"
	if h.perAddr > 0 {
		refused = fmt.Sprintf("the server refused none but to keep a limit of %d per address", h.perAddr)
	}
	return inconclusive("%s, and %s: its limit is above %d, or it has none, and no client can tell which (%s; SPEC.md, Limits); server/default-limit says whether it keeps to the default of %d",
		h.heldWords(), refused, len(h.conns), cite("REQ-LIM-10"), defaultConnLimit)
}

// judgeBusy judges the refusal r: ERR busy with a text, well formed, then
// a close and nothing more.
func (x *serverCheck) judgeBusy(r *refusal) (Outcome, bool) {
	at := fmt.Sprintf("connection %d (from %s)", r.n, fromWords(r.from))
	switch {
	case r.er.Text == "":
		return fail("%s got ERR busy with no text (%s: ERR busy with a text)", at, cite("REQ-LIM-10")), false
	}
	if flaw, _ := errorReplyFlaw(r.er, x.framing); flaw != "" {
		return fail("%s got ERR busy, but not a well-formed error reply: %s (%s)", at, flaw, cite("REQ-LIM-10")), false
	}
	r.k.logf = x.logf
	extra, _, closed := r.k.closeWait()
	switch {
	case len(extra) > 0:
		return fail("after ERR busy, %s was sent %s more (%s)", at, quote(extra), cite("REQ-LIM-10")), false
	case !closed:
		return fail("after ERR busy, %s stayed open for %v more (%s: close it)", at, x.timeout, cite("REQ-LIM-10", "REQ-ERR-4")), false
	}
	return Outcome{}, true
}

func runServerDefaultLimit(ctx context.Context, x *serverCheck) Outcome {
	h := x.newHolding(ctx)
	defer h.close()
	h.silentAt = defaultConnLimit
	if p := h.fill(defaultConnLimit + 1); p != nil {
		switch p.kind {
		case holdKitSide:
			return errored("%s", p.words)
		case holdNoConnect:
			return cannotConnect(errors.New(p.words))
		}
		return inconclusive("the kit could not hold %d connections: %s (server/conn-limit judges this)", defaultConnLimit+1, p.words)
	}
	switch {
	case h.atLimit:
		last := h.busy
		if h.lastBusy != nil {
			last = h.lastBusy
		}
		silent, o := h.judgeSilent()
		if o.Verdict != "" {
			return o
		}
		return pass("%s; connection %d (from %s) got ERR busy: the server serves no more connections at once than the default limit of %d%s%s",
			h.heldWords(), last.n, fromWords(last.from), defaultConnLimit, h.perAddrWords(), silent)
	case h.limited():
		return inconclusive("%s; connection %d got ERR busy, but the kit could connect from one address only: a limit per address may hide the server's connection limit",
			h.heldWords(), h.busy.n)
	}
	if gone := h.ended(); gone > 0 {
		return inconclusive("%s, but the server had closed %d of them: it never held that many at once", h.heldWords(), gone)
	}
	return fail("%s, and the server refused none: it serves more connections at once than the default limit of %d. Either it has no limit at all, or one above the default: no client can tell which. Unless its operator configured a higher limit, it must keep to the default (%s)",
		h.heldWords(), defaultConnLimit, cite("REQ-LIM-18"))
}

// retryPause spaces the attempts to be served once the kit's connections
// are closed: the server releases them on its own schedule.
const retryPause = 50 * time.Millisecond

// quietLog is the log of the many connections that the case does not
// judge one by one.
func quietLog(string, ...any) {}

// servedAgain asks for the good probe on new connections, retrying for up
// to the timeout, once the kit has closed its n connections. It returns
// the attempt that was served, or the last error.
func (x *serverCheck) servedAgain(ctx context.Context, n int, good probe) (int, error) {
	x.logf("-- the kit closed its %d connections; a new one must be served", n)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		last := time.Since(start)+retryPause > x.timeout
		logf := quietLog
		if last {
			logf = x.logf // the last attempt shows in the log
		}
		k, err := x.dialLog(ctx, logf)
		if err == nil {
			err = k.getProbe(good)
			k.close()
		}
		if err == nil {
			return attempt, nil
		}
		// The server under test frees its count on its own schedule.
		if last || ctx.Err() != nil || !pause(ctx, retryPause) {
			return attempt, err
		}
	}
}
