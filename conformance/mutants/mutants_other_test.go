//go:build !linux

package mutants_test

import (
	"errors"
	"net"
)

// unreadBytes cannot see the receive queue here.
func unreadBytes(c net.Conn) (int, error) {
	return 0, errors.New("the receive queue is read on Linux only")
}
