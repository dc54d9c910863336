package conformance

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// narrowWindow sets, before a connection is made, a small receive buffer
// and a small segment size on its socket. The buffer bounds the window
// the kit offers; the segment size bounds the send buffer the peer's
// kernel grows for it (on loopback, with segments of 64 KiB, that buffer
// grows to megabytes and a slow reader never makes a write block).
func narrowWindow(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, narrowBuffer)
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, narrowSegment)
		}
	})
	if err != nil {
		return err
	}
	return serr
}
