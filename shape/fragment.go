package shape

import (
	"net"
	"sync"
	"time"
)

// Fragment returns a net.Conn that delivers every Write to c as several
// Writes whose sizes p gives. The last piece of a Write may be shorter than
// its plan size; no byte is held from one Write to the next, and the plan
// continues where the previous Write left it. A Write of no bytes writes
// nothing to c. Reads pass through.
//
// Over net.Pipe the peer's reads (with a buffer at least as large as a
// segment) are exactly the plan's segments. Over TCP see [FragmentPaced].
func Fragment(c net.Conn, p Plan) net.Conn {
	return FragmentPaced(c, p, 0)
}

// FragmentPaced is [Fragment] that also waits pace between successive
// segments, including between the last segment of one Write and the first
// of the next. If c has a SetNoDelay method (a *net.TCPConn has) it sets
// TCP_NODELAY, so that each segment leaves at once rather than waiting to be
// merged with the next.
//
// Over TCP this makes separate reads at the peer likely, never certain: TCP
// is a byte stream and guarantees nothing about read boundaries; a slow
// reader still receives several segments in one read. Use net.Pipe where a
// test needs exact boundaries.
//
// The wait ends early when the conn is closed. A write deadline is not
// checked during the wait, only by the next underlying Write.
func FragmentPaced(c net.Conn, p Plan, pace time.Duration) net.Conn {
	if nd, ok := c.(interface{ SetNoDelay(bool) error }); ok {
		_ = nd.SetNoDelay(true) // best effort: shaping still works without it
	}
	return &fragmentConn{Conn: c, plan: p, pace: pace, cl: newCloser()}
}

type fragmentConn struct {
	net.Conn
	plan Plan
	pace time.Duration
	cl   closer

	wmu  sync.Mutex // serializes Writes so that segments never interleave
	last time.Time  // when the last segment was written; guarded by wmu
}

func (c *fragmentConn) Write(p []byte) (int, error) {
	if c.cl.closed() {
		return 0, errClosed("write")
	}
	if len(p) == 0 {
		return 0, nil // zero segments; net.Pipe would block on an empty Write
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	done := 0
	for done < len(p) {
		if err := c.wait(); err != nil {
			return done, err
		}
		n := min(next(c.plan), len(p)-done)
		m, err := c.Conn.Write(p[done : done+n])
		done += m
		if c.pace > 0 {
			c.last = time.Now()
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// wait sleeps until pace has passed since the last segment, or the conn is
// closed.
func (c *fragmentConn) wait() error {
	if c.pace <= 0 || c.last.IsZero() {
		return nil
	}
	d := time.Until(c.last.Add(c.pace))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.cl.done:
		return errClosed("write")
	}
}

func (c *fragmentConn) Close() error {
	return c.cl.close(c.Conn.Close)
}
