package shape

import (
	"fmt"
	"net"
	"sync"
)

// closer closes an underlying conn once. The first Close returns the
// underlying result; later calls return nil. done is closed when closing
// begins, so that waits inside a wrapper can stop early.
type closer struct {
	once sync.Once
	done chan struct{}
}

func newCloser() closer { return closer{done: make(chan struct{})} }

// close runs f once, after marking the conn closed.
func (c *closer) close(f func() error) error {
	err := errAlreadyClosed
	c.once.Do(func() {
		close(c.done)
		err = f()
	})
	if err == errAlreadyClosed {
		return nil
	}
	return err
}

// closed reports whether closing has begun.
func (c *closer) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

var errAlreadyClosed = fmt.Errorf("shape: already closed")

// errClosed is what a write to a wrapper returns once the wrapper is closed.
func errClosed(op string) error {
	return &net.OpError{Op: op, Net: "shape", Err: net.ErrClosed}
}
