//go:build unix

package conformance

import (
	"io/fs"
	"os"
	"syscall"
)

// mkfifo creates a named pipe at path, readable by all. It never follows
// or replaces what is already there.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

// unblockFIFOAt opens the named pipe at path for writing without blocking
// and closes it at once. A server blocked opening it for reading (without
// O_NONBLOCK) then returns from its open and reads end of file, so a case
// never leaves a server stuck. It opens nothing but the FIFO made as was
// (no symbolic link is followed, and what it opened must be that FIFO),
// and reports whether a reader was there.
func unblockFIFOAt(path string, was fs.FileInfo) bool {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false // ENXIO: no reader, nothing is blocked
	}
	defer f.Close()
	fi, err := f.Stat()
	return err == nil && os.SameFile(fi, was)
}
