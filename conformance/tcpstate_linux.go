//go:build linux

package conformance

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// tcpCloseWaitState is TCP_CLOSE_WAIT of linux/tcp_states.h: the peer has
// closed its side.
const tcpCloseWaitState = 8

// peerEnded reports whether the peer of c has closed or reset the
// connection, as far as c's kernel knows: the socket is in CLOSE_WAIT (the
// peer's end of stream arrived) or CLOSE (a reset).
func peerEnded(c *net.TCPConn) (bool, error) {
	st, err := tcpState(c)
	return st == tcpCloseWaitState || st == tcpClose, err
}

// tcpState returns the state of c's socket (TCP_INFO), one of those of
// linux/tcp_states.h.
func tcpState(c *net.TCPConn) (uint8, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("TCP_INFO: %w", err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return 0, fmt.Errorf("TCP_INFO: %w", err)
	}
	if ierr != nil {
		return 0, fmt.Errorf("TCP_INFO: %w", ierr)
	}
	return info.State, nil
}
