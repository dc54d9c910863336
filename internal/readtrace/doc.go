// Package readtrace records a program's own read calls on one TCP
// connection, with strace, and says what each read took: which bytes of
// the stream, and of which messages.
//
// The kit sees a program under test from the outside: what reached it,
// what it left behind, how it exited. The kernel sees more: every read
// call, how many bytes it asked for and how many it got. Run under strace,
// the tutorial's naive client fetching a 100,000-byte file shows 97 reads
// of 1024 bytes after the size, then one recvfrom(..., 1024) that returns
// 704: the last 672 bytes of the file and the 32 of the digest. This
// package makes that evidence:
//
//   - [Probe] finds out once whether tracing works here, and says in one
//     sentence why not ([*UnavailableError]);
//   - [Tracer.Command] wraps a command line so that it runs under strace,
//     which writes the trace to a file of its own (never to the program's
//     stderr), with every socket named by its addresses and no byte of
//     data (sizes only);
//   - [Parse] reads that file and [Trace.Stream] returns the reads of one
//     connection, named by its addresses ([Conn]), each with the offset of
//     its first byte in the stream ([Read]);
//   - [Classify] lays the reads of a client over the server-to-client
//     stream of one exchange ([Layout]) and finds the read that crossed the
//     data/digest boundary (the sticky packet), a short read of the digest
//     (the half packet), a read of the size together with data, and a
//     client that read none or only part of the digest ([Finding], whose
//     Words are the sentence a verdict can quote);
//   - [ClassifyRequest] does the same for a server's reads of a request;
//   - [Picture] draws the reads with the byte timeline of package
//     internal/timeline, the same picture as "stickykit demo".
//
// The strace command line, and why:
//
//	strace -f --seccomp-bpf -qqq -e signal=none
//	       -e trace=read,readv,recvfrom,recvmsg,recvmmsg,splice,preadv2,?recv
//	       -e abbrev=none -yy -s 0 -o FILE -- CMD ARG...
//
// -f follows threads and child processes (a Go program reads on whatever
// thread runs the goroutine; a script may fork). --seccomp-bpf stops the
// program only at the traced calls, not at every system call: the main
// cost of tracing. -qqq and -e signal=none leave out the lines about
// processes and signals. The traced calls are every call that can take
// bytes from a connected TCP socket: read, readv, recv (where the
// architecture has it: "?" lets strace accept its absence), recvfrom,
// recvmsg, recvmmsg (each message one read), splice (Go's io.Copy from a
// TCP connection to a file uses it) and preadv2 (with offset -1 it reads
// like readv). pread64 and preadv are left out: they fail with ESPIPE on a
// socket. Reads through io_uring are invisible to strace. -e abbrev=none
// prints every element of an iovec array (strace otherwise cuts arrays
// at the string limit, and the sizes asked for would be lost). -yy names
// every descriptor: a socket by its addresses, TCP:[LOCAL->PEER], so the
// parser keeps the reads of the kit's connection and ignores those of
// files and other sockets. -s 0 prints no byte of any string: the trace
// holds sizes, never the peer's data, so it stays small and leaks nothing.
// -o FILE keeps the trace apart from the program's own output; the path
// is made absolute, because strace takes one that begins with "|" or "!"
// as a command to pipe to.
//
// strace exits with the program's exit status, and when the program is
// killed by a signal it kills itself with the same signal, so a wrapped
// command reports as the program would. With -o FILE strace blocks SIGINT
// and SIGTERM, and a SIGKILL of strace alone leaves the program running
// untraced: stop a wrapped command by signalling its whole process group.
package readtrace
