package ref

import (
	"container/list"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Admission: which connections a Server serves, and which make room.
//
// A connection that has not yet sent its first request ("pending") costs a
// peer nothing to open and hold, so pending connections have a budget of
// their own and are the ones that make room, as OpenSSH's MaxStartups and
// nginx's reuse of idle connections do. When a connection arrives and
//
//   - its address already has MaxConnsPerAddr connections, that address's
//     oldest pending connection goes;
//   - every one of MaxConns slots is taken, the oldest pending connection
//     goes;
//   - MaxPending connections are pending, the oldest pending one goes.
//
// A pending connection may go only if its client has sent nothing at all
// (the kernel's count of bytes received, read or not, says so), or if it
// is stuck inside a partial request; a connection whose request has
// arrived never goes, even before the server has read it. Only when no
// pending connection may go (every slot of the address, or of the server,
// holds a connection that has sent a request) is the newcomer answered
// "ERR busy" and closed. A connection that goes is answered "ERR busy"
// too. So a crowd that opens connections and sends nothing, reconnecting
// as fast as it is dropped, never locks anyone out: each newcomer pushes
// out the crowd's oldest connection, and a client is served as long as its
// request arrives before a whole budget's worth of newer connections
// (from its own address, for the per-address limit) has.
//
// Addresses are counted per IPv4 address and per IPv6 /64 (one host's
// usual share); connections without an IP address (net.Pipe) are not.

// addrKey returns the key a connection from a is counted under.
func addrKey(a net.Addr) (netip.Prefix, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip := ta.AddrPort().Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.Prefix(bits)
	return p, err == nil
}

// waitState is what a connection learns when it begins or ends a wait for
// a request.
type waitState int

const (
	waitOK       waitState = iota
	waitShutdown           // Shutdown has begun: the connection must end
	waitEvicted            // it was pushed out to make room
)

// admitLocked decides on the new connection c: it makes room by evicting
// pending connections as described above and admits c, or returns false
// when c must be refused.
func (s *Server) admitLocked(c *conn) bool {
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
		s.pending = list.New()
		s.perAddr = make(map[netip.Prefix]int)
	}
	if lim := s.maxConnsPerAddr(); lim > 0 && c.hasKey && s.perAddr[c.key] >= lim {
		v := s.victimLocked(c, true)
		if v == nil {
			return false
		}
		s.evictLocked(v, "per-address limit")
	}
	if len(s.conns) >= orDefault(s.MaxConns, DefaultMaxConns) {
		v := s.victimLocked(c, false)
		if v == nil {
			return false
		}
		s.evictLocked(v, "connection limit")
	}
	if s.pending.Len() >= orDefault(s.MaxPending, DefaultMaxPending) {
		if v := s.victimLocked(c, false); v != nil {
			s.evictLocked(v, "pending limit")
		}
	}
	c.admitted = true
	s.conns[c] = struct{}{}
	s.peak = max(s.peak, len(s.conns))
	c.pendingAt = s.pending.PushBack(c)
	if c.hasKey {
		s.perAddr[c.key]++
	}
	return true
}

func (s *Server) maxConnsPerAddr() int {
	if s.MaxConnsPerAddr < 0 {
		return 0
	}
	return orDefault(s.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
}

// victimLocked returns the pending connection to push out for c (of c's
// address when sameAddr), or nil when none may go. Oldest first, it takes
// one whose client has sent nothing at all: the kernel counts the bytes
// received, read or not, so a connection whose request has arrived is
// never pushed out, even before the server reads it. Failing that, it
// takes one stuck inside a partial request (no byte for stuckAfter).
func (s *Server) victimLocked(c *conn, sameAddr bool) *conn {
	var partial *conn
	now := time.Now()
	for e := s.pending.Front(); e != nil; e = e.Next() {
		v := e.Value.(*conn)
		if v == c || sameAddr && (!v.hasKey || v.key != c.key) {
			continue
		}
		switch {
		case v.silent():
			return v
		case partial == nil && v.idle && v.in.Load() > 0 && now.Sub(v.lastIn()) >= stuckAfter:
			// Not a whole request just read and about to be
			// handled: a partial one that has stopped.
			partial = v
		}
	}
	return partial
}

// stuckAfter is how long a partial request must have had no byte before
// its connection may be pushed out.
const stuckAfter = 100 * time.Millisecond

// evictLocked pushes v out: its slot is free at once, and its read (if it
// is in one) returns, so that its goroutine answers "ERR busy" and closes.
func (s *Server) evictLocked(v *conn, why string) {
	v.evicted = true
	s.releaseLocked(v)
	v.nc.SetReadDeadline(longAgo)
	s.evictions.note(s.logger(), why)
}

// longAgo is a deadline that has passed: setting it makes a read return.
var longAgo = time.Unix(1, 0)

// releaseLocked frees c's slot and counts.
func (s *Server) releaseLocked(c *conn) {
	if !c.admitted {
		return
	}
	c.admitted = false
	delete(s.conns, c)
	if c.pendingAt != nil {
		s.pending.Remove(c.pendingAt)
		c.pendingAt = nil
	}
	if c.hasKey {
		if s.perAddr[c.key]--; s.perAddr[c.key] <= 0 {
			delete(s.perAddr, c.key)
		}
	}
}

// beginWait records that c waits for a request until deadline, and sets
// its read deadline under the lock, so that an eviction, which sets a past
// deadline under the same lock, cannot be overwritten.
func (s *Server) beginWait(c *conn, deadline time.Time) waitState {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case c.evicted:
		return waitEvicted
	case s.closing:
		return waitShutdown
	}
	c.idle = true
	c.nc.SetReadDeadline(deadline)
	return waitOK
}

// endWait records that c's wait for a request is over: it has one, or it
// ends. A connection that sent its first request is pending no more.
func (s *Server) endWait(c *conn) waitState {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.idle = false
	if c.pendingAt != nil {
		s.pending.Remove(c.pendingAt)
		c.pendingAt = nil
	}
	switch {
	case c.evicted:
		return waitEvicted
	case s.closing:
		return waitShutdown
	}
	return waitOK
}

// eventLog logs a kind of event that a crowd can cause by the thousand:
// the first at once, then at most one record per interval with the count
// since the last one, so that a flood cannot flood the log.
type eventLog struct {
	msg      string
	interval time.Duration

	mu    sync.Mutex
	last  time.Time
	count int
	why   map[string]int
}

// note counts one event for reason why and logs when the interval has
// passed since the last record.
func (e *eventLog) note(log *slog.Logger, why string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.count++
	if e.why == nil {
		e.why = make(map[string]int)
	}
	e.why[why]++
	now := time.Now()
	if !e.last.IsZero() && now.Sub(e.last) < e.interval {
		return
	}
	attrs := []any{"count", e.count}
	if !e.last.IsZero() {
		attrs = append(attrs, "since", e.last.Format(time.RFC3339))
	}
	for _, k := range slices.Sorted(maps.Keys(e.why)) {
		attrs = append(attrs, k, e.why[k])
	}
	log.Warn(e.msg, attrs...)
	e.last, e.count = now, 0
	clear(e.why)
}
