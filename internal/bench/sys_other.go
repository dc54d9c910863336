//go:build !linux

package bench

import (
	"os"
	"time"
)

// evict does nothing here and reports false: only Linux is known to drop
// one file's cached pages on request.
func evict(path string) bool { return false }

// GrowPipe does nothing here.
func GrowPipe(f any) {}

// processCPU returns 0: the CPU time of another process is not read here.
func processCPU(pid int) time.Duration { return 0 }

// changeTime returns the modification time: the change time is not read
// here.
func changeTime(fi os.FileInfo) time.Time { return fi.ModTime() }
