package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about many clients: clients that vanish or stall mid-way,
// many clients at once, and more clients than the server's limit.

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

// connLimitProbe is how many connections server/conn-limit holds open at
// once: past the default limit of 256, with room for connections of
// earlier cases that the server may still be closing.
const connLimitProbe = 272

// busyWait bounds how long server/conn-limit gives each connection to say
// ERR busy, which is due at accept.
const busyWait = time.Second

// retryPause spaces the attempts to be served once the kit's connections
// are closed: the server releases them on its own schedule.
const retryPause = 50 * time.Millisecond

// heard is what one idle connection of server/conn-limit received before
// the deadline, and whether the server closed it.
type heard struct {
	b      []byte
	closed bool
}

func runServerConnLimit(ctx context.Context, x *serverCheck) Outcome {
	good, err := x.probeFile("good.bin", 2000)
	if err != nil {
		return setupFailed(err)
	}
	conns, o := x.openIdle(ctx)
	defer func() {
		for _, k := range conns {
			k.close()
		}
	}()
	if o.Verdict != "" {
		return o
	}
	got := x.listenAll(conns)
	first := -1
	for i, h := range got {
		if len(h.b) > 0 || h.closed {
			first = i
			break
		}
	}
	if first < 0 {
		return x.noBusy(conns, good)
	}
	busy, o := x.judgeBusy(conns, got, first)
	if busy == nil {
		return o
	}
	if first > 0 {
		x.logf("-- connection 1, within the limit")
		conns[0].logf = x.logf
		if err := conns[0].getProbe(good); err != nil {
			return fail("connection %d got ERR busy, but connection 1, held idle within the limit, was not served: %v (%s)", first+1, err, cite("REQ-LIM-10"))
		}
	}
	// Once the kit's connections are gone, the server serves again.
	for _, k := range conns {
		k.close()
	}
	n := len(conns)
	conns = nil
	attempt, err := x.servedAgain(ctx, n, good)
	if err != nil {
		return fail("the kit closed its %d connections, yet for %v no new connection was served: %v (%s: closed connections leave the count)",
			n, x.timeout, err, cite("REQ-LIM-10"))
	}
	return pass("with %d idle connections open, %d were held, connection %d got ERR busy %q at once and was closed; once the kit closed them, a new connection was %s (attempt %d)",
		n, first, first+1, busy.Text, good.served(), attempt)
}

// quietLog is the log of the many connections that the case does not
// judge one by one.
func quietLog(string, ...any) {}

// openIdle opens connLimitProbe connections to the server and sends
// nothing on them. It returns those it opened, and an outcome when one
// could not connect.
func (x *serverCheck) openIdle(ctx context.Context) ([]*kitConn, Outcome) {
	var conns []*kitConn
	for i := 0; i < connLimitProbe; i++ {
		k, err := x.dialLog(ctx, quietLog)
		switch {
		case err != nil && i == 0:
			return conns, cannotConnect(err)
		case err != nil:
			return conns, fail("with %d connections open, connection %d could not connect: %v (%s: a connection over the limit is accepted and answered ERR busy)",
				i, i+1, err, cite("REQ-LIM-10"))
		}
		conns = append(conns, k)
	}
	x.logf("%d connections open at once; the kit sends nothing on them and listens for %v", len(conns), min(busyWait, x.timeout))
	return conns, Outcome{}
}

// listenAll reads what each connection receives until one shared
// deadline, all at once.
func (x *serverCheck) listenAll(conns []*kitConn) []heard {
	got := make([]heard, len(conns))
	deadline := time.Now().Add(min(busyWait, x.timeout))
	var wg sync.WaitGroup
	for i, k := range conns {
		wg.Go(func() {
			k.nc.SetReadDeadline(deadline)
			buf := make([]byte, spec.MaxControlLen+2)
			var m int
			for m < len(buf) {
				r, err := k.nc.Read(buf[m:])
				k.saw(err)
				m += r
				if err != nil {
					got[i] = heard{buf[:m], !isTimeout(err)}
					return
				}
			}
			got[i] = heard{buf[:m], false}
		})
	}
	wg.Wait()
	return got
}

// noBusy judges a server that said nothing on any connection: either it
// serves them all, or the later ones wait in the listen queue. The last
// one tells.
func (x *serverCheck) noBusy(conns []*kitConn, good probe) Outcome {
	n := len(conns)
	last := conns[n-1]
	last.logf = x.logf
	x.logf("-- connection %d, with all %d open", n, n)
	err := last.getProbe(good)
	switch {
	case err == nil:
		return inconclusive("the server served %d connections at once without ERR busy: its limit is above %d, or it has none, and the kit cannot tell which (%s; the default limit is 256)", n, n, cite("REQ-LIM-10"))
	case isTimeout(err):
		return fail("with %d connections open none got ERR busy, and the request on connection %d went unanswered for %v: it seems to wait in the listen queue (%s: a connection over the limit is accepted and answered ERR busy at once, never left waiting)",
			n, n, x.timeout, cite("REQ-LIM-10"))
	}
	return fail("with %d connections open none got ERR busy, and on connection %d: %v (%s)", n, n, err, cite("REQ-LIM-10"))
}

// judgeBusy judges what the first connection that heard anything heard:
// ERR busy with a text, then a close. It returns the error reply, or nil
// and why not.
func (x *serverCheck) judgeBusy(conns []*kitConn, got []heard, first int) (*spec.ErrorReply, Outcome) {
	h, k := got[first], conns[first]
	k.logf = x.logf
	then := ""
	if h.closed {
		then = ", then closed"
	}
	k.logf("-- connection %d of %d: %s (%d bytes)%s", first+1, len(conns), quote(h.b), len(h.b), then)
	at := fmt.Sprintf("connection %d of %d open at once", first+1, len(conns))
	reply := h.b
	if x.framing == spec.Line {
		line, _, ok := bytes.Cut(h.b, []byte("\n"))
		if !ok {
			return nil, fail("%s got %s, with no LF (%s)", at, quote(h.b), cite("REQ-LIM-10"))
		}
		reply = spec.TrimLine(line)
	}
	var er *spec.ErrorReply
	if _, err := spec.ParseReply(reply); !errors.As(err, &er) {
		return nil, fail("%s got %s where ERR busy or nothing was due (%s)", at, quote(h.b), cite("REQ-LIM-10"))
	}
	switch {
	case er.Code != spec.CodeBusy:
		return nil, fail("%s got ERR %s before sending anything, want ERR %s (%s)", at, er.Code, spec.CodeBusy, cite("REQ-LIM-10"))
	case er.Text == "":
		return nil, fail("%s got ERR busy with no text (%s: ERR busy with a text)", at, cite("REQ-LIM-10"))
	}
	if flaw, _ := errorReplyFlaw(er, x.framing); flaw != "" {
		return nil, fail("%s got ERR busy, but not a well-formed error reply: %s (%s)", at, flaw, cite("REQ-LIM-10"))
	}
	if !h.closed {
		extra, _, closed := k.closeWait()
		switch {
		case len(extra) > 0:
			return nil, fail("after ERR busy, %s was sent %s more (%s)", at, quote(extra), cite("REQ-LIM-10"))
		case !closed:
			return nil, fail("after ERR busy, %s stayed open for %v more (%s: close it)", at, x.timeout, cite("REQ-LIM-10", "REQ-ERR-4"))
		}
	}
	return er, Outcome{}
}

// servedAgain asks for the good probe on new connections, retrying for up
// to the timeout, once the kit has closed its n connections. It returns
// the attempt that was served, or the last error.
func (x *serverCheck) servedAgain(ctx context.Context, n int, good probe) (int, error) {
	x.logf("-- the kit closed its %d connections; a new one must be served", n)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		last := time.Since(start)+retryPause > x.timeout
		logf := quietLog
		if last {
			logf = x.logf // the last attempt shows in the log
		}
		k, err := x.dialLog(ctx, logf)
		if err == nil {
			err = k.getProbe(good)
			k.close()
		}
		if err == nil {
			return attempt, nil
		}
		// The server under test frees its count on its own schedule.
		if last || ctx.Err() != nil || !pause(ctx, retryPause) {
			return attempt, err
		}
	}
}
