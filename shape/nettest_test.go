package shape_test

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/stickykit/stickykit/shape"
)

// wrapper wraps one end (1 or 2) of a connection under test.
type wrapper struct {
	name string
	wrap func(c net.Conn, end int) net.Conn
}

// wrappers returns every wrapper, with random plans drawing sizes from
// [lo, 700] seeded by seed and the end.
func wrappers(seed int64, lo int) []wrapper {
	const huge = 1 << 62
	return []wrapper{
		{"Fragment", func(c net.Conn, end int) net.Conn {
			return shape.Fragment(c, shape.Random(seed+int64(end), lo, 700))
		}},
		{"Coalesce", func(c net.Conn, end int) net.Conn {
			return shape.Coalesce(c, shape.Random(seed+int64(end), lo, 700))
		}},
		{"CoalesceFixed1024", func(c net.Conn, end int) net.Conn {
			return shape.Coalesce(c, shape.Fixed(1024))
		}},
		{"Record", func(c net.Conn, end int) net.Conn {
			return shape.Record(c, new(shape.Recorder))
		}},
		{"Cut", func(c net.Conn, end int) net.Conn { return shape.Cut(c, huge) }},
		{"Reset", func(c net.Conn, end int) net.Conn { return shape.Reset(c, huge) }},
		{"Stall", func(c net.Conn, end int) net.Conn { return shape.Stall(c, huge) }},
	}
}

// TestConnContractPipe runs golang.org/x/net/nettest.TestConn on every
// wrapper over net.Pipe, both ends wrapped. stop closes the raw pipe ends
// first, so that a wrapper's Close cannot block flushing to a peer that no
// longer reads.
//
// Where the configuration deliberately differs from the shaping a
// property test uses:
//
//   - Segments are at least 13 bytes. nettest's round trips write 13 bytes
//     to a peer that echoes them, and net.Pipe has no buffer: a 13-byte
//     Write cut into two segments deadlocks, because the peer blocks echoing
//     the first segment while the Write still waits to deliver the second.
//     Any unbuffered transport would; TestConnContractTCP runs 1-byte
//     segments over TCP, whose buffers absorb the echo.
//   - Coalesce plans are at most 1024 bytes, the size of nettest's Writes.
//     With a larger plan (Fixed(1<<30), "one segment per turn") three
//     subtests cannot pass by design: WriteTimeout and PastTimeout expect a
//     Write past its deadline to fail, but a Write that only holds bytes
//     never touches the conn and so never times out; and PresentTimeout
//     writes without reading until its deadline, which Coalesce would hold
//     in memory instead of blocking.
func TestConnContractPipe(t *testing.T) {
	const seed = 1
	for _, w := range wrappers(seed, 13) {
		t.Run(w.name, func(t *testing.T) {
			t.Logf("plan seed %d", seed)
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				a, b := net.Pipe()
				c1, c2 = w.wrap(a, 1), w.wrap(b, 2)
				return c1, c2, func() {
					a.Close()
					b.Close()
					c1.Close()
					c2.Close()
				}, nil
			})
		})
	}
}

// TestConnContractTCP runs nettest on every wrapper over loopback TCP, with
// segments from 1 byte, and with SetNoDelay and SetLinger reaching a real
// socket.
func TestConnContractTCP(t *testing.T) {
	const seed = 3
	for _, w := range wrappers(seed, 1) {
		t.Run(w.name, func(t *testing.T) {
			t.Logf("plan seed %d", seed)
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				a, b := tcpPair(t)
				c1, c2 = w.wrap(a, 1), w.wrap(b, 2)
				return c1, c2, func() {
					a.Close()
					b.Close()
					c1.Close()
					c2.Close()
				}, nil
			})
		})
	}
}
