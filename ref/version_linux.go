package ref

import (
	"os"

	"golang.org/x/sys/unix"
)

// versionMask is what statVersion needs statx to return.
const versionMask = unix.STATX_INO | unix.STATX_SIZE | unix.STATX_MTIME | unix.STATX_CTIME

// statVersion reads the version of the open file f: with statx where the
// kernel has it (Linux 4.11 and later), which adds the birth time, and
// with fstat otherwise. ok is false when neither works.
func statVersion(f *os.File) (v fileVersion, ok bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return v, false
	}
	cerr := rc.Control(func(fd uintptr) {
		var sx unix.Statx_t
		err := unix.Statx(int(fd), "", unix.AT_EMPTY_PATH|unix.AT_STATX_SYNC_AS_STAT, versionMask|unix.STATX_BTIME, &sx)
		if err == nil && sx.Mask&versionMask == versionMask {
			v = fileVersion{
				dev:   unix.Mkdev(sx.Dev_major, sx.Dev_minor),
				ino:   sx.Ino,
				size:  int64(sx.Size),
				mtime: sx.Mtime.Sec*1e9 + int64(sx.Mtime.Nsec),
				ctime: sx.Ctime.Sec*1e9 + int64(sx.Ctime.Nsec),
			}
			if sx.Mask&unix.STATX_BTIME != 0 {
				v.btime = sx.Btime.Sec*1e9 + int64(sx.Btime.Nsec)
			}
			ok = true
			return
		}
		// No statx (ENOSYS), or a sandbox that refuses it: fstat has
		// all but the birth time.
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) == nil {
			v = fileVersion{
				dev:   uint64(st.Dev),
				ino:   st.Ino,
				size:  st.Size,
				mtime: st.Mtim.Nano(),
				ctime: st.Ctim.Nano(),
			}
			ok = true
		}
	})
	return v, ok && cerr == nil
}
