//go:build linux

package conformance

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listening reports whether a TCP socket on this host listens on addr,
// as the kernel says (sock_diag; /proc/net/tcp{,6} where netlink is
// refused), without connecting to it.
func listening(addr string) (bool, error) {
	a, err := parseListenAddr(addr)
	if err != nil {
		return false, err
	}
	found, err := diagListening(a)
	if err == nil {
		return found, nil
	}
	if found, perr := procListening(a); perr == nil {
		return found, nil
	}
	return bindTest(addr)
}

// diagListening lists the listening TCP sockets of both families.
func diagListening(a listenAddr) (bool, error) {
	_, found, err := diagListener(a)
	return found, err
}

// diagListener finds a listening TCP socket for a and returns its inode.
func diagListener(a listenAddr) (inode uint32, found bool, err error) {
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		msgs, err := diagQuery(family, 1<<tcpListen, diagID{}, true)
		if err != nil {
			return 0, false, err
		}
		for _, m := range msgs {
			ip := net.IP(m.id.src[:16])
			if family == unix.AF_INET {
				ip = net.IP(m.id.src[:4])
			}
			if a.matches(ip, int(m.id.sport)) {
				return m.inode, true, nil
			}
		}
	}
	return 0, false, nil
}

// listenerPID returns the process that holds the socket listening on
// addr, where the kit may look (a process of its own user, or any as
// root): the owner of the socket's inode among the processes' open files.
func listenerPID(addr string) (int, bool) {
	a, err := parseListenAddr(addr)
	if err != nil {
		return 0, false
	}
	inode, found, err := diagListener(a)
	if err != nil || !found || inode == 0 {
		return 0, false
	}
	want := "socket:[" + strconv.FormatUint(uint64(inode), 10) + "]"
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir("/proc/" + p.Name() + "/fd")
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name()); err == nil && l == want {
				return pid, true
			}
		}
	}
	return 0, false
}

// procListening reads /proc/net/tcp and /proc/net/tcp6 for a socket in
// state LISTEN (0A) bound to a.
func procListening(a listenAddr) (bool, error) {
	var firstErr error
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" {
				continue
			}
			ip, port, ok := parseProcAddr(f[1])
			if ok && a.matches(ip, port) {
				return true, nil
			}
		}
	}
	return false, firstErr
}

// parseProcAddr parses an address as /proc/net/tcp{,6} writes it (see
// procAddr): 32-bit words in host byte order, a colon, the port in hex.
func parseProcAddr(s string) (net.IP, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		// Each word was printed as a number read in host order: undo it.
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:i+4]))
	}
	return ip, int(port), true
}

// isAddrInUse reports whether err is EADDRINUSE.
func isAddrInUse(err error) bool { return errors.Is(err, unix.EADDRINUSE) }
