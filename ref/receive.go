package ref

import (
	"crypto/md5"
	"hash"
	"io"
	"sync"
)

// The client is the one end that must hash every byte, so it is built
// around the hashing. The caller's goroutine reads the data from the
// connection straight into a buffer (the only copy in user space); a
// second goroutine hashes each filled buffer and passes it to a third,
// which writes it out (to the destination file, whose pages the kernel is
// asked to write back as they fill: see writeBehind) and then frees it for
// the next read. With recvBufs buffers the three stages overlap: while one
// buffer is hashed, the next is being read and the previous one written,
// so the transfer runs at the speed of the slowest stage, which on a
// machine of this decade is MD5.
const (
	// recvBufSize is the size of each buffer of a pipelined download:
	// each read and each write moves up to this much.
	recvBufSize = 512 << 10
	// recvBufs is the number of buffers of one pipelined download: one
	// being read, one hashed, one written and one to spare for the
	// stage that runs late.
	recvBufs = 4
)

var recvBufPool = sync.Pool{New: func() any { b := make([]byte, recvBufSize); return &b }}

// receiver hashes the data of one download and writes it to w, on the
// caller's goroutine for a download of at most smallBufSize bytes and
// through a pipeline (see above) for a larger one. The caller takes a
// buffer with next, fills it and passes the filled part to add; it must not
// touch the buffer after that. Call finish once all the data has been
// added, and close in any case.
type receiver struct {
	h hash.Hash
	w io.Writer

	small *[]byte // inline

	bufs   []*[]byte // pipelined
	free   chan []byte
	hashq  chan []byte
	writeq chan []byte
	done   chan struct{} // closed when the writer has ended

	mu   sync.Mutex
	werr error // the first write error
}

func newReceiver(size int64, w io.Writer) *receiver {
	r := &receiver{h: md5.New(), w: w}
	if size <= smallBufSize {
		r.small = smallBufPool.Get().(*[]byte)
		return r
	}
	r.free = make(chan []byte, recvBufs)
	r.hashq = make(chan []byte, recvBufs)
	r.writeq = make(chan []byte, recvBufs)
	r.done = make(chan struct{})
	for range recvBufs {
		bp := recvBufPool.Get().(*[]byte)
		r.bufs = append(r.bufs, bp)
		r.free <- *bp
	}
	go r.hash()
	go r.write()
	return r
}

// hash hashes each buffer and hands it on to the writer.
func (r *receiver) hash() {
	defer close(r.writeq)
	for b := range r.hashq {
		r.h.Write(b)
		r.writeq <- b
	}
}

// write writes each buffer out and frees it. After a write error it only
// frees them.
func (r *receiver) write() {
	defer close(r.done)
	for b := range r.writeq {
		if r.err() == nil {
			if _, err := r.w.Write(b); err != nil {
				r.setErr(err)
			}
		}
		r.free <- b[:cap(b)]
	}
}

func (r *receiver) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.werr
}

func (r *receiver) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.werr == nil {
		r.werr = err
	}
}

// next returns a buffer to fill, waiting for one to be free, or the error
// that made a write fail.
func (r *receiver) next() ([]byte, error) {
	if r.small != nil {
		return *r.small, r.err()
	}
	b := <-r.free
	if err := r.err(); err != nil {
		r.free <- b
		return nil, err
	}
	return b, nil
}

// add hashes and writes b, the filled part of the buffer from next: at
// once for a small download, later for a pipelined one.
func (r *receiver) add(b []byte) {
	if r.small == nil {
		r.hashq <- b
		return
	}
	r.h.Write(b)
	if r.err() == nil {
		if _, err := r.w.Write(b); err != nil {
			r.setErr(err)
		}
	}
}

// finish waits until everything added has been hashed and written, and
// returns the MD5 of the data, or the error that made a write fail.
func (r *receiver) finish() ([]byte, error) {
	r.stop()
	if err := r.err(); err != nil {
		return nil, err
	}
	return r.h.Sum(nil), nil
}

// stop ends the pipeline's goroutines, once what was added has been
// hashed and written.
func (r *receiver) stop() {
	if r.hashq != nil {
		close(r.hashq)
		<-r.done
		r.hashq = nil
	}
}

// close stops the pipeline and returns the buffers to their pools.
func (r *receiver) close() {
	r.stop()
	if r.small != nil {
		smallBufPool.Put(r.small)
		r.small = nil
	}
	for _, bp := range r.bufs {
		recvBufPool.Put(bp)
	}
	r.bufs = nil
}
