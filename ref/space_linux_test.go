package ref_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

// freeSpace returns the bytes free for this process on dir's file system,
// which the reference client checks an announced size against.
func freeSpace(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	return int64(min(st.Bavail*uint64(st.Bsize), 1<<63-1))
}
