//go:build !unix

package bench

import "os"

// maxRSS returns 0: the peak resident set is not available here.
func maxRSS(ps *os.ProcessState) int64 { return 0 }
