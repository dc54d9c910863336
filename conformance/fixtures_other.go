//go:build !unix

package conformance

import (
	"errors"
	"io/fs"
)

// mkfifo reports that named pipes cannot be made on this system.
func mkfifo(path string) error { return errors.ErrUnsupported }

// unblockFIFOAt does nothing: there are no named pipes to unblock.
func unblockFIFOAt(path string, was fs.FileInfo) bool { return false }
