package conformance

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about transfers that should simply work: every size, odd
// names, several requests per connection, a slow reader.

func init() {
	register(
		&Case{
			ID:           "server/sizes",
			Title:        "files of 0, 1, 1023, 1024, 1025, 65537 bytes and 5 MiB arrive byte-exact with their digest",
			Requirements: []string{"REQ-SRV-1", "REQ-MSG-4", "REQ-MSG-9", "REQ-MSG-10", "REQ-SRV-9", "REQ-LOCK-1"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerSizes,
		},
		&Case{
			ID:           "server/names",
			Title:        "names with inner, repeated, leading and trailing spaces, non-ASCII UTF-8 and a subdirectory are served",
			Requirements: []string{"REQ-SRV-2", "REQ-MSG-1", "REQ-MSG-3"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerNames,
		},
		&Case{
			ID:           "server/multi-request",
			Title:        "several requests on one connection, a refused one among them, are all answered",
			Requirements: []string{"REQ-SRV-3", "REQ-GEN-4", "REQ-ERR-3"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerMulti,
		},
		&Case{
			ID: "server/slow-reader",
			Title: "a 5 MiB file read in small reads with pauses (none near the 1 s floor of a write timeout) " +
				"still arrives byte-exact",
			// Pauses far below the shortest write timeout REQ-LIM-9
			// recommends: a server that gives up on this reader has a
			// write timeout below that floor, which is a SHOULD. (A
			// reader that stops altogether, REQ-SRV-15, is
			// server/abandoned-transfer's third client.)
			Requirements: []string{"REQ-LIM-9"},
			Severity:     Should,
			Role:         RoleServer,
			run:          runServerSlowReader,
		},
	)
}

// serverSizes are the sizes of server/sizes: empty, one byte, around the
// tutorial's 1024-byte reads, past a 64 KiB buffer, and large.
var serverSizes = []int{0, 1, 1023, 1024, 1025, 65537, 5 << 20}

func runServerSizes(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/sizes")
	defer fx.remove()
	type file struct {
		name string
		data []byte
	}
	var files []file
	for _, n := range serverSizes {
		name := fx.name(sizeName(n))
		data, err := fx.file(name, n)
		if err != nil {
			return setupFailed(err)
		}
		files = append(files, file{name, data})
	}
	// One connection per size, so that each failure is about one size.
	for _, f := range files {
		k, err := x.dial(ctx)
		if err != nil {
			return cannotConnect(err)
		}
		err = k.get(f.name, f.data)
		k.close()
		var pe *spec.ProtocolError
		if x.framing == spec.Lockstep && errors.As(err, &pe) && pe.Phase == spec.PhaseReply {
			return fail("%v (%s: a lockstep size is its bare digits, with no terminator, in a write of its own)",
				err, reqs("REQ-SRV-1", "REQ-MSG-4", "REQ-LOCK-1"))
		}
		if err != nil {
			return fail("%v (%s)", err, reqs("REQ-SRV-1"))
		}
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

func runServerNames(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/names")
	defer fx.remove()
	type file struct {
		name, what string
		data       []byte
	}
	var files []file
	for i, sn := range serverNames {
		var name string
		switch {
		case strings.HasPrefix(sn.label, " "):
			name = " " + fx.name(sn.label[1:])
		case strings.HasPrefix(sn.label, "sub dir/"):
			dir := fx.name("sub dir")
			if err := fx.dir(dir); err != nil {
				return setupFailed(err)
			}
			name = dir + "/" + strings.TrimPrefix(sn.label, "sub dir/")
		default:
			name = fx.name(sn.label)
		}
		data, err := fx.file(name, 1000+i)
		if err != nil {
			return setupFailed(err)
		}
		files = append(files, file{name, sn.what, data})
	}
	for _, f := range files {
		k, err := x.dial(ctx)
		if err != nil {
			return cannotConnect(err)
		}
		err = k.get(f.name, f.data)
		k.close()
		if err != nil {
			return fail("a name with %s, %q: %v (%s: the name is every byte after \"get \", used as is)",
				f.what, f.name, err, reqs("REQ-SRV-2", "REQ-MSG-1"))
		}
	}
	return pass("%d names with spaces, non-ASCII UTF-8 and a subdirectory were served byte-exact", len(files))
}

func runServerMulti(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/multi-request")
	defer fx.remove()
	a, b := fx.name("a.bin"), fx.name("b.bin")
	da, err := fx.file(a, 1025)
	if err != nil {
		return setupFailed(err)
	}
	db, err := fx.file(b, 70000)
	if err != nil {
		return setupFailed(err)
	}
	empty := fx.name("empty.bin")
	de, err := fx.file(empty, 0)
	if err != nil {
		return setupFailed(err)
	}
	missing := fx.name("missing.bin")

	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	steps := []struct {
		name string
		data []byte // nil: expect ERR not-found
	}{{a, da}, {b, db}, {missing, nil}, {empty, de}, {a, da}}
	for i, s := range steps {
		if s.data == nil {
			if err := k.request(s.name); err != nil {
				return fail("request %d of %d on one connection: %v (%s)", i+1, len(steps), err, reqs("REQ-SRV-3"))
			}
			_, er, err := k.reply(s.name)
			switch {
			case err != nil:
				return fail("request %d of %d on one connection, for a missing file: %v (%s)", i+1, len(steps), err, reqs("REQ-SRV-4", "REQ-SRV-5"))
			case er == nil:
				return fail("request %d of %d on one connection: the server announced a size for a file that does not exist", i+1, len(steps))
			}
			continue
		}
		if err := k.get(s.name, s.data); err != nil {
			after := ""
			if i > 0 && steps[i-1].data == nil {
				after = " right after a refused request (the connection must stay usable)"
			}
			return fail("request %d of %d on one connection%s: %v (%s)", i+1, len(steps), after, err, reqs("REQ-SRV-3", "REQ-ERR-3"))
		}
	}
	return pass("%d exchanges on one connection, a not-found among them, all answered correctly", len(steps))
}

// slowPlan is how slowly server/slow-reader reads: 4 KiB per read, a 3 ms
// pause every 16 reads (every 64 KiB), and one 300 ms stall halfway, well
// under the 1 s floor REQ-LIM-9 sets for a write timeout.
var slowPlan = slowRead{
	Chunk: 4 << 10, Every: 16, Pause: 3 * time.Millisecond,
	StallAfter: 5 << 19, Stall: 300 * time.Millisecond,
}

func runServerSlowReader(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/slow-reader")
	defer fx.remove()
	name := fx.name("slow.bin")
	data, err := fx.file(name, 5<<20)
	if err != nil {
		return setupFailed(err)
	}
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	// A small receive buffer makes the slowness reach the server: its
	// writes block instead of filling a large kernel buffer.
	if tc, ok := k.nc.(interface{ SetReadBuffer(int) error }); ok {
		tc.SetReadBuffer(64 << 10)
	}
	plan := slowPlan
	k.slow = &plan
	if err := k.get(name, data); err != nil {
		return fail("reading slowly (%d-byte reads, a %v pause every %d reads, one %v stall): %v (%s)",
			plan.Chunk, plan.Pause, plan.Every, plan.Stall, err, reqs("REQ-LIM-9"))
	}
	return pass("a 5 MiB file read in %d slow reads, with a %v stall, arrived byte-exact", plan.reads, plan.Stall)
}
