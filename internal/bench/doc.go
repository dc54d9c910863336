// Package bench measures the reference implementation of the stickykit
// exchange: transfer throughput against the single-core MD5 rate of the
// same machine (the work both ends must do), memory use of a server and a
// client process, and many concurrent clients against one server. It is the
// engine of "stickykit bench" and of the package's Go benchmarks.
//
// Every measurement runs on loopback TCP with files in a temporary
// directory that [Lab.Close] removes. Figures are reported, never asserted:
// they depend on the machine.
//
// There are two baselines. [Lab.MD5] is the time spent hashing the very
// bytes of the file on one goroutine, excluding the time to read them: a
// transfer can hardly beat it, since the server must hash every byte it
// sends and the client every byte it receives, so the ratio of a transfer's
// rate to it says how much the protocol, the kernel and the file system
// cost on top. [Lab.Disk] copies the file and fsyncs the copy, which a
// download to disk ([Lab.Ref], as "stickykit get") must also do;
// [Lab.RefMem] is the same transfer verified in memory, without the disk.
package bench
