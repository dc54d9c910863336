package shape

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// Flusher is implemented by a conn that holds written bytes; Flush delivers
// them all at once.
type Flusher interface {
	Flush() error
}

// Coalesce returns a net.Conn that holds the bytes written to it and
// delivers them to c in segments whose sizes p gives, regardless of where
// one Write ended and the next began: the file's tail and the digest that
// follows it can arrive in one segment. The returned conn also implements
// [Flusher]. Reads pass through, after the release described below.
//
// A segment's plan size is drawn when the segment begins and stays with it.
// Held bytes are released:
//
//   - by a Write, whenever the held bytes reach the current segment's plan
//     size: that segment is written to c, and so on while enough is held;
//   - on a turn change: a Read on the wrapper starts writing everything
//     held as one (short) segment, so a lockstep exchange (write a message,
//     then wait for the answer) cannot deadlock. The Read does not wait for
//     that write: it runs on a goroutine of its own, which ends when the
//     write to c returns. While a Read is in progress, every Write also
//     releases everything it would leave held;
//   - by Flush, which writes everything held as one segment;
//   - by Close, which flushes and then closes c.
//
// A segment released early ends there: the next byte begins a new segment
// with a new plan size. Coalesce(c, Fixed(1<<30)) therefore delivers
// everything written between two turns as one segment.
//
// Releases are writes to c, so the deadlines set with SetDeadline and
// SetWriteDeadline apply to them, including the releases that a Read or
// Close starts. A Write that only holds bytes never blocks and never times
// out. When a release fails, the Write reports how many of its own bytes
// reached c and drops the rest of them; bytes held from earlier Writes stay
// held for the next release. A failed release started by a Read leaves the
// bytes held, and the next Write or Flush reports the error if it persists.
// Close does not wait for a Write in progress on another goroutine: it
// closes c at once, and the bytes that Write held are lost. A Close that
// flushes to a peer that does not read blocks until the write deadline, as
// any write would.
//
// A relay that copies both directions at once always has a Read in progress,
// so there Coalesce releases what each Write leaves held; such a relay
// coalesces across Writes by calling Flush itself, for example when its
// source goes quiet.
func Coalesce(c net.Conn, p Plan) net.Conn {
	return &coalesceConn{Conn: c, plan: p, cl: newCloser()}
}

type coalesceConn struct {
	net.Conn
	plan Plan
	cl   closer

	// wmu is held while bytes are written to Conn; it guards buf and seg.
	// A goroutine that unlocks wmu then checks whether a waiting Read needs
	// the held bytes released (see unlock), which lets Read use TryLock and
	// never wait behind a blocked Write.
	wmu sync.Mutex
	buf []byte // bytes held, not yet written to Conn
	seg int    // plan size of the segment being held; 0 when none is drawn

	held    atomic.Int64 // len(buf), readable without wmu
	readers atomic.Int32 // Reads in progress
}

func (c *coalesceConn) Write(p []byte) (int, error) {
	if c.cl.closed() {
		return 0, errClosed("write")
	}
	if len(p) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	if c.cl.closed() {
		c.wmu.Unlock()
		return 0, errClosed("write")
	}
	n, err := c.writeLocked(p)
	c.unlock()
	return n, err
}

// writeLocked appends p to the held bytes and releases every complete
// segment, or everything when a Read is waiting.
func (c *coalesceConn) writeLocked(p []byte) (int, error) {
	held0 := len(c.buf)
	c.buf = append(c.buf, p...)
	off := 0 // bytes of buf written to Conn by this call
	var err error
	for off < len(c.buf) {
		if c.seg == 0 {
			c.seg = next(c.plan)
		}
		n := len(c.buf) - off
		if n >= c.seg {
			n = c.seg
		} else if c.readers.Load() == 0 {
			break // hold the rest: the segment is not complete
		}
		var m int
		m, err = c.Conn.Write(c.buf[off : off+n])
		off += m
		c.seg = 0
		if err != nil {
			break
		}
	}
	if err == nil {
		c.keep(off, len(c.buf))
		return len(p), nil
	}
	// Report only p's bytes that reached Conn; drop the rest of p. Bytes
	// held from earlier Writes were already reported written: keep them.
	if off >= held0 {
		c.keep(0, 0)
		return off - held0, err
	}
	c.keep(off, held0)
	return 0, err
}

// keep makes buf[from:to] the held bytes.
func (c *coalesceConn) keep(from, to int) {
	c.buf = c.buf[:copy(c.buf, c.buf[from:to])]
	c.held.Store(int64(len(c.buf)))
}

// flushLocked writes everything held as one segment.
func (c *coalesceConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	m, err := c.Conn.Write(c.buf)
	c.seg = 0
	c.keep(m, len(c.buf))
	return err
}

// unlock releases wmu, then releases the held bytes if a Read is waiting
// for them and no other goroutine took wmu meanwhile (if one did, it makes
// the same check when it unlocks).
func (c *coalesceConn) unlock() {
	for {
		c.wmu.Unlock()
		if c.readers.Load() == 0 || c.held.Load() == 0 || c.cl.closed() {
			return
		}
		if !c.wmu.TryLock() {
			return
		}
		if err := c.flushLocked(); err != nil {
			// The bytes stay held; the waiting Read's deadline or the next
			// Write reports the broken conn.
			c.wmu.Unlock()
			return
		}
	}
}

func (c *coalesceConn) Read(p []byte) (int, error) {
	c.readers.Add(1)
	defer c.readers.Add(-1)
	if c.held.Load() > 0 && !c.cl.closed() && c.wmu.TryLock() {
		// Release on a goroutine of its own: a Read must not wait for a
		// write, or two peers each flushing before reading would deadlock.
		// The goroutine ends when the write to Conn returns.
		go func() {
			_ = c.flushLocked() // on failure the bytes stay held; the next Write or Flush reports it
			c.unlock()
		}()
	}
	return c.Conn.Read(p)
}

// Flush writes everything held to the underlying conn as one segment.
func (c *coalesceConn) Flush() error {
	c.wmu.Lock()
	if c.cl.closed() {
		c.wmu.Unlock()
		return errClosed("flush")
	}
	err := c.flushLocked()
	c.unlock()
	return err
}

func (c *coalesceConn) Close() error {
	return c.cl.close(func() error {
		var ferr error
		if c.wmu.TryLock() {
			ferr = c.flushLocked()
			c.wmu.Unlock()
		}
		err := c.Conn.Close()
		if err == nil && ferr != nil {
			err = fmt.Errorf("shape: flush before close: %w", ferr)
		}
		return err
	})
}
