package bench_test

import (
	"context"
	"crypto/md5"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stickykit/stickykit/internal/bench"
	"github.com/stickykit/stickykit/ref"
)

// The benchmarks run over loopback TCP in the lockstep framing. Compare
// runs with benchstat; the 1GiB size runs only with STICKYKIT_BENCH_1G=1:
//
//	go test -run '^$' -bench . -benchtime 3x ./internal/bench/
//	STICKYKIT_BENCH_1G=1 go test -run '^$' -bench 'MD5|Transfer' -benchtime 3x ./internal/bench/
//
// Transfer and Fetch run twice: cache=off, a server that hashes every
// transfer, and cache=on, one that remembers each file's digest (the
// files are made old enough first: see Lab.Settle).

var benchSizes = []int64{bench.KiB, bench.MiB, 64 * bench.MiB}

func sizes() []int64 {
	if os.Getenv("STICKYKIT_BENCH_1G") == "1" {
		return append(benchSizes, bench.GiB)
	}
	return benchSizes
}

func newLab(b *testing.B, opts bench.Options) *bench.Lab {
	b.Helper()
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	l, err := bench.NewLab(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := l.Close(); err != nil {
			b.Errorf("Lab.Close: %v", err)
		}
	})
	return l
}

func file(b *testing.B, l *bench.Lab, size int64) string {
	b.Helper()
	name, err := l.File(size)
	if err != nil {
		b.Fatal(err)
	}
	return name
}

// reportRatio reports the benchmark's rate over the MD5 rate of the same
// file measured now, as the metric "x-md5".
func reportRatio(b *testing.B, l *bench.Lab, size int64, elapsed time.Duration) {
	b.Helper()
	md5Rate, err := l.MD5Rate(size)
	if err != nil {
		b.Fatal(err)
	}
	rate := float64(size) * float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate/md5Rate, "x-md5")
}

// BenchmarkMD5 is the baseline: hashing the bytes of each file on one
// goroutine, from memory.
func BenchmarkMD5(b *testing.B) {
	l := newLab(b, bench.Options{})
	for _, size := range sizes() {
		b.Run("size="+bench.FormatSize(size), func(b *testing.B) {
			data, err := os.ReadFile(filepath.Join(l.Root(), file(b, l, size)))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			for b.Loop() {
				md5.Sum(data)
			}
		})
	}
}

// BenchmarkDisk is the second baseline: copying each file to a new file and
// fsyncing it, as a download must.
func BenchmarkDisk(b *testing.B) {
	l := newLab(b, bench.Options{})
	buf := make([]byte, 1<<20)
	for _, size := range sizes() {
		b.Run("size="+bench.FormatSize(size), func(b *testing.B) {
			src := filepath.Join(l.Root(), file(b, l, size))
			dst := filepath.Join(l.OutDir(), "disk")
			b.SetBytes(size)
			for b.Loop() {
				if err := copySync(src, dst, buf); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.Remove(dst)
				b.StartTimer()
			}
		})
	}
}

// copySync copies src to a new file dst through buf and fsyncs it.
func copySync(src, dst string, buf []byte) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	// Hide ReaderFrom and WriterTo: no copy_file_range.
	_, err = io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, buf)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// cacheLab is a lab named for its sub-benchmarks.
type cacheLab struct {
	name string
	*bench.Lab
}

// cacheLabs returns a lab whose server hashes every transfer and one whose
// server remembers digests.
func cacheLabs(b *testing.B) []cacheLab {
	return []cacheLab{
		{"cache=off", newLab(b, bench.Options{DisableDigestCache: true})},
		{"cache=on", newLab(b, bench.Options{})},
	}
}

// settled returns the name of the lab's file of size bytes, once it is old
// enough for the server to remember its digest.
func settled(b *testing.B, l *bench.Lab, size int64) string {
	b.Helper()
	name, err := l.Settle(context.Background(), size)
	if err != nil {
		b.Fatal(err)
	}
	return name
}

// BenchmarkTransfer downloads each file from the reference server with the
// reference client, one connection per download, as "stickykit get" does:
// temporary file, fsync, rename.
func BenchmarkTransfer(b *testing.B) {
	ctx := context.Background()
	for _, l := range cacheLabs(b) {
		for _, size := range sizes() {
			b.Run(l.name+"/size="+bench.FormatSize(size), func(b *testing.B) {
				name := settled(b, l.Lab, size)
				b.SetBytes(size)
				var elapsed time.Duration
				for b.Loop() {
					start := time.Now()
					dst, err := l.GetRef(ctx, name)
					elapsed += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					os.Remove(dst)
					b.StartTimer()
				}
				reportRatio(b, l.Lab, size, elapsed)
			})
		}
	}
}

// BenchmarkFetch is Transfer without the disk: the reference client
// verifies the data and discards it.
func BenchmarkFetch(b *testing.B) {
	for _, l := range cacheLabs(b) {
		c := &ref.Client{Framing: l.Framing()}
		for _, size := range sizes() {
			b.Run(l.name+"/size="+bench.FormatSize(size), func(b *testing.B) {
				name := settled(b, l.Lab, size)
				b.SetBytes(size)
				start := time.Now()
				for b.Loop() {
					nc, err := net.Dial("tcp", l.Addr())
					if err != nil {
						b.Fatal(err)
					}
					s := c.NewSession(nc)
					_, err = s.Fetch(name, io.Discard)
					s.Close()
					if err != nil {
						b.Fatal(err)
					}
				}
				reportRatio(b, l.Lab, size, time.Since(start))
			})
		}
	}
}

// BenchmarkNaive downloads each file with the naive client (the article's
// variant: recv of at most 1024 bytes) into a plain file, for comparison.
func BenchmarkNaive(b *testing.B) {
	l := newLab(b, bench.Options{})
	ctx := context.Background()
	for _, size := range sizes() {
		b.Run("size="+bench.FormatSize(size), func(b *testing.B) {
			name := file(b, l, size)
			b.SetBytes(size)
			for b.Loop() {
				if err := l.GetNaive(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConcurrent starts 1,000 clients at once, each fetching a 4KiB
// file on its own connection, and reports the latency of one client (dial
// to verified digest) at the 50th and 99th percentiles.
func BenchmarkConcurrent(b *testing.B) {
	const clients, size = 1000, 4 * bench.KiB
	l := newLab(b, bench.Options{})
	b.Run("clients="+strconv.Itoa(clients)+"/size="+bench.FormatSize(size), func(b *testing.B) {
		b.SetBytes(clients * size)
		var p50, p99 time.Duration
		for b.Loop() {
			res, err := l.Scale(context.Background(), clients, size, 0)
			if err != nil {
				b.Fatal(err)
			}
			if res.Failed > 0 {
				b.Fatalf("%d fetches failed: %v", res.Failed, res.Errors)
			}
			p50 += res.P50
			p99 += res.P99
		}
		b.ReportMetric(float64(p50.Microseconds())/1000/float64(b.N), "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000/float64(b.N), "p99-ms")
	})
}
