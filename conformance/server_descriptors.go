package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"syscall"
	"time"

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
// the start would be raised again so).
//
// Then it fills the server's descriptors in two steps, looking in
// /proc/PID/fd before and after each connection:
//
//   - Connections that each ask for a name that cannot exist and get ERR
//     not-found, as server/conn-limit holds them: a connection whose
//     request has arrived never makes room (REQ-LIM-13), so a server must
//     keep a descriptor for each. They come from several loopback
//     addresses, a few from each, so that a limit per address
//     (REQ-LIM-14) does not stop the filling first. This goes on until
//     the server holds all but one of the descriptors its limit allows
//     (the last may be one it keeps in reserve to answer with).
//   - Then connections that send nothing. Answering a request takes a
//     descriptor more (the server opens the file), so a request on the
//     last free descriptor is refused for want of one, and the server
//     never fills; a connection that sends nothing takes that descriptor
//     and keeps it, like a client that has yet to speak. Each one is
//     either taken from the listen queue (the kernel gives the server's
//     end an inode: serverAccepted), or answered and closed, or left in
//     the queue; the kit waits for the first two, for the timeout at most.
//
// Two connections in a row answered ERR busy and closed pass, once the
// server serves again after the kit has closed its connections: REQ-LIM-16
// asks that the connections waiting be answered for as long as the
// shortage lasts, not only the first. One left in the
// listen queue for the timeout while the server holds every descriptor it
// may open FAILs; so does one closed without ERR busy, or answered
// otherwise, while the server is out of descriptors. What happens while
// the server has descriptors to spare (a refusal, silence, a server that
// serves one connection at a time and so never fills) is not what the
// case is about: INCONCLUSIVE, never a FAIL. (A partial request would not
// do for the first step: in the lockstep framing a request has no end to
// leave out.)

// descLimit is the RLIMIT_NOFILE the kit gives the server: few enough
// that the kit fills it quickly, from addresses that stay under the
// limit per address, with the budget of connections without a request
// (REQ-LIM-12, 64) out of the way; enough for a program's own files.
const descLimit = 64

// descCap is the most connections after a request the kit holds before
// it gives up on making the server run out: a server that hands its
// connections to other processes never does.
const descCap = 2 * descLimit

// refusalsWanted is how many connections in a row a server out of
// descriptors must answer ERR busy: the connections waiting in its queue,
// not only the first (a server that spends its reserve on the first, and
// never gets it back, leaves the next one waiting).
const refusalsWanted = 2

// silentCap is the most connections that send nothing the kit makes once
// the server is nearly out: the first takes the last descriptor, the next
// refusalsWanted must be answered; the rest allow for descriptors the
// server frees and takes for its own needs meanwhile, and for a refused
// connection the kit saw taken from the queue before it saw the refusal.
const silentCap = refusalsWanted + 4

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
	d := &descFill{x: x, ctx: ctx, pid: pid, src: newSources(x.addr), num: map[*kitConn]int{}}
	defer d.close()
	if o, ok := d.fill(); !ok {
		return o
	}
	if o, ok := d.fillSilent(); !ok {
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
	x      *serverCheck
	ctx    context.Context
	pid    int
	src    *sources
	from   *net.TCPAddr // where new connections come from
	onCur  int          // connections held from from
	held   []*kitConn
	made   int        // connections made
	silent []*kitConn // the connections held that sent nothing
	// refused says, once the server refused refusalsWanted connections
	// as REQ-LIM-16 asks, what the kit held and saw; refusals counts them.
	refused  string
	refusals int
	num      map[*kitConn]int // the number of each connection in silent
	// quiet says, once recount found one, which connection that sent
	// nothing the server took from its queue and closed without ERR busy.
	quiet string
}

// close closes every connection the kit holds.
func (d *descFill) close() {
	for _, k := range d.held {
		k.close()
	}
	d.held = nil
}

// descriptors asks the kernel how many descriptors below its limit the
// server holds; on error the case cannot go on.
func (d *descFill) descriptors() (open int, o Outcome, ok bool) {
	_, open, err := filesFull(d.pid, descLimit)
	if err != nil {
		return 0, inconclusive("the kit could not count the server's descriptors: %v", err), false
	}
	return open, Outcome{}, true
}

// out reports whether a server holding open descriptors is out of them:
// it holds all its limit allows, or all but one, which may be the
// descriptor it keeps in reserve to answer with (REQ-LIM-16).
func out(open int) bool { return open >= descLimit-1 }

// dial makes connection n, from an address the kit holds fewer than
// perSource connections from.
func (d *descFill) dial(n int, logf func(string, ...any)) (*kitConn, error) {
	if d.from == nil || d.onCur == perSource {
		d.from, d.onCur = d.src.fresh(), 0
	}
	d.made = n
	return d.x.dialFrom(d.ctx, d.from, logf)
}

// hold keeps k open.
func (d *descFill) hold(k *kitConn) {
	d.held = append(d.held, k)
	d.onCur++
}

// fill holds connections, each after a request answered ERR not-found,
// until the server is nearly out of descriptors. It returns false, with
// the outcome, when the case ends there.
func (d *descFill) fill() (Outcome, bool) {
	for n := 1; n <= descCap; n++ {
		before, o, ok := d.descriptors()
		if !ok {
			return o, false
		}
		if out(before) {
			d.x.logf("kit: after %s the server holds %d of the %d descriptors its limit allows; now connections that send nothing",
				count(n-1, "connection"), before, descLimit)
			return Outcome{}, true
		}
		done, o, ok := d.next(n)
		if done {
			return o, ok
		}
	}
	open, _, _ := d.descriptors()
	return inconclusive("the server answered %d connections, each after a request, with its descriptors limited to %d, and never ran out (it holds %d): it may hand its connections to other processes, and the kit could not make it run out (%s)",
		descCap, descLimit, open, cite("REQ-LIM-16")), false
}

// next makes connection n, asks for a name that cannot exist and judges
// the reply: held (done is false), or the end of the filling (ok when
// the server is nearly out of descriptors and the filling goes on with
// connections that send nothing).
func (d *descFill) next(n int) (done bool, o Outcome, ok bool) {
	x := d.x
	logf := quietLog
	if n == 1 {
		logf = x.logf
	}
	k, err := d.dial(n, logf)
	if err != nil {
		return true, d.dialFailed(n, err), false
	}
	name := x.fx.name(fmt.Sprintf("held-%d", n))
	werr := k.request(name)
	_, er, err := k.reply(name)
	if er != nil && keepOpenCodes[er.Code] && err == nil {
		d.hold(k)
		return false, Outcome{}, true
	}
	defer k.close()
	did := d.answerWords(er, err, werr)
	x.logf("connection %d (from %s): the server %s", n, fromWords(d.from), did)
	after, o, ok := d.descriptors()
	switch {
	case !ok:
		return true, o, false
	case out(after) && er != nil && er.Code == spec.CodeBusy:
		// It had no descriptor left to open the file with.
		return true, Outcome{}, true
	case after == descLimit && isTimeout(err):
		return true, d.unanswered(n, k), false
	}
	return true, inconclusive("with %s, the server %s, holding %d of the %d descriptors its limit allows: it had not run out of them, and the kit holds connections only after such a request (%s)",
		d.heldWords(), did, after, descLimit, cite("REQ-LIM-16")), false
}

// fillSilent makes connections that send nothing until the server
// answers one, or leaves one in its listen queue. It returns false, with
// the outcome, when the case ends there; true once the server refused
// refusalsWanted as REQ-LIM-16 asks.
func (d *descFill) fillSilent() (Outcome, bool) {
	x := d.x
	for i := 1; i <= silentCap; i++ {
		n := d.made + 1
		before, o, ok := d.descriptors()
		if !ok {
			return o, false
		}
		x.logf("kit: the server holds %d of the %d descriptors its limit allows; connection %d sends nothing", before, descLimit, n)
		k, err := d.dial(n, x.logf)
		if err != nil {
			return d.dialFailed(n, err), false
		}
		tc, _ := k.nc.(*net.TCPConn)
		var ended, accepted, seen bool
		pollUntil(d.ctx, time.Now().Add(x.timeout), func() bool {
			var found bool
			ended, _ = peerEnded(tc)
			accepted, found, _ = serverAccepted(tc)
			seen = seen || found
			return ended || accepted
		})
		switch {
		case ended:
			er, err := k.silentReply()
			if o, ok := d.answered(n, k, before, er, err); !ok || d.refusals == refusalsWanted {
				k.close()
				return o, ok
			}
			k.close()
		case accepted:
			x.logf("connection %d: the server took it from its listen queue", n)
			d.hold(k)
			d.silent = append(d.silent, k)
			d.num[k] = n
		case !seen:
			k.close()
			return inconclusive("the kit cannot see whether the server takes its connections from the listen queue (%s)", cite("REQ-LIM-16")), false
		default:
			defer k.close()
			after, o, ok := d.descriptors()
			if !ok {
				return o, false
			}
			if after < descLimit {
				return inconclusive("with %s, the server left connection %d, which sent nothing, in its listen queue for %v, but it held %d of the %d descriptors its limit allows: it did not leave it for want of them (%s)",
					d.heldWords(), n, x.timeout, after, descLimit, cite("REQ-LIM-16")), false
			}
			return d.unanswered(n, k), false
		}
	}
	// The kit may have seen the server take a connection before it saw
	// the answer and the close: count those now.
	d.recount()
	switch {
	case d.refusals >= refusalsWanted:
		return Outcome{}, true
	case d.quiet != "":
		return fail("%s %s (%s: ERR busy and a close)", d.outWords(), d.quiet, cite("REQ-LIM-16")), false
	}
	open, _, _ := d.descriptors()
	return inconclusive("with %s, the server took every connection from its listen queue and held %d of the %d descriptors its limit allows: the kit could not make it run out (%s)",
		d.heldWords(), open, descLimit, cite("REQ-LIM-16")), false
}

// answered judges connection n, which sent nothing and which the server
// ended, holding before descriptors when it came: ERR busy and a close
// (d.refused is set), or, while the server is out of descriptors, a FAIL.
func (d *descFill) answered(n int, k *kitConn, before int, er *spec.ErrorReply, err error) (Outcome, bool) {
	x := d.x
	after, o, ok := d.descriptors()
	if !ok {
		return o, false
	}
	at := d.outWords()
	if er != nil && er.Code == spec.CodeBusy {
		extra, how, closed := k.closeWait()
		switch {
		case len(extra) > 0:
			return fail("%s answered connection %d ERR busy, then sent %s more (%s: ERR busy and a close)", at, n, quote(extra), cite("REQ-LIM-16")), false
		case !closed:
			return fail("%s answered connection %d ERR busy, then left it open for %v (%s: ERR busy and a close)", at, n, x.timeout, cite("REQ-LIM-16")), false
		}
		d.refuse(n, er.Text, how)
		return Outcome{}, true
	}
	did := d.answerWords(er, err, nil)
	if !out(before) || !out(after) {
		return inconclusive("with %s, the server %s on connection %d, which sent nothing, holding %d of the %d descriptors its limit allows before and %d after: the kit cannot tell that it had run out of them (%s)",
			d.heldWords(), did, n, before, descLimit, after, cite("REQ-LIM-16")), false
	}
	return fail("%s %s on connection %d, which sent nothing (%s: ERR busy and a close)", at, did, n, cite("REQ-LIM-16")), false
}

// refuse counts connection n, which the server answered ERR busy with
// text and ended as how says, as a refusal.
func (d *descFill) refuse(n int, text, how string) {
	d.refusals++
	if d.refusals == 1 {
		d.refused = fmt.Sprintf("%s answered connection %d, which sent nothing, ERR busy %q, then %s", d.outWords(), n, text, how)
	} else {
		d.refused += fmt.Sprintf("; and connection %d the same", n)
	}
}

// unanswered is the FAIL of connection n, left without a reply for the
// timeout while the server held every descriptor it may open.
func (d *descFill) unanswered(n int, k *kitConn) Outcome {
	d.recount()
	before := ""
	if d.refusals > 0 {
		before = " (it had answered an earlier one ERR busy: the connections waiting are answered for as long as the shortage lasts)"
	}
	return fail("%s left connection %d without a reply for %v%s%s (%s: answer it ERR busy and close it)",
		d.outWords(), n, d.x.timeout, queuedWords(k), before, cite("REQ-LIM-16"))
}

// outWords says, for a detail, what the kit held when the server was out
// of descriptors.
func (d *descFill) outWords() string {
	return fmt.Sprintf("with %s, out of descriptors (at most one of the %d its limit allows left, which may be its reserve), the server",
		d.heldWords(), descLimit)
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
func (d *descFill) dialFailed(n int, err error) Outcome {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE), errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return errored("the kit could not make connection %d: %v", n, err)
	case n == 1:
		return cannotConnect(err)
	}
	if open, _, ok := d.descriptors(); ok && open == descLimit && isTimeout(err) {
		return fail("%s let connection %d wait for %v without completing its handshake: its listen queue is full, and it answers none of it (%s)",
			d.outWords(), n, d.x.timeout, cite("REQ-LIM-16"))
	}
	return inconclusive("with %s, connection %d could not connect: %v", d.heldWords(), n, err)
}

// answerWords says what the server did with a request for a name that
// cannot exist (or, with no request, a connection that sent nothing),
// when it did not answer ERR not-found.
func (d *descFill) answerWords(er *spec.ErrorReply, err, werr error) string {
	switch {
	case er != nil:
		return fmt.Sprintf("answered ERR %s", er.Code)
	case isTimeout(err):
		return fmt.Sprintf("gave no reply within %v", d.x.timeout)
	case err != nil && werr != nil:
		return fmt.Sprintf("closed the connection before the request was sent (%s), with no reply", netWords(werr))
	case err != nil:
		return fmt.Sprintf("closed the connection without a reply (%s)", netWords(err))
	}
	return "announced a size for a name that cannot exist"
}

// heldWords says what the kit held, for a detail.
func (d *descFill) heldWords() string {
	w := fmt.Sprintf("%s held, each after a request answered ERR not-found", count(len(d.held)-len(d.silent), "connection"))
	if len(d.silent) > 0 {
		w += fmt.Sprintf(", and %s that sent nothing", count(len(d.silent), "connection"))
	}
	return w
}

// silentReply reads what the server sent on a connection that sent
// nothing: an error reply as er, or what ended the read.
func (k *kitConn) silentReply() (*spec.ErrorReply, error) {
	size, err := k.r.ReadReply()
	var er *spec.ErrorReply
	switch {
	case err == nil:
		return nil, fmt.Errorf("it announced %s, though the kit had asked for nothing", count(size, "byte"))
	case errors.As(err, &er):
		k.logf("<- %s", quote(spec.EncodeError(k.f, er.Code, er.Text)))
		return er, nil
	}
	k.logf("<- %s", netWords(err))
	return nil, err
}

// recount finds, among the connections that sent nothing and that the kit
// saw the server take from its queue, those it then answered ERR busy and
// closed (the kit saw it take them before it saw the answer): they count
// as refusals, not as connections held.
func (d *descFill) recount() {
	var kept []*kitConn
	for _, k := range d.silent {
		tc, _ := k.nc.(*net.TCPConn)
		if ended, err := peerEnded(tc); err != nil || !ended {
			kept = append(kept, k)
			continue
		}
		switch er, err := k.silentReply(); {
		case er != nil && er.Code == spec.CodeBusy:
			d.refuse(d.num[k], er.Text, "closed it")
		case d.quiet == "":
			d.quiet = fmt.Sprintf("took connection %d, which sent nothing, from its listen queue, then %s", d.num[k], d.answerWords(er, err, nil))
		}
		d.held = slices.DeleteFunc(d.held, func(h *kitConn) bool { return h == k })
		k.close()
	}
	d.silent = kept
}
