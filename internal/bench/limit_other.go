//go:build !unix

package bench

// RaiseFileLimit does nothing on this system.
func RaiseFileLimit(n uint64) error { return nil }
