//go:build !linux

package conformance

import "net"

// serverAccepted cannot see the server's end of a connection here.
func serverAccepted(c *net.TCPConn) (accepted, found bool, err error) { return false, false, nil }

// acceptVisible reports false: the kit cannot see when a server accepts
// a connection here.
func acceptVisible(addr string) bool { return false }
