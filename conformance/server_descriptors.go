package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/stickykit/stickykit/spec"
)

// server/out-of-descriptors: a server out of file descriptors SHOULD
// still answer the connections waiting in its listen queue, ERR busy and
// a close, rather than leave them there (REQ-LIM-16).
//
// Only a server the kit starts itself (check server -- CMD) can be made
// to run out: once it listens, the kit lowers both the soft and the hard
// RLIMIT_NOFILE of the process that holds the listening socket to
// descLimit (prlimit(2), Linux; both, since a Go program raises its soft
// limit to the hard one at start, and a limit lowered in the kit before
// the start would be raised again so). Then it holds connections, each
// after a request for a name that cannot exist answered ERR not-found, as
// server/conn-limit does: a connection whose request has arrived never
// makes room (REQ-LIM-13), so a server cannot push them out and must hold
// a descriptor for each; they come from several loopback addresses, a
// few from each, so that a limit per address (REQ-LIM-14) does not stop
// the filling first. (A partial request would not do: in the lockstep
// framing a request has no end to leave out.)
//
// Before each new connection the kit looks in /proc/PID/fd at the
// descriptors the server holds: once it holds every one below the limit,
// the next connection can only wait in the listen queue unless the
// server answers it the way REQ-LIM-16 asks. That connection must get ERR
// busy and a close; one that gets no reply within the timeout, while the
// server still holds every descriptor, FAILs (the kit says whether the
// connection is still in the listen queue, where it can see it). Whatever
// happens while the server has descriptors to spare (a refusal, silence,
// a server that serves one connection at a time and so never fills) is
// not what the case is about: INCONCLUSIVE, never a FAIL. Then the kit
// closes its connections and a new one must be served again: the server
// recovered.

// descLimit is the RLIMIT_NOFILE the kit gives the server: few enough
// that the kit fills it quickly, from addresses that stay under the
// limit per address, with the budget of connections without a request
// (REQ-LIM-12, 64) out of the way; enough for a program's own files.
const descLimit = 64

// descCap is the most connections the kit holds before it gives up on
// making the server run out: a server that hands its connections to
// other processes never does.
const descCap = 2 * descLimit

// runServerOutOfDescriptors is server/out-of-descriptors.
func runServerOutOfDescriptors(ctx context.Context, x *serverCheck) Outcome {
	if x.proc == nil {
		return skip("needs a server the kit starts: check server -- CMD")
	}
	pid, found := listenerPID(x.addr)
	if !found || !x.proc.p.owns(pid) {
		return inconclusive("the kit could not find the process of the server it started that listens on %s, to limit its descriptors", x.addr)
	}
	if err := limitFiles(pid, descLimit); err != nil {
		return inconclusive("the kit could not limit the server's descriptors: %v", err)
	}
	x.logf("kit: limited process %d, which listens on %s, to %d file descriptors (RLIMIT_NOFILE, soft and hard)", pid, x.addr, descLimit)
	good, err := x.probeFile("good.bin", 2000)
	if err != nil {
		return setupFailed(err)
	}
	d := &descFill{x: x, ctx: ctx, pid: pid, src: newSources(x.addr)}
	defer d.close()
	if o, ok := d.fill(); !ok {
		return o
	}
	n := len(d.held)
	d.close()
	attempt, err := x.servedAgain(ctx, n, good)
	if err != nil {
		return fail("%s; then the kit closed its %d connections, yet for %v no new connection was served: %v (%s: the server recovers once descriptors are free)",
			d.refused, n, x.timeout, err, cite("REQ-LIM-16"))
	}
	return pass("%s; once the kit closed its connections, a new one was %s (attempt %d)", d.refused, good.served(), attempt)
}

// descFill is the filling of a server's descriptors.
type descFill struct {
	x     *serverCheck
	ctx   context.Context
	pid   int
	src   *sources
	from  *net.TCPAddr // where new connections come from
	onCur int          // connections held from from
	held  []*kitConn
	// refused says, once the server refused a connection as REQ-LIM-16
	// asks, what the kit held and saw.
	refused string
}

// close closes every connection the kit holds.
func (d *descFill) close() {
	for _, k := range d.held {
		k.close()
	}
	d.held = nil
}

// full asks the kernel whether the server holds every descriptor its
// limit lets it open; on error the case cannot go on.
func (d *descFill) full() (full bool, open int, o Outcome, ok bool) {
	full, open, err := filesFull(d.pid, descLimit)
	if err != nil {
		return false, 0, inconclusive("the kit could not count the server's descriptors: %v", err), false
	}
	return full, open, Outcome{}, true
}

// fill makes connections until the server, holding every descriptor,
// refuses one (it returns ok) or the case ends (it returns the outcome).
func (d *descFill) fill() (Outcome, bool) {
	for n := 1; n <= descCap; n++ {
		wasFull, open, o, ok := d.full()
		if !ok {
			return o, false
		}
		if wasFull {
			d.x.logf("kit: the server holds all %d descriptors below its limit of %d; connection %d must be answered", open, descLimit, n)
		}
		if d.from == nil || d.onCur == perSource {
			d.from, d.onCur = d.src.fresh(), 0
		}
		done, o, ok := d.next(n, wasFull)
		if done {
			return o, ok
		}
	}
	_, open, _, _ := d.full()
	return inconclusive("the server answered %d connections, each after a request, with its descriptors limited to %d, and never ran out (it holds %d): it may hand its connections to other processes, and the kit could not make it run out (%s)",
		descCap, descLimit, open, cite("REQ-LIM-16")), false
}

// next makes connection n, asks for a name that cannot exist and judges
// the reply: held (done is false), or the end of the filling.
func (d *descFill) next(n int, wasFull bool) (done bool, o Outcome, ok bool) {
	x := d.x
	logf := quietLog
	if n == 1 || wasFull {
		logf = x.logf
	}
	k, err := x.dialFrom(d.ctx, d.from, logf)
	if err != nil {
		return true, d.dialFailed(n, wasFull, err), false
	}
	name := x.fx.name(fmt.Sprintf("held-%d", n))
	werr := k.request(name)
	_, er, err := k.reply(name)
	if er != nil && keepOpenCodes[er.Code] && err == nil {
		d.held = append(d.held, k)
		d.onCur++
		return false, Outcome{}, true
	}
	defer k.close()
	if n > 1 {
		x.logf("connection %d (from %s): the server %s", n, fromWords(d.from), d.answerWords(er, err, werr))
	}
	full, open, o, ok := d.full()
	switch {
	case !ok:
		return true, o, false
	case !full && !wasFull:
		// Whatever happened, the server had descriptors to spare.
		return true, inconclusive("with %s, and %d of its %d descriptors in use, the server %s: it had not run out of descriptors, and the kit holds connections only after such a request (%s)",
			d.heldWords(), open, descLimit, d.answerWords(er, err, werr), cite("REQ-LIM-16")), false
	case !full && isTimeout(err):
		return true, inconclusive("with %s, the server gave connection %d no reply within %v, but it then held %d of its %d descriptors: it had some to spare, so the kit cannot tell that it left the connection for want of them (%s)",
			d.heldWords(), n, x.timeout, open, descLimit, cite("REQ-LIM-16")), false
	case !wasFull && (er == nil || er.Code != spec.CodeBusy) && !isTimeout(err):
		// It took the last descriptor for this connection itself.
		return true, inconclusive("with %s, the server took its last free descriptor for connection %d, then %s: the kit cannot tell that it had run out of descriptors when the connection came (%s)",
			d.heldWords(), n, d.answerWords(er, err, werr), cite("REQ-LIM-16")), false
	}
	o, ok = d.judge(n, k, er, err, werr)
	return true, o, ok
}

// judge judges connection n, made or left unanswered while the server
// held every descriptor it may open: the reply er (or the error err) must
// be ERR busy, and a close.
func (d *descFill) judge(n int, k *kitConn, er *spec.ErrorReply, err, werr error) (Outcome, bool) {
	at := fmt.Sprintf("with %s and every descriptor below its limit of %d in use, the server", d.heldWords(), descLimit)
	switch {
	case er != nil && er.Code == spec.CodeBusy:
		extra, how, closed := k.closeWait()
		switch {
		case len(extra) > 0:
			return fail("%s answered connection %d ERR busy, then sent %s more (%s: ERR busy and a close)", at, n, quote(extra), cite("REQ-LIM-16")), false
		case !closed:
			return fail("%s answered connection %d ERR busy, then left it open for %v (%s: ERR busy and a close)", at, n, d.x.timeout, cite("REQ-LIM-16")), false
		}
		d.refused = fmt.Sprintf("%s answered connection %d ERR busy %q, then %s", at, n, er.Text, how)
		return Outcome{}, true
	case isTimeout(err):
		return fail("%s left connection %d without a reply for %v%s (%s: answer it ERR busy and close it)",
			at, n, d.x.timeout, queuedWords(k), cite("REQ-LIM-16")), false
	}
	return fail("%s %s on connection %d (%s: ERR busy and a close)", at, d.answerWords(er, err, werr), n, cite("REQ-LIM-16")), false
}

// queuedWords says, where the kit can see it, whether the server has
// taken k from its listen queue.
func queuedWords(k *kitConn) string {
	tc, ok := k.nc.(*net.TCPConn)
	if !ok {
		return ""
	}
	switch accepted, found, err := serverAccepted(tc); {
	case err != nil || !found:
		return ""
	case accepted:
		return ": it took the connection from its listen queue and said nothing"
	}
	return ": the connection is still in its listen queue"
}

// dialFailed judges a connection the kit could not make.
func (d *descFill) dialFailed(n int, wasFull bool, err error) Outcome {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return errored("the kit could not make connection %d: %v", n, err)
	case n == 1:
		return cannotConnect(err)
	case wasFull && isTimeout(err):
		return fail("with %s and every descriptor below its limit of %d in use, connection %d could not connect within %v: the server's listen queue is full, and it answers none of it (%s)",
			d.heldWords(), descLimit, n, d.x.timeout, cite("REQ-LIM-16"))
	}
	return inconclusive("with %s, connection %d could not connect: %v", d.heldWords(), n, err)
}

// answerWords says what the server did with a request for a name that
// cannot exist, when it did not answer ERR not-found.
func (d *descFill) answerWords(er *spec.ErrorReply, err, werr error) string {
	switch {
	case er != nil:
		return fmt.Sprintf("answered a request for a name that cannot exist ERR %s", er.Code)
	case isTimeout(err):
		return fmt.Sprintf("gave a request no reply within %v", d.x.timeout)
	case err != nil && werr != nil:
		return fmt.Sprintf("closed the connection before the request was sent (%s), with no reply", netWords(werr))
	case err != nil:
		return fmt.Sprintf("closed the connection without a reply (%v)", err)
	}
	return "announced a size for a name that cannot exist"
}

// heldWords says what the kit held, for a detail.
func (d *descFill) heldWords() string {
	return fmt.Sprintf("%s held, each after a request answered ERR not-found", count(len(d.held), "connection"))
}
