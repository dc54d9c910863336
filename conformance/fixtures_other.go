//go:build !unix

package conformance

import "errors"

// mkfifo reports that named pipes cannot be made on this system.
func mkfifo(path string) error { return errors.ErrUnsupported }

// unblockFIFO does nothing: there are no named pipes to unblock.
func unblockFIFO(path string) bool { return false }
