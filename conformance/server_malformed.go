package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about bad input and odd files: malformed and over-long
// requests, files that are not regular or cannot be read, files that change
// while being sent, line terminators, and a client's end of stream.

func init() {
	register(
		&Case{
			ID: "server/bad-request",
			Title: "malformed requests (no \"get \", an empty name, a NUL, invalid UTF-8, a bare CR) each get " +
				"ERR bad-request and a closed connection; the server then still serves",
			Requirements: []string{"REQ-ERR-1", "REQ-ERR-2", "REQ-ERR-4", "REQ-MSG-2", "REQ-MSG-5", "REQ-MSG-6",
				"REQ-LIM-4", "REQ-SRV-4", "REQ-SRV-16"},
			Severity: Must,
			Role:     RoleServer,
			run:      runServerBadRequest,
		},
		&Case{
			ID: "server/too-long",
			Title: "a 1025-octet request, and in the line framing a 2000-octet line with no LF, " +
				"get a prompt ERR too-long and a closed connection",
			Requirements: []string{"REQ-LIM-1", "REQ-LIM-2", "REQ-ERR-1", "REQ-ERR-4", "REQ-SEC-9"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerTooLong,
		},
		&Case{
			ID: "server/special-files",
			Title: "a directory and a FIFO get a prompt ERR not-regular; the connection stays usable " +
				"and other clients are served",
			Requirements: []string{"REQ-SRV-8", "REQ-SEC-5", "REQ-ERR-1", "REQ-ERR-3"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerSpecialFiles,
		},
		&Case{
			ID:           "server/unreadable",
			Title:        "a regular file with mode 000 gets ERR unreadable and the connection stays usable",
			Requirements: []string{"REQ-SRV-10", "REQ-ERR-3"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerUnreadable,
		},
		&Case{
			ID: "server/file-changes",
			Title: "the file shrinks, then another grows, between the size and the ack: exactly SIZE bytes " +
				"and their digest, or a close without a digest",
			Requirements: []string{"REQ-SRV-9", "REQ-ERR-6", "REQ-MSG-10"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerFileChanges,
		},
		&Case{
			ID: "server/line-endings",
			Title: "requests ending with CRLF are served; every reply ends with LF; " +
				"no terminator follows a digest",
			Requirements: []string{"REQ-LINE-1", "REQ-LINE-3", "REQ-LINE-5"},
			Severity:     Must,
			Framings:     []spec.Framing{spec.Line},
			Role:         RoleServer,
			run:          runServerLineEndings,
		},
		&Case{
			ID: "server/end-of-stream",
			Title: "the kit ends its stream before a request, where the ack is due, and (line) inside a request line: " +
				"the server closes without a reply and sends no data",
			Requirements: []string{"REQ-GEN-5", "REQ-SRV-7", "REQ-LINE-6"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerEndOfStream,
		},
		&Case{
			ID: "server/conn-limit",
			Title: "272 idle connections at once: past its limit (default 256) the server answers ERR busy at once " +
				"and closes; within it, it serves",
			Requirements: []string{"REQ-LIM-10", "REQ-ERR-4"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerConnLimit,
		},
	)
}

// refusalProbe is a request the server must refuse with an error reply
// and then close the connection after (bad-request, too-long).
type refusalProbe struct {
	what string // what the request is, for a detail: "a name with a NUL byte"
	raw  []byte // its bytes, sent in one write
	code string // the error code due
	// silence, when set, replaces the detail for a server that sends
	// nothing at all; it gets the kit's timeout as its one argument.
	silence string
	// other, when set, may judge an error reply with another code
	// before the probe fails it.
	other func(er *spec.ErrorReply) (Outcome, bool)
}

// closingRefusal sends p on a fresh connection and expects a well-formed
// ERR p.code, then the server closing the connection with nothing more.
// It returns the error reply with a PASS.
func (x *checker) closingRefusal(ctx context.Context, p refusalProbe) (Outcome, *spec.ErrorReply) {
	x.logf("-- %s", p.what)
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err), nil
	}
	defer k.close()
	if err := k.write(p.raw); err != nil {
		return fail("%v", err), nil
	}
	size, er, err := k.reply(p.what)
	var pe *spec.ProtocolError
	switch {
	case err != nil && isTimeout(err) && p.silence != "":
		return fail(p.silence, x.timeout), nil
	case err != nil && isTimeout(err):
		return fail("the server sent nothing for %v after %s, %s (%s: it must answer ERR %s, never stay silent)",
			x.timeout, p.what, quote(p.raw), reqs("REQ-SRV-4", "REQ-ERR-2"), p.code), nil
	case errors.As(err, &pe):
		return fail("the server answered %s with %s, which is neither a size nor a well-formed error reply (%s)",
			p.what, quote(pe.Data), reqs("REQ-MSG-5", "REQ-MSG-6")), nil
	case errors.Is(err, spec.ErrTooLong):
		return fail("the server answered %s with more than %d bytes where one error reply was due (%s)",
			p.what, spec.MaxControlLen, reqs("REQ-MSG-6", "REQ-LIM-1")), nil
	case err != nil:
		return fail("%s after %s, %s (%s: it must answer ERR %s, not close alone)",
			k.describe(err, "a reply"), p.what, quote(p.raw), reqs("REQ-SRV-4", "REQ-ERR-2"), p.code), nil
	case er == nil:
		return fail("the server announced %d bytes for %s, %s: it must refuse it with ERR %s (%s)",
			size, p.what, quote(p.raw), p.code, reqs("REQ-MSG-2", "REQ-ERR-1")), nil
	}
	if flaw := x.errorReplyFlaw(er); flaw != "" {
		return fail("the server's reply to %s is not a well-formed error reply: %s", p.what, flaw), nil
	}
	if er.Code != p.code {
		if p.other != nil {
			if o, ok := p.other(er); ok {
				return o, nil
			}
		}
		return fail("the server answered %s with ERR %s, want ERR %s (%s)", p.what, er.Code, p.code, reqs("REQ-ERR-1")), nil
	}
	extra, how, closed := k.closeWait()
	switch {
	case len(extra) > 0:
		return fail("after ERR %s the server sent %s more (%s: exactly one reply per request)",
			er.Code, quote(extra), reqs("REQ-SRV-4", "REQ-ERR-4")), nil
	case !closed:
		return fail("after ERR %s for %s the server kept the connection open for %v (%s: after %s the stream may be out of step, so the server closes it)",
			er.Code, p.what, x.timeout, reqs("REQ-ERR-4"), er.Code), nil
	}
	k.logf("(closed by the server: %s)", how)
	return pass(""), er
}

// errorReplyFlaw says how er breaks the form of an error reply (REQ-MSG-6,
// REQ-LIM-4), or returns "". The code was checked when it was parsed.
func (x *checker) errorReplyFlaw(er *spec.ErrorReply) string {
	if len(er.Text) > spec.MaxErrorTextLen {
		return fmt.Sprintf("its text is %d octets, over the %d allowed (%s)", len(er.Text), spec.MaxErrorTextLen, reqs("REQ-MSG-6", "REQ-LIM-4"))
	}
	for i := 0; i < len(er.Text); i++ {
		if c := er.Text[i]; c < 0x20 || c == 0x7f {
			why := reqs("REQ-MSG-6")
			if x.framing == spec.Lockstep && (c == '\n' || c == '\r') && i >= len(er.Text)-2 {
				why = reqs("REQ-MSG-6", "REQ-LOCK-1") + ": a lockstep reply carries no terminator"
			}
			return fmt.Sprintf("its text holds the control byte %#02x at offset %d, in %s (%s)", c, i, quote([]byte(er.Text)), why)
		}
	}
	return ""
}

// closeWaitKeep bounds the bytes closeWait keeps.
const closeWaitKeep = 1024

// closeWait waits about k.timeout for the server to close the connection.
// It returns the bytes that arrived before (at most closeWaitKeep), how
// the connection ended, and closed=false if it was still open when the
// time ran out.
func (k *kitConn) closeWait() (extra []byte, how string, closed bool) {
	start := time.Now()
	body := k.r.Body(math.MaxInt64)
	buf := make([]byte, 512)
	for time.Since(start) < k.timeout && len(extra) < closeWaitKeep {
		n, err := body.Read(buf)
		extra = append(extra, buf[:n]...)
		switch {
		case err == nil:
			continue
		case isTimeout(err):
			k.logf("<- %s, and the connection still open after %v", quote(extra), k.timeout)
			return extra, "", false
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
			how = "end of stream"
		case errors.Is(err, syscall.ECONNRESET):
			how = "connection reset"
		default:
			how = err.Error()
		}
		if len(extra) > 0 {
			k.logf("<- %s (%d bytes), then %s", quote(extra), len(extra), how)
		} else {
			k.logf("<- %s", how)
		}
		return extra, how, true
	}
	k.logf("<- %s (%d bytes), and the connection still open", quote(extra), len(extra))
	return extra, "", false
}

// halfClose ends the kit's sending side: the server reads end of stream
// while the kit can still read what it sends.
func (k *kitConn) halfClose() error {
	cw, ok := k.nc.(interface{ CloseWrite() error })
	if !ok {
		return fmt.Errorf("a %T cannot be half-closed", k.nc)
	}
	k.logf("-> end of stream (the kit half-closes its side)")
	return cw.CloseWrite()
}

// rawLine reads one line as the server sent it, terminator included,
// through the connection's reader: at most MaxControlLen+2 bytes. err is
// io.EOF, a timeout or spec.ErrTooLong when no LF came.
func (k *kitConn) rawLine() ([]byte, error) {
	body := k.r.Body(spec.MaxControlLen + 2)
	var line []byte
	var b [1]byte
	for {
		n, err := body.Read(b[:])
		if n > 0 {
			line = append(line, b[0])
			if b[0] == '\n' {
				return line, nil
			}
		}
		switch {
		case err == io.EOF:
			return line, spec.ErrTooLong
		case errors.Is(err, io.ErrUnexpectedEOF):
			return line, io.EOF
		case err != nil:
			return line, err
		}
	}
}

// fetch fetches name on a fresh connection and checks it against data.
func (x *checker) fetch(ctx context.Context, name string, data []byte) error {
	k, err := x.dial(ctx)
	if err != nil {
		return fmt.Errorf("cannot connect: %w", err)
	}
	defer k.close()
	return k.get(name, data)
}

// announced sends `get name` on a fresh connection and reads the size,
// which must be len(data). On failure k is nil and o says why.
func (x *checker) announced(ctx context.Context, name string, data []byte) (k *kitConn, o Outcome) {
	k, err := x.dial(ctx)
	if err != nil {
		return nil, cannotConnect(err)
	}
	if err := k.request(name); err != nil {
		k.close()
		return nil, fail("%v", err)
	}
	size, er, err := k.reply(name)
	switch {
	case err != nil:
		o = fail("%v", err)
	case er != nil:
		o = fail("the server refused `get %s` (a %d-byte file that exists): %v", name, len(data), er)
	case size != int64(len(data)):
		o = fail("asked for the %d-byte file %q; the server announced %d", len(data), name, size)
	default:
		return k, Outcome{}
	}
	k.close()
	return nil, o
}

func runServerBadRequest(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/bad-request")
	defer fx.remove()
	good := fx.name("good.txt")
	data, err := fx.file(good, 1000)
	if err != nil {
		return setupFailed(err)
	}
	p := fx.name("")
	probes := []struct{ what, content string }{
		{"a request that does not begin with \"get \"", "put " + good},
		{"a request with an empty name", "get "},
		{"a name with a NUL byte", "get " + p + "a\x00b.txt"},
		{"a name that is not valid UTF-8", "get " + p + "\xff\xfe.txt"},
		// Several codes apply; bad-request comes first in the table.
		{"a name that is not valid UTF-8 and leaves the root", "get ../" + p + "\xc3.txt"},
		{"a name with a bare CR inside", "get " + p + "a\rb.txt"},
	}
	var texts []string
	for _, pr := range probes {
		raw := []byte(pr.content)
		if x.framing == spec.Line {
			raw = append(raw, '\n')
		}
		o, er := x.closingRefusal(ctx, refusalProbe{what: pr.what, raw: raw, code: spec.CodeBadRequest})
		if o.Verdict != Pass {
			return o
		}
		texts = append(texts, quote([]byte(er.Text)))
	}
	x.logf("-- a well-formed request on a new connection")
	if err := x.fetch(ctx, good, data); err != nil {
		return fail("after %d malformed requests, a well-formed one on a new connection failed: %v (%s)", len(probes), err, reqs("REQ-SRV-16"))
	}
	return pass("%d malformed requests each got ERR bad-request (texts %s) and a closed connection; then a new connection was served",
		len(probes), strings.Join(texts, ", "))
}

// keepOpenCodes are the codes after which the connection stays open: the
// replies to a valid request.
var keepOpenCodes = map[string]bool{
	spec.CodeNotFound: true, spec.CodeForbidden: true, spec.CodeNotRegular: true, spec.CodeUnreadable: true,
}

func runServerTooLong(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/too-long")
	defer fx.remove()
	good := fx.name("good.txt")
	data, err := fx.file(good, 1000)
	if err != nil {
		return setupFailed(err)
	}
	// long returns an n-octet request: a name of n-4 octets, so it also
	// breaks REQ-MSG-2; too-long comes first in the table (REQ-ERR-1).
	long := func(n int) []byte {
		b := []byte(spec.RequestVerb + fx.name("too-long-"))
		return append(b, bytes.Repeat([]byte("a"), n-len(b))...)
	}
	first := refusalProbe{what: "a 1025-octet request", raw: long(spec.MaxControlLen + 1), code: spec.CodeTooLong}
	if x.framing == spec.Line {
		first.raw = append(first.raw, '\n')
	} else {
		// A lockstep server that reads a control message with room for
		// only 1024 octets (REQ-LOCK-4 is a SHOULD) never receives more
		// than the limit: it sees a valid request for a 1020-octet name.
		first.other = func(er *spec.ErrorReply) (Outcome, bool) {
			if !keepOpenCodes[er.Code] {
				return Outcome{}, false
			}
			return inconclusive("the server answered a 1025-octet request with ERR %s, a reply to a valid request: it seems to read "+
				"a lockstep control message with room for only 1024 octets (REQ-LOCK-4, a SHOULD), so it never receives a message "+
				"over the limit and REQ-LIM-1 cannot be checked here; the line framing can", er.Code), true
		}
	}
	o, er := x.closingRefusal(ctx, first)
	if o.Verdict != Pass {
		return o
	}
	detail := fmt.Sprintf("a 1025-octet request got ERR %s %q and a closed connection", er.Code, er.Text)
	if x.framing == spec.Line {
		endless := refusalProbe{
			what: "a 2000-octet line without its LF",
			raw:  long(2000),
			code: spec.CodeTooLong,
			silence: "the server sent nothing for %v after a 2000-octet line without its LF: it waits for an LF that may never come (" +
				reqs("REQ-LIM-2", "REQ-SEC-9") + ": reject an over-long line as soon as the limit is passed)",
		}
		o, _ := x.closingRefusal(ctx, endless)
		if o.Verdict != Pass {
			return o
		}
		detail += "; so did a 2000-octet line without its LF, at once"
	}
	x.logf("-- a well-formed request on a new connection")
	if err := x.fetch(ctx, good, data); err != nil {
		return fail("after an over-long request, a well-formed one on a new connection failed: %v (%s)", err, reqs("REQ-SRV-16"))
	}
	return pass("%s; then a new connection was served", detail)
}

func runServerSpecialFiles(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/special-files")
	defer fx.remove()
	good := fx.name("good.bin")
	data, err := fx.file(good, 3000)
	if err != nil {
		return setupFailed(err)
	}
	dir := fx.name("a-directory")
	if err := fx.dir(dir); err != nil {
		return setupFailed(err)
	}
	fifo := fx.name("a-fifo")
	fifoPath := filepath.Join(x.server.Root, fifo)
	if err := mkfifo(fifoPath); err != nil {
		return inconclusive("cannot make a FIFO in the server's root: %v (the kit needs one to check REQ-SEC-5)", err)
	}
	fx.paths = append(fx.paths, fifoPath)
	// Before the FIFO is removed: a server blocked opening it for reading
	// returns when a writer opens it (removing it would not free it).
	defer func() {
		if unblockFIFO(fifoPath) {
			x.logf("(the kit opened the FIFO for writing and closed it: a reader was still waiting on it)")
		}
	}()
	x.logf("fixture %q: a directory; fixture %q: a FIFO", dir, fifo)

	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	// refuse asks for name on k and expects ERR not-regular. silent says
	// the server sent nothing within the timeout; o is any other failure.
	refuse := func(name, what string) (er *spec.ErrorReply, silent bool, o Outcome) {
		if err := k.request(name); err != nil {
			return nil, false, fail("%v", err)
		}
		size, er, err := k.reply(name)
		switch {
		case err != nil && isTimeout(err):
			return nil, true, Outcome{}
		case err != nil:
			return nil, false, fail("%v: %s must get ERR %s (%s)", err, what, spec.CodeNotRegular, reqs("REQ-SRV-8", "REQ-SRV-4"))
		case er == nil:
			return nil, false, fail("the server announced %d bytes for %s, %q (%s: only regular files are served)", size, what, name, reqs("REQ-SRV-8"))
		case er.Code != spec.CodeNotRegular:
			return nil, false, fail("the server answered %s with ERR %s, want ERR %s (%s)", what, er.Code, spec.CodeNotRegular, reqs("REQ-SRV-8", "REQ-ERR-1"))
		}
		return er, false, Outcome{}
	}

	// 1. A directory.
	erDir, silent, o := refuse(dir, "a directory")
	switch {
	case silent:
		return fail("the server sent nothing for %v after `get %s`, a directory (%s)", x.timeout, dir, reqs("REQ-SRV-8", "REQ-SRV-4"))
	case erDir == nil:
		return o
	}
	// 2. A FIFO: no writer ever opens it, so a blocking open never returns.
	erFIFO, silent, o := refuse(fifo, "a FIFO")
	switch {
	case silent:
		x.logf("-- a second client, while the first still waits for its reply about the FIFO")
		served := "a second connection was served meanwhile, so only that connection was stuck"
		if err := x.fetch(ctx, good, data); err != nil {
			served = fmt.Sprintf("a second connection was not served either (%v): the whole server was stuck", err)
		}
		if unblockFIFO(fifoPath) {
			served += "; the kit then found the server waiting to read the FIFO (an open without O_NONBLOCK) and freed it"
		}
		return fail("the server sent nothing for %v after `get %s`, a FIFO: it blocked opening or reading it (%s: find the type without blocking, then reply ERR %s); %s",
			x.timeout, fifo, reqs("REQ-SEC-5", "REQ-SRV-8"), spec.CodeNotRegular, served)
	case erFIFO == nil:
		return o
	}
	// 3. Another client, after the FIFO.
	x.logf("-- a second client, after the FIFO")
	if err := x.fetch(ctx, good, data); err != nil {
		return fail("after a request for a FIFO, a new client was not served: %v (%s)", err, reqs("REQ-SEC-5"))
	}
	// 4. The first connection stays usable.
	x.logf("-- the first connection again")
	if err := k.get(good, data); err != nil {
		return fail("after ERR %s the connection must stay usable, but the next request failed: %v (%s)", spec.CodeNotRegular, err, reqs("REQ-ERR-3"))
	}
	return pass("a directory (ERR not-regular %q) and a FIFO (ERR not-regular %q) were refused at once; another client was served, and so was the next request on the same connection",
		erDir.Text, erFIFO.Text)
}

func runServerUnreadable(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/unreadable")
	defer fx.remove()
	locked := fx.name("mode-000.bin")
	if _, err := fx.file(locked, 500); err != nil {
		return setupFailed(err)
	}
	if err := os.Chmod(filepath.Join(x.server.Root, locked), 0); err != nil {
		return setupFailed(fmt.Errorf("cannot take the permissions away from the fixture: %w", err))
	}
	x.logf("fixture %q: mode 000", locked)
	good := fx.name("good.bin")
	data, err := fx.file(good, 800)
	if err != nil {
		return setupFailed(err)
	}
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	if err := k.request(locked); err != nil {
		return fail("%v", err)
	}
	size, er, err := k.reply(locked)
	switch {
	case err != nil && isTimeout(err):
		return fail("the server sent nothing for %v after `get %s`, a file it may not read (%s)", x.timeout, locked, reqs("REQ-SRV-10", "REQ-SRV-4"))
	case err != nil:
		return fail("%v: a file that cannot be opened must get ERR %s (%s)", err, spec.CodeUnreadable, reqs("REQ-SRV-10"))
	case er == nil:
		return inconclusive("the server announced %d bytes for %q: it could read a file with mode 000, so it probably runs as root; "+
			"permission bits cannot make a file unreadable to it", size, locked)
	case er.Code != spec.CodeUnreadable:
		return fail("the server answered a file it may not read with ERR %s, want ERR %s (%s)", er.Code, spec.CodeUnreadable, reqs("REQ-SRV-10", "REQ-ERR-1"))
	}
	if err := k.get(good, data); err != nil {
		return fail("after ERR %s the connection must stay usable, but the next request failed: %v (%s)", spec.CodeUnreadable, err, reqs("REQ-ERR-3", "REQ-SRV-10"))
	}
	return pass("ERR %s %q for a file with mode 000, and the next request on the connection was served", er.Code, er.Text)
}

// changeSize is the size of the files of server/file-changes: more than a
// socket buffer holds, so a streaming server reads the file after the ack.
const changeSize = 256 << 10

func runServerFileChanges(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/file-changes")
	defer fx.remove()
	shrink, grow := fx.name("shrinks.bin"), fx.name("grows.bin")
	dshrink, err := fx.file(shrink, changeSize)
	if err != nil {
		return setupFailed(err)
	}
	dgrow, err := fx.file(grow, changeSize)
	if err != nil {
		return setupFailed(err)
	}
	more := fx.content("appended", 64<<10)
	o1, ok := x.shrinkProbe(ctx, shrink, dshrink)
	if !ok {
		return o1
	}
	o2, ok := x.growProbe(ctx, grow, dgrow, more, fx.name("missing.bin"))
	if !ok {
		return o2
	}
	return pass("%s; %s", o1.Detail, o2.Detail)
}

// readUpTo reads at most n data bytes and returns them with the error
// that stopped it before n (nil when all n arrived).
func (k *kitConn) readUpTo(n int64) ([]byte, error) {
	var got bytes.Buffer
	_, err := io.Copy(&got, struct{ io.Reader }{k.r.Body(n)})
	if err != nil {
		k.logf("<- data %d of %d bytes (md5 %s), then %s", got.Len(), n, md5hex(got.Bytes()), netWords(err))
	} else {
		k.logf("<- data %d bytes (md5 %s)", got.Len(), md5hex(got.Bytes()))
	}
	return got.Bytes(), err
}

// commonPrefix returns how many leading bytes a and b share.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// foreignBytes names what a server sent in place of file content.
func foreignBytes(bad, before []byte) string {
	switch {
	case len(bad) >= spec.DigestLen && string(bad[:spec.DigestLen]) == md5hex(before):
		return fmt.Sprintf("a digest, the MD5 of the %d bytes before it", len(before))
	case len(bytes.Trim(bad, "\x00")) == 0:
		return "zero bytes: padding"
	}
	return "bytes that are not the file's content"
}

// shrinkProbe requests name, truncates the file to half its size after
// the size and before the ack, and judges what the server sends.
func (x *checker) shrinkProbe(ctx context.Context, name string, data []byte) (Outcome, bool) {
	x.logf("-- the file shrinks after the size")
	k, o := x.announced(ctx, name, data)
	if k == nil {
		return o, false
	}
	defer k.close()
	size, half := int64(len(data)), int64(len(data)/2)
	if err := os.Truncate(filepath.Join(x.server.Root, name), half); err != nil {
		return setupFailed(fmt.Errorf("cannot truncate the fixture: %w", err)), false
	}
	x.logf("(the kit truncated %q from %d to %d bytes after the size, before its ack)", name, size, half)
	if err := k.ack(); err != nil {
		return fail("%v", err), false
	}
	got, rerr := k.readUpTo(size)
	const rule = "a server whose file comes up short closes the connection without a digest and does not pad"
	if same := commonPrefix(got, data); same < len(got) {
		return fail("the file shrank from %d to %d bytes after the size; the server sent %d bytes of it, then %d bytes of %s: %s (%s: %s)",
			size, half, same, len(got)-same, foreignBytes(got[same:], got[:same]), quote(got[same:min(len(got), same+40)]),
			reqs("REQ-SRV-9", "REQ-ERR-6"), rule), false
	}
	if int64(len(got)) < size {
		switch {
		case isTimeout(rerr):
			return fail("the file shrank from %d to %d bytes after the size; the server sent %d of the %d announced bytes and then neither more nor closed the connection for %v (%s: %s)",
				size, half, len(got), size, x.timeout, reqs("REQ-SRV-9", "REQ-ERR-6"), rule), false
		case rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, syscall.ECONNRESET):
			return fail("the file shrank after the size: %s after %d of the %d announced bytes", k.describe(rerr, "the rest of the data"), len(got), size), false
		}
		return pass("the file shrank from %d to %d bytes after the size: the server sent %d bytes of it and closed the connection without a digest",
			size, half, len(got)), true
	}
	d, err := k.r.ReadDigest()
	switch {
	case err != nil:
		return fail("the file shrank after the size, yet the server sent all %d announced bytes of its old content, then: %s (%s: having them all, it sends their digest)",
			size, k.describe(err, "the 32-byte digest"), reqs("REQ-SRV-9", "REQ-MSG-10")), false
	case d != md5hex(data):
		return fail("the file shrank after the size; the server sent all %d announced bytes of its old content, but a digest that does not match them (sent %s, data hashes to %s) (%s)",
			size, d, md5hex(data), reqs("REQ-MSG-10")), false
	}
	k.logf("<- digest %q", d)
	return pass("the file shrank from %d to %d bytes after the size: the server sent all %d announced bytes of the old content with their digest "+
		"(it had read the file before the ack: consistent, and allowed)", size, half, size), true
}

// growProbe requests name, appends more to the file after the size and
// before the ack, and checks that exactly the announced bytes and their
// digest arrive, and nothing more: the next reply follows at once.
func (x *checker) growProbe(ctx context.Context, name string, data, more []byte, missing string) (Outcome, bool) {
	x.logf("-- the file grows after the size")
	k, o := x.announced(ctx, name, data)
	if k == nil {
		return o, false
	}
	defer k.close()
	size := int64(len(data))
	f, err := os.OpenFile(filepath.Join(x.server.Root, name), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.Write(more)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return setupFailed(fmt.Errorf("cannot append to the fixture: %w", err)), false
	}
	x.logf("(the kit appended %d bytes to %q after the size, before its ack)", len(more), name)
	if err := k.ack(); err != nil {
		return fail("%v", err), false
	}
	grew := fmt.Sprintf("the file grew from %d to %d bytes after the size", size, size+int64(len(more)))
	got, rerr := k.readUpTo(size)
	if same := commonPrefix(got, data); same < len(got) {
		return fail("%s; from byte %d on, the data the server sent differs from the file's first %d bytes (%s)", grew, same, size, reqs("REQ-SRV-9")), false
	}
	if rerr != nil {
		return fail("%s; %s after %d of the %d announced bytes (%s: it sends the first SIZE bytes)",
			grew, k.describe(rerr, "the rest of the data"), len(got), size, reqs("REQ-SRV-9")), false
	}
	d := make([]byte, spec.DigestLen)
	n, err := io.ReadFull(k.r.Body(spec.DigestLen), d)
	k.logf("<- %s (%d bytes where the digest is due)", quote(d[:n]), n)
	if err != nil {
		return fail("%s; the server sent the %d announced bytes, then %s", grew, size, k.describe(err, "the 32-byte digest")), false
	}
	if want := md5hex(data); string(d) != want {
		why := fmt.Sprintf("the 32 bytes after the data, %s, are not their digest %s", quote(d), want)
		switch {
		case commonPrefix(d, more) > 0:
			why = fmt.Sprintf("what follows them begins with %s, the file's new bytes: the server sent bytes past the announced size", quote(d[:commonPrefix(d, more)]))
		case string(d) == md5hex(append(append([]byte{}, data...), more...)):
			why = "the digest that follows is of the whole grown file, not of the bytes sent"
		}
		return fail("%s; the server sent the %d announced bytes, but %s (%s: only the first SIZE octets, and the digest of those)",
			grew, size, why, reqs("REQ-SRV-9", "REQ-MSG-10")), false
	}
	// Nothing may follow: the next bytes are the next reply.
	if err := k.request(missing); err != nil {
		return fail("%v", err), false
	}
	if _, er, err := k.reply(missing); err != nil || er == nil {
		if err == nil {
			err = errors.New("a size for a file that does not exist")
		}
		return fail("%s; the server sent the %d announced bytes and their digest, but the next reply on the connection was wrong: %v: bytes past the digest? (%s)",
			grew, size, err, reqs("REQ-SRV-9")), false
	}
	return pass("%s: the server sent exactly the %d announced bytes and their digest, and nothing more", grew, size), true
}

func runServerLineEndings(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/line-endings")
	defer fx.remove()
	a, b := fx.name("crlf.bin"), fx.name("lf.bin")
	da, err := fx.file(a, 1500)
	if err != nil {
		return setupFailed(err)
	}
	db, err := fx.file(b, 700)
	if err != nil {
		return setupFailed(err)
	}
	missing := fx.name("missing.bin")
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()

	// line sends raw and reads the reply line as sent.
	line := func(raw, after string) ([]byte, Outcome, bool) {
		if err := k.write([]byte(raw)); err != nil {
			return nil, fail("%v", err), false
		}
		l, err := k.rawLine()
		if err == nil {
			k.logf("<- %s (%d bytes)", quote(l), len(l))
			return l, Outcome{}, true
		}
		k.logf("<- %s, then %s", quote(l), netWords(err))
		switch {
		case errors.Is(err, spec.ErrTooLong):
			return nil, fail("the server sent %d bytes and no LF after %s (%s)", len(l), after, reqs("REQ-LINE-1", "REQ-LIM-1")), false
		case len(l) > 0 && isTimeout(err):
			return nil, fail("the server sent %s after %s, and no LF within %v (%s: every reply ends with a line terminator)",
				quote(l), after, x.timeout, reqs("REQ-LINE-1")), false
		case len(l) > 0:
			return nil, fail("the server sent %s after %s, then %s, with no LF (%s)", quote(l), after, netWords(err), reqs("REQ-LINE-1")), false
		case isTimeout(err):
			return nil, fail("the server sent nothing for %v after %s (%s)", x.timeout, after, reqs("REQ-LINE-3", "REQ-SRV-4")), false
		}
		return nil, fail("the server ended the connection (%s) without a reply after %s (%s)", netWords(err), after, reqs("REQ-LINE-3", "REQ-SRV-4")), false
	}
	// served checks that l announces the file data, then fetches it.
	served := func(l []byte, name, after string, data []byte) (Outcome, bool) {
		size, err := spec.ParseReply(spec.TrimLine(l))
		var er *spec.ErrorReply
		switch {
		case errors.As(err, &er):
			return fail("the server refused %s: %s (%s: the CR is part of the terminator, not of the name)",
				after, quote(l), reqs("REQ-LINE-3")), false
		case err != nil:
			return fail("the reply to %s, %s, is neither a size nor an error reply (%s)", after, quote(l), reqs("REQ-LINE-3", "REQ-MSG-5")), false
		case size != int64(len(data)):
			return fail("asked for the %d-byte file %q; the server announced %d", len(data), name, size), false
		}
		if err := k.ack(); err != nil {
			return fail("%v", err), false
		}
		if err := k.receive(name, data); err != nil {
			return fail("after %s: %v", after, err), false
		}
		return Outcome{}, true
	}

	// 1. A request ending with CRLF, for a file.
	after := fmt.Sprintf("`get %s` ending with CRLF", a)
	l1, o, ok := line(spec.RequestVerb+a+"\r\n", after)
	if !ok {
		return o
	}
	if o, ok := served(l1, a, after, da); !ok {
		return o
	}
	// 2. Right after the digest, a request for a missing file: the first
	// bytes to arrive must be its reply.
	after = fmt.Sprintf("`get %s` ending with CRLF, sent after a digest", missing)
	l2, o, ok := line(spec.RequestVerb+missing+"\r\n", after)
	if !ok {
		return o
	}
	if len(spec.TrimLine(l2)) == 0 {
		return fail("after the digest of %q the server sent %s, a line terminator, before the reply to the next request (%s: the digest carries no terminator)",
			a, quote(l2), reqs("REQ-LINE-5"))
	}
	var er *spec.ErrorReply
	if _, err := spec.ParseReply(spec.TrimLine(l2)); !errors.As(err, &er) {
		return fail("the reply to %s is %s, not an error reply (the file does not exist): bytes left over from the digest? (%s)",
			after, quote(l2), reqs("REQ-LINE-5", "REQ-SRV-5"))
	}
	// 3. A request ending with LF, after the error reply.
	after = fmt.Sprintf("`get %s` ending with LF", b)
	l3, o, ok := line(spec.RequestVerb+b+"\n", after)
	if !ok {
		return o
	}
	if o, ok := served(l3, b, after, db); !ok {
		return o
	}
	return pass("a request ending with CRLF was served and another refused; the replies %s, %s and %s each ended with LF; after each digest the next bytes were the next reply",
		quote(l1), quote(l2), quote(l3))
}

func runServerEndOfStream(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/end-of-stream")
	defer fx.remove()
	name := fx.name("ack-due.bin")
	data, err := fx.file(name, 4096)
	if err != nil {
		return setupFailed(err)
	}
	// closed ends the kit's stream on k and judges what the server sends
	// before it closes; what and why go into a failure's detail.
	closed := func(k *kitConn, what string, ids ...string) (extra []byte, o Outcome, ok bool) {
		defer k.close()
		if err := k.halfClose(); err != nil {
			return nil, inconclusive("the kit cannot end its stream and go on reading: %v", err), false
		}
		extra, _, ok = k.closeWait()
		if !ok && len(extra) == 0 {
			return nil, fail("%s; the server neither replied nor closed the connection within %v (%s)", what, x.timeout, reqs(ids...)), false
		}
		return extra, Outcome{}, true
	}

	// 1. A client that leaves without sending a byte.
	x.logf("-- a client that ends its stream before sending a byte")
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	what := "a client connected and ended its stream without sending a byte"
	extra, o, ok := closed(k, what, "REQ-GEN-5")
	if !ok {
		return o
	}
	if len(extra) > 0 {
		return fail("%s; the server sent %s (%s: that client left; close without a reply)", what, quote(extra), reqs("REQ-GEN-5"))
	}

	// 2. A client that ends its stream where the ack is due.
	x.logf("-- a client that ends its stream where its ack is due")
	k, o = x.announced(ctx, name, data)
	if k == nil {
		return o
	}
	what = "after the size the kit ended its stream instead of sending its ack"
	extra, o, ok = closed(k, what, "REQ-GEN-5")
	if !ok {
		return o
	}
	if len(extra) > 0 {
		return fail("%s; the server sent %d bytes anyway (%s): it took the end of stream as an ack, as the tutorial's server does when conn.recv(1024) returns b\"\" (%s: an end of stream where a message is due is a truncation, and no data goes out before an ack)",
			what, len(extra), quote(extra[:min(len(extra), 16)]), reqs("REQ-GEN-5", "REQ-SRV-7"))
	}
	detail := "the server closed without a reply when a client left before a request, and sent no data when a client left where its ack was due"

	// 3. Line framing: a request line cut short by the end of stream.
	if x.framing == spec.Line {
		x.logf("-- a client that ends its stream inside a request line")
		k, err := x.dial(ctx)
		if err != nil {
			return cannotConnect(err)
		}
		if err := k.write([]byte(spec.RequestVerb + name)); err != nil {
			k.close()
			return fail("%v", err)
		}
		what = fmt.Sprintf("the kit sent `get %s` without its LF and ended its stream", name)
		extra, o, ok := closed(k, what, "REQ-GEN-5", "REQ-LINE-6")
		if !ok {
			return o
		}
		first, _, _ := bytes.Cut(extra, []byte("\n"))
		if _, err := spec.ParseSize(spec.TrimLine(first)); err == nil {
			return fail("%s; the server answered %s: it acted on a partial line (%s)", what, quote(extra), reqs("REQ-LINE-6", "REQ-GEN-5"))
		}
		if len(extra) > 0 {
			detail += fmt.Sprintf("; a request line cut short by the end of stream got %s and no size", quote(extra))
		} else {
			detail += "; a request line cut short by the end of stream was not acted on"
		}
	}
	return pass("%s", detail)
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

func runServerConnLimit(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/conn-limit")
	defer fx.remove()
	good := fx.name("good.bin")
	data, err := fx.file(good, 2000)
	if err != nil {
		return setupFailed(err)
	}
	var conns []*kitConn
	defer func() {
		for _, k := range conns {
			k.close()
		}
	}()
	// The many connections do not log: only the ones the case judges do.
	quiet := func(string, ...any) {}
	for i := 0; i < connLimitProbe; i++ {
		k, err := x.dialLog(ctx, quiet)
		switch {
		case err != nil && i == 0:
			return cannotConnect(err)
		case err != nil:
			return fail("with %d connections open, connection %d could not connect: %v (%s: a connection over the limit is accepted and answered ERR busy)",
				i, i+1, err, reqs("REQ-LIM-10"))
		}
		conns = append(conns, k)
	}
	n := len(conns)
	x.logf("%d connections open at once; the kit sends nothing on them and listens for %v", n, min(busyWait, x.timeout))

	// Every connection has until the same deadline to say something.
	type heard struct {
		b      []byte
		closed bool
	}
	got := make([]heard, n)
	deadline := time.Now().Add(min(busyWait, x.timeout))
	var wg sync.WaitGroup
	for i, k := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.nc.SetReadDeadline(deadline)
			buf := make([]byte, spec.MaxControlLen+2)
			var m int
			for m < len(buf) {
				r, err := k.nc.Read(buf[m:])
				m += r
				if err != nil {
					got[i] = heard{buf[:m], !isTimeout(err)}
					return
				}
			}
			got[i] = heard{buf[:m], false}
		}()
	}
	wg.Wait()
	first := -1
	for i, h := range got {
		if len(h.b) > 0 || h.closed {
			first = i
			break
		}
	}

	if first < 0 {
		// No ERR busy: either every connection is served, or the later
		// ones wait in the listen queue. The last one tells.
		last := conns[n-1]
		last.logf = x.logf
		x.logf("-- connection %d, with all %d open", n, n)
		if err := last.get(good, data); err != nil {
			if isTimeout(err) {
				return fail("with %d connections open none got ERR busy, and the request on connection %d went unanswered for %v: it seems to wait in the listen queue (%s: a connection over the limit is accepted and answered ERR busy at once, never left waiting)",
					n, n, x.timeout, reqs("REQ-LIM-10", "REQ-SRV-4"))
			}
			return fail("with %d connections open none got ERR busy, and on connection %d: %v (%s)", n, n, err, reqs("REQ-LIM-10"))
		}
		return inconclusive("the server served %d connections at once without ERR busy: its limit is above %d, or it has none, and the kit cannot tell which (REQ-LIM-10; the default limit is 256)", n, n)
	}

	h, k := got[first], conns[first]
	k.logf = x.logf
	then := ""
	if h.closed {
		then = ", then closed"
	}
	k.logf("-- connection %d of %d: %s (%d bytes)%s", first+1, n, quote(h.b), len(h.b), then)
	at := fmt.Sprintf("connection %d of %d open at once", first+1, n)
	reply := h.b
	if x.framing == spec.Line {
		line, _, ok := bytes.Cut(h.b, []byte("\n"))
		if !ok {
			return fail("%s got %s, with no LF (%s)", at, quote(h.b), reqs("REQ-LINE-1", "REQ-LIM-10"))
		}
		reply = spec.TrimLine(line)
	}
	var er *spec.ErrorReply
	if _, err := spec.ParseReply(reply); !errors.As(err, &er) {
		return fail("%s got %s where ERR busy or nothing was due (%s)", at, quote(h.b), reqs("REQ-LIM-10", "REQ-MSG-5"))
	}
	switch {
	case er.Code != spec.CodeBusy:
		return fail("%s got ERR %s before sending anything, want ERR %s (%s)", at, er.Code, spec.CodeBusy, reqs("REQ-LIM-10", "REQ-ERR-1"))
	case er.Text == "":
		return fail("%s got ERR busy with no text (%s: ERR busy with a text)", at, reqs("REQ-LIM-10"))
	}
	if flaw := x.errorReplyFlaw(er); flaw != "" {
		return fail("%s got ERR busy, but not a well-formed error reply: %s", at, flaw)
	}
	if !h.closed {
		extra, _, closed := k.closeWait()
		switch {
		case len(extra) > 0:
			return fail("after ERR busy, %s was sent %s more (%s)", at, quote(extra), reqs("REQ-LIM-10", "REQ-SRV-4"))
		case !closed:
			return fail("after ERR busy, %s stayed open for %v more (%s: close it)", at, x.timeout, reqs("REQ-LIM-10", "REQ-ERR-4"))
		}
	}
	if first > 0 {
		x.logf("-- connection 1, within the limit")
		conns[0].logf = x.logf
		if err := conns[0].get(good, data); err != nil {
			return fail("connection %d got ERR busy, but connection 1, held idle within the limit, was not served: %v (%s)", first+1, err, reqs("REQ-LIM-10", "REQ-SRV-14"))
		}
	}

	// Once the kit's connections are gone, the server serves again.
	for _, k := range conns {
		k.close()
	}
	conns = nil
	x.logf("-- the kit closed its %d connections; a new one must be served", n)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		logf := quiet
		if time.Since(start)+retryPause > x.timeout {
			logf = x.logf // the last attempt shows in the log
		}
		k, err := x.dialLog(ctx, logf)
		if err == nil {
			err = k.get(good, data)
			k.close()
		}
		if err == nil {
			return pass("with %d idle connections open, %d were held, connection %d got ERR busy %q at once and was closed; once the kit closed them, a new connection was served (attempt %d)",
				n, first, first+1, er.Text, attempt)
		}
		if time.Since(start)+retryPause > x.timeout || ctx.Err() != nil {
			return fail("the kit closed its %d connections, yet for %v no new connection was served: %v (%s: closed connections leave the count)",
				n, x.timeout, err, reqs("REQ-LIM-10"))
		}
		time.Sleep(retryPause) // the server under test frees its count on its own schedule
	}
}
