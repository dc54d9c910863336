//go:build !unix

package conformance_test

import "errors"

// lingerPIDVar names the file where the lingering descendant of the
// "bgchild" client writes its PID.
const lingerPIDVar = "STICKYKIT_TEST_LINGER_PID"

// startLinger cannot leave the client's session here.
func startLinger(pidFile string) error { return errors.ErrUnsupported }

// lingerMain does nothing here.
func lingerMain(args []string) int { return 3 }
