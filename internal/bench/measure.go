package bench

import (
	"crypto/md5"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// What Lab.Compare measures, as named in a Measurement.
const (
	ImplMD5sum = "md5sum" // baseline: "md5sum FILE", reading and hashing the file
	ImplDD     = "dd"     // baseline: "dd bs=1M conv=fsync", copying the file to disk and syncing the copy
	ImplPipe   = "pipe"   // reference server to reference client, verified, streamed to a pipe
	ImplDisk   = "disk"   // reference server to "stickykit get": temporary file, fsync, rename
	ImplNaive  = "naive"  // reference server to "stickykit naive-get --variant article", to a file
	ImplPython = "python" // the tutorial's Python server to "stickykit get"
)

// The cache states of a Measurement.
const (
	// Cold: each run has a new server, which remembers no digest, and
	// the file is dropped from the page cache first (where the system
	// allows; see Comparison.Evicted).
	Cold = "cold"
	// Warm: one server that has sent the file before and remembers its
	// digest, and the file in the page cache.
	Warm = "warm"
)

// Measurement is the outcome of running one program several times on one
// file, in one cache state.
type Measurement struct {
	Impl  string // ImplMD5sum, ImplPipe, ...
	Cache string // Cold or Warm
	Size  int64  // bytes per run
	Runs  []Run
}

// Run is one run of a Measurement.
type Run struct {
	Wall time.Duration // from starting the program to its exit
	CPU  time.Duration // user and system time of the program (the client, for a transfer)
	// ServerCPU is the server's user and system time during the run, in
	// 10ms ticks; 0 for a baseline or where unknown.
	ServerCPU time.Duration
	// Base is the wall time of the baseline run made just before this
	// one, in the same cache state, for a transfer; 0 if none.
	Base time.Duration
}

// median returns the median of the values f takes over m's runs (the mean
// of the middle two for an even count), or 0 when there are none. Runs
// for which ok is false are left out.
func (m Measurement) median(f func(Run) (float64, bool)) float64 {
	var v []float64
	for _, r := range m.Runs {
		if x, ok := f(r); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Rate returns the median throughput of the runs in bytes per second.
func (m Measurement) Rate() float64 {
	return m.median(func(r Run) (float64, bool) {
		return float64(m.Size) / r.Wall.Seconds(), r.Wall > 0
	})
}

// MBps returns the median throughput in megabytes (10^6 bytes) per second.
func (m Measurement) MBps() float64 { return m.Rate() / 1e6 }

// Ratio returns the median, over the runs, of the baseline's wall time
// over the transfer's: the transfer's speed as a fraction of the
// baseline's, run by run. It is 0 when there is no baseline.
func (m Measurement) Ratio() float64 {
	return m.median(func(r Run) (float64, bool) {
		return r.Base.Seconds() / r.Wall.Seconds(), r.Base > 0 && r.Wall > 0
	})
}

// CPUPerGiB returns the median CPU seconds per GiB of the program.
func (m Measurement) CPUPerGiB() float64 {
	return m.median(func(r Run) (float64, bool) {
		return r.CPU.Seconds() * float64(GiB) / float64(m.Size), m.Size > 0
	})
}

// ServerCPUPerGiB returns the median CPU seconds per GiB of the server,
// or 0 when unknown.
func (m Measurement) ServerCPUPerGiB() float64 {
	return m.median(func(r Run) (float64, bool) {
		return r.ServerCPU.Seconds() * float64(GiB) / float64(m.Size), m.Size > 0 && r.ServerCPU > 0
	})
}

// MD5Rate returns the rate, in bytes per second, of hashing the bytes of
// the file of size bytes with MD5 on one goroutine, counting the hashing
// only: the work each end of a transfer must do at least once.
func (l *Lab) MD5Rate(size int64) (float64, error) {
	name, err := l.File(size)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	d, err := hashFile(filepath.Join(l.root, name))
	if err != nil {
		return 0, err
	}
	if size == 0 || d <= 0 {
		return 0, fmt.Errorf("MD5 of %s took %v", FormatSize(size), time.Since(start))
	}
	return float64(size) / d.Seconds(), nil
}

// hashFile returns the time spent hashing the file at path with MD5, not
// counting the time spent reading it.
func hashFile(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
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
			return d, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
