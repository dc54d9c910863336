//go:build !linux

package conformance

import (
	"errors"
	"syscall"
)

// listening reports whether something holds addr, by trying to bind it:
// the kernel cannot be asked for its listening sockets here.
func listening(addr string) (bool, error) {
	if _, err := parseListenAddr(addr); err != nil {
		return false, err
	}
	return bindTest(addr)
}

// isAddrInUse reports whether err is EADDRINUSE.
func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// listenerPID cannot find the process of a listening socket here.
func listenerPID(addr string) (int, bool) { return 0, false }
