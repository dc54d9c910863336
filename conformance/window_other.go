//go:build !linux

package conformance

import "syscall"

// narrowWindow is nil here: the receive buffer is set once the
// connection is made, and the segment size is left to the system.
var narrowWindow func(network, address string, rc syscall.RawConn) error
