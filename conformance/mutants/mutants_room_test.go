package mutants_test

import (
	"net"
	"net/netip"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// How a mutant admits a connection, and makes room for it, as SPEC.md
// says a server should (REQ-LIM-10, REQ-LIM-12 to REQ-LIM-14): a limit
// per address and a budget of connections that have not sent a request,
// at which the oldest connection whose client has sent nothing is pushed
// out (ERR busy, a close) for the newcomer, or failing that the oldest
// stuck inside a partial request; only when none can go is the newcomer
// refused. The defects below each get one of these wrong.

// mutantPerAddr and mutantPending are a mutant's limit per address and
// its budget of connections without a request, the defaults of SPEC.md.
const (
	mutantPerAddr = 32
	mutantPending = 64
)

// The defects of making room.
var (
	// At a limit it refuses the newcomer: no connection ever makes room.
	refusesNewcomer = &serverDefect{name: "refuses-newcomer",
		room: func(*mutant, *mconn, bool) *mconn { return nil }}
	// It pushes out the newest connection that sent nothing.
	pushesNewest = &serverDefect{name: "pushes-newest", quiet: true, room: newestSilent}
	// It pushes out the oldest connection, whatever its client has sent.
	pushesRequested = &serverDefect{name: "pushes-requested", room: oldestAny}
	// It keeps no limit per address.
	noPerAddrLimit = &serverDefect{name: "no-per-addr-limit", quiet: true, perAddr: -1}
	// It keeps no budget of connections without a request.
	noPendingBudget = &serverDefect{name: "no-pending-budget", quiet: true, pending: -1}
	// It pushes out only connections that sent nothing, never one stuck
	// inside a partial request.
	keepsStuck = &serverDefect{name: "keeps-stuck", room: oldestSilent}
	// It counts its limit per address over a /31: 127.0.0.2 and
	// 127.0.0.3 are one address to it.
	countsPrefix31 = &serverDefect{name: "counts-prefix-31", prefix: 31}
	// A connection that made room frees its slot twice: once pushed out,
	// and again when it ends, so that its address then counts one fewer
	// than it holds.
	leaksSlots = &serverDefect{name: "leaks-slots", leaks: true}
	// At its connection limit it refuses the newcomer: only the limit per
	// address and the budget make room.
	keepsSilentAtLimit = &serverDefect{name: "keeps-silent-at-limit", quiet: true, keepsAtLimit: true}
)

// stuckAfter is how long a partial request must have had no byte before
// a mutant may push its connection out, as the reference server does.
const stuckAfter = 100 * time.Millisecond

// past is a deadline that has passed: setting it ends a read at once.
var past = time.Unix(1, 0)

// countingReader reads c's connection and counts the bytes its client sent.
type countingReader struct{ c *mconn }

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.c.c.Read(p)
	if n > 0 {
		r.c.lastAt.Store(time.Now().UnixNano())
		r.c.got.Add(int64(n))
	}
	return n, err
}

// track records c as open; over says it is refused, past a limit at
// which no connection could make room for it.
func (m *mutant) track(c *mconn) (ok, over bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, false
	}
	m.seq++
	c.seq, c.pending = m.seq, true
	m.conns[c.c] = c
	if m.d.noLimit || m.admit(c) {
		return true, false
	}
	c.over, c.pending = true, false
	return true, true
}

// admit makes room for c where a limit says to, and reports whether c may
// be served.
func (m *mutant) admit(c *mconn) bool {
	perAddr := m.d.perAddr
	if perAddr == 0 {
		perAddr = mutantPerAddr
	}
	if perAddr > 0 && m.count(c, true)-m.leaked > perAddr && !m.makeRoom(c, true) {
		return false
	}
	limit := mutantMaxConns
	if m.d.limit > 0 {
		limit = m.d.limit
	}
	if m.count(c, false) > limit && (m.d.keepsAtLimit || !m.makeRoom(c, false)) {
		return false
	}
	budget := m.d.pending
	if budget == 0 {
		budget = mutantPending
	}
	if budget > 0 && m.waiting(c) >= budget {
		m.makeRoom(c, false)
	}
	return true
}

// count returns how many connections are open, c among them (from c's
// address, when sameAddr), those pushed out aside.
func (m *mutant) count(c *mconn, sameAddr bool) int {
	n := 0
	for _, o := range m.conns {
		if !o.evicted && (!sameAddr || m.sameHost(o, c)) {
			n++
		}
	}
	return n
}

// waiting returns how many connections other than c wait for their
// first request.
func (m *mutant) waiting(c *mconn) int {
	n := 0
	for _, o := range m.conns {
		if o != c && o.pending && !o.evicted {
			n++
		}
	}
	return n
}

// sameHost reports whether a and b come from the same IP address (the
// same prefix, for a mutant that counts over one).
func (m *mutant) sameHost(a, b *mconn) bool {
	bits := m.d.prefix
	if bits == 0 {
		bits = 32
	}
	key := func(c net.Conn) netip.Prefix {
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return netip.Prefix{}
		}
		ip := ap.Addr().Unmap()
		p, _ := ip.Prefix(min(bits, ip.BitLen()))
		return p
	}
	return key(a.c) == key(b.c)
}

// makeRoom pushes out the connection the mutant picks for c, if any: its
// read returns at once, and its goroutine answers it (goAway).
func (m *mutant) makeRoom(c *mconn, sameAddr bool) bool {
	room := m.d.room
	if room == nil {
		room = oldestSilentOrStuck
	}
	v := room(m, c, sameAddr)
	if v == nil {
		return false
	}
	if m.d.leaks && sameAddr {
		m.leaked++
	}
	v.evicted = true
	v.c.SetReadDeadline(past)
	return true
}

// oldestSilent picks the oldest connection whose client has sent nothing.
func oldestSilent(m *mutant, c *mconn, sameAddr bool) *mconn {
	return m.pick(c, sameAddr, silent, func(a, b *mconn) bool { return a.seq < b.seq })
}

// oldestSilentOrStuck picks the oldest connection whose client has sent
// nothing, or failing that the oldest stuck inside a partial request.
func oldestSilentOrStuck(m *mutant, c *mconn, sameAddr bool) *mconn {
	if v := oldestSilent(m, c, sameAddr); v != nil {
		return v
	}
	return m.pick(c, sameAddr, stuck, func(a, b *mconn) bool { return a.seq < b.seq })
}

// stuck reports whether o waits for its first request, its client has
// sent part of it, and no byte has come for stuckAfter.
func stuck(o *mconn) bool {
	return o.pending && o.got.Load() > 0 && time.Since(time.Unix(0, o.lastAt.Load())) >= stuckAfter
}

// newestSilent picks the newest connection whose client has sent nothing.
func newestSilent(m *mutant, c *mconn, sameAddr bool) *mconn {
	return m.pick(c, sameAddr, silent, func(a, b *mconn) bool { return a.seq > b.seq })
}

// oldestAny picks the oldest connection, whatever its client has sent.
func oldestAny(m *mutant, c *mconn, sameAddr bool) *mconn {
	return m.pick(c, sameAddr, func(*mconn) bool { return true }, func(a, b *mconn) bool { return a.seq < b.seq })
}

// silent reports whether o waits for its first request and its client
// has sent nothing.
func silent(o *mconn) bool { return o.pending && o.got.Load() == 0 }

// pick returns, among the connections that may go for c (served, not yet
// pushed out, from c's address when sameAddr) and that ok accepts, the
// one that comes first by before; nil when there is none.
func (m *mutant) pick(c *mconn, sameAddr bool, ok func(*mconn) bool, before func(a, b *mconn) bool) *mconn {
	var v *mconn
	for _, o := range m.conns {
		if o == c || o.over || o.evicted || sameAddr && !m.sameHost(o, c) || !ok(o) {
			continue
		}
		if v == nil || before(o, v) {
			v = o
		}
	}
	return v
}

// requested records that c's read of a request returned err: without
// an error, c waits for its first request no more.
func (m *mutant) requested(c *mconn, err error) {
	if err != nil {
		return
	}
	m.mu.Lock()
	c.pending = false
	m.mu.Unlock()
}

// armRead bounds c's next read, or ends it at once when c was pushed out;
// under the lock makeRoom holds, so that the one cannot undo the other.
func (c *mconn) armRead() {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.evicted {
		c.c.SetReadDeadline(past)
		return
	}
	c.c.SetReadDeadline(time.Now().Add(mutantTimeout))
}

// goAway answers a connection pushed out to make room: ERR busy, then a
// brief drain and the close.
func (c *mconn) goAway() {
	c.m.mu.Lock()
	evicted := c.evicted
	c.m.mu.Unlock()
	if evicted && c.write(spec.EncodeError(c.f, spec.CodeBusy, "pushed out to make room")) == nil {
		c.drainClose(100 * time.Millisecond)
	}
}
