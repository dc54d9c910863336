//go:build !linux

package ref

import (
	"io/fs"
	"os"
	"syscall"
)

// Names are resolved below the root by os.Root, which follows at most 8
// symbolic links in a name.

func openRootDir(string) *os.File { return nil }

// openIn opens name below the root for reading, without blocking on a
// FIFO.
func (s *Server) openIn(name string) (*os.File, error) {
	return s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// statIn returns what is at name below the root.
func (s *Server) statIn(name string) (fs.FileInfo, error) { return s.root.Stat(name) }
