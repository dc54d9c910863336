package ref

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// sentAny reports whether the client of nc has sent any byte, read or not:
// the kernel's count of bytes received on the connection (TCP_INFO). ok is
// false when the kernel cannot say.
func sentAny(nc net.Conn) (sent, ok bool) {
	sc, isSys := nc.(syscall.Conn)
	if !isSys {
		return false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var info *unix.TCPInfo
	rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err != nil || info == nil {
		return false, false
	}
	return info.Bytes_received > 0, true
}
