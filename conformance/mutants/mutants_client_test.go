package mutants_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/spec"
)

// A client mutant is a client built right except for one defect. The
// healthy client is a few steps (dial, request, reply, ack, data, digest,
// keep the file); a defect replaces one or two of them with a small
// function. Each is caught by the cases meant for it (clientMutantTests),
// and passes the cases named there, so that the catch is the defect's.

// clientDefect is the one thing a client mutant gets wrong: the steps it
// does differently, each nil or false where the mutant is healthy.
type clientDefect struct {
	framing spec.Framing

	request func(c *mclient, name string) []byte                            // the request bytes; nil means the name is refused
	reply   func(c *mclient) (int64, error)                                 // reads the reply
	refused func(c *mclient, err error) error                               // what it does with a failed reply; its result is the exit
	accept  func(c *mclient, size int64) error                              // checks a size
	ack     func(c *mclient) error                                          // sends the ack
	body    func(c *mclient, file io.Writer, h hash.Hash, size int64) error // reads the data into the file and the hash
	digest  func(c *mclient) (string, error)                                // reads the digest
	compare func(c *mclient, server, local string) error
	temp    func(dir string) (*os.File, error) // creates the temporary file in dir
	keep    func(c *mclient, f *os.File) error // what happens to the verified temporary file

	leaveCorrupt bool // writes straight to {out}, created first, and leaves it there on failure
	leaksConn    bool // does not close the connection; it closes when the run ends
	panics       bool // panics with the error of every failure instead of returning it
}

// mclient is one run of a client mutant.
type mclient struct {
	ctx  context.Context
	d    *clientDefect
	conn net.Conn
	br   *bufio.Reader
	r    *spec.Reader
	out  string

	truncated bool // the data ended early (okOnEOF)
}

// get is the client: a conformance.ClientFunc.
func (d clientDefect) get(ctx context.Context, addr, name, out string) error {
	err := d.fetch(ctx, addr, name, out)
	if err != nil && d.panics {
		panic(err)
	}
	return err
}

// fetch fetches name from addr into out.
func (d clientDefect) fetch(ctx context.Context, addr, name, out string) (err error) {
	c := &mclient{ctx: ctx, d: &d, out: out}
	var f *os.File
	if d.leaveCorrupt {
		if f, err = os.Create(out); err != nil {
			return err
		}
		defer f.Close()
	}
	req := c.request(name)
	if req == nil {
		return fmt.Errorf("invalid name: %d bytes", len(name))
	}
	if err := c.dial(ctx, addr); err != nil {
		return err
	}
	if !d.leaksConn {
		defer c.conn.Close()
	}
	if _, err := c.conn.Write(req); err != nil {
		return err
	}
	size, err := c.readReply()
	if err != nil {
		return c.refusedReply(err)
	}
	if err := c.acceptSize(size); err != nil {
		return err
	}
	if err := c.sendAck(); err != nil {
		return err
	}
	return c.receive(size, f)
}

// dial connects to addr; the connection closes when ctx ends.
func (c *mclient) dial(ctx context.Context, addr string) error {
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	c.conn = conn
	c.br = bufio.NewReaderSize(conn, 64<<10)
	c.r = spec.NewReader(c.br, c.d.framing)
	return nil
}

// receive reads the data and the digest into f (a temporary file beside
// {out} unless f is given), compares the digests and keeps the file.
func (c *mclient) receive(size int64, f *os.File) (err error) {
	if f == nil {
		if f, err = c.createTemp(filepath.Dir(c.out)); err != nil {
			return err
		}
		defer func() {
			f.Close()
			if err != nil {
				os.Remove(f.Name())
			}
		}()
	}
	h := md5.New()
	if err := c.readBody(f, h, size); err != nil {
		return err
	}
	server, err := c.readDigest()
	if err != nil {
		return err
	}
	if err := c.compareDigests(server, hex.EncodeToString(h.Sum(nil))); err != nil {
		return err
	}
	if c.d.leaveCorrupt {
		return nil
	}
	if err := f.Close(); err != nil {
		return err
	}
	if c.d.keep != nil {
		return c.d.keep(c, f)
	}
	// A file it replaces keeps its mode.
	if fi, err := os.Stat(c.out); err == nil && fi.Mode().IsRegular() {
		if err := os.Chmod(f.Name(), fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return os.Rename(f.Name(), c.out)
}

// The steps: each is the defect's, or the healthy default.

// createTemp creates the temporary file in dir, exclusively, with mode
// 0666 less the umask, as a new file should get.
func (c *mclient) createTemp(dir string) (*os.File, error) {
	if c.d.temp != nil {
		return c.d.temp(dir)
	}
	for {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf(".part-%d", rand.Uint64())), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func (c *mclient) request(name string) []byte {
	if c.d.request != nil {
		return c.d.request(c, name)
	}
	b, err := spec.EncodeRequest(c.d.framing, name)
	if err != nil {
		return nil
	}
	return b
}

func (c *mclient) readReply() (int64, error) {
	if c.d.reply != nil {
		return c.d.reply(c)
	}
	return c.r.ReadReply()
}

func (c *mclient) refusedReply(err error) error {
	if c.d.refused != nil {
		return c.d.refused(c, err)
	}
	return err
}

func (c *mclient) acceptSize(size int64) error {
	if c.d.accept != nil {
		return c.d.accept(c, size)
	}
	return nil
}

func (c *mclient) sendAck() error {
	if c.d.ack != nil {
		return c.d.ack(c)
	}
	_, err := c.conn.Write(spec.EncodeAck(c.d.framing))
	return err
}

func (c *mclient) readBody(file io.Writer, h hash.Hash, size int64) error {
	if c.d.body != nil {
		return c.d.body(c, file, h, size)
	}
	_, err := io.Copy(io.MultiWriter(file, h), c.r.Body(size))
	return err
}

func (c *mclient) readDigest() (string, error) {
	if c.d.digest != nil {
		return c.d.digest(c)
	}
	d, err := c.r.ReadDigest()
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, new(*spec.TruncatedError)) {
		// The stream ended before the first octet of the digest.
		err = &spec.TruncatedError{Phase: spec.PhaseDigest, Got: 0, Want: spec.DigestLen}
	}
	return d, err
}

func (c *mclient) compareDigests(server, local string) error {
	if c.d.compare != nil {
		return c.d.compare(c, server, local)
	}
	if server != local {
		return fmt.Errorf("digest mismatch: server %s, local %s", server, local)
	}
	return nil
}

// The defects, as functions of the framing where it matters.

// healthyClient is the client without a defect.
func healthyClient(f spec.Framing) clientDefect { return clientDefect{framing: f} }

func noValidate(f spec.Framing) clientDefect {
	return clientDefect{framing: f, request: func(c *mclient, name string) []byte {
		req := []byte(spec.RequestVerb + name)
		if f == spec.Line {
			req = append(req, '\n')
		}
		return req
	}}
}

// sizeOneRead reads the size line with one read, as lockstep does,
// instead of reading up to LF (the line framing's half packet).
func sizeOneRead(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		buf := make([]byte, spec.MaxControlLen+2)
		n, err := c.br.Read(buf)
		if err != nil {
			return 0, err
		}
		return spec.ParseReply(spec.TrimLine(buf[:n]))
	}}
}

// lfOnly ends a size line at LF and keeps a CR before it.
func lfOnly(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		return spec.ParseReply([]byte(strings.TrimSuffix(line, "\n")))
	}}
}

// lenientSize takes the leading digits of a malformed reply as the size,
// as C's atoi does.
func lenientSize(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		size, err := c.r.ReadReply()
		var pe *spec.ProtocolError
		if errors.As(err, &pe) {
			digits := strings.TrimRightFunc(string(pe.Data), func(c rune) bool { return c < '0' || c > '9' })
			size, err = strconv.ParseInt(strings.Fields(digits + " x")[0], 10, 64)
		}
		return size, err
	}}
}

// exitsZeroOn returns a client that reports success, with no file, when
// its reply fails in a way that wrong says it may ignore.
func exitsZeroOn(f spec.Framing, wrong func(err error) bool) clientDefect {
	return clientDefect{framing: f, refused: func(c *mclient, err error) error {
		if wrong(err) {
			return nil
		}
		return err
	}}
}

// okOnErrorReply exits 0 when the server refuses the request.
func okOnErrorReply(f spec.Framing) clientDefect {
	return exitsZeroOn(f, func(err error) bool { _, ok := errors.AsType[*spec.ErrorReply](err); return ok })
}

// okOnUnknownCode exits 0 on an error reply whose code it does not know,
// as if it were a warning.
func okOnUnknownCode(f spec.Framing) clientDefect {
	return exitsZeroOn(f, func(err error) bool {
		er, ok := errors.AsType[*spec.ErrorReply](err)
		return ok && !slices.Contains(spec.Codes, er.Code)
	})
}

// okOnBadSize exits 0, with no file, on a reply that is not a size.
func okOnBadSize(f spec.Framing) clientDefect {
	return exitsZeroOn(f, func(err error) bool { _, ok := errors.AsType[*spec.ProtocolError](err); return ok })
}

// acksAfterError sends the ack even after an error reply.
func acksAfterError(f spec.Framing) clientDefect {
	return clientDefect{framing: f, refused: func(c *mclient, err error) error {
		c.conn.Write(spec.EncodeAck(f))
		return err
	}}
}

func noEmpty(f spec.Framing) clientDefect {
	return clientDefect{framing: f, accept: func(c *mclient, size int64) error {
		if size == 0 {
			return errors.New("invalid size 0")
		}
		return nil
	}}
}

func maxSize(f spec.Framing, limit int64) clientDefect {
	return clientDefect{framing: f, accept: func(c *mclient, size int64) error {
		if size > limit {
			return fmt.Errorf("file too large: %d bytes, limit %d", size, limit)
		}
		return nil
	}}
}

// ackText sends ack instead of the ack text, then waits for the data
// with no deadline: until the kit gives up on it and closes.
func ackText(f spec.Framing, ack string) clientDefect {
	return clientDefect{framing: f, ack: func(c *mclient) error {
		_, err := c.conn.Write([]byte(ack))
		c.conn.SetReadDeadline(time.Time{})
		return err
	}}
}

// noAck never acknowledges the size and waits for the data with no
// deadline: until the kit gives up on it and closes.
func noAck(f spec.Framing) clientDefect {
	return clientDefect{framing: f, ack: func(c *mclient) error {
		c.conn.SetReadDeadline(time.Time{})
		return nil
	}}
}

// bodyOneRead reads the whole data with one read, as recv(SIZE) does, and
// fails when the read is short.
func bodyOneRead(f spec.Framing) clientDefect {
	return clientDefect{framing: f, body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
		if size == 0 {
			return nil
		}
		buf := make([]byte, size)
		n, err := c.r.Body(size).Read(buf)
		if err != nil {
			return err
		}
		if int64(n) < size {
			return fmt.Errorf("short read: %d of %d bytes", n, size)
		}
		h.Write(buf)
		_, err = file.Write(buf)
		return err
	}}
}

// capsBody hashes all the data but writes at most 1 MiB of it.
func capsBody(f spec.Framing) clientDefect {
	return clientDefect{framing: f, body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
		_, err := io.Copy(io.MultiWriter(h, &cappedWriter{w: file, left: 1 << 20}), c.r.Body(size))
		return err
	}}
}

// failsAtWindowEnd keeps a minimum rate over a window of rateWindow with
// the read deadline at the window's end, and takes a read still waiting
// there as a download too slow, however much the window carried.
func failsAtWindowEnd(f spec.Framing) clientDefect {
	return clientDefect{framing: f, body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
		c.conn.SetReadDeadline(time.Now().Add(rateWindow))
		_, err := io.Copy(io.MultiWriter(file, h), c.r.Body(size))
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if isTimeout(err) {
			return fmt.Errorf("download too slow: a read was still waiting when its %v window ended", rateWindow)
		}
		return err
	}}
}

// okOnEOF takes an end of stream inside the data as the end of the file,
// and reports success.
func okOnEOF(f spec.Framing) clientDefect {
	return clientDefect{framing: f,
		body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
			_, err := io.Copy(io.MultiWriter(file, h), c.r.Body(size))
			if errors.Is(err, io.ErrUnexpectedEOF) {
				c.truncated = true
				return nil
			}
			return err
		},
		digest: func(c *mclient) (string, error) {
			if c.truncated {
				return "", nil // nothing to read: the transfer is "over"
			}
			return c.r.ReadDigest()
		},
		compare: func(c *mclient, server, local string) error {
			if c.truncated || server == local {
				return nil
			}
			return fmt.Errorf("digest mismatch: server %s, local %s", server, local)
		}}
}

// foldDigest compares the digests ignoring case.
func foldDigest(f spec.Framing) clientDefect {
	return clientDefect{framing: f, digest: func(c *mclient) (string, error) {
		b := make([]byte, spec.DigestLen)
		if _, err := io.ReadFull(c.r.Body(spec.DigestLen), b); err != nil {
			return "", err
		}
		return strings.ToLower(string(b)), nil
	}}
}

// waitsForLFAfterDigest reads the digest, then waits for an LF after it, with no
// deadline: it hangs until the run ends.
func waitsForLFAfterDigest(f spec.Framing) clientDefect {
	return clientDefect{framing: f, digest: func(c *mclient) (string, error) {
		d, err := c.r.ReadDigest()
		if err != nil {
			return "", err
		}
		c.conn.SetReadDeadline(time.Time{})
		if _, err := c.br.ReadByte(); err != nil {
			return "", err
		}
		return d, nil
	}}
}

// ignoresDigest reads 32 bytes where the digest is due and never checks
// them.
func ignoresDigest(f spec.Framing) clientDefect {
	return clientDefect{framing: f,
		digest: func(c *mclient) (string, error) {
			_, err := io.ReadFull(c.r.Body(spec.DigestLen), make([]byte, spec.DigestLen))
			return "", err
		},
		compare: func(c *mclient, server, local string) error { return nil }}
}

// noDigestRead reads the data with exact reads from the socket (never a
// byte past SIZE), and never reads the digest: once it has the data, it
// reports success (the tutorial's first client, with a digest due).
func noDigestRead(f spec.Framing) clientDefect {
	return clientDefect{framing: f,
		body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
			// Nothing past the size is buffered when the data is due:
			// the kit sends nothing before the ack.
			n, err := io.Copy(io.MultiWriter(file, h), io.LimitReader(c.conn, size))
			if err == nil && n < size {
				err = io.ErrUnexpectedEOF
			}
			return err
		},
		digest:  func(c *mclient) (string, error) { return "", nil },
		compare: func(c *mclient, server, local string) error { return nil }}
}

// spinsOnEOF goes on reading when the stream ends inside the data, as
// a loop on recv() that returns b"" for ever does, until it is stopped.
func spinsOnEOF(f spec.Framing) clientDefect {
	return clientDefect{framing: f, body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
		_, err := io.Copy(io.MultiWriter(file, h), c.r.Body(size))
		if errors.Is(err, io.ErrUnexpectedEOF) {
			<-c.ctx.Done()
			return c.ctx.Err()
		}
		return err
	}}
}

// halfDigestSlow reads the digest with one read, as the article's fix
// does, and gives up on the half it gets only once the rest has reached
// its kernel: it closes with those bytes unread. It is the article's fix
// on a busy machine, whatever the kit's timing.
func halfDigestSlow(f spec.Framing) clientDefect {
	return clientDefect{framing: f, digest: func(c *mclient) (string, error) {
		b := make([]byte, spec.DigestLen)
		n, err := c.br.Read(b)
		if err != nil || n == spec.DigestLen {
			return string(b[:n]), err
		}
		// Wait for the rest without reading it: a poll of the kernel's
		// queue, bounded by the connection's deadline.
		deadline := time.Now().Add(5 * time.Second)
		for q, err := unreadBytes(c.conn); err == nil && q < spec.DigestLen-n && time.Now().Before(deadline); q, err = unreadBytes(c.conn) {
			time.Sleep(time.Millisecond)
		}
		return string(b[:n]), nil
	}}
}

func noCompare(f spec.Framing) clientDefect {
	return clientDefect{framing: f, compare: func(c *mclient, server, local string) error { return nil }}
}

// privateFile saves the file with the mode of a temporary file made by
// os.CreateTemp, 0600, whatever the umask and whatever file it replaces.
func privateFile(f spec.Framing) clientDefect {
	return clientDefect{framing: f,
		temp: func(dir string) (*os.File, error) { return os.CreateTemp(dir, ".part-*") },
		keep: func(c *mclient, file *os.File) error { return os.Rename(file.Name(), c.out) }}
}

// modeNotKept gives a file it replaces the mode of a new file.
func modeNotKept(f spec.Framing) clientDefect {
	return clientDefect{framing: f, keep: func(c *mclient, file *os.File) error { return os.Rename(file.Name(), c.out) }}
}

// keepsOldFile reports success but, when a file is already at {out},
// removes the verified file and leaves the old one in place.
func keepsOldFile(f spec.Framing) clientDefect {
	return clientDefect{framing: f, keep: func(c *mclient, file *os.File) error {
		if _, err := os.Lstat(c.out); err == nil {
			return os.Remove(file.Name())
		}
		return os.Rename(file.Name(), c.out)
	}}
}

// forgetsRename reports success but removes the verified file instead of
// renaming it to {out}.
func forgetsRename(f spec.Framing) clientDefect {
	return clientDefect{framing: f, keep: func(c *mclient, file *os.File) error { return os.Remove(file.Name()) }}
}

// writesBeside keeps the file, and a note beside it in its directory.
func writesBeside(f spec.Framing) clientDefect {
	return clientDefect{framing: f, keep: func(c *mclient, file *os.File) error {
		if err := os.WriteFile(filepath.Join(filepath.Dir(c.out), "fetched.log"), []byte("ok\n"), 0o644); err != nil {
			return err
		}
		return os.Rename(file.Name(), c.out)
	}}
}

// rawReply reads one reply's content as the framing delimits it, with no
// check of its grammar: one read in lockstep, a line (its terminator
// removed) in the line framing.
func rawReply(c *mclient) ([]byte, error) {
	if c.d.framing == spec.Lockstep {
		buf := make([]byte, spec.MaxControlLen+1)
		n, err := c.br.Read(buf)
		if n == 0 {
			return nil, err
		}
		return buf[:n], nil
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return spec.TrimLine(line), nil
}

// parseIntSize parses a size with strconv.ParseInt, which takes a sign
// and leading zeros.
func parseIntSize(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		b, err := rawReply(c)
		if err != nil || bytes.HasPrefix(b, []byte(spec.ErrorPrefix)) {
			return spec.ParseReply(b)
		}
		return strconv.ParseInt(string(b), 10, 64)
	}}
}

// overflowIsZero takes a size too large for 63 bits as 0, as an
// unchecked conversion does.
func overflowIsZero(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		b, err := rawReply(c)
		if err != nil {
			return 0, err
		}
		if strings.Trim(string(b), "0123456789") == "" {
			if _, err := strconv.ParseInt(string(b), 10, 64); err != nil {
				return 0, nil
			}
		}
		return spec.ParseReply(b)
	}}
}

// readFailureIsZero takes a reply it could not read (over-long, cut by
// the end of the stream) as size 0.
func readFailureIsZero(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		size, err := c.r.ReadReply()
		if err != nil && !errors.As(err, new(*spec.ErrorReply)) && !errors.As(err, new(*spec.ProtocolError)) {
			return 0, nil
		}
		return size, err
	}}
}

// unboundedLine reads the size line up to its LF however long it grows,
// with no deadline.
func unboundedLine(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		c.conn.SetReadDeadline(time.Time{})
		line, err := c.br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		return spec.ParseReply(spec.TrimLine([]byte(line)))
	}}
}

// partialLineAtEOF takes what precedes the end of the stream as the
// reply, LF or not.
func partialLineAtEOF(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		line, err := c.br.ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
		if err != nil {
			return 0, err
		}
		return spec.ParseReply(spec.TrimLine([]byte(line)))
	}}
}

// nilCodeCrash reports an error reply it could not parse through the
// *spec.ErrorReply it did not get: a nil pointer, and a Go panic.
func nilCodeCrash(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		size, err := c.r.ReadReply()
		var pe *spec.ProtocolError
		if errors.As(err, &pe) && bytes.HasPrefix(pe.Data, []byte(spec.ErrorPrefix)) {
			var er *spec.ErrorReply
			return 0, fmt.Errorf("server says %s", er.Code)
		}
		return size, err
	}}
}

// errorAsMalformed calls an error reply for which malformed holds a
// malformed size, quoting its first 80 bytes, as spec.ProtocolError does.
func errorAsMalformed(f spec.Framing, malformed func(er *spec.ErrorReply) bool) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		size, err := c.r.ReadReply()
		er, ok := errors.AsType[*spec.ErrorReply](err)
		if !ok || !malformed(er) {
			return size, err
		}
		b := spec.ErrorPrefix + er.Code
		if er.Text != "" {
			b += " " + er.Text
		}
		return 0, fmt.Errorf("malformed size: byte 0 is not a decimal digit (got %q)", b[:min(len(b), 80)])
	}}
}

// replyLimit1023 refuses a reply of 1024 octets as too long: its limit
// is one short.
func replyLimit1023(f spec.Framing) clientDefect {
	return clientDefect{framing: f, reply: func(c *mclient) (int64, error) {
		b, err := rawReply(c)
		if err == nil && len(b) >= spec.MaxControlLen {
			return 0, fmt.Errorf("reply too long: %d bytes", len(b))
		}
		return spec.ParseReply(b)
	}}
}

// reportsError returns a client that reports an error reply as report
// says.
func reportsError(f spec.Framing, report func(er *spec.ErrorReply) error) clientDefect {
	return clientDefect{framing: f, refused: func(c *mclient, err error) error {
		if er, ok := errors.AsType[*spec.ErrorReply](err); ok {
			return report(er)
		}
		return err
	}}
}

// reportsCodeOnly reports an error reply by its code alone.
func reportsCodeOnly(f spec.Framing) clientDefect {
	return reportsError(f, func(er *spec.ErrorReply) error { return fmt.Errorf("server says %s", er.Code) })
}

// reportsNoCode says that the server refused, and neither its code nor
// its text.
func reportsNoCode(f spec.Framing) clientDefect {
	return reportsError(f, func(er *spec.ErrorReply) error { return errors.New("the server refused the request") })
}

// capitalizesText reports the server's text with its first letter in
// capitals, and so panics on an empty or missing text.
func capitalizesText(f spec.Framing) clientDefect {
	return reportsError(f, func(er *spec.ErrorReply) error {
		return fmt.Errorf("%s: %s%s", er.Code, strings.ToUpper(er.Text[:1]), er.Text[1:])
	})
}

// missingDigest returns a digest step that takes an end of stream where
// the digest is due as the end of a transfer without one: no digest.
func missingDigest(c *mclient) (string, error) {
	d, err := c.r.ReadDigest()
	if err == io.ErrUnexpectedEOF {
		return "", nil
	}
	return d, err
}

// okWithoutDigest keeps the file when the stream ends where the digest
// is due, and reports success.
func okWithoutDigest(f spec.Framing) clientDefect {
	return clientDefect{framing: f, digest: missingDigest, compare: func(c *mclient, server, local string) error {
		if server != "" && server != local {
			return fmt.Errorf("digest mismatch: server %s, local %s", server, local)
		}
		return nil
	}}
}

// mismatchWithoutDigest reports an end of stream where the digest is due
// as a digest mismatch, against an empty digest.
func mismatchWithoutDigest(f spec.Framing) clientDefect {
	return clientDefect{framing: f, digest: missingDigest}
}

// truncationWithoutCounts reports a truncated data without saying how
// much arrived.
func truncationWithoutCounts(f spec.Framing) clientDefect {
	return clientDefect{framing: f, body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
		_, err := io.Copy(io.MultiWriter(file, h), c.r.Body(size))
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("the server closed the connection early")
		}
		return err
	}}
}

// dropsOneByteReads reads the data through a 64 KiB buffer and drops a
// read of a single byte: it never completes a file whose size is 1 or a
// multiple of 64 KiB plus 1.
func dropsOneByteReads(f spec.Framing) clientDefect {
	return clientDefect{framing: f, body: func(c *mclient, file io.Writer, h hash.Hash, size int64) error {
		body := c.r.Body(size)
		buf := make([]byte, 64<<10)
		for done := int64(0); done < size; {
			n, err := io.ReadFull(body, buf[:min(int64(len(buf)), size-done)])
			if n > 1 {
				h.Write(buf[:n])
				if _, err := file.Write(buf[:n]); err != nil {
					return err
				}
				done += int64(n)
			}
			if err != nil {
				return fmt.Errorf("receiving data: %w", err)
			}
		}
		return nil
	}}
}

// refusesLongestNameClient refuses a name of spec.MaxNameLen bytes: its limit
// is one short.
func refusesLongestNameClient(f spec.Framing) clientDefect {
	return clientDefect{framing: f, request: func(c *mclient, name string) []byte {
		if len(name) >= spec.MaxNameLen {
			return nil
		}
		b, _ := spec.EncodeRequest(f, name)
		return b
	}}
}

func leaveCorrupt(d clientDefect) clientDefect { d.leaveCorrupt = true; return d }
func leaksConn(d clientDefect) clientDefect    { d.leaksConn = true; return d }
func panics(d clientDefect) clientDefect       { d.panics = true; return d }

// cappedWriter writes at most left bytes to w and discards the rest.
type cappedWriter struct {
	w    io.Writer
	left int64
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	n := min(int64(len(p)), c.left)
	if n > 0 {
		if _, err := c.w.Write(p[:n]); err != nil {
			return 0, err
		}
		c.left -= n
	}
	return len(p), nil
}

// naiveClientFunc runs a naive client as the tutorial's program did: it
// writes whatever it read to out and leaves it there, and it fails (as
// "stickykit naive-get" exits 1) when the digests differ.
func naiveClientFunc(v naive.Variant, f spec.Framing) conformance.ClientFunc {
	return func(ctx context.Context, addr, name, out string) error {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		fh, err := os.Create(out)
		if err != nil {
			return err
		}
		c := &naive.Client{Variant: v, Framing: f, Timeout: 5 * time.Second, DigestWait: time.Second}
		res, err := c.Get(conn, name, fh)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if !res.Match {
			return fmt.Errorf("digest mismatch: wrote %d of %d bytes hashing to %s, server sent %q", res.Written, res.Size, res.Local, res.Server)
		}
		return nil
	}
}

// clientMutantTest is one deliberately broken client and a case that must
// catch it. It must also pass the cases named in passes (mostly
// client/plain), so that the catch is the defect's and nothing else's.
type clientMutantTest struct {
	name    string
	framing spec.Framing
	client  conformance.ClientFunc
	caught  string   // the case that must FAIL it
	passes  []string // cases it must PASS
	detail  string   // words the FAIL detail must contain
}

// row returns a row for the defect d caught by case caught.
func row(name string, d clientDefect, caught string, passes []string, detail string) clientMutantTest {
	return clientMutantTest{name: name, framing: d.framing, client: d.get, caught: caught, passes: passes, detail: detail}
}

var (
	lk, ln = spec.Lockstep, spec.Line
	plain  = []string{"client/plain"}
	sticky = []string{"client/sticky"}
	errRep = []string{"client/error-reply"}
)

// rowsFor returns a row for the defect d, as built for each framing by
// of, caught by each of the cases, in turn in lockstep and line framing.
func rowsFor(name string, of func(spec.Framing) clientDefect, cases []string, passes []string, detail string) []clientMutantTest {
	var rows []clientMutantTest
	for i, id := range cases {
		f := spec.Framings[i%len(spec.Framings)]
		rows = append(rows, row(name+" ("+strings.TrimPrefix(id, "client/")+")", of(f), id, passes, detail))
	}
	return rows
}

// clientMutantTests are the client mutants and the cases that catch them.
var clientMutantTests = slices.Concat(clientMutantRows,
	rowsFor("leaves a corrupt file", func(f spec.Framing) clientDefect { return leaveCorrupt(healthyClient(f)) },
		[]string{"client/wrong-digest", "client/truncated", "client/error-reply", "client/unknown-error",
			"client/bad-size", "client/bad-digest", "client/bad-name", "client/error-codes"}, plain, "left a corrupt file at the output file"),
	rowsFor("panics on a failure", func(f spec.Framing) clientDefect { return panics(healthyClient(f)) },
		[]string{"client/wrong-digest", "client/truncated", "client/error-reply", "client/unknown-error",
			"client/bad-size", "client/bad-digest", "client/bad-name", "client/error-codes"}, sticky, "crashed (a Go panic"),
	rowsFor("leaves the connection open", func(f spec.Framing) clientDefect { return leaksConn(healthyClient(f)) },
		[]string{"client/wrong-digest", "client/truncated", "client/error-reply", "client/unknown-error", "client/bad-digest"},
		sticky, "did not close the connection"),
	rowsFor("never reads the digest", noDigestRead,
		// split-size and crlf at odd places: in the line framing
		[]string{"client/plain", "client/split-size", "client/sticky", "client/crlf", "client/split-body",
			"client/empty-file", "client/large-file", "client/wrong-digest", "client/bad-digest", "client/sizes", "client/longest-name"},
		[]string{"client/ack", "client/error-reply"}, "whatever it reported"),
	rowsFor("no ack", noAck, []string{"client/plain", "client/ack"}, errRep, "never acknowledged the size"),
	rowsFor("ack without LF in line framing", func(spec.Framing) clientDefect { return ackText(ln, spec.AckText) },
		[]string{"client/plain", "client/ack"}, errRep, "no LF within"),
	rowsFor("forgets to rename", forgetsRename,
		// split-size and crlf in the line framing, where they expect the file
		[]string{"client/plain", "client/sticky", "client/split-body", "client/split-size", "client/split-digest",
			"client/crlf", "client/empty-file", "client/large-file", "client/sizes", "client/longest-name"}, errRep, "left no file"),
	rowsFor("refuses the longest name", refusesLongestNameClient, []string{"client/longest-name", "client/longest-name"}, plain,
		"the longest valid name"),
	rowsFor("drops a read of one byte", dropsOneByteReads, []string{"client/sizes", "client/sizes"}, plain,
		"with a file of 1 byte"),
	rowsFor("a size parsed with ParseInt", parseIntSize, []string{"client/bad-size", "client/bad-size"}, plain,
		`with the reply "+5"`),
	rowsFor("an overflowing size taken as 0", overflowIsZero, []string{"client/bad-size", "client/bad-size"}, plain,
		"left a 0-byte file"),
	rowsFor("an unreadable reply taken as size 0", readFailureIsZero, []string{"client/bad-size", "client/bad-size"}, plain,
		"when the stream ends where the reply is due: the client answered the end of the stream"),
	rowsFor("a crash on an error reply without a code", nilCodeCrash, []string{"client/bad-size", "client/bad-size"}, errRep,
		"crashed (a Go panic: runtime error: invalid memory address"),
	rowsFor("a 1024-octet reply refused as too long", replyLimit1023, []string{"client/error-codes", "client/error-codes"}, plain,
		"(REQ-MSG-7, REQ-LIM-1); the client reported failure, but its report does not say the server's code and text"),
)

// clientMutantRows are the client mutants caught by one case each.
var clientMutantRows = []clientMutantTest{
	// The tutorial's clients: the naive reader passes client/plain and
	// fails client/sticky; the article's fix passes client/sticky and
	// fails client/split-digest.
	{name: "naive reader", framing: lk, client: naiveClientFunc(naive.Naive, lk), caught: "client/sticky", passes: plain,
		detail: "32 bytes longer than the file and ends with the digest"},
	{name: "naive reader, line framing", framing: ln, client: naiveClientFunc(naive.Naive, ln), caught: "client/sticky", passes: plain,
		detail: "sticky packet"},
	{name: "article's fix", framing: lk, client: naiveClientFunc(naive.Article, lk), caught: "client/split-digest",
		passes: []string{"client/plain", "client/sticky"}, detail: "half packet"},
	row("article's fix, slow to give up", halfDigestSlow(lk), "client/split-digest", sticky, "half packet"),

	row("size read with one read in line framing", sizeOneRead(ln), "client/split-size", plain, "partial line"),
	row("never compares digests", noCompare(lk), "client/wrong-digest", plain, "reported success (exit status 0) although the digest"),
	row("ignores the digest, split size", ignoresDigest(lk), "client/split-size", plain, "reported success but"),
	row("wrong ack text", ackText(ln, "ok\n"), "client/ack", plain, `ack was "ok"`),
	row("ack with LF in lockstep", ackText(lk, spec.AckText+"\n"), "client/ack", plain, "no terminator"),
	row("waits for an LF after the digest", waitsForLFAfterDigest(ln), "client/plain", errRep, "had not closed the connection"),
	row("leaves the connection open", leaksConn(healthyClient(lk)), "client/plain", sticky, "without closing the connection"),
	row("leaves a corrupt file, split size", leaveCorrupt(healthyClient(lk)), "client/split-size", plain, "left that corrupt file at the output file"),
	row("leaves a corrupt file, split body", leaveCorrupt(bodyOneRead(lk)), "client/split-body", []string{"client/empty-file"}, "left that corrupt file at the output file"),
	row("writes beside the file", writesBeside(lk), "client/plain", sticky, "fetched.log"),
	row("data read with one read", bodyOneRead(lk), "client/split-body", []string{"client/empty-file"}, "short read"),
	row("refuses size 0", noEmpty(lk), "client/empty-file", plain, "invalid size 0"),
	row("fails a read across a window's end", failsAtWindowEnd(lk), "client/paused-server", sticky,
		"window ended"),
	row("fails a read across a window's end, line framing", failsAtWindowEnd(ln), "client/paused-server", plain,
		"window ended"),
	row("refuses files over 4 MiB", maxSize(ln, 4<<20), "client/large-file", plain, "file too large"),
	row("writes only the first MiB", capsBody(lk), "client/large-file", plain, "only the first 1048576"),
	row("unknown error code taken as a warning", okOnUnknownCode(ln), "client/unknown-error", []string{"client/plain", "client/error-reply"},
		"reported success (exit status 0) although the server refused"),
	row("acks after an error reply", acksAfterError(lk), "client/error-reply", plain, "must not send the ack"),
	row("acks after an unknown error reply", acksAfterError(lk), "client/unknown-error", plain, "must not send the ack"),
	row("lenient size parser", lenientSize(lk), "client/bad-size", plain, "must not send the ack"),
	row("success on a bad size", okOnBadSize(ln), "client/bad-size", plain, "reported success (exit status 0) although the reply"),
	row("digest compared ignoring case", foldDigest(ln), "client/bad-digest", plain, "reported success (exit status 0) although the digest"),
	row("name not validated", noValidate(lk), "client/bad-name", plain, "sent a request with the 1021-byte name"),
	row("size line ended at LF only", lfOnly(ln), "client/crlf", plain, "ended with CRLF, which a receiver must accept"),
	row("exits 0 on an error reply", okOnErrorReply(lk), "client/error-reply", plain, "reported success (exit status 0) although the server refused"),
	row("exits 0 on an error reply, edges", okOnErrorReply(ln), "client/error-codes", plain, "reported success (exit status 0) although the server refused"),
	row("an over-long size line read to its LF", unboundedLine(ln), "client/bad-size", plain, "neither refused the line nor closed the connection"),
	row("a partial line at the end of the stream taken as the reply", partialLineAtEOF(ln), "client/bad-size", plain,
		`with the reply "100" and the end of the stream: the client answered`),
	row("every error reply called malformed", errorAsMalformed(lk, func(*spec.ErrorReply) bool { return true }), "client/error-reply", plain,
		"its report does not say the server's code and text"),
	row("codes with digits called malformed", errorAsMalformed(ln, func(er *spec.ErrorReply) bool { return strings.ContainsAny(er.Code, "0123456789") }),
		"client/error-codes", errRep, `with a code with digits, "e404": the server refused`),
	row("codes of 32 octets called malformed", errorAsMalformed(lk, func(er *spec.ErrorReply) bool { return len(er.Code) >= spec.MaxCodeLen }),
		"client/error-codes", errRep, "with a code of 32 octets"),
	row("codes of 1 octet called malformed", errorAsMalformed(ln, func(er *spec.ErrorReply) bool { return len(er.Code) <= 1 }),
		"client/error-codes", errRep, `with a 1-octet code, "x"`),
	row("texts over 200 octets called malformed", errorAsMalformed(lk, func(er *spec.ErrorReply) bool { return len(er.Text) > spec.MaxErrorTextLen }),
		"client/error-codes", errRep, "with a text of 300 octets"),
	row("reports the code alone", reportsCodeOnly(ln), "client/error-reply", plain, "is not in the error it returned"),
	row("reports neither code nor text", reportsNoCode(lk), "client/unknown-error", plain, `its report does not say the server's code: "teapot" is not in`),
	row("capitalizes an empty text", capitalizesText(lk), "client/error-codes", errRep, "with an empty text"),
	row("capitalizes a missing text", capitalizesText(ln), "client/unknown-error", errRep, "crashed (a Go panic"),
	row("success when the digest never comes", okWithoutDigest(ln), "client/truncated", plain,
		"reported success (exit status 0) although the kit closed its side of the connection after all"),
	row("a missing digest reported as a mismatch", mismatchWithoutDigest(lk), "client/truncation-report", []string{"client/plain", "client/truncated"},
		`its report does not say how much arrived of how much (the counts of the truncation): "0" and "32" are not in`),
	row("a truncation reported without its counts", truncationWithoutCounts(ln), "client/truncation-report", []string{"client/plain", "client/truncated"},
		`"50000" and "100000" are not in`),
	row("saves a private file", privateFile(lk), "client/file-mode", plain, "with mode 0600"),
	row("replaces a file without its mode", modeNotKept(ln), "client/file-mode", plain, "a replaced file keeps its mode"),
	row("leaves a corrupt file, sizes", leaveCorrupt(dropsOneByteReads(lk)), "client/sizes", plain, "left that corrupt file at the output file"),
	row("keeps the file it should replace", keepsOldFile(ln), "client/sizes", plain, "over an older file at the destination: the client reported success but"),
	row("success on a truncated transfer", okOnEOF(lk), "client/truncated", plain, "reported success (exit status 0) although the kit closed"),
	row("reads on at the end of the stream", spinsOnEOF(ln), "client/truncated", plain, "a read that returns 0 bytes is the end of the stream"),
}

// testClientMutants proves that each client case can fail: a client with
// one defect FAILs the case aimed at that defect and passes the others
// named. It records what each failure cites in cov.
func testClientMutants(t *testing.T, cov *coverage) {
	names := make([]string, len(clientMutantTests))
	for i, mt := range clientMutantTests {
		names[i] = strings.ReplaceAll(mt.name, " ", "_")
	}
	runRows(t, names, func(t *testing.T, i int) {
		mt := clientMutantTests[i]
		for _, id := range mt.passes {
			r := casetest.RunClientCase(t, id, mt.framing, mt.client)
			if r.Outcome.Verdict != conformance.Pass {
				t.Errorf("%s (%v) = %s: %s, want PASS", id, mt.framing, r.Outcome.Verdict, r.Outcome.Detail)
				casetest.LogResult(t, r)
			}
		}
		r := casetest.RunClientCase(t, mt.caught, mt.framing, mt.client)
		cov.ran(mt.caught)
		if r.Outcome.Verdict != conformance.Fail {
			t.Errorf("%s (%v) = %s: %s, want FAIL", mt.caught, mt.framing, r.Outcome.Verdict, r.Outcome.Detail)
			casetest.LogResult(t, r)
			return
		}
		cov.caught(mt.caught, r.Outcome)
		if !strings.Contains(r.Outcome.Detail, mt.detail) {
			t.Errorf("%s FAIL detail = %q, want it to say %q", mt.caught, r.Outcome.Detail, mt.detail)
		}
		// A Go function was given a path, not a command's placeholder.
		if strings.Contains(r.Outcome.Detail, "{out}") {
			t.Errorf("%s FAIL detail = %q, which speaks of {out} to a ClientFunc", mt.caught, r.Outcome.Detail)
		}
		t.Logf("%s: FAIL: %s", mt.caught, r.Outcome.Detail)
	})
}

// TestClientMutantHealthy checks that the mutant frame without a defect
// gets the reference client's verdict in every case, so that each FAIL
// above is its defect's doing.
func TestClientMutantHealthy(t *testing.T) {
	casetest.InEachFraming(t, func(t *testing.T, f spec.Framing) { casetest.WantRefClientVerdicts(t, f, healthyClient(f).get) })
}
