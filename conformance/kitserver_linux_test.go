package conformance

import (
	"io"
	"net"
	"testing"
)

// TestPeerUnread checks both ways the kit reads a loopback peer's receive
// queue (sock_diag and /proc/net/tcp) against bytes written and read on a
// real connection, over IPv4 and IPv6.
func TestPeerUnread(t *testing.T) {
	for network, addr := range map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"} {
		t.Run(network, func(t *testing.T) {
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			peer, err := net.Dial(network, ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			nc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			c := nc.(*net.TCPConn)
			if _, err := c.Write(make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
			// The bytes are in the peer's queue once our send queue is empty.
			for {
				if n, err := sendQueue(c); err != nil || n == 0 {
					break
				}
			}
			src, dst := c.RemoteAddr().(*net.TCPAddr), c.LocalAddr().(*net.TCPAddr)
			want := 1000
			for _, read := range []int{0, 400, 600} {
				if _, err := io.ReadFull(peer, make([]byte, read)); err != nil {
					t.Fatal(err)
				}
				want -= read
				for name, f := range map[string]func(src, dst *net.TCPAddr) (int, bool, error){"sock_diag": diagUnread, "proc": procUnread} {
					if n, found, err := f(src, dst); n != want || !found || err != nil {
						t.Errorf("%s after the peer read %d: %d, %v, %v; want %d, true, nil", name, read, n, found, err, want)
					}
				}
				if n, found, err := peerUnread(c); n != want || !found || err != nil {
					t.Errorf("peerUnread after the peer read %d: %d, %v, %v; want %d, true, nil", read, n, found, err, want)
				}
			}
			gone := &net.TCPAddr{IP: src.IP, Port: 1}
			if n, found, err := diagUnread(gone, dst); found || err != nil {
				t.Errorf("sock_diag for no socket: %d, %v, %v; want not found, nil", n, found, err)
			}
		})
	}
}
