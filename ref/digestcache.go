package ref

import (
	"container/list"
	"crypto/md5"
	"os"
	"sync"
	"time"
)

// A server that has sent a file whole knows the MD5 of that version of the
// file. It remembers it, keyed by what identifies the version (a
// fileVersion), so that the next transfer of the same version can be sent
// without hashing it again, with sendfile (see sendBody). SPEC.md
// (REQ-SRV-18) says when a server may do this and why it cannot make a
// client accept wrong bytes: the client hashes what it received whatever
// the server sends, so a stale digest can make a transfer fail, never pass.
const (
	// digestCacheEntries bounds the remembered digests: a few hundred
	// bytes each.
	digestCacheEntries = 4096
	// digestMaxAge bounds how long a remembered digest is used. It limits
	// the harm of a change that the key cannot see (see SPEC.md): such a
	// change makes transfers of the file fail for at most this long.
	digestMaxAge = 10 * time.Minute
)

// DigestSettleTime is how old a version of a file must be (its change
// time), when a Server begins to read it, for the Server to remember its
// digest. A write within one timestamp tick of the version's change time
// can leave every field the Server compares unchanged (git calls such a
// file "racily clean"); a tick is 1 to 10ms on Linux file systems, 1s on
// some, 2s on FAT. A version that changes after DigestSettleTime has
// passed gets a new change time.
const DigestSettleTime = 3 * time.Second

// fileVersion identifies one version of a regular file's content as far
// as its metadata can: the same file (device and inode, and birth time
// where the file system records one), the same size, and the same
// modification and change times to the nanosecond. The kernel sets the
// change time on every write, truncation or attribute change, and no
// system call sets it to a chosen value, so a later version has a later
// change time, except as DigestSettleTime explains.
//
// Linux keeps a change counter (i_version, STATX_CHANGE_COOKIE in the
// kernel) that would be stricter still, but does not give it to user space
// (fs/stat.c removes the bit from every statx request), and
// golang.org/x/sys/unix has no field for it; the key does without it.
type fileVersion struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the Unix epoch
	btime        int64 // birth time in nanoseconds, 0 where unknown
}

// snapshot is a file's version as read before its size is sent, and the
// time just before it was read.
type snapshot struct {
	v  fileVersion
	at time.Time
	ok bool // v is known and its size is the size announced
}

// digestCache remembers the digests of file versions, least recently used
// first out. It is safe for concurrent use.
type digestCache struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	ll    list.List // of *digestEntry, most recently used first
	items map[fileVersion]*list.Element
}

type digestEntry struct {
	v     fileVersion
	sum   [md5.Size]byte
	added time.Time
}

func newDigestCache(max int) *digestCache {
	return &digestCache{max: max, now: time.Now, items: make(map[fileVersion]*list.Element)}
}

// snapshot reads the version of f, whose size was announced as size. The
// snapshot is unusable (ok false) when the version cannot be read or its
// size is not size: the file changed after it was opened.
func (c *digestCache) snapshot(f *os.File, size int64) snapshot {
	at := c.now()
	v, ok := statVersion(f)
	return snapshot{v: v, at: at, ok: ok && v.size == size}
}

// unchanged reports whether f still has the version of s.
func unchanged(f *os.File, s snapshot) bool {
	v, ok := statVersion(f)
	return ok && s.ok && v == s.v
}

// get returns the digest remembered for v, if any and not too old.
func (c *digestCache) get(v fileVersion) ([md5.Size]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[v]
	if !ok {
		return [md5.Size]byte{}, false
	}
	ent := e.Value.(*digestEntry)
	if c.now().Sub(ent.added) >= digestMaxAge {
		c.ll.Remove(e)
		delete(c.items, v)
		return [md5.Size]byte{}, false
	}
	c.ll.MoveToFront(e)
	return ent.sum, true
}

// put remembers sum for the version of s, if that version had settled
// when it was read (see DigestSettleTime), evicting the least recently used
// entry when the cache is full.
func (c *digestCache) put(s snapshot, sum [md5.Size]byte) {
	if !s.ok || s.at.Sub(time.Unix(0, s.v.ctime)) < DigestSettleTime {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[s.v]; ok {
		ent := e.Value.(*digestEntry)
		ent.sum, ent.added = sum, c.now()
		c.ll.MoveToFront(e)
		return
	}
	c.items[s.v] = c.ll.PushFront(&digestEntry{v: s.v, sum: sum, added: c.now()})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*digestEntry).v)
	}
}

// remove forgets the digest of v.
func (c *digestCache) remove(v fileVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[v]; ok {
		c.ll.Remove(e)
		delete(c.items, v)
	}
}

// len returns the number of remembered digests.
func (c *digestCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
