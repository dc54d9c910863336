// Package shape wraps a net.Conn so that the bytes written through it reach
// the peer cut into chosen segments, or stop reaching it at a chosen point.
// It is in the spirit of testing/iotest and of toxiproxy's slicer: each
// constructor takes any net.Conn and returns a net.Conn.
//
// Shaping acts on the write side. A wrapper decides how the bytes written
// through it are cut into the underlying Writes; reads pass through
// unchanged. Over net.Pipe the underlying Writes are exactly what the peer's
// reads see: a Read never spans two Writes, and a Read with a smaller buffer
// takes part of one Write. So over net.Pipe a [Plan] fixes the peer's read
// boundaries exactly:
//
//	Fragment(c, Fixed(3)), Write of 10 bytes -> peer reads 3, 3, 3, 1
//	Coalesce(c, Fixed(8)), Writes of 5, 7, 22 -> peer reads 8, 8, 8, 8, then 2 at the next turn
//
// Over TCP nothing is exact: TCP is a byte stream and promises nothing about
// read boundaries. [FragmentPaced] sets TCP_NODELAY and waits between
// segments so that the kernel usually keeps them apart, and that is all.
//
// The wrappers:
//
//   - [Fragment] and [FragmentPaced] cut every Write into segments.
//   - [Coalesce] holds written bytes and delivers them in segments that
//     cross Write boundaries (the file's tail and the digest in one read).
//   - [Cut], [Reset] and [Stall] inject faults after a byte count.
//   - [Record] keeps the size and offset of every Read and Write.
//
// Plans ([Fixed], [Sizes], [Random]) have a text form that [ParsePlan]
// reads, for command-line flags: "fixed:3", "sizes:5,1", "random:7:1:64".
//
// Every wrapper behaves as a net.Conn: deadlines and addresses are
// delegated, Close is idempotent and safe to call concurrently with Read and
// Write, and Read and Write may be called from different goroutines.
// The shaping and fault wrappers serialize concurrent Writes, so the
// segments of two Writes never interleave.
package shape
