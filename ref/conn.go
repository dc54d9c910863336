package ref

import (
	"bufio"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// conn is the state of one served connection. Its life:
//
//	idle    wait for a request (IdleTimeout)       -> busy, or close
//	busy    refuse it with an error reply          -> idle
//	        or send SIZE, wait for the ack (AckTimeout),
//	        send SIZE bytes and the digest         -> idle
//
// A malformed or over-long request is answered and the connection closed;
// any I/O error, a file that shrinks while being sent, and Shutdown close
// it too.
type conn struct {
	s    *Server
	nc   net.Conn
	id   uint64
	br   *bufio.Reader
	r    *spec.Reader
	log  *slog.Logger
	in   atomic.Int64 // bytes read from nc; read by admission too
	inAt atomic.Int64 // when bytes last came, in Unix nanoseconds

	key    netip.Prefix // the address it is counted under, if hasKey
	hasKey bool

	rate rateFloor // the minimum rate of the data being sent

	// Guarded by s.mu (see admit.go).
	idle      bool          // waiting in a read for a request
	admitted  bool          // counted in s.conns (and s.perAddr)
	pendingAt *list.Element // in s.pending: no request yet
	evicted   bool          // pushed out to make room
}

// connReadBufSize is the read buffer of a served connection: room for the
// longest control message and its terminator.
const connReadBufSize = 4 << 10

// requestDrain bounds the drain after a bad-request or too-long reply.
const requestDrain = time.Second

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, id: s.nextID.Add(1)}
	c.key, c.hasKey = addrKey(nc.RemoteAddr())
	// A server reads only control messages, so a small buffer will do; an
	// idle connection holds it for its whole life.
	c.br = bufio.NewReaderSize(countingReader{c}, connReadBufSize)
	c.r = spec.NewReader(c.br, s.Framing)
	c.log = s.logger().With("conn", c.id, "remote", nc.RemoteAddr().String())
	return c
}

// lastIn returns when bytes last came from c's client.
func (c *conn) lastIn() time.Time { return time.Unix(0, c.inAt.Load()) }

// silent reports whether c's client has sent nothing at all, read or not
// (where the kernel cannot say, nothing read).
func (c *conn) silent() bool {
	if c.in.Load() > 0 {
		return false
	}
	sent, ok := sentAny(c.nc)
	return !ok || !sent
}

// countingReader reads c's connection, counting the bytes, and copies them
// to the Debug writer.
type countingReader struct{ c *conn }

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.c.nc.Read(p)
	if n > 0 {
		r.c.inAt.Store(time.Now().UnixNano())
		r.c.in.Add(int64(n))
	}
	if n > 0 && r.c.s.Debug != nil {
		r.c.s.debugf(r.c.id, "<", p[:n])
	}
	return n, err
}

// serve runs the connection until it ends, and closes it.
func (c *conn) serve() {
	start := time.Now()
	requests := 0
	reason := "client left"
	// A connection that never sends a request costs a line only at debug
	// level: a crowd of bare connects must not flood the log.
	c.log.Debug("conn accepted")
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic serving connection", "panic", v, "stack", string(debug.Stack()))
			reason = "panic"
		}
		c.nc.Close()
		level := slog.LevelDebug
		if requests > 0 {
			level = slog.LevelInfo
		}
		c.log.Log(context.Background(), level, "conn closed", "reason", reason, "requests", requests, "duration", time.Since(start))
	}()
	for {
		name, st, err := c.readRequest(requests == 0)
		switch st {
		case waitShutdown:
			reason = "shutdown"
			return
		case waitEvicted:
			reason = "pushed out to make room"
			c.goAway()
			return
		}
		if err != nil {
			reason = c.refuse(err)
			return
		}
		requests++
		if err := c.handle(name); err != nil {
			reason = err.Error()
			return
		}
	}
}

// readRequest waits for a request, within FirstRequestTimeout for the
// first and IdleTimeout for the others. The state says whether the
// connection may go on.
func (c *conn) readRequest(first bool) (string, waitState, error) {
	d := orDefault(c.s.IdleTimeout, DefaultIdleTimeout)
	if first {
		d = orDefault(c.s.FirstRequestTimeout, DefaultFirstRequestTimeout)
	}
	begun := c.in.Load() - int64(c.br.Buffered())
	if st := c.s.beginWait(c, time.Now().Add(d)); st != waitOK {
		return "", st, nil
	}
	name, err := c.r.ReadRequest()
	st := c.s.endWait(c)
	c.nc.SetReadDeadline(time.Time{})
	got := c.in.Load() - int64(c.br.Buffered()) - begun
	if (errors.Is(err, io.ErrUnexpectedEOF) || isTimeout(err)) && got > spec.MaxControlLen {
		// The stream ended, or the wait timed out, inside a request
		// already longer than a request may be: 1024 bytes and a CR,
		// which a reader keeps while it waits for a possible LF.
		err = fmt.Errorf("%w: %d bytes and no line end", spec.ErrTooLong, got)
	}
	return name, st, err
}

// goAway answers a connection pushed out to make room: "ERR busy", a
// short drain, and the close that serve makes.
func (c *conn) goAway() {
	c.nc.SetWriteDeadline(time.Now().Add(evictWrite))
	if _, err := c.nc.Write(spec.EncodeError(c.s.Framing, spec.CodeBusy, "server busy: connections waiting for their first request make room for new ones")); err == nil {
		drain(c.nc, evictDrain)
	}
}

// evictWrite and evictDrain bound what a connection pushed out costs: its
// reply is small and due at once, and a crowd must not hold descriptors
// in long drains.
const (
	evictWrite = time.Second
	evictDrain = 100 * time.Millisecond
)

// refuse deals with a request that could not be read, answering it when it
// was malformed, and returns why the connection ends.
func (c *conn) refuse(err error) string {
	var pe *spec.ProtocolError
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "client left"
	case errors.As(err, &ne) && ne.Timeout() && c.in.Load() == 0:
		return "first request timeout"
	case errors.Is(err, spec.ErrTooLong):
		c.log.Info("request", "result", spec.CodeTooLong, "err", err)
		c.replyAndDrain(spec.CodeTooLong, fmt.Sprintf("request longer than %d bytes", spec.MaxControlLen))
		return "request too long"
	case errors.As(err, &pe):
		c.log.Info("request", "result", spec.CodeBadRequest, "err", err)
		c.replyAndDrain(spec.CodeBadRequest, pe.Reason)
		return "malformed request"
	case errors.As(err, &ne) && ne.Timeout():
		return "idle timeout"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "client left inside a request"
	}
	return "reading request: " + err.Error()
}

// replyAndDrain sends an error reply after which the stream may be out of
// step, then drains briefly so the reply is not lost to a reset.
func (c *conn) replyAndDrain(code, text string) {
	if c.write(spec.EncodeError(c.s.Framing, code, text)) == nil {
		drain(c.nc, requestDrain)
	}
}

// handle serves one well-formed request. It returns an error only when the
// connection must close.
func (c *conn) handle(name string) error {
	start := time.Now()
	log := c.log.With("name", logText(name))
	f, size, code, text, cause := c.s.open(name)
	if code != "" {
		log.Info("request", "result", code, "err", logText(fmt.Sprint(cause)), "duration", time.Since(start))
		err := c.write(spec.EncodeError(c.s.Framing, code, text))
		if err == nil && code == spec.CodeBusy {
			drain(c.nc, evictDrain)
			err = errors.New("out of file descriptors")
		}
		return err
	}
	defer f.Close()
	snap := c.snapshot(f, size)

	b, err := spec.EncodeSize(c.s.Framing, size)
	if err != nil {
		return err
	}
	if err := c.write(b); err != nil {
		return fmt.Errorf("sending size: %w", err)
	}
	// No data before the ack: a tutorial-style client would read it as part
	// of the size.
	c.nc.SetReadDeadline(time.Now().Add(orDefault(c.s.AckTimeout, DefaultAckTimeout)))
	err = c.r.ReadAck()
	c.nc.SetReadDeadline(time.Time{})
	if err != nil {
		log.Info("request", "result", "no ack", "err", err, "size", size, "duration", time.Since(start))
		return fmt.Errorf("waiting for ack: %w", err)
	}

	c.rate = newRateFloor(c.s.minRate(), orDefault(c.s.RateWindow, DefaultServerRateWindow), time.Now())
	res, err := c.sendBody(f, size, snap)
	c.rate = rateFloor{}
	if err != nil {
		log.Warn("request", "result", "aborted", "err", err, "size", size, "bytes", res.sent, "remembered", res.remembered, "duration", time.Since(start))
		return err
	}
	if c.s.Digest == spec.DigestNone {
		res.digest = nil // the exchange without a digest ends with the data
	} else if err := c.write(res.digest); err != nil {
		return fmt.Errorf("sending digest: %w", err)
	}
	log.Info("request", "result", "ok", "size", size, "bytes", res.sent, "digest", string(res.digest), "remembered", res.remembered, "duration", time.Since(start))
	return nil
}

// write writes b whole within WriteTimeout, and keeps the minimum rate
// of the data being sent.
func (c *conn) write(b []byte) error {
	defer c.nc.SetWriteDeadline(time.Time{})
	for {
		op := time.Now().Add(orDefault(c.s.WriteTimeout, DefaultWriteTimeout))
		dl := c.rate.deadline(op)
		c.nc.SetWriteDeadline(dl)
		n, err := c.nc.Write(b)
		if c.s.Debug != nil {
			c.s.debugf(c.id, ">", b[:n])
		}
		if rerr := c.rate.add(n, time.Now()); rerr != nil {
			return rerr
		}
		b = b[n:]
		if err == nil || !isTimeout(err) || !dl.Before(op) {
			return err
		}
		// Only the rate window ended, and it was judged enough: write on.
	}
}

func (s *Server) minRate() int64 {
	if s.MinRate == 0 {
		return DefaultServerMinRate
	}
	return s.MinRate
}

// open opens name under the root for reading. If it cannot be served, code
// and text are the error reply and cause says why.
//
// The file is opened with O_NONBLOCK so that a FIFO cannot block the open,
// then checked with fstat, so what is checked is what is read.
func (s *Server) open(name string) (f *os.File, size int64, code, text string, cause error) {
	if !filepath.IsLocal(name) {
		return nil, 0, spec.CodeForbidden, "name leaves the root", errors.New("not a local path")
	}
	f, err := s.openIn(name)
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent":
			// A symbolic link out of the root (os.Root's error, which
			// has no exported identity, or openat2's EXDEV).
			return nil, 0, spec.CodeForbidden, "name leaves the root", err
		case outOfFiles(err):
			// The server's shortage, not the file's: "busy", and the
			// connection closes (REQ-ERR-4), freeing a descriptor.
			return nil, 0, spec.CodeBusy, "server out of file descriptors", err
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR),
			errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP):
			// A component too long for the file system, or a loop of
			// symbolic links: nothing can exist at that name.
			return nil, 0, spec.CodeNotFound, "no such file", err
		}
		// Something is there but cannot be opened: a socket (ENXIO), or a
		// directory or FIFO without read permission. Its type comes first
		// (REQ-ERR-1); stat neither opens nor blocks.
		if fi, serr := s.statIn(name); serr == nil && !fi.Mode().IsRegular() {
			return nil, 0, spec.CodeNotRegular, "not a regular file (" + kind(fi.Mode()) + ")", err
		}
		if errors.Is(err, fs.ErrPermission) {
			return nil, 0, spec.CodeUnreadable, "permission denied", err
		}
		return nil, 0, spec.CodeUnreadable, "cannot open file", err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, spec.CodeUnreadable, "cannot stat file", err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, spec.CodeNotRegular, "not a regular file (" + kind(fi.Mode()) + ")", errors.New(fi.Mode().String())
	}
	return f, fi.Size(), "", "", nil
}

// logText returns a peer's text cut for a log record: the handler quotes
// it, and it is bounded here (SPEC.md REQ-SEC-10).
func logText(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
