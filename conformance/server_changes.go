package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// The server case about files that change while they are sent: between
// the size and the ack the kit shrinks one file and grows another. The
// server must send exactly SIZE bytes and their digest, or close without a
// digest when the file comes up short. The kit changes its fixtures
// through the descriptors it created them with, never by name (see
// fixtures.go): a server that swaps a file for a symbolic link to another
// cannot make the kit write there, and is caught tampering.

// changeSize is the size of the files of server/file-changes: more than a
// socket buffer holds, so a streaming server reads the file after the ack.
const changeSize = 256 << 10

// settleAge is how long server/file-changes leaves a third file unchanged
// before it fetches it twice: longer than a server that remembers digests
// waits for a version to settle before it remembers one (REQ-SRV-18,
// condition 3; the reference server waits 3 s), so that such a server
// remembers the digest the first time and sends it from memory the second.
const settleAge = 3500 * time.Millisecond

func runServerFileChanges(ctx context.Context, x *serverCheck) Outcome {
	fs, err := x.fx.files(sized{"shrinks.bin", changeSize}, sized{"grows.bin", changeSize}, sized{"settles.bin", changeSize})
	if err != nil {
		return setupFailed(err)
	}
	// The kit's last change of the files was before this instant.
	settled := time.Now().Add(settleAge)
	more := x.fx.content("appended", 64<<10)
	o1, ok := x.shrinkProbe(ctx, fs[0].name, fs[0].data)
	if !ok {
		return x.unlessTampered(o1)
	}
	o2, ok := x.growProbe(ctx, fs[1].name, fs[1].data, more, x.fx.name("missing.bin"))
	if !ok {
		return x.unlessTampered(o2)
	}
	o3, ok := x.settledProbe(ctx, fs[2].name, fs[2].data, settled)
	if !ok {
		return x.unlessTampered(o3)
	}
	return x.unlessTampered(pass("%s; %s; %s", o1, o2, o3))
}

// settledProbe waits until at, when name has not changed for settleAge,
// then fetches it twice, each time on a fresh connection: both times the
// server must send exactly the file and its digest, whether it hashes the
// data or sends a digest it remembers from the first time.
func (x *serverCheck) settledProbe(ctx context.Context, name string, data []byte, at time.Time) (Outcome, bool) {
	x.logf("-- a file unchanged for %v, fetched twice", settleAge)
	t := time.NewTimer(time.Until(at))
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return interrupted(ctx, "the case was stopped while its last file settled"), false
	}
	for i, what := range []string{"first", "second"} {
		if err := x.fetch(ctx, name, data); err != nil {
			return fail("a file unchanged for %v, fetched twice: the %s time, %v (%s: the same file and its digest each time, "+
				"from a remembered digest or not)", settleAge, what, err, append(sizesCites(err), "REQ-SRV-18")), false
		}
		x.logf("(fetch %d of %q: byte-exact with its digest)", i+1, name)
	}
	return pass("a file unchanged for %v arrived byte-exact with its digest twice", settleAge), true
}

// unlessTampered returns o, unless the server replaced, removed or renamed
// one of the case's fixtures: then that explains whatever else the kit saw,
// and the case fails for it (a server only reads). A FAIL that already
// says so stands.
func (x *serverCheck) unlessTampered(o Outcome) Outcome {
	t := x.fx.tampered()
	if len(t) == 0 || slices.Contains(o.Cites(), "REQ-SRV-19") || o.Verdict == Error {
		return o
	}
	return fail("the server changed the files it serves: %s, where the kit had made a file (%s: a server only reads)",
		strings.Join(t, ", "), cite("REQ-SRV-19"))
}

// changeFailed is the outcome of a change of a fixture the kit could not
// make: the server's tampering, or the kit's own setup.
func (x *serverCheck) changeFailed(name, what string, err error) Outcome {
	if errors.Is(err, errTampered) {
		return fail("after the size, before the kit could change %q, the server had replaced it: %v; the kit changed nothing (%s: a server only reads the files it serves)",
			name, err, cite("REQ-SRV-19"))
	}
	return setupFailed(fmt.Errorf("cannot %s the fixture: %w", what, err))
}

// foreignBytes names what a server sent in place of file content.
func foreignBytes(bad, before []byte) string {
	switch {
	case len(bad) >= spec.DigestLen && string(bad[:spec.DigestLen]) == digestOf(before):
		return fmt.Sprintf("a digest, the MD5 of the %d bytes before it", len(before))
	case len(bytes.Trim(bad, "\x00")) == 0:
		return "zero bytes: padding"
	}
	return "bytes that are not the file's content"
}

// shrinkProbe requests name, truncates the file to half its size after
// the size and before the ack, and judges what the server sends.
func (x *serverCheck) shrinkProbe(ctx context.Context, name string, data []byte) (Outcome, bool) {
	x.logf("-- the file shrinks after the size")
	k, o := x.announced(ctx, name, data)
	if k == nil {
		return o, false
	}
	defer k.close()
	size, half := int64(len(data)), int64(len(data)/2)
	if err := x.fx.truncate(name, half); err != nil {
		return x.changeFailed(name, "truncate", err), false
	}
	x.logf("(the kit truncated %q from %d to %d bytes after the size, before its ack)", name, size, half)
	if err := k.ack(); err != nil {
		return fail("%v", err), false
	}
	got, rerr := k.readUpTo(size)
	const rule = "a server whose file comes up short closes the connection without a digest and does not pad"
	rules := cite("REQ-SRV-9", "REQ-ERR-6")
	if same := firstDiff(got, data); same < len(got) {
		return fail("the file shrank from %d to %d bytes after the size; the server sent %d bytes of it, then %d bytes of %s: %s (%s: %s)",
			size, half, same, len(got)-same, foreignBytes(got[same:], got[:same]), quote(got[same:min(len(got), same+40)]),
			rules, rule), false
	}
	if int64(len(got)) < size {
		switch {
		case isTimeout(rerr):
			return fail("the file shrank from %d to %d bytes after the size; the server sent %d of the %d announced bytes and then neither more nor closed the connection for %v (%s: %s)",
				size, half, len(got), size, x.timeout, rules, rule), false
		case rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, syscall.ECONNRESET):
			return fail("the file shrank after the size: %s after %d of the %d announced bytes", describe(rerr, x.timeout, "the rest of the data"), len(got), size), false
		}
		return pass("the file shrank from %d to %d bytes after the size: the server sent %d bytes of it and closed the connection without a digest",
			size, half, len(got)), true
	}
	if k.digest == spec.DigestNone {
		return pass("the file shrank from %d to %d bytes after the size: the server sent all %d announced bytes of the old content "+
			"(it had read the file before the ack: consistent, and allowed)", size, half, size), true
	}
	d, err := k.r.ReadDigest()
	switch {
	case err != nil:
		return fail("the file shrank after the size, yet the server sent all %d announced bytes of its old content, then: %s (%s: having them all, it sends their digest)",
			size, describe(err, x.timeout, "the 32-byte digest"), cite("REQ-SRV-9", "REQ-MSG-10")), false
	case d != digestOf(data):
		return fail("the file shrank after the size; the server sent all %d announced bytes of its old content, but a digest that does not match them (sent %s, data hashes to %s) (%s)",
			size, d, digestOf(data), cite("REQ-MSG-10")), false
	}
	k.logf("<- digest %q", d)
	return pass("the file shrank from %d to %d bytes after the size: the server sent all %d announced bytes of the old content with their digest "+
		"(it had read the file before the ack: consistent, and allowed)", size, half, size), true
}

// growProbe requests name, appends more to the file after the size and
// before the ack, and checks that exactly the announced bytes and their
// digest arrive, and nothing more: the next reply follows at once.
func (x *serverCheck) growProbe(ctx context.Context, name string, data, more []byte, missing string) (Outcome, bool) {
	x.logf("-- the file grows after the size")
	k, o := x.announced(ctx, name, data)
	if k == nil {
		return o, false
	}
	defer k.close()
	if err := x.fx.appendTo(name, more); err != nil {
		return x.changeFailed(name, "append to", err), false
	}
	x.logf("(the kit appended %d bytes to %q after the size, before its ack)", len(more), name)
	if err := k.ack(); err != nil {
		return fail("%v", err), false
	}
	size := int64(len(data))
	grew := fmt.Sprintf("the file grew from %d to %d bytes after the size", size, size+int64(len(more)))
	got, rerr := k.readUpTo(size)
	if same := firstDiff(got, data); same < len(got) {
		return fail("%s; from byte %d on, the data the server sent differs from the file's first %d bytes (%s)", grew, same, size, cite("REQ-SRV-9")), false
	}
	if rerr != nil {
		return fail("%s; %s after %d of the %d announced bytes (%s: it sends the first SIZE bytes)",
			grew, describe(rerr, x.timeout, "the rest of the data"), len(got), size, cite("REQ-SRV-9")), false
	}
	if o, ok := grownDigest(k, grew, data, more); !ok {
		return o, false
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
			grew, size, err, cite("REQ-SRV-9")), false
	}
	return pass("%s: the server sent exactly the %d announced bytes and their digest, and nothing more", grew, size), true
}

// grownDigest reads the 32 bytes due after the data of a file that grew
// by more after its size was sent: they must be the digest of data.
func grownDigest(k *kitConn, grew string, data, more []byte) (Outcome, bool) {
	if k.digest == spec.DigestNone {
		return Outcome{}, true // no digest: the next reply follows the data
	}
	d := make([]byte, spec.DigestLen)
	n, err := io.ReadFull(k.r.Body(spec.DigestLen), d)
	k.logf("<- %s (%d bytes where the digest is due)", quote(d[:n]), n)
	if err != nil {
		return fail("%s; the server sent the %d announced bytes, then %s", grew, len(data), describe(err, k.timeout, "the 32-byte digest")), false
	}
	want := digestOf(data)
	if string(d) == want {
		return Outcome{}, true
	}
	why := fmt.Sprintf("the 32 bytes after the data, %s, are not their digest %s", quote(d), want)
	switch n := firstDiff(d, more); {
	case n > 0:
		why = fmt.Sprintf("what follows them begins with %s, the file's new bytes: the server sent bytes past the announced size", quote(d[:n]))
	case string(d) == digestOf(append(append([]byte{}, data...), more...)):
		why = "the digest that follows is of the whole grown file, not of the bytes sent"
	}
	return fail("%s; the server sent the %d announced bytes, but %s (%s: only the first SIZE octets, and the digest of those)",
		grew, len(data), why, cite("REQ-SRV-9", "REQ-MSG-10")), false
}
