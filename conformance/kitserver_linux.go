//go:build linux

package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// sendQueue returns the bytes in c's send queue that the peer has not yet
// acknowledged (SIOCOUTQ). Zero means the peer's kernel holds every byte
// written.
func sendQueue(c *net.TCPConn) (int, error) { return ioctlConn(c, unix.TIOCOUTQ, "SIOCOUTQ") }

// unsentQueue returns the bytes in c's send queue not yet sent at all
// (SIOCOUTQNSD). Zero means every byte written has left in a segment.
func unsentQueue(c *net.TCPConn) (int, error) {
	return ioctlConn(c, unix.SIOCOUTQNSD, "SIOCOUTQNSD")
}

func ioctlConn(c *net.TCPConn, req uint, name string) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), req) }); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if ierr != nil {
		return 0, fmt.Errorf("%s: %w", name, ierr)
	}
	return n, nil
}

// peerUnread returns how many bytes the peer of c has received but its
// program has not yet read: the receive queue of the peer's socket. It
// works when the peer is on this host, in this network namespace (a client
// on loopback); found is false otherwise. It asks the kernel for that one
// socket (sock_diag netlink), and reads /proc/net/tcp{,6} only where
// netlink is refused: on a busy host those files list every socket, and
// reading them can take a second.
func peerUnread(c *net.TCPConn) (n int, found bool, err error) {
	local, ok1 := c.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0, false, nil
	}
	// The peer's socket has our remote address as its local one.
	n, found, err = diagUnread(remote, local)
	if err == nil {
		return n, found, nil
	}
	return procUnread(remote, local)
}

// diagRecvTimeout bounds the wait for the kernel's answer to a sock_diag
// request.
const diagRecvTimeout = time.Second

// diagUnread asks the kernel (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY) for
// the TCP socket whose local address is src and remote address dst, and
// returns its receive queue.
func diagUnread(src, dst *net.TCPAddr) (n int, found bool, err error) {
	family, sa, da := uint8(unix.AF_INET), src.IP.To4(), dst.IP.To4()
	if sa == nil || da == nil {
		family, sa, da = unix.AF_INET6, src.IP.To16(), dst.IP.To16()
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, false, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(diagRecvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, false, fmt.Errorf("sock_diag: %w", err)
	}
	// struct nlmsghdr, then struct inet_diag_req_v2 (linux/inet_diag.h):
	// family, protocol, ext, pad, states, then the socket's ID: ports
	// (big-endian), addresses, interface, and the cookie (none).
	req := make([]byte, unix.SizeofNlMsghdr+56)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(req[8:], 1)
	r := req[unix.SizeofNlMsghdr:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(r[4:], 0xffffffff) // any state
	binary.BigEndian.PutUint16(r[8:], uint16(src.Port))
	binary.BigEndian.PutUint16(r[10:], uint16(dst.Port))
	copy(r[12:28], sa)
	copy(r[28:44], da)
	binary.NativeEndian.PutUint32(r[48:], 0xffffffff) // INET_DIAG_NOCOOKIE
	binary.NativeEndian.PutUint32(r[52:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, false, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 8192)
	m, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, false, fmt.Errorf("sock_diag: %w", err)
	}
	return parseDiag(buf[:m])
}

// parseDiag reads the kernel's answer to a sock_diag request: one struct
// inet_diag_msg, whose receive queue (idiag_rqueue) follows its family,
// state, timer, retransmits, 48-byte socket ID and expiry; or an error,
// ENOENT when there is no such socket.
func parseDiag(b []byte) (n int, found bool, err error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return 0, false, fmt.Errorf("sock_diag: %w", err)
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) < 4 {
				return 0, false, errors.New("sock_diag: short error message")
			}
			errno := -int32(binary.NativeEndian.Uint32(m.Data))
			if errno == 0 || syscall.Errno(errno) == unix.ENOENT {
				return 0, false, nil
			}
			return 0, false, fmt.Errorf("sock_diag: %w", syscall.Errno(errno))
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(m.Data) < 60 {
				return 0, false, errors.New("sock_diag: short inet_diag_msg")
			}
			return int(binary.NativeEndian.Uint32(m.Data[56:])), true, nil
		}
	}
	return 0, false, errors.New("sock_diag: no answer")
}

// procUnread finds the socket whose local address is src and remote
// address dst in /proc/net/tcp or /proc/net/tcp6 and returns its receive
// queue.
func procUnread(src, dst *net.TCPAddr) (n int, found bool, err error) {
	want := procAddr(src) + " " + procAddr(dst)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 5 || f[1]+" "+f[2] != want {
				continue
			}
			_, rx, ok := strings.Cut(f[4], ":")
			if !ok {
				return 0, false, fmt.Errorf("%s: malformed queue field %q", file, f[4])
			}
			v, err := strconv.ParseUint(rx, 16, 32)
			if err != nil {
				return 0, false, fmt.Errorf("%s: malformed receive queue %q", file, rx)
			}
			return int(v), true, nil
		}
	}
	return 0, false, nil
}

// procAddr renders a as /proc/net/tcp{,6} does: the address as 32-bit words
// in host byte order, then the port, all in upper-case hex.
func procAddr(a *net.TCPAddr) string {
	var sb strings.Builder
	if ip4 := a.IP.To4(); ip4 != nil {
		fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(ip4))
	} else {
		ip := a.IP.To16()
		for i := 0; i < 16; i += 4 {
			fmt.Fprintf(&sb, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
		}
	}
	fmt.Fprintf(&sb, ":%04X", a.Port)
	return sb.String()
}

// wasReset reports whether c's connection has been reset by the peer: the
// kernel has moved the socket to CLOSE, which, before the kit closes it,
// only a reset does (TCP_INFO).
func wasReset(c *net.TCPConn) (bool, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("TCP_INFO: %w", err)
	}
	var info *unix.TCPInfo
	var ierr error
	if err := rc.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return false, fmt.Errorf("TCP_INFO: %w", err)
	}
	if ierr != nil {
		return false, fmt.Errorf("TCP_INFO: %w", ierr)
	}
	return info.State == tcpClose, nil
}

// tcpClose is TCP_CLOSE of linux/tcp_states.h, the state TCP_INFO reports.
const tcpClose = 7
