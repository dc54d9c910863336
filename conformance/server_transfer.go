package conformance

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about transfers that should simply work: every size, odd
// names, several requests per connection, a slow reader.

// serverSizes are the sizes of server/sizes: empty, one byte, around the
// tutorial's 1024-byte reads, past a 64 KiB buffer, and large.
var serverSizes = []int{0, 1, 1023, 1024, 1025, 65537, 5 << 20}

// sizesCites returns what server/sizes cites for a failed transfer: the
// rule that a regular file of any size is served (REQ-SRV-1), and the one
// the fault breaks.
func sizesCites(err error) citation {
	var pe *spec.ProtocolError
	switch faultOf(err) {
	case faultReply:
		if errors.As(err, &pe) {
			return cite("REQ-SRV-1", "REQ-MSG-4")
		}
	case faultData:
		return cite("REQ-SRV-1", "REQ-MSG-9")
	case faultTruncated:
		return cite("REQ-SRV-1", "REQ-SRV-9")
	case faultDigest:
		return cite("REQ-SRV-1", "REQ-MSG-10")
	}
	return cite("REQ-SRV-1")
}

func runServerSizes(ctx context.Context, x *serverCheck) Outcome {
	var want []sized
	for _, n := range serverSizes {
		want = append(want, sized{sizeName(n), n})
	}
	files, err := x.fx.files(want...)
	if err != nil {
		return setupFailed(err)
	}
	// One connection per size, so that each failure is about one size.
	o := x.fetchEach(ctx, files, func(_ int, err error) Outcome {
		var pe *spec.ProtocolError
		if x.framing == spec.Lockstep && errors.As(err, &pe) && pe.Phase == spec.PhaseReply {
			return fail("%v (%s: a lockstep size is its bare digits, with no terminator, in a write of its own)",
				err, cite("REQ-SRV-1", "REQ-MSG-4", "REQ-LOCK-1"))
		}
		return fail("%v (%s)", err, sizesCites(err))
	})
	if o.Verdict != "" {
		return o
	}
	return pass("%d files of %d to %d bytes arrived byte-exact with matching digests", len(files), serverSizes[0], serverSizes[len(serverSizes)-1])
}

// serverNames are the labels of server/names. The kit's prefix comes first
// unless the label starts or ends with a space, which must stay at the
// very start or end of the name.
var serverNames = []struct {
	label string
	what  string
}{
	{"inner space.txt", "an inner space"},
	{"two  spaces   three.txt", "repeated spaces"},
	{"naïve résumé 文件 🚀.txt", "non-ASCII UTF-8"},
	{" leading-space.txt", "a leading space"},
	{"trailing-space.txt ", "a trailing space"},
	{"sub dir/inside file.txt", "a subdirectory with a space"},
}

// nameFixtures writes the files of server/names, one for each of
// serverNames.
func (x *serverCheck) nameFixtures() ([]fixture, error) {
	var files []fixture
	for i, sn := range serverNames {
		var name string
		switch {
		case strings.HasPrefix(sn.label, " "):
			name = " " + x.fx.name(sn.label[1:])
		case strings.HasPrefix(sn.label, "sub dir/"):
			dir := x.fx.name("sub dir")
			if err := x.fx.mkdir(dir); err != nil {
				return nil, err
			}
			name = dir + "/" + strings.TrimPrefix(sn.label, "sub dir/")
		default:
			name = x.fx.name(sn.label)
		}
		data, err := x.fx.file(name, 1000+i)
		if err != nil {
			return nil, err
		}
		files = append(files, fixture{name, data})
	}
	return files, nil
}

func runServerNames(ctx context.Context, x *serverCheck) Outcome {
	files, err := x.nameFixtures()
	if err != nil {
		return setupFailed(err)
	}
	o := x.fetchEach(ctx, files, func(i int, err error) Outcome {
		f, what := files[i], serverNames[i].what
		if strings.Contains(f.name, "/") {
			return fail("a name with %s, %q: %v (%s: the name is a path below the root with \"/\" as its separator)",
				what, f.name, err, cite("REQ-SRV-2", "REQ-MSG-3"))
		}
		return fail("a name with %s, %q: %v (%s: the name is every byte after \"get \", used as is)",
			what, f.name, err, cite("REQ-SRV-2", "REQ-MSG-1"))
	})
	if o.Verdict != "" {
		return o
	}
	return pass("%d names with spaces, non-ASCII UTF-8 and a subdirectory were served byte-exact", len(files))
}

func runServerMulti(ctx context.Context, x *serverCheck) Outcome {
	k, fs, o := x.begin(ctx, sized{"a.bin", 1025}, sized{"b.bin", 70000}, sized{"empty.bin", 0})
	if k == nil {
		return o
	}
	defer k.close()
	// A missing file (data nil) must get ERR not-found.
	steps := []fixture{fs[0], fs[1], {x.fx.name("missing.bin"), nil}, fs[2], fs[0]}
	for i, s := range steps {
		at := i + 1
		if s.data == nil {
			if o, ok := multiMissing(k, s.name, at, len(steps)); !ok {
				return o
			}
			continue
		}
		if err := k.get(s.name, s.data); err != nil {
			if i > 0 && steps[i-1].data == nil {
				return fail("request %d of %d on one connection right after a refused request (the connection must stay usable): %v (%s)",
					at, len(steps), err, cite("REQ-SRV-3", "REQ-ERR-3"))
			}
			return fail("request %d of %d on one connection: %v (%s)", at, len(steps), err, cite("REQ-SRV-3"))
		}
	}
	return pass("%d exchanges on one connection, a not-found among them, all answered correctly", len(steps))
}

// fetchEach fetches each file on a connection of its own, so that each
// failure is about one file; failed judges the first that fails, files[i].
func (x *serverCheck) fetchEach(ctx context.Context, files []fixture, failed func(i int, err error) Outcome) Outcome {
	for i, f := range files {
		k, err := x.dial(ctx)
		if err != nil {
			return cannotConnect(err)
		}
		err = k.get(f.name, f.data)
		k.close()
		if err != nil {
			return failed(i, err)
		}
	}
	return Outcome{}
}

// multiMissing asks for the missing file name as exchange at of n on k:
// the reply must be an error reply.
func multiMissing(k *kitConn, name string, at, n int) (Outcome, bool) {
	if err := k.request(name); err != nil {
		return fail("request %d of %d on one connection: %v (%s)", at, n, err, cite("REQ-SRV-3")), false
	}
	_, er, err := k.reply(name)
	switch {
	case err != nil:
		return fail("request %d of %d on one connection, for a missing file: %v (%s: every request gets its reply)",
			at, n, err, cite("REQ-SRV-3", "REQ-GEN-4")), false
	case er == nil:
		return fail("request %d of %d on one connection: the server announced a size for a file that does not exist (%s)",
			at, n, cite("REQ-SRV-5")), false
	}
	return Outcome{}, true
}

// slowPlan is how slowly server/slow-reader reads: 4 KiB per read, a 3 ms
// pause every 16 reads (every 64 KiB), and one 300 ms stall halfway, well
// under the 1 s floor REQ-LIM-9 sets for a write timeout.
var slowPlan = slowRead{
	Chunk: 4 << 10, Every: 16, Pause: 3 * time.Millisecond,
	StallAfter: 5 << 19, Stall: 300 * time.Millisecond,
}

func runServerSlowReader(ctx context.Context, x *serverCheck) Outcome {
	k, fs, o := x.begin(ctx, sized{"slow.bin", 5 << 20})
	if k == nil {
		return o
	}
	defer k.close()
	name, data := fs[0].name, fs[0].data
	// A small receive buffer makes the slowness reach the server: its
	// writes block instead of filling a large kernel buffer.
	if tc, ok := k.nc.(interface{ SetReadBuffer(int) error }); ok {
		tc.SetReadBuffer(64 << 10)
	}
	plan := slowPlan
	k.slow = &plan
	if err := k.get(name, data); err != nil {
		return fail("reading slowly (%d-byte reads, a %v pause every %d reads, one %v stall): %v (%s)",
			plan.Chunk, plan.Pause, plan.Every, plan.Stall, err, cite("REQ-LIM-9"))
	}
	return pass("a 5 MiB file read in %d slow reads, with a %v stall, arrived byte-exact", plan.reads, plan.Stall)
}

// steadyPlan is how server/steady-reader reads: 16 KiB per read, each after
// a 15 ms pause, about 1 MiB/s (64 times the 16 KiB/s REQ-LIM-15 gives
// as a server's default minimum), for a file of steadySize.
var steadyPlan = slowRead{
	Chunk: 16 << 10, Every: 1, Pause: 15 * time.Millisecond,
	StallAfter: math.MaxInt64,
}

// The steady reader's file, its receive buffer and its segment size. The
// file is several times the send buffer the reference server's kernel
// grows for such a reader (under 1 MiB), so that the server's writes
// block for most of the transfer, about 3 s.
const (
	steadySize    = 3 << 20
	narrowBuffer  = 16 << 10
	narrowSegment = 1400
)

func runServerSteadyReader(ctx context.Context, x *serverCheck) Outcome {
	fs, err := x.fx.files(sized{"steady.bin", steadySize})
	if err != nil {
		return setupFailed(err)
	}
	d := net.Dialer{Timeout: x.timeout, Control: narrowWindow}
	k, err := x.dialWith(ctx, &d, x.logf)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	// Again once connected, where narrowWindow could not set it before.
	if tc, ok := k.nc.(interface{ SetReadBuffer(int) error }); ok {
		tc.SetReadBuffer(narrowBuffer)
	}
	name, data := fs[0].name, fs[0].data
	plan := steadyPlan
	k.slow = &plan
	start := time.Now()
	if err := k.get(name, data); err != nil {
		return fail("reading steadily (%d-byte reads, each after %v, through a %d-byte receive buffer), far above "+
			"the minimum rate a server keeps (default 16 KiB/s over a window of 30 s): %v (%s: a server closes only a "+
			"client slower than its minimum over a whole window, and a write cut short by the end of a window is "+
			"still owed whole)", plan.Chunk, plan.Pause, narrowBuffer, err, cite("REQ-LIM-15"))
	}
	took := time.Since(start)
	return pass("a %d MiB file read steadily in %d reads over %v (%.0f KiB/s) arrived byte-exact with its digest",
		steadySize>>20, plan.reads, took.Round(time.Millisecond), float64(steadySize)/1024/took.Seconds())
}
