//go:build linux

package conformance

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// sendQueue returns the bytes in c's send queue that the peer has not yet
// acknowledged (SIOCOUTQ). Zero means the peer's kernel holds every byte
// written.
func sendQueue(c *net.TCPConn) (int, error) { return ioctlConn(c, unix.TIOCOUTQ, "SIOCOUTQ") }

// ownUnread returns the bytes c's socket has received that the kit has
// not read (SIOCINQ).
func ownUnread(c *net.TCPConn) (int, error) { return ioctlConn(c, unix.SIOCINQ, "SIOCINQ") }

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

// diagUnread asks the kernel (sock_diag, see diag_linux.go) for the TCP
// socket whose local address is src and remote address dst, and returns
// its receive queue.
func diagUnread(src, dst *net.TCPAddr) (n int, found bool, err error) {
	family, id := socketID(src, dst)
	msgs, err := diagQuery(family, 0xffffffff, id, false)
	if err != nil || len(msgs) == 0 {
		return 0, false, err
	}
	return int(msgs[0].rqueue), true, nil
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

// tcpCloseWait is the state of a socket whose peer has closed and whose
// program has not yet closed it.
const tcpCloseWait = 8

// awaitPeerClose waits, after the kit has closed c, until the server has
// closed its end too (its socket is no longer in CLOSE_WAIT: the server
// read the end of stream and dealt with it, or its process ended), at
// most wait or until ctx ends. It is the event after which what the
// server did about a client that left can be seen.
func awaitPeerClose(ctx context.Context, c *net.TCPConn, wait time.Duration) {
	local, ok1 := c.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return
	}
	family, id := socketID(remote, local) // the server's end: its local address is our remote one
	deadline := time.Now().Add(wait)
	pace := 100 * time.Microsecond
	for time.Now().Before(deadline) {
		msgs, err := diagQuery(family, 1<<tcpCloseWait, id, false)
		if err != nil || len(msgs) == 0 || msgs[0].state != tcpCloseWait {
			return
		}
		if !pause(ctx, pace) {
			return
		}
		pace = min(2*pace, 10*time.Millisecond)
	}
}

// wasReset reports whether c's connection has been reset by the peer: the
// kernel has moved the socket to CLOSE, which, before the kit closes it,
// only a reset does (TCP_INFO).
func wasReset(c *net.TCPConn) (bool, error) {
	st, err := tcpState(c)
	return st == tcpClose, err
}

// tcpClose is TCP_CLOSE of linux/tcp_states.h, the state TCP_INFO reports.
const tcpClose = 7
