package shape_test

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/stickykit/stickykit/conformance/shape"
)

// pipeMaker returns a nettest.MakePipe over net.Pipe with both ends wrapped.
// stop closes the raw pipe ends first, so that a wrapper's Close cannot
// block flushing to a peer that no longer reads.
func pipeMaker(wrap func(c net.Conn, end int) net.Conn) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		a, b := net.Pipe()
		c1, c2 = wrap(a, 1), wrap(b, 2)
		stop = func() {
			a.Close()
			b.Close()
			c1.Close()
			c2.Close()
		}
		return c1, c2, stop, nil
	}
}

// TestConnContract runs golang.org/x/net/nettest.TestConn on every wrapper.
//
// Coalesce runs with plans whose sizes are at most 1024, the size of
// nettest's Writes. With a larger plan (Fixed(1<<30), the conformance
// setting) three subtests cannot pass by design: WriteTimeout and
// PastTimeout expect a Write past its deadline to fail, but a Write that
// only holds bytes never touches the conn and so never times out; and
// PresentTimeout writes without reading until its deadline, which Coalesce
// would hold in memory. Everything else in nettest holds for any plan.
func TestConnContract(t *testing.T) {
	const seed = 1
	const huge = 1 << 62
	tests := []struct {
		name string
		wrap func(c net.Conn, end int) net.Conn
	}{
		{"Fragment", func(c net.Conn, end int) net.Conn {
			return shape.Fragment(c, shape.Random(seed+int64(end), 1, 700))
		}},
		{"Coalesce", func(c net.Conn, end int) net.Conn {
			return shape.Coalesce(c, shape.Random(seed+int64(end), 1, 700))
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Logf("plan seed %d", seed)
			nettest.TestConn(t, pipeMaker(tt.wrap))
		})
	}
}

// TestConnContractTCP runs nettest on Fragment and Reset over loopback TCP,
// where SetNoDelay and SetLinger reach a real socket.
func TestConnContractTCP(t *testing.T) {
	const seed = 3
	for _, tt := range []struct {
		name string
		wrap func(c net.Conn, end int) net.Conn
	}{
		{"Fragment", func(c net.Conn, end int) net.Conn {
			return shape.Fragment(c, shape.Random(seed+int64(end), 1, 700))
		}},
		{"Reset", func(c net.Conn, end int) net.Conn { return shape.Reset(c, 1<<62) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Logf("plan seed %d", seed)
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				a, b := tcpPair(t)
				c1, c2 = tt.wrap(a, 1), tt.wrap(b, 2)
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
