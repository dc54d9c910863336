//go:build linux

package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// OwnNetworkEnv marks the test binary that runs in a network namespace of its
// own, started by OwnNetwork; its value names the namespace of the
// process that started it.
const OwnNetworkEnv = "STICKYKIT_TEST_OWN_NETWORK"

// OwnNetwork runs the tests in a child of this test binary in a
// network namespace of its own, with only a loopback interface, and
// returns its exit status. Some tests must use the fixed loopback ports
// written into tutorial-style programs (127.0.0.1:28653 and :28654), and
// the README's server listens on 127.0.0.1:8888; in a namespace of their
// own they never meet another run of these tests on the same machine, or
// anything else. ran is false where the kernel does not let this process
// make a namespace (not root, or a container that forbids it): the tests
// then run in this process, on the host's loopback.
func OwnNetwork() (code int, ran bool) {
	if os.Getenv(OwnNetworkEnv) != "" {
		if err := loopbackUp(); err != nil {
			fmt.Fprintf(os.Stderr, "bringing up lo in the tests' own network namespace: %v\n", err)
			return 1, true
		}
		return 0, false
	}
	host, err := os.Readlink("/proc/self/ns/net")
	if os.Geteuid() != 0 || err != nil {
		return 0, false
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), OwnNetworkEnv+"="+host)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The child dies with this process: go test kills this one at its
	// timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), true
		}
		return ee.ExitCode(), true
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC):
		return 0, false // no namespace for this process: run here
	}
	fmt.Fprintf(os.Stderr, "running the tests in a network namespace of their own: %v\n", err)
	return 1, true
}

// loopbackUp brings up the loopback interface of this process's network
// namespace, which a new namespace has down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
