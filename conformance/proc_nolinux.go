//go:build !linux

package conformance

// becomeSubreaper does nothing here: only Linux has child subreapers.
func becomeSubreaper() {}

// endDescendants cannot find a program's descendants here, beyond its
// process group (which the kit kills): it returns 0.
func endDescendants(token string) int { return 0 }

// exiting reports whether the process has ended: here the kit cannot see
// one that is on its way out.
func (p *proc) exiting() bool { return p.ended() }

// pidExiting cannot see a process on its way out here.
func pidExiting(pid int) bool { return false }

// owns cannot tell whose a process is here: it says yes.
func (p *proc) owns(pid int) bool { return true }
