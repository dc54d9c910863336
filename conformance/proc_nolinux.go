//go:build !linux

package conformance

// becomeSubreaper does nothing here: only Linux has child subreapers.
func becomeSubreaper() {}

// endDescendants cannot find a program's descendants here, beyond its
// process group (which the kit kills): it returns 0.
func endDescendants(token string) int { return 0 }
