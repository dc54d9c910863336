package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// How a server closes after a refusal that ends the connection (ERR
// too-long, ERR bad-request, ERR busy). A program that closes a socket
// whose input it has not read makes its kernel send a reset instead of an
// end of stream, and a reset can destroy the reply before the client has
// read it (REQ-ERR-5). So the kit sends more than a server reads before
// it answers, and watches how the connection ends:
//
//   - a reset with no end of stream before it: the server closed with the
//     kit's input unread;
//   - an end of stream, then a reset, although the server's kernel had
//     taken (acknowledged) every byte the kit sent: the server
//     half-closed, then closed without reading them;
//   - an end of stream and no reset, the kit's bytes all taken: a clean
//     close.
//
// A byte that reaches a socket whose program has closed it is answered
// with a reset instead of being taken: such a reset says nothing of how
// the server closed, and the close is not judged.

// refusalInput is how much the kit sends with a request the server must
// refuse: far more than a server reads before it answers (the reference
// server reads 4 KiB, the tutorial's recv 1024), and little enough to
// reach the server's kernel whole at once (a receive window holds 64 KiB
// at first).
const refusalInput = 60_000

// busyProbes is how many connections over the limit server/refusal-close
// makes at once, each sending its request as soon as it is connected; it
// makes up to busyRounds such sets, until the close of one can be judged.
// A server may answer a connection and close it before its request
// arrives: then it has nothing unread, and the close says nothing.
const (
	busyProbes = 8
	busyRounds = 8
)

// closing is how one refused connection of server/refusal-close ended.
type closing struct {
	what  string // what the kit sent
	reply string // the error reply, as the kit read it; "" when none arrived
	how   string // how the connection ended after it
	reset bool   // a reset: with no end of stream before it, or (late) after one
	late  bool   // the reset came after an end of stream
	judge string // why the close could not be judged; "" when it was
}

func runServerRefusalClose(ctx context.Context, x *serverCheck) Outcome {
	var seen []closing
	for _, p := range x.closeProbes() {
		x.logf("-- %s", p.what)
		c, o := x.refusedClose(ctx, p)
		if o.Verdict != "" {
			return o
		}
		if c.reset {
			return x.resetFinding(c)
		}
		seen = append(seen, c)
	}
	busy, o := x.busyCloses(ctx)
	switch {
	case o.Verdict != "":
		return o
	case busy.reset:
		return x.resetFinding(busy)
	}
	return closesVerdict(x.framing, append(seen, busy))
}

// closeProbes are the requests of server/refusal-close that the server
// must refuse and then close, each followed by refusalInput more octets
// in the same write.
func (x *serverCheck) closeProbes() []refusalProbe {
	name := spec.RequestVerb + x.fx.name("refusal-close-")
	probes := []refusalProbe{{
		what: fmt.Sprintf("a request of %d octets (far over the limit) in one write", refusalInput),
		raw:  append([]byte(name), bytes.Repeat([]byte("a"), refusalInput-len(name))...),
	}}
	if x.framing == spec.Line {
		// In lockstep a malformed request followed by more input is one
		// over-long message.
		probes = append(probes, refusalProbe{
			what: fmt.Sprintf("a request line that does not begin with \"get \", and %d more octets in the same write", refusalInput),
			raw:  append([]byte("put x\n"), bytes.Repeat([]byte("x"), refusalInput)...),
		})
	}
	return probes
}

// refusedClose sends p on a fresh connection, reads the reply and then
// how the connection ends.
func (x *serverCheck) refusedClose(ctx context.Context, p refusalProbe) (closing, Outcome) {
	k, err := x.dial(ctx)
	if err != nil {
		return closing{}, cannotConnect(err)
	}
	defer k.close()
	if err := k.write(p.raw); err != nil {
		k.logf("(the kit's write ended: %s)", netWords(err))
	}
	return k.readClose(p.what), Outcome{}
}

// readClose reads the reply to what the kit sent (what) and then how the
// server ends the connection.
func (k *kitConn) readClose(what string) closing {
	c := closing{what: what}
	_, er, err := k.reply("")
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		c.how, c.reset = "a reset, before any reply", true
		return c
	case err != nil:
		c.judge = fmt.Sprintf("no error reply came: %s", netWords(err))
		return c
	case er == nil:
		c.judge = "the server announced a size"
		return c
	}
	c.reply = "ERR " + er.Code
	extra, how, closed := k.closeWait()
	switch {
	case !closed:
		c.judge = fmt.Sprintf("after %s the connection stayed open for %v", c.reply, k.timeout)
		return c
	case len(extra) > 0:
		c.judge = fmt.Sprintf("after %s the server sent %s more", c.reply, quote(extra))
		return c
	case how == "connection reset":
		c.how, c.reset = "a reset, with no end of stream before it", true
		return c
	}
	c.how = how
	switch reset, taken, known := k.afterEnd(); {
	case !known:
		// The end of stream is all the kit can see here.
	case reset && taken:
		c.how, c.reset, c.late = "an end of stream, then a reset", true, true
	case !taken:
		c.judge = "the server closed before the kit's input reached it: nothing was left unread"
	}
	return c
}

// afterEnd waits, after the server's end of stream, to see how the
// connection ends: at most the timeout until every byte the kit sent is
// acknowledged (taken) or the connection is reset; then the kit ends its
// own stream (a server that discards what arrives, as REQ-ERR-5 asks,
// reads the end of it and closes without a reset), waits until its
// socket is closed, and asks the kernel whether a reset came. known is
// false where the kit cannot see the socket's state (off Linux).
func (k *kitConn) afterEnd() (reset, taken, known bool) {
	tc, ok := k.nc.(*net.TCPConn)
	if !ok {
		return false, false, false
	}
	var n int
	var st uint8
	var err error
	deadline := time.Now().Add(k.timeout)
	pollUntil(k.ctx, deadline, func() bool {
		if n, err = sendQueue(tc); err != nil || n == 0 {
			return true
		}
		st, err = tcpState(tc)
		return err != nil || st == tcpClose
	})
	if err != nil {
		return false, false, false
	}
	taken = n == 0
	tc.CloseWrite()
	if !pollUntil(k.ctx, deadline, func() bool {
		st, err = tcpState(tc)
		return err != nil || st == tcpClose
	}) || err != nil {
		return false, false, false
	}
	if rerr := resetError(tc); rerr != nil {
		k.logf("<- then a reset (%v), once the kit had ended its own stream too; %d bytes of the kit's were never acknowledged", rerr, n)
		return true, taken, true
	}
	if !taken {
		k.logf("(%d bytes of the kit's were never acknowledged: they reached the server only once it had closed)", n)
	}
	return false, taken, true
}

// resetFinding is the FAIL of a connection the server reset after a
// refusal.
func (x *serverCheck) resetFinding(c closing) Outcome {
	if c.reply == "" {
		return fail("after %s the server reset the connection before any reply reached the kit: it closed with the kit's input unread, and the reset destroyed its reply (%s: half-close, then discard what arrives for about a second, then close)",
			c.what, cite("REQ-ERR-5"))
	}
	if c.late {
		return fail("after %s the server answered %s and ended its stream, then reset the connection: it closed without reading what the kit had sent, so its kernel sent a reset, which can destroy the reply before a client reads it (here the reply came first) (%s: half-close, then discard what arrives for about a second, then close)",
			c.what, c.reply, cite("REQ-ERR-5"))
	}
	return fail("after %s the server answered %s, then reset the connection instead of closing it: it closed with the kit's input unread, so its kernel sent a reset, which can destroy the reply before a client reads it (here the reply came first) (%s: half-close, then discard what arrives for about a second, then close)",
		c.what, c.reply, cite("REQ-ERR-5"))
}

// busyWhat is what the kit sends over the limit, for a detail.
const busyWhat = "a connection over the limit, with its request sent as soon as it was connected"

// busyCloses fills the server with connections until it refuses one, then
// makes rounds of busyProbes more at once and reads how each ends, until
// one can be judged: it returns a reset, or else the first close it could
// judge, or else one that says why none could be.
func (x *serverCheck) busyCloses(ctx context.Context) (closing, Outcome) {
	h := x.newHolding(ctx)
	defer h.close()
	if p := h.fill(connLimitCap); p != nil || h.busy == nil {
		why := fmt.Sprintf("the server refused none of the %d connections the kit held", len(h.conns))
		switch {
		case p != nil && p.kind == holdKitSide:
			return closing{}, errored("%s", p.words)
		case p != nil:
			why = p.words
		}
		x.logf("kit: no ERR busy to close after: %s", why)
		return closing{what: "a connection over the limit", judge: why}, Outcome{}
	}
	from := h.busy.from
	if h.lastBusy != nil {
		from = h.lastBusy.from
	}
	var last closing
	for round := 1; round <= busyRounds && ctx.Err() == nil; round++ {
		x.logf("-- %d connections over the limit at once, from %s, each sending its request as soon as it is connected (round %d)", busyProbes, fromWords(from), round)
		var judged *closing
		for _, c := range x.busyRound(ctx, from) {
			switch {
			case c.reset:
				return c, Outcome{}
			case c.judge == "" && judged == nil:
				judged = &c
			}
			last = c
		}
		if judged != nil {
			judged.how = fmt.Sprintf("%s; in round %d of up to %d rounds of %d connections at once", judged.how, round, busyRounds, busyProbes)
			return *judged, Outcome{}
		}
	}
	return last, Outcome{}
}

// busyRound makes busyProbes connections from from at once, each sending
// its request as soon as it is connected, and returns how each ended.
func (x *serverCheck) busyRound(ctx context.Context, from *net.TCPAddr) []closing {
	out := make([]closing, busyProbes)
	logs := make([][]string, busyProbes)
	var wg sync.WaitGroup
	for i := range out {
		wg.Go(func() {
			logf := func(format string, a ...any) { logs[i] = append(logs[i], fmt.Sprintf(format, a...)) }
			out[i] = x.busyClose(ctx, from, logf)
		})
	}
	wg.Wait()
	for i, l := range logs {
		for _, line := range l {
			x.logf("over the limit %d: %s", i+1, line)
		}
	}
	return out
}

// busyClose makes one connection from from, sends a request as soon as it
// is connected and reads how it ends, logging to logf.
func (x *serverCheck) busyClose(ctx context.Context, from *net.TCPAddr, logf func(string, ...any)) closing {
	k, err := x.dialFrom(ctx, from, logf)
	if err != nil {
		return closing{what: busyWhat, judge: fmt.Sprintf("it could not connect: %v", err)}
	}
	defer k.close()
	k.request(x.fx.name("over-the-limit"))
	c := k.readClose(busyWhat)
	if c.reply != "" && c.reply != "ERR "+spec.CodeBusy {
		c.reset, c.judge = false, fmt.Sprintf("it got %s, not ERR busy", c.reply)
	}
	return c
}

// closesVerdict is the verdict of server/refusal-close when no close was a
// reset: a PASS when at least one was judged clean.
func closesVerdict(f spec.Framing, cs []closing) Outcome {
	var clean, unjudged []string
	for _, c := range cs {
		if c.judge != "" {
			unjudged = append(unjudged, fmt.Sprintf("after %s, %s", c.what, c.judge))
			continue
		}
		clean = append(clean, fmt.Sprintf("after %s the server answered %s and closed (%s)", c.what, c.reply, c.how))
	}
	if len(clean) == 0 {
		return inconclusive("no refusal could be followed to its close: %s", strings.Join(unjudged, "; "))
	}
	words := strings.Join(clean, "; ")
	if len(unjudged) > 0 {
		words += "; not judged: " + strings.Join(unjudged, "; ")
	}
	if f == spec.Lockstep {
		words += " (in lockstep a malformed request followed by more input would be one over-long message: ERR too-long covers both)"
	}
	return pass("%s", words)
}
