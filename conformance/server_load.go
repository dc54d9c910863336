package conformance

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Server cases about many clients: clients that vanish or stall mid-way,
// and many clients at once. (The connection limit: server_limit.go.)

// abandonedSize is the large file of server/abandoned-transfer: far more
// than the socket buffers hold, so the server is mid-write when the client
// goes.
const abandonedSize = 5 << 20

// abandoned is the state of one run of server/abandoned-transfer: its two
// files.
type abandoned struct {
	x          *serverCheck
	ctx        context.Context
	big, small fixture
}

func runServerAbandoned(ctx context.Context, x *serverCheck) Outcome {
	fs, err := x.fx.files(sized{"big.bin", abandonedSize}, sized{"small.bin", 1025})
	if err != nil {
		return setupFailed(err)
	}
	a := &abandoned{x: x, ctx: ctx, big: fs[0], small: fs[1]}
	// 1. A client that closes after the size, without an ack.
	k, o := a.start("1 leaves after the size, before its ack", "")
	if k == nil {
		return o
	}
	k.close()
	x.logf("(client 1 closed its connection)")
	if o, ok := a.served("after a client left before its ack"); !ok {
		return o
	}
	// 2. A client that closes after 64 KiB of a 5 MiB transfer.
	if o, ok := a.leaveMidway(); !ok {
		return o
	}
	if o, ok := a.served("after a client vanished mid-transfer"); !ok {
		return o
	}
	// 3. A client that stops reading mid-transfer and keeps its
	// connection open while others are served.
	k, o = a.stall()
	if k == nil {
		return o
	}
	defer k.close()
	if o, ok := a.served("while another client had stopped reading mid-transfer"); !ok {
		return outcome(Fail, finding("%s", o), finding("a client that stops reading must not hold the server (%s)", cite("REQ-SRV-15")))
	}
	k.close()
	x.logf("(client 3 closed its connection)")
	if o, ok := a.served("at the end, after three clients left mid-way"); !ok {
		return o
	}
	return pass("clients that left before the ack, mid-transfer and that stalled did not stop the server serving new clients byte-exact")
}

// start sends a request for the big file and reads the size, as every
// vanishing client does first. after says what happened before, for a
// client that cannot connect. On failure k is nil and o says why.
func (a *abandoned) start(label, after string) (k *kitConn, o Outcome) {
	a.x.logf("-- client %s", label)
	k, err := a.x.dial(a.ctx)
	if err != nil {
		if after == "" {
			return nil, cannotConnect(err)
		}
		return nil, fail("%s, a new client cannot connect: %v (%s)", after, err, cite("REQ-SRV-13", "REQ-SRV-16"))
	}
	if err := k.request(a.big.name); err != nil {
		k.close()
		return nil, fail("%v", err)
	}
	size, er, err := k.reply(a.big.name)
	if err == nil && er == nil && size != abandonedSize {
		err = fmt.Errorf("asked for the %d-byte file %q; the server announced %d", abandonedSize, a.big.name, size)
	} else if er != nil {
		err = fmt.Errorf("the server refused `get %s`: %v", a.big.name, er)
	}
	if err != nil {
		k.close()
		return nil, fail("%s: %v", label, err)
	}
	return k, Outcome{}
}

// leaveMidway is the second client: it acks, reads 64 KiB of the big file
// and closes.
func (a *abandoned) leaveMidway() (Outcome, bool) {
	k, o := a.start("2 leaves mid-transfer", "after a client left before its ack")
	if k == nil {
		return o, false
	}
	defer k.close()
	if err := k.ack(); err != nil {
		return fail("%v", err), false
	}
	n, err := io.ReadFull(k.r.Body(abandonedSize), make([]byte, 64<<10))
	k.logf("<- data %d bytes, then the kit closes the connection", n)
	if err != nil {
		return fail("client 2: %s after %d data bytes", describe(err, k.timeout, "data"), n), false
	}
	return Outcome{}, true
}

// stall is the third client: it acks, reads 16 KiB of the big file and
// stops reading, with its connection open. The caller closes it.
func (a *abandoned) stall() (*kitConn, Outcome) {
	k, o := a.start("3 stops reading mid-transfer and stays connected", "after a client vanished mid-transfer")
	if k == nil {
		return nil, o
	}
	if err := k.ack(); err != nil {
		k.close()
		return nil, fail("%v", err)
	}
	n, err := io.ReadFull(k.r.Body(abandonedSize), make([]byte, 16<<10))
	k.logf("<- data %d bytes, then the kit stops reading", n)
	if err != nil {
		k.close()
		return nil, fail("client 3: %s after %d data bytes", describe(err, k.timeout, "data"), n)
	}
	return k, Outcome{}
}

// served fetches both files on fresh connections and says what went
// wrong; after says what happened before.
func (a *abandoned) served(after string) (Outcome, bool) {
	for _, f := range []fixture{a.small, a.big} {
		a.x.logf("-- a new client, %s", after)
		k, err := a.x.dial(a.ctx)
		if err != nil {
			return fail("%s, a new client cannot connect: %v (%s)", after, err, cite("REQ-SRV-13", "REQ-SRV-16")), false
		}
		err = k.get(f.name, f.data)
		k.close()
		if err != nil {
			return fail("%s, a new client was not served: %v (%s)", after, err, cite("REQ-SRV-13", "REQ-SRV-14")), false
		}
	}
	return Outcome{}, true
}

// concurrentClients is how many clients server/concurrent runs at once:
// with its idle connection, fewer than the 32 connections per address that
// a server SHOULD allow (REQ-LIM-14), so that a server that limits one
// address, as the reference does, is not pushed into making room.
const concurrentClients = 24

// concurrentClient is one of the clients of server/concurrent.
type concurrentClient struct {
	name string
	data []byte
	k    *kitConn
	log  []string
	err  error
}

// eachClient runs f for every client at once and waits for them all.
func eachClient(cs []*concurrentClient, f func(c *concurrentClient)) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { f(c) })
	}
	wg.Wait()
}

func runServerConcurrent(ctx context.Context, x *serverCheck) Outcome {
	want := make([]sized, concurrentClients)
	for i := range want {
		want[i] = sized{fmt.Sprintf("client-%02d.bin", i+1), 20000 + 997*i}
	}
	fs, err := x.fx.files(want...)
	if err != nil {
		return setupFailed(err)
	}
	cs := make([]*concurrentClient, len(fs))
	for i, f := range fs {
		cs[i] = &concurrentClient{name: f.name, data: f.data}
	}
	// An idle connection first: a server that serves one client at a time
	// now waits for its request, and every other client stalls.
	x.logf("-- an idle connection, open for the whole case")
	idle, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer idle.close()
	defer func() {
		for _, c := range cs {
			if c.k != nil {
				c.k.close()
			}
		}
	}()
	// Phase 1, all at once: connect, request, read the size. No client
	// acks before every client has its size, so a server that serves one
	// client at a time cannot answer them all.
	eachClient(cs, func(c *concurrentClient) { c.err = x.concurrentSize(ctx, c) })
	if o, ok := x.concurrentVerdict(cs, "got their size while the others waited for theirs",
		"with one idle connection open and each client waiting for all the sizes before its ack, the server seems to serve one client at a time"); !ok {
		return o
	}
	// Phase 2, all at once: ack, data, digest.
	eachClient(cs, func(c *concurrentClient) {
		if c.err = c.k.ack(); c.err == nil {
			c.err = c.k.receive(c.name, c.data)
		}
	})
	if o, ok := x.concurrentVerdict(cs, "received their file byte-exact", ""); !ok {
		return o
	}
	for _, l := range cs[0].log {
		x.logf("client 1: %s", l)
	}
	return pass("%d clients at once, each waiting for all the others' sizes before its ack, received their files byte-exact while an idle connection was open", len(cs))
}

// concurrentSize connects c, sends its request and reads its size, logging
// to c's own log.
func (x *serverCheck) concurrentSize(ctx context.Context, c *concurrentClient) error {
	logf := func(format string, a ...any) { c.log = append(c.log, fmt.Sprintf(format, a...)) }
	k, err := x.dialLog(ctx, logf)
	if err != nil {
		return fmt.Errorf("cannot connect: %w", err)
	}
	c.k = k
	if err := k.request(c.name); err != nil {
		return err
	}
	size, er, err := k.reply(c.name)
	switch {
	case err != nil:
		return err
	case er != nil:
		return fmt.Errorf("the server refused `get %s`: %v", c.name, er)
	case size != int64(len(c.data)):
		return fmt.Errorf("asked for the %d-byte file %q; the server announced %d", len(c.data), c.name, size)
	}
	return nil
}

// concurrentVerdict fails when any client failed: it copies the logs of
// the first failed clients into the case's log and says how many
// succeeded. stallHint is added when a client timed out.
func (x *serverCheck) concurrentVerdict(cs []*concurrentClient, okWhat, stallHint string) (Outcome, bool) {
	var failed []*concurrentClient
	var first int
	for i, c := range cs {
		if c.err != nil {
			if len(failed) == 0 {
				first = i
			}
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		return Outcome{}, true
	}
	shown := 0
	for i, c := range cs {
		if c.err == nil {
			continue
		}
		if shown == 3 {
			x.logf("(logs of %d more failed clients left out)", len(failed)-shown)
			break
		}
		shown++
		for _, l := range c.log {
			x.logf("client %d: %s", i+1, l)
		}
	}
	hint := ""
	if stallHint != "" && isTimeout(failed[0].err) {
		hint = "; " + stallHint
	}
	return fail("only %d of %d clients %s; client %d: %v%s (%s)", len(cs)-len(failed), len(cs), okWhat, first+1, failed[0].err, hint, cite("REQ-SRV-14")), false
}
