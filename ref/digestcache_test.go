package ref

import (
	"crypto/md5"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// settled returns a snapshot of version i, read long after its change.
func settled(i int) snapshot {
	v := fileVersion{dev: 1, ino: uint64(i), size: int64(i), mtime: 1e18, ctime: 1e18}
	return snapshot{v: v, at: time.Unix(0, 1e18).Add(time.Hour), ok: true}
}

func sumOf(i int) [md5.Size]byte { return md5.Sum([]byte{byte(i), byte(i >> 8)}) }

// TestDigestCacheLRU: the cache holds at most max entries and evicts the
// least recently used; get refreshes an entry.
func TestDigestCacheLRU(t *testing.T) {
	const max = 8
	c := newDigestCache(max)
	for i := range max {
		c.put(settled(i), sumOf(i))
	}
	if _, ok := c.get(settled(0).v); !ok { // 0 is now the most recent
		t.Fatalf("get(0) missed in a cache that is not full")
	}
	for i := max; i < max+3; i++ {
		c.put(settled(i), sumOf(i))
	}
	if got := c.len(); got != max {
		t.Errorf("len = %d after %d puts, want %d", got, max+3, max)
	}
	for i := range max + 3 {
		sum, ok := c.get(settled(i).v)
		wantOK := i == 0 || i >= 4 // 1, 2 and 3 were the least recently used
		if ok != wantOK || (ok && sum != sumOf(i)) {
			t.Errorf("get(%d) = %x, %v; want present %v with its own sum", i, sum, ok, wantOK)
		}
	}
	c.remove(settled(0).v)
	if _, ok := c.get(settled(0).v); ok || c.len() != max-1 {
		t.Errorf("after remove(0): get(0) hit %v, len %d; want a miss and %d", ok, c.len(), max-1)
	}
}

// TestDigestCacheSettle: a version read within DigestSettleTime of its change
// time is not remembered (a write in the same timestamp tick could leave
// its key unchanged); nor is an unusable snapshot.
func TestDigestCacheSettle(t *testing.T) {
	c := newDigestCache(8)
	young := settled(1)
	young.at = time.Unix(0, young.v.ctime).Add(DigestSettleTime - time.Nanosecond)
	c.put(young, sumOf(1))
	unknown := settled(2)
	unknown.ok = false
	c.put(unknown, sumOf(2))
	old := settled(3)
	old.at = time.Unix(0, old.v.ctime).Add(DigestSettleTime)
	c.put(old, sumOf(3))
	for i, want := range map[int]bool{1: false, 2: false, 3: true} {
		if _, ok := c.get(settled(i).v); ok != want {
			t.Errorf("version %d remembered %v, want %v", i, ok, want)
		}
	}
}

// TestDigestCacheMaxAge: a digest is not used once digestMaxAge has passed
// since it was remembered.
func TestDigestCacheMaxAge(t *testing.T) {
	c := newDigestCache(8)
	now := time.Unix(2e9, 0)
	c.now = func() time.Time { return now }
	c.put(settled(1), sumOf(1))
	now = now.Add(digestMaxAge - time.Second)
	if _, ok := c.get(settled(1).v); !ok {
		t.Fatalf("missed before digestMaxAge")
	}
	now = now.Add(time.Second)
	if _, ok := c.get(settled(1).v); ok || c.len() != 0 {
		t.Errorf("hit %v, len %d at digestMaxAge; want a miss and the entry gone", ok, c.len())
	}
}

// TestDigestCacheParallel exercises the cache from many goroutines; run it
// with -race. Every hit returns the sum put for that version.
func TestDigestCacheParallel(t *testing.T) {
	c := newDigestCache(16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (i*7 + g) % 40
				switch i % 3 {
				case 0:
					c.put(settled(k), sumOf(k))
				case 1:
					if sum, ok := c.get(settled(k).v); ok && sum != sumOf(k) {
						t.Errorf("get(%d) = %x, want %x", k, sum, sumOf(k))
					}
				default:
					c.remove(settled(k).v)
				}
			}
		}()
	}
	wg.Wait()
	if c.len() > 16 {
		t.Errorf("len = %d, want at most 16", c.len())
	}
}

// TestStatVersion: the version of a file changes with its content, size
// and inode, even when its modification time is set back; on Linux it is
// known.
func TestStatVersion(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, ok := statVersion(os.Stdin); ok {
			t.Errorf("statVersion known outside Linux")
		}
		t.Skip("versions are read on Linux only")
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	version := func() fileVersion {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		v, ok := statVersion(f)
		if !ok {
			t.Fatalf("statVersion(%s) not known", path)
		}
		return v
	}
	v1 := version()
	if v1.size != 3 || v1.ino == 0 || v1.ctime == 0 || v1.mtime == 0 {
		t.Errorf("version %+v: want size 3 and non-zero inode and times", v1)
	}
	if v2 := version(); v2 != v1 {
		t.Errorf("version of an unchanged file changed: %+v, then %+v", v1, v2)
	}
	mtime := time.Unix(0, v1.mtime)
	for i := 0; ; i++ {
		if i == 10000 {
			t.Fatalf("the change time stays %d after %d rewrites", v1.ctime, i)
		}
		if err := os.WriteFile(path, []byte("two"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if v2 := version(); v2.ctime != v1.ctime {
			if v2.mtime != v1.mtime || v2.size != v1.size || v2 == v1 {
				t.Errorf("after a rewrite with the mtime set back: %+v, want only the change time to differ from %+v", v2, v1)
			}
			break
		}
	}
}
