package ref

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// useUnnamed says whether to try O_TMPFILE first; tests turn it off to
// exercise the named temporary file.
var useUnnamed = true

// errNoUnnamed says the file system cannot make an unnamed temporary file.
var errNoUnnamed = errors.New("no unnamed temporary files here")

// openUnnamed opens an unnamed temporary file in dir (O_TMPFILE), which
// vanishes with the process unless linkUnnamed gives it a name. It returns
// errNoUnnamed when the file system does not support O_TMPFILE, or when
// /proc is missing and the file could not be linked later.
func openUnnamed(dir string, perm fs.FileMode) (*os.File, error) {
	if !useUnnamed {
		return nil, errNoUnnamed
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm))
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		return nil, errNoUnnamed
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	if unix.Access(procFD(fd), unix.F_OK) != nil {
		unix.Close(fd)
		return nil, errNoUnnamed
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
}

func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// linkUnnamed gives the unnamed file its name. A new file is linked at
// target directly, which never replaces anything that appeared there
// meanwhile; a regular file is replaced by linking under a temporary name
// and renaming that over it.
func (d *fileDest) linkUnnamed() error {
	src := procFD(int(d.f.Fd()))
	if !d.replace {
		err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, d.target, unix.AT_SYMLINK_FOLLOW)
		if !errors.Is(err, unix.EEXIST) {
			return pathErr("link", d.target, err)
		}
	}
	if err := d.stillReplaceable(); err != nil {
		return err
	}
	dir, base := filepath.Dir(d.target), filepath.Base(d.target)
	for range 100 {
		name := tempName(dir, base)
		err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return pathErr("link", name, err)
		}
		if err := os.Rename(name, d.target); err != nil {
			os.Remove(name)
			return err
		}
		return nil
	}
	return errors.New("no free temporary name in " + dir)
}

func pathErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// reserve refuses a size that the file system of f cannot hold, and
// reserves the space (fallocate) where the file system allows, so that
// the download cannot run out of it half-way.
func reserve(f *os.File, size int64, dir string) error {
	fd := int(f.Fd())
	var st unix.Statfs_t
	if unix.Fstatfs(fd, &st) == nil {
		free := st.Bavail * uint64(st.Bsize)
		if uint64(size) > free {
			return &SpaceError{Size: size, Free: int64(min(free, 1<<63-1)), Dir: dir}
		}
	}
	if size == 0 {
		return nil
	}
	switch err := unix.Fallocate(fd, 0, 0, size); {
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EFBIG):
		return &SpaceError{Size: size, Free: -1, Dir: dir}
	}
	// Any other failure (EOPNOTSUPP and the like) only means no
	// reservation: the writes will say if space runs out.
	return nil
}
