package bench

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/stickykit/stickykit/naive"
)

// Implementations measured, as named in a Measurement.
const (
	ImplMD5    = "md5"     // the baseline: hashing the file's bytes on one goroutine
	ImplDisk   = "disk"    // the second baseline: writing the file's bytes to a new file and fsyncing it
	ImplRef    = "ref"     // reference server to reference client, to disk as "stickykit get"
	ImplRefMem = "ref-mem" // reference server to reference client, data verified and discarded
	ImplNaive  = "naive"   // reference server to the naive client (the article's variant)
	ImplPython = "python"  // the tutorial's Python server to the reference client
)

// Measurement is the outcome of repeating one operation on one file.
type Measurement struct {
	Impl string        // what was measured: ImplMD5, ImplRef, ...
	Size int64         // bytes per operation
	N    int           // operations
	Time time.Duration // their total duration
}

// Rate returns the throughput in bytes per second.
func (m Measurement) Rate() float64 {
	if m.Time <= 0 {
		return 0
	}
	return float64(m.Size) * float64(m.N) / m.Time.Seconds()
}

// MBps returns the throughput in megabytes (10^6 bytes) per second.
func (m Measurement) MBps() float64 { return m.Rate() / 1e6 }

// PerOp returns the mean duration of one operation.
func (m Measurement) PerOp() time.Duration {
	if m.N == 0 {
		return 0
	}
	return m.Time / time.Duration(m.N)
}

// repeat runs op until the time it reports adds up to the lab's MinTime,
// at least once.
func (l *Lab) repeat(impl string, size int64, op func() (time.Duration, error)) (Measurement, error) {
	m := Measurement{Impl: impl, Size: size}
	for m.N == 0 || m.Time < l.opts.MinTime {
		d, err := op()
		if err != nil {
			return m, fmt.Errorf("bench: %s %s: %w", impl, FormatSize(size), err)
		}
		m.N++
		m.Time += d
	}
	return m, nil
}

// timed returns op as an operation that reports its wall time.
func timed(op func() error) func() (time.Duration, error) {
	return func() (time.Duration, error) {
		start := time.Now()
		err := op()
		return time.Since(start), err
	}
}

// MD5 measures the baseline: the time to hash the file of size bytes on one
// goroutine, counting the hashing only (files up to 64MiB are read into
// memory once, larger ones are read in 1MiB chunks between timed hashes).
func (l *Lab) MD5(size int64) (Measurement, error) {
	name, err := l.File(size)
	if err != nil {
		return Measurement{}, err
	}
	path := filepath.Join(l.root, name)
	if size <= 64*MiB {
		b, err := os.ReadFile(path)
		if err != nil {
			return Measurement{}, fmt.Errorf("bench: %w", err)
		}
		return l.repeat(ImplMD5, size, timed(func() error {
			md5.Sum(b)
			return nil
		}))
	}
	return l.repeat(ImplMD5, size, func() (time.Duration, error) {
		d, _, err := HashFile(path)
		return d, err
	})
}

// HashFile returns the MD5 of the file at path in hex and the time spent
// hashing, not counting the time spent reading.
func HashFile(path string) (time.Duration, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	h := md5.New()
	buf := make([]byte, 1<<20)
	var d time.Duration
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			start := time.Now()
			h.Write(buf[:n])
			d += time.Since(start)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, "", fmt.Errorf("bench: %w", err)
		}
	}
	return d, hex.EncodeToString(h.Sum(nil)), nil
}

// Ref measures the reference client downloading the file of size bytes
// from the reference server, one new connection per download, as
// "stickykit get" does: temporary file, fsync, rename. The time to remove
// the previous download is not counted.
func (l *Lab) Ref(ctx context.Context, size int64) (Measurement, error) {
	name, err := l.File(size)
	if err != nil {
		return Measurement{}, err
	}
	return l.repeat(ImplRef, size, func() (time.Duration, error) {
		start := time.Now()
		dst, err := l.GetRef(ctx, name)
		d := time.Since(start)
		os.Remove(dst)
		return d, err
	})
}

// Sum returns the MD5 of b; benchmarks use it as the baseline.
func Sum(b []byte) [md5.Size]byte { return md5.Sum(b) }

// RefMem measures what Ref does without the disk: the reference client
// verifies the data and discards it.
func (l *Lab) RefMem(ctx context.Context, size int64) (Measurement, error) {
	name, err := l.File(size)
	if err != nil {
		return Measurement{}, err
	}
	c := l.client()
	d := &net.Dialer{Timeout: 30 * time.Second}
	return l.repeat(ImplRefMem, size, timed(func() error {
		nc, err := d.DialContext(ctx, "tcp", l.addr)
		if err != nil {
			return err
		}
		s := c.NewSession(nc)
		defer s.Close()
		_, err = s.Fetch(name, io.Discard)
		return err
	}))
}

// Naive measures the naive client (the article's variant: exact-remaining
// reads of at most 1024 bytes, one read for the digest) downloading the
// file of size bytes from the reference server into a plain file, as the
// tutorial's client does: no temporary file, no fsync. A digest that does
// not match is an error.
func (l *Lab) Naive(ctx context.Context, size int64) (Measurement, error) {
	name, err := l.File(size)
	if err != nil {
		return Measurement{}, err
	}
	return l.repeat(ImplNaive, size, func() (time.Duration, error) {
		start := time.Now()
		err := l.GetNaive(ctx, name)
		return time.Since(start), err
	})
}

// GetNaive downloads name with the naive client (the article's variant)
// into a file in OutDir, removing it afterwards.
func (l *Lab) GetNaive(ctx context.Context, name string) error {
	d := &net.Dialer{Timeout: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	dst := filepath.Join(l.out, "naive-"+name)
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer os.Remove(dst)
	c := &naive.Client{Variant: naive.Article, Framing: l.opts.Framing, Timeout: 30 * time.Second}
	res, err := c.Get(nc, name, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !res.Match {
		err = fmt.Errorf("%w: server %q, local %s", ErrDigest, res.Server, res.Local)
	}
	return err
}

// Disk measures the second baseline: copying the file of size bytes to a
// new file in OutDir and fsyncing it, which "stickykit get" must do too.
// Reading from the page cache is counted; removing the copy is not.
func (l *Lab) Disk(size int64) (Measurement, error) {
	name, err := l.File(size)
	if err != nil {
		return Measurement{}, err
	}
	src := filepath.Join(l.root, name)
	buf := make([]byte, 1<<20)
	return l.repeat(ImplDisk, size, func() (time.Duration, error) {
		start := time.Now()
		dst, err := copyFile(src, filepath.Join(l.out, "disk-"+name), buf)
		d := time.Since(start)
		os.Remove(dst)
		return d, err
	})
}

// copyFile copies src to a new file dst through buf, syncs it and returns
// dst.
func copyFile(src, dst string, buf []byte) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return dst, err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return dst, err
	}
	// Hide ReaderFrom and WriterTo: copy_file_range would skip the copy
	// through memory that a download makes.
	_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, buf)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return dst, err
}
