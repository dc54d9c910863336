package conformance

import (
	"fmt"
	"net"
	"strconv"
)

// Whether a server listens, without connecting to it: a connection, even
// one closed at once, is a client that leaves, and a fragile server may
// die of it (or, accepting one client at a time, be kept busy by it). The
// kit asks the kernel for the listening sockets instead (listening_linux.go),
// or, where it cannot, tries to bind the address itself.

// listenAddr is an address the kit looks for a listener on: a port and
// the IP addresses that can stand for its host.
type listenAddr struct {
	port int
	ips  []net.IP
}

// parseListenAddr parses host:port, with a host that is an IP address or
// "localhost" (both loopback addresses).
func parseListenAddr(addr string) (listenAddr, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return listenAddr{}, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return listenAddr{}, fmt.Errorf("%q: bad port", addr)
	}
	a := listenAddr{port: port}
	switch ip := net.ParseIP(host); {
	case host == "localhost":
		a.ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	case ip != nil:
		a.ips = []net.IP{ip}
	default:
		return listenAddr{}, fmt.Errorf("%q: the host must be an IP address or localhost", addr)
	}
	return a, nil
}

// matches reports whether a socket bound to ip:port listens for a.
// A socket bound to the unspecified address listens on every address.
func (a listenAddr) matches(ip net.IP, port int) bool {
	if port != a.port {
		return false
	}
	if ip.IsUnspecified() {
		return true
	}
	for _, want := range a.ips {
		if want.Equal(ip) {
			return true
		}
	}
	return false
}

// bindTest reports whether something holds addr: the kit cannot bind it
// (address in use). It is the fallback where the kernel cannot be asked.
func bindTest(addr string) (bool, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		ln.Close()
		return false, nil
	}
	if isAddrInUse(err) {
		return true, nil
	}
	return false, err
}
