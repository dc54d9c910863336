//go:build !linux

package conformance

import (
	"errors"
	"net"
)

// peerEnded cannot see the connection's state here.
func peerEnded(c *net.TCPConn) (bool, error) {
	return false, errors.New("the connection's state cannot be observed on this system (TCP_INFO is read on Linux only)")
}
