//go:build linux

package conformance

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// limitFiles sets both the soft and the hard RLIMIT_NOFILE of process pid
// to n (prlimit(2)): setting the hard limit too keeps the process from
// raising its soft limit again, as Go programs do at start.
func limitFiles(pid, n int) error {
	lim := unix.Rlimit{Cur: uint64(n), Max: uint64(n)}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		return fmt.Errorf("prlimit(2) on process %d: %w", pid, err)
	}
	return nil
}

// filesFull reports whether process pid holds every descriptor below n
// (it cannot open another under a limit of n), and how many of them it
// holds, from /proc/PID/fd.
func filesFull(pid, n int) (full bool, open int, err error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return false, 0, err
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd < n {
			open++
		}
	}
	return open == n, open, nil
}
