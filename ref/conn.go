package ref

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
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
	s   *Server
	nc  net.Conn
	id  uint64
	r   *spec.Reader
	log *slog.Logger

	idle bool // waiting for a request; guarded by s.mu
}

// connReadBufSize is the read buffer of a served connection: room for the
// longest control message and its terminator.
const connReadBufSize = 4 << 10

// requestDrain bounds the drain after a bad-request or too-long reply.
const requestDrain = time.Second

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, id: s.nextID.Add(1)}
	var rd io.Reader = nc
	if s.Debug != nil {
		rd = debugReader{c}
	}
	// A server reads only control messages, so a small buffer will do; an
	// idle connection holds it for its whole life.
	c.r = spec.NewReader(bufio.NewReaderSize(rd, connReadBufSize), s.Framing)
	c.log = s.logger().With("conn", c.id, "remote", nc.RemoteAddr().String())
	return c
}

// serve runs the connection until it ends, and closes it.
func (c *conn) serve() {
	start := time.Now()
	requests := 0
	reason := "client left"
	c.log.Info("conn accepted")
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic serving connection", "panic", v, "stack", string(debug.Stack()))
			reason = "panic"
		}
		c.nc.Close()
		c.log.Info("conn closed", "reason", reason, "requests", requests, "duration", time.Since(start))
	}()
	for {
		if !c.s.setIdle(c, true) {
			reason = "shutdown"
			return
		}
		name, err := c.readRequest()
		if !c.s.setIdle(c, false) {
			reason = "shutdown"
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

func (c *conn) readRequest() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(orDefault(c.s.IdleTimeout, DefaultIdleTimeout)))
	defer c.nc.SetReadDeadline(time.Time{})
	return c.r.ReadRequest()
}

// refuse deals with a request that could not be read, answering it when it
// was malformed, and returns why the connection ends.
func (c *conn) refuse(err error) string {
	var pe *spec.ProtocolError
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "client left"
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
	log := c.log.With("name", name)
	f, size, code, text, cause := c.s.open(name)
	if code != "" {
		log.Info("request", "result", code, "err", cause, "duration", time.Since(start))
		return c.write(spec.EncodeError(c.s.Framing, code, text))
	}
	defer f.Close()

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

	sum, sent, err := c.sendBody(f, size)
	if err != nil {
		log.Warn("request", "result", "aborted", "err", err, "size", size, "bytes", sent, "duration", time.Since(start))
		return err
	}
	if c.s.Digest == spec.DigestNone {
		sum = nil // the exchange without a digest ends with the data
	} else if err := c.write(sum); err != nil {
		return fmt.Errorf("sending digest: %w", err)
	}
	log.Info("request", "result", "ok", "size", size, "bytes", sent, "digest", string(sum), "duration", time.Since(start))
	return nil
}

// sendBody sends exactly size bytes of f, hashing them, and returns their
// digest. A file that has shrunk is an error: the connection closes without
// a digest. Bytes past size are never read. A large file is hashed on a
// second goroutine while it is sent (see digester).
func (c *conn) sendBody(f *os.File, size int64) (digest []byte, sent int64, err error) {
	d := newDigester(size)
	defer d.close()
	for sent < size {
		buf := d.next()
		n := int(min(int64(len(buf)), size-sent))
		m, rerr := io.ReadFull(f, buf[:n])
		if m > 0 {
			d.add(buf[:m])
			if err := c.write(buf[:m]); err != nil {
				return nil, sent, fmt.Errorf("sending data: %w", err)
			}
			sent += int64(m)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			return nil, sent, fmt.Errorf("file shrank to %d bytes while being sent (announced %d)", sent, size)
		}
		if rerr != nil {
			return nil, sent, fmt.Errorf("reading file: %w", rerr)
		}
	}
	digest, err = spec.EncodeDigest(d.sum())
	return digest, sent, err
}

// write writes b whole within WriteTimeout.
func (c *conn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(orDefault(c.s.WriteTimeout, DefaultWriteTimeout)))
	n, err := c.nc.Write(b)
	c.nc.SetWriteDeadline(time.Time{})
	if c.s.Debug != nil {
		c.s.debugf(c.id, ">", b[:n])
	}
	return err
}

type debugReader struct{ c *conn }

func (d debugReader) Read(p []byte) (int, error) {
	n, err := d.c.nc.Read(p)
	if n > 0 {
		d.c.s.debugf(d.c.id, "<", p[:n])
	}
	return n, err
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
	f, err := s.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent":
			// os.Root's error for a symbolic link out of the root; it
			// has no exported identity.
			return nil, 0, spec.CodeForbidden, "name leaves the root", err
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR),
			errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.ELOOP):
			// A component too long for the file system, or a loop of
			// symbolic links: nothing can exist at that name.
			return nil, 0, spec.CodeNotFound, "no such file", err
		}
		// Something is there but cannot be opened: a socket (ENXIO), or a
		// directory or FIFO without read permission. Its type comes first
		// (REQ-ERR-1); stat neither opens nor blocks.
		if fi, serr := s.root.Stat(name); serr == nil && !fi.Mode().IsRegular() {
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
