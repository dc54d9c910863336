package ref

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeBehindChunk is how much data Session.Get writes before it asks the
// kernel to start writing it to disk.
const writeBehindChunk = 8 << 20

// writeBehind returns a writer to f that, after every writeBehindChunk
// bytes, asks the kernel to start writing those bytes back to disk
// (sync_file_range with SYNC_FILE_RANGE_WRITE), without waiting. The disk
// then works while the transfer goes on, instead of all at once in the
// fsync that Session.Get makes before it renames the file. It is only a
// hint: durability still comes from that fsync.
func writeBehind(f *os.File) io.Writer {
	return &writeBehindFile{f: f}
}

type writeBehindFile struct {
	f        *os.File
	off, beg int64 // bytes written; start of the range not yet flushed
}

func (w *writeBehindFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if w.off-w.beg >= writeBehindChunk {
		// Errors are ignored: fsync reports any that matter.
		unix.SyncFileRange(int(w.f.Fd()), w.beg, w.off-w.beg, unix.SYNC_FILE_RANGE_WRITE)
		w.beg = w.off
	}
	return n, err
}
