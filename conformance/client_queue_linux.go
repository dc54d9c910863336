//go:build linux

package conformance

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// sendQueue returns the bytes in c's send queue that the peer has not yet
// acknowledged (SIOCOUTQ). Zero means the peer's kernel holds every byte
// written.
func sendQueue(c *net.TCPConn) (int, error) { return ioctlConn(c, unix.TIOCOUTQ, "SIOCOUTQ") }

// unsentQueue returns the bytes in c's send queue not yet sent at all
// (SIOCOUTQNSD). Zero means every byte written has left in a segment.
func unsentQueue(c *net.TCPConn) (int, error) {
	return ioctlConn(c, unix.SIOCOUTQNSD, "SIOCOUTQNSD")
}

func ioctlConn(c *net.TCPConn, req uint, name string) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), req) }); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if ierr != nil {
		return 0, fmt.Errorf("%s: %w", name, ierr)
	}
	return n, nil
}
