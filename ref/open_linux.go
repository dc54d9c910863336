package ref

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Names are resolved below the root by the kernel, with openat2 and
// RESOLVE_BENEATH: a ".." or a symbolic link that would leave the root
// fails with EXDEV, /proc's magic links are refused, and in-root symbolic
// links are followed as the kernel follows any (up to 40 in a name). On a
// kernel without openat2 (before 5.6) os.Root resolves them, which follows
// at most 8.

// beneath is the resolution openat2 is asked for.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// openRootDir opens the root directory for openat2; nil when the kernel has
// no openat2 (the server then uses os.Root alone).
func openRootDir(root string) *os.File {
	d, err := os.Open(root)
	if err != nil {
		return nil
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: beneath}
	fd, err := unix.Openat2(int(d.Fd()), ".", &how)
	if err != nil {
		d.Close()
		return nil
	}
	unix.Close(fd)
	return d
}

// openIn opens name below the root for reading, without blocking on a
// FIFO.
func (s *Server) openIn(name string) (*os.File, error) {
	if s.rootDir == nil {
		return s.root.OpenFile(name, os.O_RDONLY|unix.O_NONBLOCK, 0)
	}
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY, Resolve: beneath}
	fd, err := unix.Openat2(s.rootFD, name, &how)
	if err != nil {
		return nil, beneathErr("open", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// statIn returns what is at name below the root, without opening it for
// reading.
func (s *Server) statIn(name string) (fs.FileInfo, error) {
	if s.rootDir == nil {
		return s.root.Stat(name)
	}
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: beneath}
	fd, err := unix.Openat2(s.rootFD, name, &how)
	if err != nil {
		return nil, beneathErr("stat", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return f.Stat()
}

// errEscapes reports a name that leaves the root.
var errEscapes = errors.New("path escapes from parent")

func beneathErr(op, name string, err error) error {
	if errors.Is(err, unix.EXDEV) {
		err = errEscapes
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}
