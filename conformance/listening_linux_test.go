//go:build linux

package conformance

import (
	"net"
	"testing"
)

// TestListening checks every way the kit tells whether something
// listens on an address (sock_diag, /proc/net/tcp{,6}, a bind test)
// against a real listener, over IPv4 and IPv6, before and after it
// closes, and for a listener on the unspecified address.
func TestListening(t *testing.T) {
	for _, tc := range []struct{ network, listen, host string }{
		{"tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"tcp6", "[::1]:0", "::1"},
		{"tcp4", "0.0.0.0:0", "127.0.0.1"},
	} {
		ln, err := net.Listen(tc.network, tc.listen)
		if err != nil {
			t.Logf("no %s listener on %s: %v", tc.network, tc.listen, err)
			continue
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		addr := net.JoinHostPort(tc.host, port)
		a, err := parseListenAddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		check := func(want bool) {
			t.Helper()
			for name, f := range map[string]func() (bool, error){
				"sock_diag": func() (bool, error) { return diagListening(a) },
				"proc":      func() (bool, error) { return procListening(a) },
				"bind":      func() (bool, error) { return bindTest(addr) },
				"listening": func() (bool, error) { return listening(addr) },
			} {
				if got, err := f(); got != want || err != nil {
					t.Errorf("%s(%s, listener on %s) = %v, %v; want %v, nil", name, addr, tc.listen, got, err, want)
				}
			}
		}
		check(true)
		ln.Close()
		check(false)
	}
	if _, err := listening("example.com:80"); err == nil {
		t.Errorf("listening on a host name other than localhost: no error, want one")
	}
}
