//go:build unix

package conformance

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// noFollow makes an open fail on a symbolic link.
const noFollow = syscall.O_NOFOLLOW

// fileID identifies a file on this host: its device and inode.
type fileID struct{ dev, ino uint64 }

// fileIDOf returns the identity of the file fi describes.
func fileIDOf(fi fs.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true
}

// ownedByMe reports whether fi's owner is this process's effective user.
func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// process identifies a process: its PID, its start time where the system
// says (so that a reused PID is not taken for it), and its user.
type process struct {
	pid   int
	start string
	uid   int
}

// thisProcess returns the identity of this process.
func thisProcess() (process, bool) {
	pid := os.Getpid()
	return process{pid: pid, start: startTime(pid), uid: os.Geteuid()}, true
}

// alive reports whether p may still be running: its PID exists and, where
// start times are known, has the same one. In doubt it says yes.
func (p process) alive() bool {
	if err := syscall.Kill(p.pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if p.start == "" {
		return true
	}
	now := startTime(p.pid)
	return now == "" || now == p.start
}

// startTime returns the start time of process pid (in clock ticks since
// boot, from /proc/PID/stat), or "" where it cannot be read.
func startTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after the last ')'. starttime is field 22; the state, field 3, is
	// the first after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19]
}
