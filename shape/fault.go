package shape

import (
	"fmt"
	"net"
	"sync"
)

type faultKind int

const (
	faultCut faultKind = iota
	faultReset
	faultStall
)

func (k faultKind) String() string {
	switch k {
	case faultCut:
		return "cut"
	case faultReset:
		return "reset"
	}
	return "stall"
}

// Cut returns a net.Conn that delivers the first n bytes written to it and
// then closes c, so the peer sees EOF after exactly n bytes. The Write that
// reaches the n-th byte delivers its share and closes c; if it had more to
// write it reports the bytes delivered and an error. Every later Write
// fails, and so do Reads, the conn being closed. With n = 0 the first Write
// closes c. The errors match net.ErrClosed with errors.Is.
func Cut(c net.Conn, n int64) net.Conn {
	return &faultConn{Conn: c, kind: faultCut, limit: n, cl: newCloser()}
}

// Reset is [Cut] with an abortive close: when c has a SetLinger method (a
// *net.TCPConn has), Reset calls SetLinger(0) before closing, so the kernel
// sends RST instead of FIN and the peer's next read fails with a connection
// reset (ECONNRESET) rather than EOF. The kernel may then discard bytes it
// had not yet delivered, so the peer can receive fewer than n. Over a conn
// without SetLinger, net.Pipe for one, Reset closes plainly and the peer
// sees EOF.
func Reset(c net.Conn, n int64) net.Conn {
	return &faultConn{Conn: c, kind: faultReset, limit: n, cl: newCloser()}
}

// Stall returns a net.Conn that delivers the first n bytes written to it
// and then silently swallows every later byte: Writes report success and
// deliver nothing until Close. The peer waits for data that never comes
// until its own deadline fires. Reads pass through.
func Stall(c net.Conn, n int64) net.Conn {
	return &faultConn{Conn: c, kind: faultStall, limit: n, cl: newCloser()}
}

type faultConn struct {
	net.Conn
	kind  faultKind
	limit int64
	cl    closer

	mu      sync.Mutex // held during a Write, so the count is exact
	sent    int64      // bytes delivered
	tripped bool       // the fault has happened
}

func (c *faultConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tripped {
		if c.kind == faultStall {
			return len(p), nil
		}
		return 0, c.err()
	}
	if left := c.limit - c.sent; int64(len(p)) < left {
		n, err := c.Conn.Write(p)
		c.sent += int64(n)
		return n, err
	}
	// This Write reaches the limit: deliver up to it, then trip.
	n := 0
	if left := c.limit - c.sent; left > 0 {
		var err error
		n, err = c.Conn.Write(p[:left])
		c.sent += int64(n)
		if err != nil {
			return n, err
		}
	}
	c.tripped = true
	switch c.kind {
	case faultStall:
		return len(p), nil
	case faultReset:
		c.cl.close(func() error {
			if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
				_ = l.SetLinger(0) // best effort: without it the close is plain
			}
			return c.Conn.Close()
		})
	default:
		c.cl.close(c.Conn.Close)
	}
	if n == len(p) {
		return n, nil
	}
	return n, c.err()
}

// err is what a Write past the limit of a Cut or Reset conn returns.
func (c *faultConn) err() error {
	return fmt.Errorf("shape: %s after %d bytes: %w", c.kind, c.limit, net.ErrClosed)
}

func (c *faultConn) Close() error {
	return c.cl.close(c.Conn.Close)
}
