//go:build !unix

package conformance

import (
	"os"
	"os/exec"
)

// The signals the kit sends.
var (
	termSignal = os.Kill
	killSignal = os.Kill
)

// crashSignals: no signals here.
var crashSignals = map[string]bool{}

// ownProcessGroup does nothing here: the kit ends only the command itself.
func ownProcessGroup(cmd *exec.Cmd) {}

// signalGroup ends the command itself.
func signalGroup(cmd *exec.Cmd, sig os.Signal) {
	if cmd.Process != nil {
		cmd.Process.Kill()
	}
}

// signalOf returns "": no signals here.
func signalOf(st *os.ProcessState) string { return "" }
