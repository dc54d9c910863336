//go:build unix

package conformance

import (
	"os"
	"syscall"
)

// mkfifo creates a named pipe at path, readable by all.
func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }

// unblockFIFO opens the named pipe at path for writing without blocking
// and closes it at once. A server blocked opening it for reading (without
// O_NONBLOCK) then returns from its open and reads end of file, so a case
// never leaves a server stuck. It reports whether a reader was there.
func unblockFIFO(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false // ENXIO: no reader, nothing is blocked
	}
	f.Close()
	return true
}
