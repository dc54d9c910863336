//go:build !linux

package conformance

import (
	"context"
	"errors"
	"net"
	"time"
)

var errNoQueue = errors.New("the send queue cannot be observed on this system (SIOCOUTQ is Linux-only)")

// sendQueue cannot observe the send queue here: the cases that need a
// drain report their condition unconfirmed.
func sendQueue(c *net.TCPConn) (int, error) { return 0, errNoQueue }

// ownUnread cannot observe the receive queue here.
func ownUnread(c *net.TCPConn) (int, error) { return 0, errNoQueue }

// unsentQueue cannot observe the send queue here.
func unsentQueue(c *net.TCPConn) (int, error) { return 0, errNoQueue }

// peerUnread cannot see the peer's receive queue here: drains fall back to
// a pause.
func peerUnread(c *net.TCPConn) (int, bool, error) { return 0, false, nil }

// awaitPeerClose cannot see the server's end of a connection here: it
// returns at once.
func awaitPeerClose(ctx context.Context, c *net.TCPConn, wait time.Duration) {}

// wasReset cannot see the connection's state here.
func wasReset(c *net.TCPConn) (bool, error) {
	return false, errors.New("the connection's state cannot be observed on this system (TCP_INFO is read on Linux only)")
}
