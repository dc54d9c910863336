//go:build !linux

package ref

import "os"

// statVersion reports no version outside Linux, so that no digest is ever
// remembered there: every transfer is hashed as it is sent.
func statVersion(f *os.File) (fileVersion, bool) { return fileVersion{}, false }
