//go:build unix

package conformance

import (
	"errors"
	"net"
	"syscall"
)

// resetError returns the error a reset left pending on c (SO_ERROR):
// ECONNRESET, or EPIPE when the peer's reset came after its end of
// stream; nil when there is none. It consumes the error.
func resetError(c *net.TCPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	var soerr int
	rc.Control(func(fd uintptr) {
		soerr, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
	})
	switch e := syscall.Errno(soerr); {
	case soerr == 0:
		return nil
	case errors.Is(e, syscall.ECONNRESET), errors.Is(e, syscall.EPIPE):
		return e
	}
	return nil
}
