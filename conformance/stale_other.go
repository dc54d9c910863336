//go:build !unix

package conformance

import "io/fs"

// noFollow is not available here: marks are not written, so nothing is
// opened through it.
const noFollow = 0

// fileID identifies a file; files cannot be identified here.
type fileID struct{ dev, ino uint64 }

// fileIDOf reports that files cannot be identified here.
func fileIDOf(fi fs.FileInfo) (fileID, bool) { return fileID{}, false }

// ownedByMe reports that ownership cannot be proven here.
func ownedByMe(fi fs.FileInfo) bool { return false }

// process identifies a process.
type process struct {
	pid   int
	start string
	uid   int
}

// thisProcess reports that processes cannot be identified well enough
// here to prove a fixture stale: no mark is written and none is swept.
func thisProcess() (process, bool) { return process{}, false }

// alive says yes: in doubt, nothing is removed.
func (p process) alive() bool { return true }
