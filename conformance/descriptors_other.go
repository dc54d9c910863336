//go:build !linux

package conformance

import "errors"

// errNoLimit is the error of the functions that cannot limit or count
// another process's descriptors here.
var errNoLimit = errors.New("the kit limits and counts a server's descriptors on Linux only")

// limitFiles cannot limit another process's descriptors here.
func limitFiles(pid, n int) error { return errNoLimit }

// filesFull cannot count another process's descriptors here.
func filesFull(pid, n int) (full bool, open int, err error) { return false, 0, errNoLimit }
