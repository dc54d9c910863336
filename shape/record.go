package shape

import (
	"net"
	"sync"
)

// Event is one Read or Write seen by a [Record] wrapper.
type Event struct {
	Seq int    // position among all events of the Recorder, from 0
	Op  string // "read" or "write"
	Off int64  // offset in that direction's stream of the first byte moved
	N   int    // bytes moved
	Err error  // error the call returned, or nil
}

// Recorder collects the events of the conns that [Record] wraps. Its zero
// value is ready to use, and it is safe for concurrent use. A Recorder
// shared by several conns keeps one order over all of them; offsets are
// counted per conn and per direction.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

// Events returns a copy of the events recorded so far, in order.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Sizes returns the byte counts of the events whose Op is op ("read" or
// "write"), in order, leaving out calls that moved no bytes.
func (r *Recorder) Sizes(op string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int
	for _, e := range r.events {
		if e.Op == op && e.N > 0 {
			s = append(s, e.N)
		}
	}
	return s
}

func (r *Recorder) add(op string, off *int64, n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, Event{Seq: len(r.events), Op: op, Off: *off, N: n, Err: err})
	*off += int64(n)
}

// Record returns a net.Conn that passes every call to c and records, in r,
// each Read and Write that moved bytes or returned an error: its size and
// its offset in the stream of its direction. Events are recorded when the
// call returns.
func Record(c net.Conn, r *Recorder) net.Conn {
	return &recordConn{Conn: c, r: r, cl: newCloser()}
}

type recordConn struct {
	net.Conn
	r          *Recorder
	cl         closer
	rOff, wOff int64 // guarded by r.mu
}

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 || err != nil {
		c.r.add("read", &c.rOff, n, err)
	}
	return n, err
}

func (c *recordConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 || err != nil {
		c.r.add("write", &c.wOff, n, err)
	}
	return n, err
}

func (c *recordConn) Close() error {
	return c.cl.close(c.Conn.Close)
}
