//go:build !unix

package main

import "os/exec"

// ownGroup leaves cmd in the tool's process group: without process groups
// only the command itself can be stopped.
func ownGroup(cmd *exec.Cmd) {}

// killGroup kills cmd.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
