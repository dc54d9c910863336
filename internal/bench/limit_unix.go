//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to at least n, within
// the hard limit. It fails if the hard limit is lower than n.
func raiseFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	// Rlimit's fields are uint64 on most systems and int64 on some (the
	// BSDs): compare in uint64 and convert back through the field's type.
	if uint64(lim.Cur) >= n {
		return nil
	}
	if uint64(lim.Max) < n {
		return fmt.Errorf("need %d open files, hard limit is %d (raise it with ulimit -Hn)", n, lim.Max)
	}
	setLimit(&lim.Cur, n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}

// setLimit stores n in an Rlimit field of either type.
func setLimit[T ~int64 | ~uint64](field *T, n uint64) { *field = T(n) }
