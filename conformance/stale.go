package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stale fixtures. A run of the kit that is killed (SIGKILL, a crash, a
// machine that stops) cannot remove its fixtures. So before its first
// fixture each case writes a mark into the root, a file named
// ".stickykit-check-TOKEN.mark" that records the process (its PID, its
// start time where the system tells it, its user) and then every file,
// directory and FIFO the case makes, with its device and inode. A later
// run sweeps the root: it removes what a mark lists only when the mark is
// a regular file of the kit's own user, the process that wrote it has
// ended, and the name still leads to the very file recorded (same
// device, inode, type and owner). Anything it cannot prove its own stays.

// markSuffix ends the name of a mark: fixturePrefix, the token, then this.
const markSuffix = ".mark"

// markHeader is the first line of every mark.
const markHeader = "stickykit check: the fixtures of one case; a later run removes them once the process below has ended"

// mark is the record of one case's fixtures, written as they are made. A
// nil *mark records nothing (where files cannot be identified).
type mark struct {
	in   *os.Root
	name string
	f    *os.File
	info fs.FileInfo
}

// newMark creates the mark of the fixtures with token in root.
func newMark(root *os.Root, token string) (*mark, error) {
	me, ok := thisProcess()
	if !ok {
		return nil, nil // no way to prove anything later: write nothing
	}
	name := fixturePrefix + token + markSuffix
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	m := &mark{in: root, name: name, f: f}
	if m.info, err = f.Stat(); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := fmt.Fprintf(f, "%s\npid %d\nstart %s\nuid %d\n", markHeader, me.pid, strconv.Quote(me.start), me.uid); err != nil {
		m.remove()
		return nil, err
	}
	return m, nil
}

// add records m, made in the root (inRoot) or beside it.
func (k *mark) add(inRoot bool, m *made) {
	if k == nil {
		return
	}
	id, ok := fileIDOf(m.info)
	if !ok {
		return
	}
	where := "parent"
	if inRoot {
		where = "root"
	}
	fmt.Fprintf(k.f, "%s %s %s %d %d\n", strings.ReplaceAll(m.kind, " ", "-"), where, strconv.Quote(m.name), id.dev, id.ino)
}

// remove closes the mark and removes it, if it is still the kit's.
func (k *mark) remove() {
	if k == nil {
		return
	}
	k.f.Close()
	if fi, err := k.in.Lstat(k.name); err == nil && os.SameFile(fi, k.info) {
		k.in.Remove(k.name)
	}
}

// markEntry is one thing a mark lists.
type markEntry struct {
	kind, where, name string
	id                fileID
}

// markRecord is a mark as read back: whose it is and what it lists.
type markRecord struct {
	owner   process
	entries []markEntry
}

// maxMarkSize bounds the mark a sweep reads.
const maxMarkSize = 1 << 20

// readMark parses a mark; an error means it is not one the kit wrote.
func readMark(r io.Reader) (*markRecord, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxMarkSize))
	sc.Buffer(make([]byte, 4096), maxMarkSize)
	var rec markRecord
	var head []string
	for len(head) < 4 && sc.Scan() {
		head = append(head, sc.Text())
	}
	if len(head) < 4 || head[0] != markHeader {
		return nil, errors.New("not a mark of the kit")
	}
	var start string
	if _, err := fmt.Sscanf(head[1], "pid %d", &rec.owner.pid); err != nil {
		return nil, fmt.Errorf("mark: %q: %w", head[1], err)
	}
	start, err := strconv.Unquote(strings.TrimPrefix(head[2], "start "))
	if err != nil {
		return nil, fmt.Errorf("mark: %q: %w", head[2], err)
	}
	rec.owner.start = start
	if _, err := fmt.Sscanf(head[3], "uid %d", &rec.owner.uid); err != nil {
		return nil, fmt.Errorf("mark: %q: %w", head[3], err)
	}
	for sc.Scan() {
		e, err := parseMarkEntry(sc.Text())
		if err != nil {
			return nil, err
		}
		rec.entries = append(rec.entries, e)
	}
	return &rec, sc.Err()
}

// parseMarkEntry parses `KIND WHERE "NAME" DEV INO`.
func parseMarkEntry(line string) (markEntry, error) {
	var e markEntry
	kind, rest, ok1 := strings.Cut(line, " ")
	where, rest, ok2 := strings.Cut(rest, " ")
	i := strings.LastIndexByte(rest, '"')
	if !ok1 || !ok2 || i < 0 {
		return e, fmt.Errorf("mark: bad entry %q", line)
	}
	name, err := strconv.Unquote(rest[:i+1])
	if err != nil {
		return e, fmt.Errorf("mark: bad entry %q: %w", line, err)
	}
	if _, err := fmt.Sscanf(rest[i+1:], " %d %d", &e.id.dev, &e.id.ino); err != nil {
		return e, fmt.Errorf("mark: bad entry %q: %w", line, err)
	}
	if where != "root" && where != "parent" {
		return e, fmt.Errorf("mark: bad place %q", where)
	}
	e.kind, e.where, e.name = kind, where, name
	return e, nil
}

// sweepStale removes from root (and beside it) the fixtures of runs of the
// kit that ended without removing them, as the marks prove. It returns
// how many entries it removed, and reports each to logf.
func sweepStale(root string, logf func(string, ...any)) int {
	if _, ok := thisProcess(); !ok {
		return 0
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0
	}
	rt, err := os.OpenRoot(root)
	if err != nil {
		return 0
	}
	defer rt.Close()
	removed := 0
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, fixturePrefix) && strings.HasSuffix(n, markSuffix) && e.Type().IsRegular() {
			removed += sweepMark(rt, root, n, logf)
		}
	}
	return removed
}

// sweepMark removes what the mark name in rt lists, if the mark proves it
// stale, and then the mark.
func sweepMark(rt *os.Root, root, name string, logf func(string, ...any)) int {
	f, err := rt.OpenFile(name, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !ownedByMe(fi) {
		return 0
	}
	rec, err := readMark(f)
	if err != nil || rec.owner.uid != os.Geteuid() || rec.owner.alive() {
		return 0
	}
	var parent *os.Root
	removed := 0
	for i := len(rec.entries) - 1; i >= 0; i-- {
		e := rec.entries[i]
		in := rt
		if e.where == "parent" {
			if parent == nil {
				if parent, err = os.OpenRoot(filepath.Dir(filepath.Clean(root))); err != nil {
					continue
				}
				defer parent.Close()
			}
			in = parent
		}
		got, err := in.Lstat(e.name)
		if err != nil || kindOf(got.Mode()) != e.kind || !ownedByMe(got) {
			continue
		}
		if id, ok := fileIDOf(got); !ok || id != e.id {
			continue
		}
		if in.Remove(e.name) == nil {
			removed++
			logf("kit: removed %q, left by an earlier run (process %d) that has ended", e.name, rec.owner.pid)
		}
	}
	if now, err := rt.Lstat(name); err == nil && os.SameFile(now, fi) {
		rt.Remove(name)
	}
	return removed
}
