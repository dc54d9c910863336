package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// evict asks the kernel to drop the cached pages of the file at path
// (posix_fadvise POSIX_FADV_DONTNEED), so that the next read comes from
// the disk. It touches that file only, and only its clean pages: the
// lab's files are synced when they are written. It reports whether it
// could.
func evict(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) == nil
}

// GrowPipe grows the pipe f is an end of to 1MiB (F_SETPIPE_SZ, within
// /proc/sys/fs/pipe-max-size), so that the writer of a stream is not
// stopped, and the reader woken, for every 64KiB. It does nothing when f is
// not a pipe or the pipe cannot grow.
func GrowPipe(f any) {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return
	}
	if rc, err := sc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
	}
}

// processCPU returns the user and system time process pid has used, from
// /proc/PID/stat (in clock ticks of 10ms), or 0.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis (state is field 3, utime 14).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	const tick = 10 * time.Millisecond // USER_HZ is 100 on every Linux port
	return time.Duration(utime+stime) * tick
}

// changeTime returns the change time of the file at path, or its
// modification time if that is unknown.
func changeTime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Unix())
	}
	return fi.ModTime()
}
