//go:build !linux

package ref

import (
	"errors"
	"io/fs"
	"os"
)

// errNoUnnamed says the file system cannot make an unnamed temporary file:
// only Linux has O_TMPFILE.
var errNoUnnamed = errors.New("no unnamed temporary files here")

// useUnnamed is false: there is nothing to turn off here.
var useUnnamed = false

func openUnnamed(string, fs.FileMode) (*os.File, error) { return nil, errNoUnnamed }

func (d *fileDest) linkUnnamed() error { return errNoUnnamed }

// reserve does nothing here: the free-space check and the reservation are
// made on Linux only.
func reserve(*os.File, int64, string) error { return nil }
