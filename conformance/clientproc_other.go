//go:build !unix

package conformance

import "os/exec"

// ownProcessGroup does nothing here: the kit kills only the command itself.
func ownProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup does nothing here.
func killProcessGroup(cmd *exec.Cmd) {}
