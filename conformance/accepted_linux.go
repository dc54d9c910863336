//go:build linux

package conformance

import "net"

// serverAccepted reports whether the server's program has accepted c: the
// kernel has given the server's end of c a file (its socket has an
// inode), which happens when accept(2) takes it from the listen queue;
// a connection still waiting in the queue has none. found is false when
// the kit cannot see the server's end (not on this host, or not yet made:
// see acceptVisible).
func serverAccepted(c *net.TCPConn) (accepted, found bool, err error) {
	local, ok1 := c.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return false, false, nil
	}
	// The server's socket has our remote address as its local one.
	family, id := socketID(remote, local)
	msgs, err := diagQuery(family, 0xffffffff, id, false)
	if err != nil || len(msgs) == 0 {
		return false, false, err
	}
	return msgs[0].inode != 0, true, nil
}

// acceptVisible reports whether the kit can see, for the server listening
// on addr, when it accepts a connection (serverAccepted): the listening
// socket is on this host, in this network namespace.
func acceptVisible(addr string) bool {
	a, err := parseListenAddr(addr)
	if err != nil {
		return false
	}
	_, found, err := diagListener(a)
	return err == nil && found
}
