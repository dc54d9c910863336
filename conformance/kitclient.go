package conformance

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/spec"
)

// This file holds what the server cases share: the kit's own low-level
// client (kitConn), which speaks the exchange message by message through
// the spec encoders and one spec.Reader per connection, logs every message
// at byte level and turns every failure into a sentence a learner can act
// on; and the fixtures the kit writes into the server's root.

// kitConn is one connection from the kit to the server under test. Every
// read and every write is bounded by timeout; a read that waits longer is
// the server's silence.
type kitConn struct {
	nc      net.Conn
	r       *spec.Reader
	f       spec.Framing
	timeout time.Duration
	logf    func(format string, a ...any)
	stop    func() bool

	// slow, when set, makes the kit a slow reader (server/slow-reader).
	slow *slowRead
}

// slowRead paces the kit's socket reads: at most Chunk bytes per read, a
// pause of Pause after every Every reads, and one longer Stall once
// StallAfter bytes have arrived.
type slowRead struct {
	Chunk      int           // bytes per read, at most
	Every      int           // reads between pauses
	Pause      time.Duration // length of each pause
	StallAfter int64         // bytes read before the stall
	Stall      time.Duration // length of the stall

	reads   int
	bytes   int64
	stalled bool
}

// dial connects to the server under test, logging to x's log.
func (x *checker) dial(ctx context.Context) (*kitConn, error) {
	return x.dialLog(ctx, x.logf)
}

// dialLog connects to the server under test and logs to logf, which lets
// concurrent clients keep separate logs. The connection is closed when ctx
// is done, so a case returns promptly once its run is cancelled.
func (x *checker) dialLog(ctx context.Context, logf func(string, ...any)) (*kitConn, error) {
	d := net.Dialer{Timeout: x.timeout}
	nc, err := d.DialContext(ctx, "tcp", x.server.Addr)
	if err != nil {
		return nil, err
	}
	k := &kitConn{nc: nc, f: x.framing, timeout: x.timeout, logf: logf}
	k.r = spec.NewReader(timedReader{k}, x.framing)
	k.stop = context.AfterFunc(ctx, func() { nc.Close() })
	logf("connected %s -> %s (%s framing)", nc.LocalAddr(), nc.RemoteAddr(), x.framing)
	return k, nil
}

// cannotConnect is the outcome of a case that could not reach the server.
func cannotConnect(err error) Outcome {
	return fail("cannot connect: %v", err)
}

// close closes the connection.
func (k *kitConn) close() {
	k.stop()
	k.nc.Close()
}

// timedReader reads from the connection under a fresh deadline per read.
type timedReader struct{ k *kitConn }

func (t timedReader) Read(p []byte) (int, error) {
	k := t.k
	if s := k.slow; s != nil {
		if len(p) > s.Chunk {
			p = p[:s.Chunk]
		}
		// The slowness is the condition under test, not synchronisation.
		if s.reads++; s.reads%s.Every == 0 {
			time.Sleep(s.Pause)
		}
		if !s.stalled && s.bytes >= s.StallAfter {
			s.stalled = true
			k.logf("(the kit stops reading for %v after %d bytes)", s.Stall, s.bytes)
			time.Sleep(s.Stall)
		}
	}
	k.nc.SetReadDeadline(time.Now().Add(k.timeout))
	n, err := k.nc.Read(p)
	if k.slow != nil {
		k.slow.bytes += int64(n)
	}
	return n, err
}

// write sends b in one write call under a deadline and logs it.
func (k *kitConn) write(b []byte) error {
	k.nc.SetWriteDeadline(time.Now().Add(k.timeout))
	n, err := k.nc.Write(b)
	k.nc.SetWriteDeadline(time.Time{})
	k.logf("-> %s (%d bytes)", quote(b[:n]), n)
	if err != nil {
		return fmt.Errorf("the kit could not send %s: %s", quote(b), netWords(err))
	}
	return nil
}

// request sends "get NAME" in one write.
func (k *kitConn) request(name string) error {
	b, err := spec.EncodeRequest(k.f, name)
	if err != nil {
		return fmt.Errorf("the kit cannot encode a request for %q: %w", name, err)
	}
	return k.write(b)
}

// ack sends the acknowledgement in one write.
func (k *kitConn) ack() error { return k.write(spec.EncodeAck(k.f)) }

// reply reads the server's answer to `get name`. It returns the size, or
// the error reply as er; err describes any other outcome for a learner.
func (k *kitConn) reply(name string) (size int64, er *spec.ErrorReply, err error) {
	size, err = k.r.ReadReply()
	switch {
	case err == nil:
		b, _ := spec.EncodeSize(k.f, size)
		k.logf("<- %s (%d bytes)", quote(b), len(b))
		return size, nil, nil
	case errors.As(err, &er):
		b := spec.EncodeError(k.f, er.Code, er.Text)
		k.logf("<- %s (%d bytes)", quote(b), len(b))
		return 0, er, nil
	}
	k.logf("<- %s", netWords(err))
	return 0, nil, &kitError{fmt.Sprintf("%s after `get %s`", k.describe(err, "a reply (a size or an error reply)"), name), err}
}

// kitError is a failure told in a learner's words that still wraps the
// error behind it, so a case can tell a timeout from a close.
type kitError struct {
	msg string
	err error
}

func (e *kitError) Error() string { return e.msg }
func (e *kitError) Unwrap() error { return e.err }

// isTimeout reports whether err is a deadline that expired.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// describe puts a read failure in a learner's words. waiting names what
// the kit was waiting for.
func (k *kitConn) describe(err error, waiting string) string {
	var pe *spec.ProtocolError
	var te *spec.TruncatedError
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("the server sent nothing for %v while the kit waited for %s", k.timeout, waiting)
	case errors.As(err, &te):
		return fmt.Sprintf("the server closed the connection inside the %s: %d of %d bytes arrived", te.Phase, te.Got, te.Want)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("the server closed the connection while the kit waited for %s", waiting)
	case errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("the server reset the connection while the kit waited for %s", waiting)
	case errors.As(err, &pe):
		return fmt.Sprintf("the server sent a malformed %s: %s", pe.Phase, strings.TrimPrefix(pe.Error(), "spec: malformed "+string(pe.Phase)+": "))
	case errors.Is(err, spec.ErrTooLong):
		return fmt.Sprintf("the server sent more than %d bytes where %s was due", spec.MaxControlLen, waiting)
	}
	return fmt.Sprintf("reading %s failed: %v", waiting, err)
}

// netWords names a network error briefly.
func netWords(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF):
		return "end of stream"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	}
	return err.Error()
}

// receive reads the data and the digest of a transfer whose size was
// announced as len(want), and checks both: the data must be want, and the
// digest the MD5 of the data actually received.
func (k *kitConn) receive(name string, want []byte) error {
	size := int64(len(want))
	body := k.r.Body(size)
	h := md5.New()
	buf := make([]byte, 32<<10)
	var got int64
	diff := int64(-1)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if diff < 0 && !bytes.Equal(buf[:n], want[got:got+int64(n)]) {
				for i := 0; i < n; i++ {
					if buf[i] != want[got+int64(i)] {
						diff = got + int64(i)
						break
					}
				}
			}
			h.Write(buf[:n])
			got += int64(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			k.logf("<- data %d of %d bytes, then %s", got, size, netWords(err))
			var te *spec.TruncatedError
			if errors.As(err, &te) {
				return fmt.Errorf("the server announced %d bytes for %q but closed the connection after sending %d", size, name, got)
			}
			return fmt.Errorf("%s (after %d of the %d data bytes of %q)", k.describe(err, "the rest of the data"), got, size, name)
		}
	}
	local := hex.EncodeToString(h.Sum(nil))
	k.logf("<- data %d bytes, md5 %s", got, local)
	if diff >= 0 {
		return fmt.Errorf("the %d bytes the server sent for %q differ from the file from byte %d on (the file hashes to %s, the data to %s)",
			size, name, diff, md5hex(want), local)
	}
	d, err := k.r.ReadDigest()
	if err != nil {
		k.logf("<- digest: %s", netWords(err))
		var te *spec.TruncatedError
		switch {
		case errors.As(err, &te):
			return fmt.Errorf("the server sent the %d bytes of %q and closed the connection after %d of the 32 digest bytes", size, name, te.Got)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("the server sent the %d bytes of %q and closed the connection without a digest", size, name)
		}
		return fmt.Errorf("%s, after the %d bytes of %q", k.describe(err, "the 32-byte digest"), size, name)
	}
	k.logf("<- digest %q", d)
	if d != local {
		return fmt.Errorf("asked for the %d-byte file %q; the server announced %d and sent the right data, but the digest it sent does not match the data (sent %s, data hashes to %s)",
			size, name, size, d, local)
	}
	return nil
}

// get performs one whole exchange for name and checks it against want.
func (k *kitConn) get(name string, want []byte) error {
	if err := k.request(name); err != nil {
		return err
	}
	return k.finish(name, want)
}

// finish is get after the request was sent: the reply, the ack, the data
// and the digest.
func (k *kitConn) finish(name string, want []byte) error {
	size, er, err := k.reply(name)
	if err != nil {
		return err
	}
	if er != nil {
		return fmt.Errorf("the server refused `get %s` (a %d-byte file that exists): %v", name, len(want), er)
	}
	if size != int64(len(want)) {
		return fmt.Errorf("asked for the %d-byte file %q; the server announced %d", len(want), name, size)
	}
	if err := k.ack(); err != nil {
		return err
	}
	return k.receive(name, want)
}

// quiet reports whether the server sends nothing more within d: it
// returns the bytes that arrived (already buffered or read), if any.
func (k *kitConn) quiet(d time.Duration) ([]byte, error) {
	if n := k.r.Buffered(); n > 0 {
		b := make([]byte, n)
		io.ReadFull(k.r.Body(int64(n)), b)
		return b, nil
	}
	k.nc.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, 512)
	n, err := k.nc.Read(b)
	k.nc.SetReadDeadline(time.Time{})
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, nil
	}
	return b[:n], err
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fixturePrefix begins the name of every file the kit writes.
const fixturePrefix = ".stickykit-check-"

// fixtures are the files one case writes into (or, for path-escape, beside)
// the server's root. Their content is deterministic: the seeded stream of
// the case ID and the file's label (package internal/seeded). Their names
// carry a random token, so runs never collide with each other or with real
// files.
type fixtures struct {
	x     *checker
	id    string // the case's ID
	token string
	paths []string // created files, removed by remove (last first)
	dirs  []string // created directories, removed after the files
}

// newFixtures starts the fixtures of case id.
func (x *checker) newFixtures(id string) *fixtures {
	var t [4]byte
	rand.Read(t[:])
	return &fixtures{x: x, id: id, token: hex.EncodeToString(t[:])}
}

// name returns the unique top-level name for label.
func (fx *fixtures) name(label string) string {
	return fixturePrefix + fx.token + "-" + label
}

// content returns n deterministic bytes for label: the seeded stream of
// the case ID and the label.
func (fx *fixtures) content(label string, n int) []byte {
	return seeded.Bytes(seeded.Seed(fx.id+" "+label), int64(n))
}

// file writes n deterministic bytes at name (relative to the root, "/"
// separated) and returns them.
func (fx *fixtures) file(name string, n int) ([]byte, error) {
	// The token is left out of the seed: the same case writes the same
	// bytes on every run.
	data := fx.content(strings.Replace(name, fx.token, "", 1), n)
	return data, fx.writeAt(filepath.Join(fx.x.server.Root, filepath.FromSlash(name)), data)
}

// dir creates the directory name (relative to the root).
func (fx *fixtures) dir(name string) error {
	p := filepath.Join(fx.x.server.Root, filepath.FromSlash(name))
	if err := os.Mkdir(p, 0o755); err != nil {
		return fmt.Errorf("cannot create the fixture directory: %w", err)
	}
	fx.dirs = append(fx.dirs, p)
	return nil
}

// writeAt creates the file at path exclusively, readable by all (the
// server may run as another user), and records it for removal.
func (fx *fixtures) writeAt(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot create a fixture in the server's root: %w", err)
	}
	fx.paths = append(fx.paths, path)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write the fixture %s: %w", path, err)
	}
	os.Chmod(path, 0o644) // undo the umask: the server may run as another user
	fx.x.logf("fixture %q: %d bytes, md5 %s", filepath.Base(path), len(data), md5hex(data))
	return nil
}

// remove deletes every fixture the case created.
func (fx *fixtures) remove() {
	for i := len(fx.paths) - 1; i >= 0; i-- {
		os.Remove(fx.paths[i])
	}
	for i := len(fx.dirs) - 1; i >= 0; i-- {
		os.Remove(fx.dirs[i])
	}
}

// setupFailed is the outcome of a case whose fixtures could not be made:
// the kit cannot say anything about the server.
func setupFailed(err error) Outcome {
	return inconclusive("%v (the kit writes its fixtures into the directory given as the server's root)", err)
}

// sizeName is a fixture label for a size: "1025-bytes.bin".
func sizeName(n int) string { return strconv.Itoa(n) + "-bytes.bin" }
