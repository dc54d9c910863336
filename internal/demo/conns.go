package demo

import (
	"net"
	"os"
	"sync"
	"time"
)

// recvBufSize bounds one piece taken from the pipe by a recvConn. A larger
// piece is taken in several, as a receive window would cut it.
const recvBufSize = 1 << 20

// recvConn gives the client's end of a net.Pipe a receive buffer, as a
// kernel socket has: a goroutine takes every piece the server writes as soon
// as it is written and queues it, so the server never waits for the client
// to read. A Read returns bytes of one queued piece only (never of two), so
// the pieces that the shaping wrappers cut are exactly what the client's
// reads see, as over net.Pipe itself. Writes pass through.
//
// Read honours the read deadline itself (the pipe is read by the goroutine
// without one). A Read with a deadline that finds nothing queued while
// stuck reports the exchange deadlocked (the server waits for the client,
// with everything it wrote queued here) ends at once, as its deadline
// would have once passed: nothing can arrive before it, however busy the
// machine. Close closes the pipe and waits for the goroutine to end.
type recvConn struct {
	net.Conn

	// stuck, when set, reports whether the server waits for bytes the
	// client has not sent, having written nothing that is not queued
	// here: pumped is the bytes queued so far, sent the bytes the client
	// wrote.
	stuck func(pumped, sent int64) bool

	mu     sync.Mutex
	queue  [][]byte  // pieces not yet read; queue[0] may be partly read
	pumped int64     // bytes ever queued
	sent   int64     // bytes the client wrote
	err    error     // what ended the goroutine's reading, once the queue is empty
	rdl    time.Time // read deadline
	notify chan struct{}
	closed chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newRecvConn(c net.Conn) *recvConn {
	r := &recvConn{
		Conn:   c,
		notify: make(chan struct{}, 1),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go r.pump()
	return r
}

// pump moves pieces from the pipe to the queue until the pipe fails.
func (r *recvConn) pump() {
	defer close(r.done)
	buf := make([]byte, recvBufSize)
	for {
		n, err := r.Conn.Read(buf)
		r.mu.Lock()
		if n > 0 {
			r.queue = append(r.queue, append([]byte(nil), buf[:n]...))
			r.pumped += int64(n)
		}
		if err != nil {
			r.err = err
		}
		r.mu.Unlock()
		r.wake()
		if err != nil {
			return
		}
	}
}

func (r *recvConn) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recvConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r.mu.Lock()
		if len(r.queue) > 0 {
			n := copy(p, r.queue[0])
			if n == len(r.queue[0]) {
				r.queue = r.queue[1:]
			} else {
				r.queue[0] = r.queue[0][n:]
			}
			r.mu.Unlock()
			return n, nil
		}
		err, dl, pumped, sent := r.err, r.rdl, r.pumped, r.sent
		r.mu.Unlock()
		select {
		case <-r.closed:
			return 0, &net.OpError{Op: "read", Net: "pipe", Err: net.ErrClosed}
		default:
		}
		if err != nil {
			return 0, err
		}
		var timer *time.Timer
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 || (r.stuck != nil && r.stuck(pumped, sent)) {
				return 0, &net.OpError{Op: "read", Net: "pipe", Err: os.ErrDeadlineExceeded}
			}
			timer = time.NewTimer(d)
			timeout = timer.C
		}
		select {
		case <-r.notify:
		case <-timeout:
		case <-r.closed:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// Write writes to the pipe and counts what the client sent.
func (r *recvConn) Write(p []byte) (int, error) {
	n, err := r.Conn.Write(p)
	r.mu.Lock()
	r.sent += int64(n)
	r.mu.Unlock()
	return n, err
}

func (r *recvConn) SetReadDeadline(t time.Time) error {
	r.mu.Lock()
	r.rdl = t
	r.mu.Unlock()
	r.wake()
	return nil
}

func (r *recvConn) SetDeadline(t time.Time) error {
	r.SetReadDeadline(t)
	return r.Conn.SetWriteDeadline(t)
}

func (r *recvConn) Close() error {
	err := net.ErrClosed
	r.once.Do(func() {
		close(r.closed)
		err = r.Conn.Close()
		<-r.done
	})
	if err == net.ErrClosed {
		return nil
	}
	return err
}

// turnConn watches the server's end of the pipe for the moment the server
// waits for bytes the client will never send (a Read that began when the
// server had already read everything the client wrote) and everything the
// server wrote has gone into the pipe. Only then may the client's end close
// without cutting a write of the server short, which keeps the recorded
// events the same on every run.
type turnConn struct {
	net.Conn

	// onChange, when set, is called whenever the server's reads or
	// writes move on.
	onChange func()

	mu      sync.Mutex
	read    int64 // bytes the server has read
	written int64 // bytes written to the pipe
	waiting int64 // read when the Read in progress began; -1 when none
	notify  chan struct{}
}

func (t *turnConn) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	t.mu.Lock()
	t.written += int64(n)
	t.mu.Unlock()
	t.wake()
	return n, err
}

func (t *turnConn) wake() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
	if t.onChange != nil {
		t.onChange()
	}
}

func newTurnConn(c net.Conn) *turnConn {
	return &turnConn{Conn: c, waiting: -1, notify: make(chan struct{}, 1)}
}

func (t *turnConn) Read(p []byte) (int, error) {
	t.mu.Lock()
	t.waiting = t.read
	t.mu.Unlock()
	t.wake()
	n, err := t.Conn.Read(p)
	t.mu.Lock()
	t.read += int64(n)
	t.waiting = -1
	t.mu.Unlock()
	t.wake()
	return n, err
}

// idle reports whether the server is in a Read that began after it had
// read all sent bytes, with wrote bytes in the pipe; it returns how many
// bytes are in the pipe.
func (t *turnConn) idle(sent, wrote int64) (bool, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.waiting >= 0 && t.waiting >= sent && t.written >= wrote, t.written
}

// waitIdle waits until the server is in a Read that began after it had read
// all sent bytes, with all it wrote (as told by wrote) in the pipe; or
// until stop is closed, or limit has passed.
func (t *turnConn) waitIdle(sent int64, wrote func() int64, stop <-chan struct{}, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		if idle, _ := t.idle(sent, wrote()); idle {
			return
		}
		select {
		case <-t.notify:
		case <-stop:
			return
		case <-timer.C:
			return
		}
	}
}
