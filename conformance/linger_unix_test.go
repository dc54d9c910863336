//go:build unix

package conformance_test

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// lingerPIDVar names the file where the lingering descendant of the
// "bgchild" client writes its PID.
const lingerPIDVar = "STICKYKIT_TEST_LINGER_PID"

// startLinger starts this test binary as a descendant that leaves the
// client's process group and session (setsid), keeps the client's stdout
// and stderr open, and lives on; it returns once the descendant has
// written its PID to pidFile.
func startLinger(pidFile string) error {
	cmd := exec.Command(os.Args[0], "-test.run=^TestClientHelperProcess$", "--", clientHelperMark, "linger", pidFile)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	for {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return nil
		}
		time.Sleep(time.Millisecond) // waiting for a file another process writes
	}
}

// lingerMain writes this process's PID to the file args[0], then waits
// for an hour, holding the stdout and stderr it inherited.
func lingerMain(args []string) int {
	if len(args) != 1 {
		return 3
	}
	if err := os.WriteFile(args[0], []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return 3
	}
	time.Sleep(time.Hour) // ended by the kit long before
	return 0
}
