package conformance

import (
	"io"
	"net"
	"testing"
	"time"
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

// TestResetByPeer checks how the kit tells a client that closed before the
// kit's last bytes arrived (its kernel answers them with a reset) from one
// that is still there (its kernel acknowledges them, read or not): the
// event the kit waits for is the kernel's answer, whenever it comes.
func TestResetByPeer(t *testing.T) {
	pair := func(t *testing.T) (kit *net.TCPConn, peer net.Conn) {
		t.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		peer, err = net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		nc, err := ln.Accept()
		if err != nil {
			peer.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); peer.Close() })
		return nc.(*net.TCPConn), peer
	}
	session := func(c *net.TCPConn) *clientSession {
		x := &clientCheck{check: check{timeout: time.Minute}}
		return &clientSession{x: x, ctx: t.Context(), conn: c}
	}
	t.Run("closed before", func(t *testing.T) {
		kit, peer := pair(t)
		peer.Close()
		// The peer's end of stream arrives first, as the client's did.
		if n, err := kit.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("read after the peer closed = %d, %v; want 0, EOF", n, err)
		}
		if _, err := kit.Write([]byte("0123456789abcdef")); err != nil {
			t.Fatal(err)
		}
		if !session(kit).resetByPeer() {
			t.Errorf("resetByPeer after writing to a closed peer = false, want true")
		}
	})
	t.Run("still open", func(t *testing.T) {
		kit, _ := pair(t)
		if _, err := kit.Write([]byte("0123456789abcdef")); err != nil {
			t.Fatal(err)
		}
		if session(kit).resetByPeer() {
			t.Errorf("resetByPeer with the peer open (not reading) = true, want false")
		}
	})
}
