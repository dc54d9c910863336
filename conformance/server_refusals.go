package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about refusals: a missing file, names that leave the root,
// files that are not regular, and files the server may not read.

// keepOpen is a request that must get a keep-open error reply, after
// which the connection must serve the next request (REQ-ERR-3).
type keepOpen struct {
	name   string   // the name asked for
	what   string   // what it is: "a missing file"
	code   string   // the error code due
	rule   citation // what says the code is due
	silent citation // what silence breaks
	hint   string   // what silence means, for a learner: ": a client would hang"
	// sized judges a size announced where the error reply was due; k is
	// the connection, just after the size.
	sized func(k *kitConn, size int64) Outcome
}

// bareNumber is the hint for a server that answered a bare number where an
// error reply was due (as with "404"): what the number means on the wire.
func bareNumber(code string) string {
	return fmt.Sprintf("on the wire a bare number is a size; an error reply is \"ERR code [text]\", here \"ERR %s\"", code)
}

// refusedOpen asks for p.name on a fresh connection and expects ERR
// p.code; then the probe next must be answered on the same connection.
func (x *serverCheck) refusedOpen(ctx context.Context, p keepOpen, next sized) Outcome {
	after, err := x.probeFile(next.label, next.n)
	if err != nil {
		return setupFailed(err)
	}
	k, _, a, o := x.opening(ctx, p.name)
	if k == nil {
		return o
	}
	defer k.close()
	switch {
	case a.err != nil && isTimeout(a.err):
		return fail("the server sent nothing for %v after `get %s`, %s (%s)%s", x.timeout, p.name, p.what, p.silent, p.hint)
	case a.err != nil:
		return fail("%v: %s must get ERR %s (%s)", a.err, p.what, p.code, p.silent)
	case a.er == nil:
		return p.sized(k, a.size)
	case a.er.Code != p.code:
		return fail("the server answered %s with ERR %s, want ERR %s (%s)", p.what, a.er.Code, p.code, p.rule)
	}
	if err := k.getProbe(after); err != nil {
		return fail("after ERR %s the connection must stay usable, but the next request failed: %v (%s)", p.code, err, cite("REQ-ERR-3"))
	}
	return pass("ERR %s %q for %s, and the next request on the connection was %s", a.er.Code, a.er.Text, p.what, after.served())
}

func runServerMissing(ctx context.Context, x *serverCheck) Outcome {
	missing := x.fx.name("missing.txt")
	return x.refusedOpen(ctx, keepOpen{
		name: missing, what: "a missing file", code: spec.CodeNotFound, rule: cite("REQ-SRV-5"),
		silent: cite("REQ-SRV-5", "REQ-SRV-4", "REQ-ERR-2"), hint: ": a client would hang, as the tutorial's did",
		sized: func(_ *kitConn, size int64) Outcome {
			return fail("the server announced %s for %q, which does not exist (%s); %s",
				count(size, "byte"), missing, cite("REQ-SRV-5"), bareNumber(spec.CodeNotFound))
		},
	}, sized{"after.txt", 100})
}

// escapeSecret marks the content of the file the kit places outside the
// root, so any disclosure of it can be recognised.
const escapeSecret = "stickykit: this file lies outside the server's root; a server that sends it has a path-escape bug\n"

func runServerPathEscape(ctx context.Context, x *serverCheck) Outcome {
	if x.remote() {
		return x.escapesToNothing(ctx)
	}
	root, err := filepath.Abs(x.root)
	if err != nil {
		return setupFailed(err)
	}
	parent := filepath.Dir(root)
	if parent == root {
		return errored("setting up: the server's root %s has no parent directory to place a file outside it", root)
	}
	outside := x.fx.name("outside.txt")
	secret := []byte(escapeSecret + x.fx.token + "\n")
	if err := x.fx.outside(outside, secret); err != nil {
		return errored("setting up: cannot place a file just outside the root, in %s: %v", parent, err)
	}
	absent := x.fx.name("absent.txt")
	probes := []struct {
		name, what string
	}{
		{"../" + outside, "a name climbing out with \"..\""},
		{filepath.ToSlash(filepath.Join(parent, outside)), "an absolute path"},
		{"../" + absent, "a \"..\" name for a file that does not exist outside either"},
	}
	var codes []string
	for _, p := range probes {
		o, code := x.escapeProbe(ctx, p.name, p.what, secret, root)
		if o.Verdict != Pass {
			return o
		}
		codes = append(codes, code)
	}
	return pass("all %d escaping names were refused (%s); nothing outside the root was disclosed", len(probes), strings.Join(codes, ", "))
}

// escapeProbe requests one escaping name on a fresh connection. It passes
// only on ERR forbidden whose text discloses neither the secret nor the
// absolute path of the root (each checked when known: not nil, not "").
func (x *serverCheck) escapeProbe(ctx context.Context, name, what string, secret []byte, root string) (Outcome, string) {
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err), ""
	}
	defer k.close()
	if err := k.request(name); err != nil {
		return fail("%v", err), ""
	}
	size, er, err := k.reply(name)
	if err != nil {
		return fail("%s, %q: %v; it must refuse with ERR forbidden (%s)", what, name, err, cite("REQ-SRV-6")), ""
	}
	if er == nil {
		return escapeServed(k, name, what, size, secret), ""
	}
	if secret != nil && bytes.Contains([]byte(er.Text), bytes.TrimSpace(secret)[:40]) || root != "" && strings.Contains(er.Text, root) {
		return fail("%s, %q: the error text %q discloses the file's content or the server's absolute path (%s)",
			what, name, er.Text, cite("REQ-ERR-7")), ""
	}
	if er.Code != spec.CodeForbidden {
		return fail("%s, %q: the server answered ERR %s, want ERR %s (%s: whether or not the target exists)",
			what, name, er.Code, spec.CodeForbidden, cite("REQ-SRV-6", "REQ-SEC-3")), ""
	}
	return pass(""), er.Code
}

// escapeServed judges a server that announced a size for an escaping name:
// that alone breaks REQ-SRV-6; the kit reads what follows (bounded) to say
// whether the file outside was disclosed.
func escapeServed(k *kitConn, name, what string, size int64, secret []byte) Outcome {
	base := fmt.Sprintf("%s, %q: the server announced %s instead of refusing with ERR forbidden (%s)", what, name, count(size, "byte"), bareNumber(spec.CodeForbidden))
	if err := k.ack(); err != nil {
		return fail("%s (%s)", base, cite("REQ-SRV-6", "REQ-SEC-1"))
	}
	const limit = 1 << 20
	got, _ := io.ReadAll(io.LimitReader(k.r.Body(size), min(size, limit)))
	k.logf("<- data %d bytes", len(got))
	if len(secret) > 0 && bytes.Contains(got, secret[:len(secret)-1]) {
		return fail("%s and sent the content of the file the kit placed outside the root (%s)", base, cite("REQ-SRV-6", "REQ-SEC-1"))
	}
	return fail("%s and sent %s of something (%s)", base, count(len(got), "byte"), cite("REQ-SRV-6", "REQ-SEC-1"))
}

func runServerSpecialFiles(ctx context.Context, x *serverCheck) Outcome {
	dir := x.fx.name("a-directory")
	if err := x.fx.mkdir(dir); err != nil {
		return setupFailed(err)
	}
	fifo := x.fx.name("a-fifo")
	if err := x.fx.fifo(fifo); err != nil {
		return inconclusive("cannot make a FIFO in the server's root: %v (the kit needs one to check %s)", err, cite("REQ-SEC-5"))
	}
	// Before the FIFO is removed: a server blocked opening it for reading
	// returns when a writer opens it (removing it would not free it).
	defer func() {
		if x.fx.unblockFIFO(fifo) {
			x.logf("(the kit opened the FIFO for writing and closed it: a reader was still waiting on it)")
		}
	}()
	x.logf("fixture %q: a directory; fixture %q: a FIFO", dir, fifo)
	k, fs, o := x.begin(ctx, sized{"good.bin", 3000})
	if k == nil {
		return o
	}
	defer k.close()
	good, data := fs[0].name, fs[0].data

	// 1. A directory.
	erDir, o := x.notRegular(k, dir, "a directory", false)
	if erDir == nil {
		return o
	}
	// 2. A FIFO: no writer ever opens it, so a blocking open never returns.
	erFIFO, o := x.notRegular(k, fifo, "a FIFO", true)
	if erFIFO == nil && o.Verdict != "" {
		return o
	}
	if erFIFO == nil {
		return x.fifoBlocked(ctx, fifo, good, data)
	}
	// 3. Another client, after the FIFO.
	x.logf("-- a second client, after the FIFO")
	if err := x.fetch(ctx, good, data); err != nil {
		return fail("after a request for a FIFO, a new client was not served: %v (%s)", err, cite("REQ-SEC-5"))
	}
	// 4. The first connection stays usable.
	x.logf("-- the first connection again")
	if err := k.get(good, data); err != nil {
		return fail("after ERR %s the connection must stay usable, but the next request failed: %v (%s)", spec.CodeNotRegular, err, cite("REQ-ERR-3"))
	}
	return pass("a directory (ERR not-regular %q) and a FIFO (ERR not-regular %q) were refused at once; another client was served, and so was the next request on the same connection",
		erDir.Text, erFIFO.Text)
}

// notRegular asks for name on k and expects ERR not-regular. It returns
// the error reply, or else the outcome; for a FIFO (afterRefusal set, the
// connection has had one ERR not-regular already) it returns neither when
// the server sent nothing, which the caller judges.
func (x *serverCheck) notRegular(k *kitConn, name, what string, afterRefusal bool) (*spec.ErrorReply, Outcome) {
	if err := k.request(name); err != nil {
		if afterRefusal {
			return nil, fail("after ERR %s for a directory, the kit could not send its next request: %v (%s: the connection stays open)",
				spec.CodeNotRegular, err, cite("REQ-ERR-3"))
		}
		return nil, fail("%v", err)
	}
	size, er, err := k.reply(name)
	switch {
	case err != nil && isTimeout(err) && afterRefusal:
		return nil, Outcome{}
	case err != nil && isTimeout(err):
		return nil, fail("the server sent nothing for %v after `get %s`, %s (%s)", x.timeout, name, what, cite("REQ-SRV-8"))
	case err != nil && afterRefusal && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		return nil, fail("%v: after ERR %s for a directory the server closed the connection (%s: the connection stays open)",
			err, spec.CodeNotRegular, cite("REQ-ERR-3"))
	case err != nil:
		return nil, fail("%v: %s must get ERR %s (%s)", err, what, spec.CodeNotRegular, cite("REQ-SRV-8"))
	case er == nil:
		return nil, fail("the server announced %s for %s, %q (%s: only regular files are served; %s)", count(size, "byte"), what, name, cite("REQ-SRV-8"), bareNumber(spec.CodeNotRegular))
	case er.Code != spec.CodeNotRegular:
		return nil, fail("the server answered %s with ERR %s, want ERR %s (%s)", what, er.Code, spec.CodeNotRegular, cite("REQ-SRV-8", "REQ-ERR-1"))
	}
	return er, Outcome{}
}

// fifoBlocked judges a server that sent nothing after a request for a
// FIFO: it blocked, and a second client shows whether only that
// connection or the whole server is stuck.
func (x *serverCheck) fifoBlocked(ctx context.Context, fifo, good string, data []byte) Outcome {
	x.logf("-- a second client, while the first still waits for its reply about the FIFO")
	served := "a second connection was served meanwhile, so only that connection was stuck"
	if err := x.fetch(ctx, good, data); err != nil {
		served = fmt.Sprintf("a second connection was not served either (%v): the whole server was stuck", err)
	}
	if x.fx.unblockFIFO(fifo) {
		served += "; the kit then found the server waiting to read the FIFO (an open without O_NONBLOCK) and freed it"
	}
	return fail("the server sent nothing for %v after `get %s`, a FIFO: it blocked opening or reading it (%s: find the type without blocking, then reply ERR %s); %s",
		x.timeout, fifo, cite("REQ-SEC-5", "REQ-SRV-8"), spec.CodeNotRegular, served)
}

func runServerUnreadable(ctx context.Context, x *serverCheck) Outcome {
	locked := x.fx.name("mode-000.bin")
	data, err := x.fx.file(locked, 500)
	if err != nil {
		return setupFailed(err)
	}
	if err := x.fx.chmod(locked, 0); err != nil {
		return x.changeFailed(locked, "take the permissions away from", err)
	}
	x.logf("fixture %q: mode 000", locked)
	o := x.refusedOpen(ctx, keepOpen{
		name: locked, what: "a file it may not read (mode 000)", code: spec.CodeUnreadable,
		rule: cite("REQ-SRV-10"), silent: cite("REQ-SRV-10"),
		sized: func(k *kitConn, size int64) Outcome { return unreadableSized(k, locked, data, size) },
	}, sized{"good.bin", 800})
	return x.unlessTampered(o)
}

// unreadableSized judges a size announced for the mode-000 fixture by what
// follows it: the file's bytes (the server could read it: it runs as
// root, and the case can say nothing), or anything else (it took the size
// from the file's metadata before it tried to read it, and could not).
func unreadableSized(k *kitConn, name string, data []byte, size int64) Outcome {
	if err := k.ack(); err != nil {
		return fail("the server announced %d bytes for %q, a file it may not read (mode 000), then: %v (%s: ERR unreadable before any size)",
			size, name, err, cite("REQ-SRV-10"))
	}
	got, rerr := k.readUpTo(min(size, int64(len(data))+1))
	if size == int64(len(data)) && bytes.Equal(got, data) {
		return inconclusive("the server announced %d bytes for %q and sent them: it could read a file with mode 000, so it probably runs as root; "+
			"permission bits cannot make a file unreadable to it", size, name)
	}
	var then string
	switch {
	case len(got) == 0 && isTimeout(rerr):
		then = fmt.Sprintf("sent nothing for %v", k.timeout)
	case len(got) == 0:
		then = "sent none of them: " + endWords(rerr)
	case firstDiff(got, data) < len(got):
		then = fmt.Sprintf("sent %d bytes that are not the file's", len(got))
	default:
		then = fmt.Sprintf("sent only %d of them: %s", len(got), endWords(rerr))
	}
	return fail("the server announced %d bytes for %q, a file it may not read (mode 000), then %s: it took the size from the file's metadata (stat) before it opened the file, "+
		"and could not read it (%s: a file that cannot be opened or read gets ERR unreadable before any size; open it first, then take the size from the open file)",
		size, name, then, cite("REQ-SRV-10"))
}
