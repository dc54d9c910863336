// Package naive holds clients that are wrong exactly as the tutorial's
// clients are, so that the sticky-packet bug can be shown on demand. Do not
// use them to download anything you need: use package ref.
//
// Both read straight from the net.Conn with plain Read calls into a
// 1024-byte buffer, as the tutorial's client.recv(1024) did, with no
// buffering between the messages.
//
// The tutorial's first client ([Naive]) reads the body like this:
//
//	while received_size < file_total_size:
//	    data = client.recv(1024)
//	    received_size += len(data)
//	    m.update(data); f.write(data)
//	server_file_md5 = client.recv(1024)
//
// The server sends the body and then the 32-digit digest with no pause, and
// TCP is a byte stream: when the kernel has both the file's tail and the
// digest queued, the last recv(1024) returns them together (the "sticky
// packet", 粘包). The client writes the digest into the file and hashes it
// as data: the file comes out up to 32 bytes too long, the digests differ,
// and the digest read that follows finds nothing (the tutorial's client
// then waits forever).
//
// The article's fix ([Article]) reads the body with
//
//	size = min(1024, file_total_size - received_size)
//	data = client.recv(size)
//
// so the last data read stops exactly at the end of the file. The data is
// now right, but the fix is incomplete: the digest is still read with one
// recv(1024), which returns whatever has arrived. When the digest arrives in
// two pieces (the "half packet", 半包), the client compares the file's digest
// with a fragment of the server's and reports a mismatch for a good file.
// The size is read with one recv(1024) too, and is wrong in the same way
// when it arrives split.
//
// A [Client] reproduces those readings and reports what they produced in a
// [Result]: the reads, the bytes written, both digests. A mismatch is not an
// error: it is the result the lesson is about. Where the tutorial's client
// would hang for a digest that never comes, a Client waits
// [Client.DigestWait] and reports that no digest arrived.
package naive
