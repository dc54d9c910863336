package ref

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"unicode/utf8"
)

// Session.Get and Client.Get treat a destination path by what is there:
//
//	nothing           a new regular file, mode 0666 less the umask, put in
//	                  place only once the digest matched
//	a regular file    replaced atomically (a rename) once the digest matched;
//	                  the new file keeps the old one's permission bits
//	a symbolic link   to a regular file: that file is replaced as above and
//	                  the link stays; to a device or FIFO: written through;
//	                  to nothing: refused
//	a device, a FIFO  written through as the data arrives: it is never
//	                  replaced, and what reached it cannot be taken back, so
//	                  only the error says whether the digest matched
//	/dev/stdout and   (links to the process's own descriptors) written
//	/proc/self/fd/N   through, appending when they are regular files
//	a directory, a socket, a path whose directory does not exist:
//	                  refused with a *DestError before anything is sent
//
// The data goes to a temporary file in the directory of the file it will
// become. On Linux it is an unnamed file (O_TMPFILE), linked into place
// only once verified, so that nothing is left behind whatever ends the
// process, SIGKILL included. Elsewhere, or on a file system without
// O_TMPFILE, it is a named file ".NAME.XXXXXXXX.part", removed on every
// failure the process lives through; its name is cut so that it never
// exceeds 255 bytes, however long NAME is.

// DestError reports a destination that Get refuses before it sends a
// request: a directory, a socket, a dangling symbolic link, or a path
// whose directory does not exist.
type DestError struct {
	Path   string // the destination as given
	Reason string // what is wrong with it, e.g. "is a directory"
}

// Error returns "PATH REASON".
func (e *DestError) Error() string { return e.Path + " " + e.Reason }

// SpaceError reports an announced size that the destination's file system
// cannot hold. Get refuses it before it sends the ack, so the server never
// sends the data.
type SpaceError struct {
	Size int64  // the size the server announced
	Free int64  // bytes free for this process, or -1 when unknown
	Dir  string // the directory of the temporary file
}

// Error says what was announced and what is free.
func (e *SpaceError) Error() string {
	if e.Free < 0 {
		return fmt.Sprintf("the server announced %d bytes, more than the file system of %s can hold", e.Size, e.Dir)
	}
	return fmt.Sprintf("the server announced %d bytes; the file system of %s has %d bytes free", e.Size, e.Dir, e.Free)
}

// sizeReserver is implemented by a writer that must accept the announced
// size before Fetch sends the ack; an error refuses the transfer.
type sizeReserver interface {
	reserveSize(size int64) error
}

// destination is where Get writes a download: Write takes the data as it
// arrives, commit makes it the destination's content once verified, and
// abort discards what it can. abort may follow a failed commit.
type destination interface {
	io.Writer
	sizeReserver
	commit() error
	abort()
}

// openDest prepares the destination path for a download, following the
// rules above. Opening a FIFO waits for its reader, until ctx is done.
func openDest(ctx context.Context, path string) (destination, error) {
	kind, target, fi, err := inspectDest(path)
	switch {
	case err != nil:
		return nil, err
	case kind == destFile:
		return newFileDest(target, fi)
	}
	return openThrough(ctx, path, kind == destFD)
}

// CheckDest returns the *DestError that Get would return for the
// destination path before sending anything, or nil when Get would write
// there. (A tool that writes in place, as the tutorial's clients did, can
// apply the same refusals.)
func CheckDest(path string) error {
	_, _, _, err := inspectDest(path)
	return err
}

type destKind int

const (
	destFile    destKind = iota // a regular file at target, or none (fi nil)
	destThrough                 // a device or FIFO: written through
	destFD                      // a link to an open descriptor: written through
)

// inspectDest says what Get does with path: write a file at target (its
// old self described by fi, nil if none), or write through to path. It
// returns a *DestError for a destination it refuses.
func inspectDest(path string) (kind destKind, target string, fi fs.FileInfo, err error) {
	if path == "" {
		return 0, "", nil, &DestError{Path: `""`, Reason: "is not a file name"}
	}
	fi, err = os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		if di, err := os.Stat(dir); err != nil || !di.IsDir() {
			return 0, "", nil, &DestError{Path: path, Reason: "is in a directory that does not exist (" + dir + ")"}
		}
		return destFile, path, nil, nil
	}
	if err != nil {
		return 0, "", nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if fdLink(path) {
			return destFD, path, nil, nil
		}
		t, err := filepath.EvalSymlinks(path)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, "", nil, &DestError{Path: path, Reason: "is a symbolic link to a file that does not exist"}
		}
		if err != nil {
			return 0, "", nil, err
		}
		if fi, err = os.Stat(t); err != nil {
			return 0, "", nil, err
		}
		if fi.Mode().IsRegular() {
			return destFile, t, fi, nil
		}
		if fi.IsDir() {
			return 0, "", nil, &DestError{Path: path, Reason: "is a symbolic link to a directory"}
		}
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return destFile, path, fi, nil
	case m.IsDir():
		return 0, "", nil, &DestError{Path: path, Reason: "is a directory"}
	case m&fs.ModeSocket != 0:
		return 0, "", nil, &DestError{Path: path, Reason: "is a socket"}
	}
	return destThrough, path, nil, nil
}

// fdDir matches the directories of a process's descriptor links.
var fdDir = regexp.MustCompile(`^/proc/[^/]+/(task/[^/]+/)?fd$`)

// fdLink reports whether path is, or leads through symbolic links to, a
// link to an open descriptor (/dev/stdout -> /proc/self/fd/1): writing to
// it reaches what the descriptor holds, which must not be replaced.
func fdLink(path string) bool {
	for range 40 { // the kernel's limit on symbolic links
		if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
			if abs, err := filepath.Abs(dir); err == nil && fdDir.MatchString(abs) {
				return true
			}
		}
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return false
		}
		t, err := os.Readlink(path)
		if err != nil {
			return false
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(path), t)
		}
		path = t
	}
	return false
}

// throughDest writes the data straight to a device, a FIFO or a
// descriptor: there is nothing to replace and nothing to take back.
type throughDest struct {
	path string
	f    *os.File
	n    int64 // bytes written
}

// openThrough opens path for writing as it is. For a descriptor link,
// append says to append when it leads to a regular file (as a shell's
// ">>" would want; after ">" the file is empty anyway).
func openThrough(ctx context.Context, path string, fdlink bool) (*throughDest, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var f *os.File
	switch {
	case fi.Mode()&fs.ModeNamedPipe != 0:
		f, err = openFIFO(ctx, path)
	case fi.Mode()&fs.ModeSocket != 0:
		return nil, &DestError{Path: path, Reason: "is a socket"}
	case fi.Mode().IsRegular() && fdlink:
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|syscall.O_NOCTTY, 0)
	default:
		f, err = os.OpenFile(path, os.O_WRONLY|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		return nil, err
	}
	return &throughDest{path: path, f: f}, nil
}

// openFIFO opens the FIFO at path for writing, which waits for a reader.
// When ctx is done first, it opens the FIFO for reading itself, so that
// the waiting open returns, and closes both.
func openFIFO(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
	}
	if rf, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
		defer rf.Close()
	}
	if o := <-ch; o.f != nil {
		o.f.Close()
	}
	return nil, fmt.Errorf("waiting for a reader of %s: %w", path, ctx.Err())
}

func (d *throughDest) Write(p []byte) (int, error) {
	n, err := d.f.Write(p)
	d.n += int64(n)
	return n, err
}

func (d *throughDest) reserveSize(int64) error { return nil }
func (d *throughDest) commit() error           { return d.f.Close() }
func (d *throughDest) abort()                  { d.f.Close() }

// fileDest writes to a temporary file that becomes the regular file at
// target once verified.
type fileDest struct {
	target  string      // the path to create or replace, symbolic links resolved
	replace bool        // a regular file is at target
	perm    fs.FileMode // its permission bits, which the new file keeps
	f       *os.File
	w       io.Writer // f, with write-behind hints
	tmp     string    // the temporary file's path; "" while it is unnamed
	placed  bool      // commit succeeded
}

func newFileDest(target string, old fs.FileInfo) (*fileDest, error) {
	d := &fileDest{target: target}
	// A new file gets 0666 less the umask, as the kernel applies it. A
	// replaced one is private until commit gives it the old bits.
	perm := fs.FileMode(0o666)
	if old != nil {
		d.replace, d.perm, perm = true, old.Mode().Perm(), 0o600
	}
	dir := filepath.Dir(target)
	f, err := openUnnamed(dir, perm)
	if errors.Is(err, errNoUnnamed) {
		f, d.tmp, err = createNamed(dir, filepath.Base(target), perm)
	}
	if err != nil {
		return nil, fmt.Errorf("creating temporary file: %w", err)
	}
	d.f, d.w = f, writeBehind(f)
	return d, nil
}

func (d *fileDest) Write(p []byte) (int, error) { return d.w.Write(p) }

func (d *fileDest) reserveSize(size int64) error {
	return reserve(d.f, size, filepath.Dir(d.target))
}

// commit syncs the file and puts it in place: linked or renamed to target,
// never replacing anything but a regular file.
func (d *fileDest) commit() error {
	if d.replace {
		if err := d.f.Chmod(d.perm); err != nil {
			return err
		}
	}
	if err := d.f.Sync(); err != nil {
		return err
	}
	var err error
	if d.tmp == "" {
		err = d.linkUnnamed()
	} else {
		err = d.renameNamed()
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.placed = err == nil
	return err
}

// renameNamed renames the named temporary file to target.
func (d *fileDest) renameNamed() error {
	if err := d.stillReplaceable(); err != nil {
		return err
	}
	if err := os.Rename(d.tmp, d.target); err != nil {
		return err
	}
	d.tmp = ""
	return nil
}

// stillReplaceable fails when something other than a regular file has
// appeared at target since the download began.
func (d *fileDest) stillReplaceable() error {
	if fi, err := os.Lstat(d.target); err == nil && !fi.Mode().IsRegular() {
		return &DestError{Path: d.target, Reason: "changed into something other than a regular file during the download"}
	}
	return nil
}

func (d *fileDest) abort() {
	if d.placed {
		return
	}
	d.f.Close()
	if d.tmp != "" {
		os.Remove(d.tmp)
		d.tmp = ""
	}
}

// tempPrefixMax keeps a temporary name ".PREFIX.XXXXXXXX.part" within 255
// bytes, the longest file name most file systems allow.
const tempPrefixMax = 255 - len("..") - 8 - len(".part")

// tempName returns a fresh temporary name for base in dir.
func tempName(dir, base string) string {
	var b [4]byte
	rand.Read(b[:])
	return filepath.Join(dir, "."+cutName(base, tempPrefixMax)+"."+hex.EncodeToString(b[:])+".part")
}

// cutName returns s cut to at most n bytes, on a character boundary when
// s is UTF-8.
func cutName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if !utf8.ValidString(s) {
		return s[:n]
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// createNamed creates a new temporary file for base in dir with perm
// (less the umask), exclusively.
func createNamed(dir, base string, perm fs.FileMode) (*os.File, string, error) {
	for range 100 {
		name := tempName(dir, base)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", errors.New("no free temporary name in " + dir)
}

// annotateThrough adds to err, when data already reached a destination
// written through, that it cannot be taken back.
func annotateThrough(err error, d destination) error {
	t, ok := d.(*throughDest)
	if !ok || t.n == 0 {
		return err
	}
	return fmt.Errorf("%w (the %s bytes already written to %s did not verify and cannot be taken back)", err, strconv.FormatInt(t.n, 10), t.path)
}
