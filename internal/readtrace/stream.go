package readtrace

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Conn names one TCP connection as the traced program sees it: the
// address of its own end and the address of its peer.
type Conn struct {
	Local, Peer netip.AddrPort
}

// String returns "LOCAL->PEER", as strace shows a socket.
func (c Conn) String() string { return c.Local.String() + "->" + c.Peer.String() }

// Opposite returns the connection at the other end of c as the program
// there sees it: its own address is c's remote address, and its peer is
// c's local address. The kit holds c; the traced program holds the other
// end.
func Opposite(c net.Conn) (Conn, error) {
	local, err := addrPort(c.RemoteAddr())
	if err != nil {
		return Conn{}, err
	}
	peer, err := addrPort(c.LocalAddr())
	if err != nil {
		return Conn{}, err
	}
	return Conn{Local: local, Peer: peer}, nil
}

// addrPort returns a TCP address as an AddrPort, IPv4-mapped IPv6
// addresses unmapped.
func addrPort(a net.Addr) (netip.AddrPort, error) {
	if a == nil {
		return netip.AddrPort{}, fmt.Errorf("readtrace: no address")
	}
	if t, ok := a.(*net.TCPAddr); ok {
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("readtrace: address %q: %w", a.String(), err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// normal returns c with both addresses unmapped and without a zone, so
// that an IPv4 connection on an IPv6 socket matches its IPv4 name.
func (c Conn) normal() Conn {
	n := func(a netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(a.Addr().Unmap().WithZone(""), a.Port())
	}
	return Conn{Local: n(c.Local), Peer: n(c.Peer)}
}

// Read is one read call of the traced program on a connection that
// returned: it took Got bytes of the stream, from offset Offset (the
// bytes of the stream before its first byte), or found the end of the
// stream (Got 0).
type Read struct {
	Asked  int64 `json:"asked"`          // bytes the call asked for; -1 when the trace does not say
	Got    int64 `json:"got"`            // bytes it returned; 0 at the end of the stream
	Offset int64 `json:"offset"`         // bytes of the stream before the first byte it returned
	Peek   bool  `json:"peek,omitempty"` // MSG_PEEK: it copied the bytes and left them in the stream

	Call string `json:"-"` // the system call: read, recvfrom, ...
	PID  int    `json:"-"` // the thread that made it; 0 when the trace has one process and no PIDs
}

// End returns the offset just past the bytes the read took.
func (r Read) End() int64 { return r.Offset + r.Got }

// consumed reports whether the read took bytes out of the stream.
func (r Read) consumed() bool { return r.Got > 0 && !r.Peek }

// Stream is what the trace shows of the program's reads on one
// connection.
type Stream struct {
	Conn Conn
	// Reads are the calls that returned bytes or the end of the stream,
	// in the order they returned (across all threads and processes).
	Reads []Read
	// Failed counts the calls that returned an error and took nothing,
	// by the error's name: EAGAIN (a non-blocking socket with nothing to
	// read, as Go's runtime reads), EINTR, ECONNRESET, ...
	Failed map[string]int
	// Pending counts the calls that had not returned when the trace ended:
	// the program was waiting in a read when it was stopped.
	Pending int
	// Unsized counts the returned calls whose size asked for the trace
	// did not show (their Asked is -1).
	Unsized int
}

// Trace is a parsed strace trace: the reads of every TCP connection in it.
type Trace struct {
	streams map[Conn]*Stream
	order   []Conn

	// Undecoded counts the read calls on sockets that strace named without
	// addresses (as socket:[INODE]): they cannot be given to a connection.
	Undecoded int
	// Malformed holds the first lines (at most 10, each cut to 120 bytes)
	// that looked like a traced call on a TCP socket but could not be
	// read; MalformedCount counts them all.
	Malformed      []string
	MalformedCount int
}

// Conns returns the connections the trace shows reads on, in the order of
// their first read.
func (t *Trace) Conns() []Conn { return slices.Clone(t.order) }

// Stream returns the reads on connection c as the program sees it (its
// own address, then its peer's; see [Opposite]). A connection the program
// never read from gives an empty Stream.
func (t *Trace) Stream(c Conn) *Stream {
	c = c.normal()
	if s, ok := t.streams[c]; ok {
		return s
	}
	return &Stream{Conn: c, Failed: map[string]int{}}
}

// stream returns the stream of c, making it on first use.
func (t *Trace) stream(c Conn) *Stream {
	c = c.normal()
	s, ok := t.streams[c]
	if !ok {
		s = &Stream{Conn: c, Failed: map[string]int{}}
		t.streams[c] = s
		t.order = append(t.order, c)
	}
	return s
}

// add appends a returned read to s, at the offset the reads before it
// reached.
func (s *Stream) add(r Read) {
	if n := len(s.Reads); n > 0 {
		last := s.Reads[n-1]
		r.Offset = last.Offset
		if !last.Peek {
			r.Offset += last.Got
		}
	}
	if r.Asked < 0 {
		s.Unsized++
	}
	s.Reads = append(s.Reads, r)
}

// Consumed returns the bytes of the stream the reads took.
func (s *Stream) Consumed() int64 {
	var n int64
	for _, r := range s.Reads {
		if r.consumed() {
			n += r.Got
		}
	}
	return n
}

// TookNothing says which of the stream's calls took nothing, for a
// sentence, or returns "" when none did:
//
//	calls that failed and took nothing: 3 EAGAIN, 1 EINTR; 1 still waiting when the program ended
func (s *Stream) TookNothing() string {
	var parts []string
	if len(s.Failed) > 0 {
		names := make([]string, 0, len(s.Failed))
		for name := range s.Failed {
			names = append(names, name)
		}
		slices.Sort(names)
		var counts []string
		for _, name := range names {
			counts = append(counts, fmt.Sprintf("%d %s", s.Failed[name], name))
		}
		parts = append(parts, "calls that failed and took nothing: "+strings.Join(counts, ", "))
	}
	if s.Pending > 0 {
		parts = append(parts, fmt.Sprintf("%d still waiting when the program ended", s.Pending))
	}
	return strings.Join(parts, "; ")
}
