package conformance

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// silentConn is the connection server/default-limit opens, among those
// that send a request, that sends nothing.
type silentConn struct {
	k    *kitConn
	n    int // its number among the connections the kit made
	from *net.TCPAddr
	at   time.Time // when it connected
	held int       // connections the kit held after a request, then
}

// openSilent opens the connection that sends nothing, from an address of
// its own (so that no limit per address touches it), and waits, where
// the kit can see it, until the server has accepted it: it is then older
// than the connection that comes next.
func (h *holding) openSilent() *holdProblem {
	x := h.x
	from := h.src.fresh()
	if from != nil {
		h.addrs++
	}
	h.made++
	n := h.made
	logf := func(format string, a ...any) { x.logf("connection %d: %s", n, fmt.Sprintf(format, a...)) }
	k, err := x.dialFrom(h.ctx, from, logf)
	if err != nil {
		return h.dialProblem(n, from, err)
	}
	h.silent = &silentConn{k: k, n: n, from: from, at: time.Now(), held: len(h.conns)}
	x.logf("kit: holds %s after a request; connection %d sends nothing", count(len(h.conns), "connection"), n)
	if tc, ok := k.nc.(*net.TCPConn); ok && acceptVisible(x.addr) {
		pollUntil(h.ctx, time.Now().Add(x.timeout), func() bool {
			acc, _, err := serverAccepted(tc)
			return acc || err != nil
		})
	}
	return nil
}

// judgeSilent judges the connection that sent nothing, once the server
// refused a connection at its limit: the connection after it, which sent
// a request, should have pushed it out (ERR busy, a close) rather than
// been refused while it held on (REQ-LIM-13). A server whose limit is
// below the default may refuse it at once, with ERR busy too. It returns
// what it saw, for a PASS.
func (h *holding) judgeSilent() (string, Outcome) {
	s := h.silent
	if s == nil {
		return "", Outcome{}
	}
	x := h.x
	s.k.logf = func(format string, a ...any) { x.logf("connection %d: %s", s.n, fmt.Sprintf(format, a...)) }
	at := fmt.Sprintf("%s; connection %d, from %s, opened when the kit held %s after a request, sent nothing",
		h.heldWords(), s.n, fromWords(s.from), count(s.held, "connection"))
	_, err := s.k.r.ReadReply()
	var er *spec.ErrorReply
	switch {
	case errors.As(err, &er) && er.Code == spec.CodeBusy:
		s.k.logf("<- %s", quote(spec.EncodeError(x.framing, er.Code, er.Text)))
	case errors.As(err, &er):
		return "", fail("%s, and got ERR %s, not ERR busy (%s: the connection pushed out is answered ERR busy before it is closed)", at, er.Code, cite("REQ-LIM-13"))
	case isTimeout(err):
		return "", fail("%s, and stayed open without a word, while connection %d, which sent a request, got ERR busy: at the connection limit a server should push out the oldest connection whose client has sent nothing, answering it ERR busy, rather than refuse a newcomer (%s)",
			at, h.busy.n, cite("REQ-LIM-13"))
	case endedErr(err) && time.Since(s.at) >= minTimeout:
		return "", inconclusive("%s, and ended without a word (%s) %v after it connected: that may have been its first-request timeout (one may be as short as %v), not room made, and the kit cannot tell which",
			at, netWords(err), time.Since(s.at).Round(time.Millisecond), minTimeout)
	case err != nil:
		return "", fail("%s, and %s (%s: the connection pushed out is answered ERR busy)", at, describe(err, x.timeout, "ERR busy"), cite("REQ-LIM-13"))
	default:
		return "", fail("%s, and was sent a size (%s)", at, cite("REQ-LIM-13"))
	}
	extra, _, closed := s.k.closeWait()
	switch {
	case len(extra) > 0:
		return "", fail("%s, and after ERR busy it was sent %s more (%s: ERR busy, then the close)", at, quote(extra), cite("REQ-LIM-13"))
	case !closed:
		return "", fail("%s, and got ERR busy, but then stayed open for %v (%s: the connection pushed out is closed)", at, x.timeout, cite("REQ-LIM-13"))
	}
	return fmt.Sprintf("; connection %d, which sent nothing, opened when the kit held %s after a request, got ERR busy and was closed",
		s.n, count(s.held, "connection")), Outcome{}
}
