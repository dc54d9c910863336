package conformance_test

import (
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/stickykit/stickykit/shape"
)

// readAll reads c until EOF with a buffer larger than any segment and
// returns the size of every read and the bytes.
func readAll(c net.Conn) ([]int, []byte, error) {
	var sizes []int
	var data []byte
	buf := make([]byte, 1<<17)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			sizes = append(sizes, n)
			data = append(data, buf[:n]...)
		}
		if err == io.EOF {
			return sizes, data, nil
		}
		if err != nil {
			return sizes, data, err
		}
	}
}

// fragmentSegments predicts the segments Fragment(c, Sizes(plan...))
// delivers for the given writes: each write cut by the plan's next sizes,
// its last piece possibly short; the plan goes on from one write to the
// next.
func fragmentSegments(plan, writes []int) []int {
	var segs []int
	i := 0
	for _, w := range writes {
		for w > 0 {
			n := min(plan[min(i, len(plan)-1)], w)
			i++
			segs = append(segs, n)
			w -= n
		}
	}
	return segs
}

// TestPropertyShapeSegments checks that the shaping wrappers, fed a drawn
// plan, deliver exactly the planned segments over net.Pipe: Fragment cuts
// every write by the plan, and Coalesce merges the writes and cuts the
// whole stream by the plan, releasing the rest at Flush.
func TestPropertyShapeSegments(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rapid.Check(t, func(t *rapid.T) {
		plan := rapid.SliceOfN(rapid.IntRange(1, 4096), 1, 8).Draw(t, "plan")
		writes := rapid.SliceOfN(rapid.IntRange(0, 10000), 0, 8).Draw(t, "writes")
		coalesce := rapid.Bool().Draw(t, "coalesce")
		total := 0
		for _, w := range writes {
			total += w
		}
		data := fileContent(rapid.Uint64().Draw(t, "content seed"), total)

		a, b := net.Pipe()
		a.SetDeadline(time.Now().Add(pipeTimeout))
		b.SetDeadline(time.Now().Add(pipeTimeout))
		type result struct {
			sizes []int
			data  []byte
			err   error
		}
		got := make(chan result, 1)
		go func() {
			s, d, err := readAll(b)
			b.Close()
			got <- result{s, d, err}
		}()

		var w net.Conn
		var want []int
		if coalesce {
			w = shape.Coalesce(a, shape.Sizes(plan...))
			want = cover(total, plan...)
		} else {
			w = shape.Fragment(a, shape.Sizes(plan...))
			want = fragmentSegments(plan, writes)
		}
		var werr error
		off := 0
		for _, n := range writes {
			if _, werr = w.Write(data[off : off+n]); werr != nil {
				break
			}
			off += n
		}
		if f, ok := w.(shape.Flusher); ok && werr == nil {
			werr = f.Flush()
		}
		w.Close()
		r := <-got

		if werr != nil || r.err != nil {
			t.Fatalf("write error %v, read error %v", werr, r.err)
		}
		if !bytes.Equal(r.data, data) {
			t.Fatalf("peer received %d bytes, want the %d written", len(r.data), len(data))
		}
		if !slices.Equal(r.sizes, want) {
			t.Fatalf("peer reads %s, want %s", runs(r.sizes), runs(want))
		}
	})
}
