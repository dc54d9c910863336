//go:build linux

package conformance

import (
	"net"
	"strings"
	"testing"
	"time"
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

// TestListenForHeldPort checks the kit's listener on a fixed address that
// is still held: it waits for the holder to let go, and when the holder
// does not, it names it.
func TestListenForHeldPort(t *testing.T) {
	held, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := held.Addr().String()
	if _, err := listenFor(t.Context(), addr, 0); err == nil || !strings.Contains(err.Error(), "by stickykit itself") {
		t.Errorf("listenFor(%s) held by this process = %v, want an error naming stickykit as the holder", addr, err)
	}
	got := make(chan error, 1)
	go func() {
		ln, err := listenFor(t.Context(), addr, time.Minute)
		if err == nil {
			ln.Close()
		}
		got <- err
	}()
	held.Close() // before or after listenFor's first try: it waits for this either way
	if err := <-got; err != nil {
		t.Errorf("listenFor(%s) once the holder closed = %v, want a listener", addr, err)
	}
}
