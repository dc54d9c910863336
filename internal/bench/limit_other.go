//go:build !unix

package bench

// raiseFileLimit does nothing on this system.
func raiseFileLimit(n uint64) error { return nil }
