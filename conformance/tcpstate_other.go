//go:build !linux

package conformance

import (
	"errors"
	"net"
)

// errNoState is the error of the functions that cannot see a
// connection's state here.
var errNoState = errors.New("the connection's state cannot be observed on this system (TCP_INFO is read on Linux only)")

// peerEnded cannot see the connection's state here.
func peerEnded(c *net.TCPConn) (bool, error) { return false, errNoState }

// tcpState cannot see the connection's state here.
func tcpState(c *net.TCPConn) (uint8, error) { return 0, errNoState }

// tcpClose is TCP_CLOSE of Linux, which tcpState never returns here.
const tcpClose = 7
