//go:build unix

package conformance

import (
	"os"
	"os/exec"
	"syscall"
)

// The signals the kit sends.
var (
	termSignal = syscall.SIGTERM
	killSignal = syscall.SIGKILL
)

// crashSignals are the signals that mean a program crashed, by name.
var crashSignals = map[string]bool{
	"SIGSEGV": true, "SIGBUS": true, "SIGILL": true, "SIGFPE": true, "SIGABRT": true, "SIGSYS": true, "SIGTRAP": true,
	// A write to a connection the peer closed: the program did not
	// survive a peer that left.
	"SIGPIPE": true,
}

// ownProcessGroup puts the command in a process group of its own, so that
// the kit can signal it together with the programs it started.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to the command's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, sig)
	}
}

// signalOf returns the name of the signal that ended a process, or "".
func signalOf(st *os.ProcessState) string {
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return ""
	}
	return signalName(ws.Signal())
}

// signalName returns "SIGSEGV" and the like.
func signalName(s syscall.Signal) string {
	for name, sig := range map[string]syscall.Signal{
		"SIGHUP": syscall.SIGHUP, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGILL": syscall.SIGILL,
		"SIGTRAP": syscall.SIGTRAP, "SIGABRT": syscall.SIGABRT, "SIGBUS": syscall.SIGBUS, "SIGFPE": syscall.SIGFPE,
		"SIGKILL": syscall.SIGKILL, "SIGSEGV": syscall.SIGSEGV, "SIGPIPE": syscall.SIGPIPE, "SIGALRM": syscall.SIGALRM,
		"SIGTERM": syscall.SIGTERM, "SIGSYS": syscall.SIGSYS, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
	} {
		if sig == s {
			return name
		}
	}
	return "signal " + s.String()
}
