package shape_test

import (
	"fmt"
	"net"

	"github.com/stickykit/stickykit/shape"
)

// peerReads reads c until EOF with a large buffer and returns the size of
// every read.
func peerReads(c net.Conn) <-chan []int {
	ch := make(chan []int, 1)
	go func() {
		var sizes []int
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				sizes = append(sizes, n)
			}
			if err != nil {
				break
			}
		}
		ch <- sizes
	}()
	return ch
}

func ExampleFragment() {
	a, b := net.Pipe()
	defer b.Close()
	reads := peerReads(b)

	c := shape.Fragment(a, shape.Fixed(3))
	c.Write([]byte("0123456789"))
	c.Close()
	fmt.Println(<-reads)
	// Output: [3 3 3 1]
}

func ExampleCoalesce() {
	a, b := net.Pipe()
	defer b.Close()
	reads := peerReads(b)

	// Everything written between two turns arrives as one segment: the
	// file's tail and its digest in one read.
	c := shape.Coalesce(a, shape.Fixed(1<<30))
	c.Write([]byte("tail of the file"))
	c.Write([]byte("0123456789abcdef0123456789abcdef"))
	c.Close()
	fmt.Println(<-reads)
	// Output: [48]
}
