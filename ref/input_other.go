//go:build !linux

package ref

import "net"

// sentAny cannot say here: only Linux is asked.
func sentAny(net.Conn) (sent, ok bool) { return false, false }
