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
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		msgs, err := diagQuery(family, 1<<tcpListen, diagID{}, true)
		if err != nil {
			return false, err
		}
		for _, m := range msgs {
			ip := net.IP(m.id.src[:16])
			if family == unix.AF_INET {
				ip = net.IP(m.id.src[:4])
			}
			if a.matches(ip, int(m.id.sport)) {
				return true, nil
			}
		}
	}
	return false, nil
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
