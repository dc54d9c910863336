//go:build linux

package conformance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel's sock_diag interface (NETLINK_SOCK_DIAG, linux/inet_diag.h):
// the kit asks it about one socket (a client's receive queue) or lists the
// listening sockets (is a server listening?), without touching them.

// diagRecvTimeout bounds the wait for each part of the kernel's answer.
const diagRecvTimeout = time.Second

// diagID is a socket's ID in an inet_diag request: its ports and its
// addresses (IPv4 in the first 4 bytes).
type diagID struct {
	sport, dport uint16
	src, dst     [16]byte
}

// socketID returns the family and the sock_diag ID of the TCP socket
// whose local address is src and remote address dst.
func socketID(src, dst *net.TCPAddr) (uint8, diagID) {
	family, sa, da := uint8(unix.AF_INET), src.IP.To4(), dst.IP.To4()
	if sa == nil || da == nil {
		family, sa, da = unix.AF_INET6, src.IP.To16(), dst.IP.To16()
	}
	id := diagID{sport: uint16(src.Port), dport: uint16(dst.Port)}
	copy(id.src[:], sa)
	copy(id.dst[:], da)
	return family, id
}

// diagMsg is what the kit reads of one struct inet_diag_msg.
type diagMsg struct {
	state  uint8
	id     diagID
	rqueue uint32
	inode  uint32
}

// The TCP states the kit asks for (include/net/tcp_states.h).
const tcpListen = 10

// diagQuery sends one SOCK_DIAG_BY_FAMILY request for TCP sockets of
// family in the states of the mask states: the one socket id names, or,
// with dump, every such socket. A socket that does not exist is no
// message and no error.
func diagQuery(family uint8, states uint32, id diagID, dump bool) ([]diagMsg, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(diagRecvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	// struct nlmsghdr, then struct inet_diag_req_v2: family, protocol,
	// ext, pad, states, then the socket's ID: ports (big-endian),
	// addresses, interface, and the cookie (none).
	req := make([]byte, unix.SizeofNlMsghdr+56)
	flags := uint16(unix.NLM_F_REQUEST)
	if dump {
		flags |= unix.NLM_F_DUMP
	}
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], flags)
	binary.NativeEndian.PutUint32(req[8:], 1)
	r := req[unix.SizeofNlMsghdr:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(r[4:], states)
	binary.BigEndian.PutUint16(r[8:], id.sport)
	binary.BigEndian.PutUint16(r[10:], id.dport)
	copy(r[12:28], id.src[:])
	copy(r[28:44], id.dst[:])
	binary.NativeEndian.PutUint32(r[48:], 0xffffffff) // INET_DIAG_NOCOOKIE
	binary.NativeEndian.PutUint32(r[52:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag: %w", err)
	}
	var out []diagMsg
	buf := make([]byte, 32<<10)
	for {
		m, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag: %w", err)
		}
		msgs, done, err := parseDiag(buf[:m])
		out = append(out, msgs...)
		if err != nil || done || !dump {
			return out, err
		}
	}
}

// parseDiag reads one datagram of the kernel's answer: struct
// inet_diag_msg parts (family, state, timer, retransmits, the 48-byte
// socket ID, expiry, receive queue, send queue, uid, inode), the end of a
// dump, or an error (ENOENT: no such socket).
func parseDiag(b []byte) (msgs []diagMsg, done bool, err error) {
	parts, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, false, fmt.Errorf("sock_diag: %w", err)
	}
	for _, p := range parts {
		switch p.Header.Type {
		case unix.NLMSG_DONE:
			return msgs, true, nil
		case unix.NLMSG_ERROR:
			if len(p.Data) < 4 {
				return nil, false, errors.New("sock_diag: short error message")
			}
			errno := -int32(binary.NativeEndian.Uint32(p.Data))
			if errno == 0 || syscall.Errno(errno) == unix.ENOENT {
				return msgs, true, nil
			}
			return nil, false, fmt.Errorf("sock_diag: %w", syscall.Errno(errno))
		case unix.SOCK_DIAG_BY_FAMILY:
			d := p.Data
			if len(d) < 72 {
				return nil, false, errors.New("sock_diag: short inet_diag_msg")
			}
			var m diagMsg
			m.state = d[1]
			m.id.sport = binary.BigEndian.Uint16(d[4:])
			m.id.dport = binary.BigEndian.Uint16(d[6:])
			copy(m.id.src[:], d[8:24])
			copy(m.id.dst[:], d[24:40])
			m.rqueue = binary.NativeEndian.Uint32(d[56:])
			m.inode = binary.NativeEndian.Uint32(d[68:])
			msgs = append(msgs, m)
		}
	}
	return msgs, false, nil
}
