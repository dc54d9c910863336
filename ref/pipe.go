package ref

import (
	"crypto/md5"
	"hash"
	"sync"
)

// A server that does not remember a file's digest must hash every byte it
// sends, and MD5 runs on one core at roughly the speed of the rest of the
// transfer put together. A transfer larger than one small buffer therefore
// hashes on a goroutine of its own while the server moves the bytes from
// the file to the socket, so that hashing and I/O overlap. (The client has
// a pipeline of its own: see receiver.)
//
// The bytes hashed are the very bytes moved: the caller fills a buffer
// once, hands it to the hasher and then writes out that same buffer, which
// nobody changes until the hasher has released it. (The server could send
// with sendfile and hash a second read of the file, but a file changed in
// place during the transfer would then get a digest of bytes other than
// those sent, which SPEC.md REQ-MSG-10 forbids. It uses sendfile only when
// it need not hash at all: see sendBody.)
const (
	// smallBufSize is the buffer of a transfer hashed inline: any data of
	// at most this size.
	smallBufSize = 64 << 10
	// pipeBufSize is the size of each buffer of a pipelined transfer.
	pipeBufSize = 256 << 10
	// pipeBufs is the number of buffers of one pipelined transfer: one
	// being filled or written out while the other is hashed. More did not
	// measure faster, and each costs pipeBufSize per transfer in flight.
	pipeBufs = 2
)

var (
	smallBufPool = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}
	pipeBufPool  = sync.Pool{New: func() any { b := make([]byte, pipeBufSize); return &b }}
)

// digester hashes the data of one transfer through bounded buffers, on the
// caller's goroutine for a small transfer and on a goroutine of its own for
// a large one. The caller takes a buffer with next, fills it, passes the
// filled part to add, and may go on reading that part (to write it out)
// until its next call to next. Call sum to get the digest, and close when
// done in any case.
type digester struct {
	h hash.Hash
	// inline
	small *[]byte
	// pipelined
	bufs []*[]byte
	free chan []byte // buffers the hasher is done with
	work chan []byte // filled parts waiting to be hashed
	done chan struct{}
}

func newDigester(size int64) *digester {
	d := &digester{h: md5.New()}
	if size <= smallBufSize {
		d.small = smallBufPool.Get().(*[]byte)
		return d
	}
	d.free = make(chan []byte, pipeBufs)
	d.work = make(chan []byte, pipeBufs)
	d.done = make(chan struct{})
	for range pipeBufs {
		bp := pipeBufPool.Get().(*[]byte)
		d.bufs = append(d.bufs, bp)
		d.free <- *bp
	}
	go d.run()
	return d
}

func (d *digester) run() {
	defer close(d.done)
	for b := range d.work {
		d.h.Write(b)
		d.free <- b[:cap(b)]
	}
}

// next returns a buffer to fill, waiting for the hasher to release one.
func (d *digester) next() []byte {
	if d.small != nil {
		return *d.small
	}
	return <-d.free
}

// add hashes b, the filled part of the buffer from next, or queues it.
func (d *digester) add(b []byte) {
	if d.small != nil {
		d.h.Write(b)
		return
	}
	d.work <- b
}

// sum waits for everything added to be hashed and returns the digest.
func (d *digester) sum() []byte {
	d.stop()
	return d.h.Sum(nil)
}

// stop ends the hasher's goroutine, if any.
func (d *digester) stop() {
	if d.work != nil {
		close(d.work)
		<-d.done
		d.work = nil
	}
}

// close stops the hasher and returns the buffers to their pool.
func (d *digester) close() {
	d.stop()
	if d.small != nil {
		smallBufPool.Put(d.small)
		d.small = nil
	}
	for _, bp := range d.bufs {
		pipeBufPool.Put(bp)
	}
	d.bufs = nil
}
