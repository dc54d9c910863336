package conformance

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Server cases about many clients: clients that vanish or stall mid-way,
// and many clients at once.

func init() {
	register(
		&Case{
			ID: "server/abandoned-transfer",
			Title: "clients vanish before the ack, mid-transfer and by stalling; " +
				"other clients are still served byte-exact",
			Requirements: []string{"REQ-SRV-13", "REQ-SRV-14", "REQ-SRV-15", "REQ-SRV-16"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerAbandoned,
		},
		&Case{
			ID:           "server/concurrent",
			Title:        "32 clients at once, all byte-exact, while one idle connection stays open",
			Requirements: []string{"REQ-SRV-14"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerConcurrent,
		},
	)
}

// abandonedSize is the large file of server/abandoned-transfer: far more
// than the socket buffers hold, so the server is mid-write when the client
// goes.
const abandonedSize = 5 << 20

func runServerAbandoned(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/abandoned-transfer")
	defer fx.remove()
	big := fx.name("big.bin")
	dbig, err := fx.file(big, abandonedSize)
	if err != nil {
		return setupFailed(err)
	}
	small := fx.name("small.bin")
	dsmall, err := fx.file(small, 1025)
	if err != nil {
		return setupFailed(err)
	}
	// start sends a request and reads the size, as every vanishing client
	// does first.
	start := func(label, after string) (*kitConn, Outcome, bool) {
		x.logf("-- client %s", label)
		k, err := x.dial(ctx)
		if err != nil {
			if after == "" {
				return nil, cannotConnect(err), false
			}
			return nil, fail("%s, a new client cannot connect: %v (%s)", after, err, reqs("REQ-SRV-13")), false
		}
		if err := k.request(big); err != nil {
			k.close()
			return nil, fail("%v", err), false
		}
		size, er, err := k.reply(big)
		if err == nil && er == nil && size != abandonedSize {
			err = fmt.Errorf("asked for the %d-byte file %q; the server announced %d", abandonedSize, big, size)
		} else if er != nil {
			err = fmt.Errorf("the server refused `get %s`: %v", big, er)
		}
		if err != nil {
			k.close()
			return nil, fail("%s: %v", label, err), false
		}
		return k, Outcome{}, true
	}
	// check fetches files on fresh connections and says what went wrong.
	check := func(after string) (Outcome, bool) {
		for _, f := range []struct {
			name string
			data []byte
		}{{small, dsmall}, {big, dbig}} {
			x.logf("-- a new client, %s", after)
			k, err := x.dial(ctx)
			if err != nil {
				return fail("%s, a new client cannot connect: %v (%s)", after, err, reqs("REQ-SRV-13")), false
			}
			err = k.get(f.name, f.data)
			k.close()
			if err != nil {
				return fail("%s, a new client was not served: %v (%s)", after, err, reqs("REQ-SRV-13", "REQ-SRV-14")), false
			}
		}
		return Outcome{}, true
	}

	// 1. A client that closes after the size, without an ack.
	k, o, ok := start("1 leaves after the size, before its ack", "")
	if !ok {
		return o
	}
	k.close()
	x.logf("(client 1 closed its connection)")
	if o, ok := check("after a client left before its ack"); !ok {
		return o
	}

	// 2. A client that closes after 64 KiB of a 5 MiB transfer.
	k, o, ok = start("2 leaves mid-transfer", "after a client left before its ack")
	if !ok {
		return o
	}
	if err := k.ack(); err != nil {
		k.close()
		return fail("%v", err)
	}
	n, err := io.ReadFull(k.r.Body(abandonedSize), make([]byte, 64<<10))
	k.logf("<- data %d bytes, then the kit closes the connection", n)
	k.close()
	if err != nil {
		return fail("client 2: %s after %d data bytes", k.describe(err, "data"), n)
	}
	if o, ok := check("after a client vanished mid-transfer"); !ok {
		return o
	}

	// 3. A client that stops reading mid-transfer and keeps its
	// connection open while others are served.
	k, o, ok = start("3 stops reading mid-transfer and stays connected", "after a client vanished mid-transfer")
	if !ok {
		return o
	}
	defer k.close()
	if err := k.ack(); err != nil {
		return fail("%v", err)
	}
	n, err = io.ReadFull(k.r.Body(abandonedSize), make([]byte, 16<<10))
	k.logf("<- data %d bytes, then the kit stops reading", n)
	if err != nil {
		return fail("client 3: %s after %d data bytes", k.describe(err, "data"), n)
	}
	if o, ok := check("while another client had stopped reading mid-transfer"); !ok {
		o.Detail += "; a client that stops reading must not hold the server (REQ-SRV-15)"
		return o
	}
	k.close()
	x.logf("(client 3 closed its connection)")
	if o, ok := check("at the end, after three clients left mid-way"); !ok {
		return o
	}
	return pass("clients that left before the ack, mid-transfer and that stalled did not stop the server serving new clients byte-exact")
}

// concurrentClients is how many clients server/concurrent runs at once.
const concurrentClients = 32

func runServerConcurrent(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/concurrent")
	defer fx.remove()
	type client struct {
		name string
		data []byte
		k    *kitConn
		log  []string
		err  error
	}
	cs := make([]*client, concurrentClients)
	for i := range cs {
		name := fx.name(fmt.Sprintf("client-%02d.bin", i+1))
		data, err := fx.file(name, 20000+997*i)
		if err != nil {
			return setupFailed(err)
		}
		cs[i] = &client{name: name, data: data}
	}

	// An idle connection first: a server that serves one client at a time
	// now waits for its request, and every other client stalls.
	x.logf("-- an idle connection, open for the whole case")
	idle, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer idle.close()

	// Phase 1, all at once: connect, request, read the size. No client
	// acks before every client has its size, so a server that serves one
	// client at a time cannot answer them all.
	each := func(f func(c *client)) {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(c)
			}()
		}
		wg.Wait()
	}
	each(func(c *client) {
		logf := func(format string, a ...any) { c.log = append(c.log, fmt.Sprintf(format, a...)) }
		c.k, c.err = x.dialLog(ctx, logf)
		if c.err != nil {
			c.err = fmt.Errorf("cannot connect: %w", c.err)
			return
		}
		if c.err = c.k.request(c.name); c.err != nil {
			return
		}
		size, er, err := c.k.reply(c.name)
		switch {
		case err != nil:
			c.err = err
		case er != nil:
			c.err = fmt.Errorf("the server refused `get %s`: %v", c.name, er)
		case size != int64(len(c.data)):
			c.err = fmt.Errorf("asked for the %d-byte file %q; the server announced %d", len(c.data), c.name, size)
		}
	})
	defer func() {
		for _, c := range cs {
			if c.k != nil {
				c.k.close()
			}
		}
	}()
	if o, ok := x.concurrentVerdict(len(cs), func(i int) ([]string, error) { return cs[i].log, cs[i].err },
		"got their size while the others waited for theirs",
		"with one idle connection open and each client waiting for all the sizes before its ack, the server seems to serve one client at a time"); !ok {
		return o
	}

	// Phase 2, all at once: ack, data, digest.
	each(func(c *client) {
		if c.err = c.k.ack(); c.err == nil {
			c.err = c.k.receive(c.name, c.data)
		}
	})
	if o, ok := x.concurrentVerdict(len(cs), func(i int) ([]string, error) { return cs[i].log, cs[i].err },
		"received their file byte-exact", ""); !ok {
		return o
	}
	for _, l := range cs[0].log {
		x.logf("client 1: %s", l)
	}
	return pass("%d clients at once, each waiting for all the others' sizes before its ack, received their files byte-exact while an idle connection was open", len(cs))
}

// concurrentVerdict fails when any client failed: it copies the logs of
// the first failed clients into the case's log and says how many of n
// succeeded. stallHint is added when a client timed out.
func (x *checker) concurrentVerdict(n int, get func(i int) ([]string, error), okWhat, stallHint string) (Outcome, bool) {
	var failed []int
	for i := 0; i < n; i++ {
		if _, err := get(i); err != nil {
			failed = append(failed, i)
		}
	}
	if len(failed) == 0 {
		return Outcome{}, true
	}
	for j, i := range failed {
		if j == 3 {
			x.logf("(logs of %d more failed clients left out)", len(failed)-j)
			break
		}
		log, _ := get(i)
		for _, l := range log {
			x.logf("client %d: %s", i+1, l)
		}
	}
	_, first := get(failed[0])
	hint := ""
	if stallHint != "" && isTimeout(first) {
		hint = "; " + stallHint
	}
	return fail("only %d of %d clients %s; client %d: %v%s (%s)", n-len(failed), n, okWhat, failed[0]+1, first, hint, reqs("REQ-SRV-14")), false
}
