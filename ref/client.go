package ref

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Client downloads files from a stickykit server. Its zero value is usable:
// lockstep framing, DefaultTimeout.
type Client struct {
	// Framing is the framing the server speaks.
	Framing spec.Framing
	// Digest says whether the server ends a transfer with a digest; the
	// zero value is spec.DigestMD5. With spec.DigestNone nothing can
	// verify the data: a transfer succeeds once SIZE bytes have arrived.
	Digest spec.DigestMode
	// Timeout bounds each read and each write; 0 means DefaultTimeout.
	Timeout time.Duration
	// Progress, if not nil, is called with the bytes of data received so
	// far and the announced size: once before the data and after every
	// buffer of it (at most 256KiB), so the last call has done == total.
	Progress func(done, total int64)
	// Dialer dials for Get; nil means a net.Dialer with Timeout.
	Dialer *net.Dialer
}

// Result describes a verified download.
type Result struct {
	Name   string // the requested name
	Size   int64  // bytes received
	Digest string // the MD5 of the data in hex, equal to the server's (with spec.DigestNone, unverified)
}

// Get dials addr over TCP, downloads name to dst as Session.Get does, and
// closes the connection. When ctx is done the connection is closed and the
// error wraps ctx.Err().
func (c *Client) Get(ctx context.Context, addr, name, dst string) (*Result, error) {
	d := c.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: orDefault(c.Timeout, DefaultTimeout)}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	s := c.NewSession(nc)
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	res, err := s.Get(name, dst)
	if !stop() && err != nil {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return res, err
}

// NewSession returns a Session that sends its requests over nc, which it
// owns from now on.
func (c *Client) NewSession(nc net.Conn) *Session {
	s := &Session{cfg: *c, nc: nc}
	s.r = spec.NewReader(deadlineReader{s}, c.Framing)
	return s
}

// Session is one client connection, over which it makes requests one at a
// time. It is not safe for concurrent use.
type Session struct {
	cfg    Client
	nc     net.Conn
	r      *spec.Reader
	broken error // the error that made the session unusable
}

// Fetch requests name, reads the size, sends the ack, streams exactly SIZE
// bytes to w while hashing them, reads the digest and compares. On a
// mismatch it returns a *DigestError, after all the data has gone to w.
//
// A refusal from the server is returned as a *spec.ErrorReply and leaves
// the session usable, except for the codes after which the server closes
// the connection (busy, bad-request, too-long). Any other error leaves it
// unusable: later calls return ErrSessionBroken at once.
func (s *Session) Fetch(name string, w io.Writer) (*Result, error) {
	if s.broken != nil {
		return nil, fmt.Errorf("%w (%v)", ErrSessionBroken, s.broken)
	}
	req, err := spec.EncodeRequest(s.cfg.Framing, name)
	if err != nil {
		return nil, err
	}
	res, err := s.fetch(name, req, w)
	if err != nil && !keepsSession(err) {
		s.broken = err
	}
	return res, err
}

func keepsSession(err error) bool {
	var er *spec.ErrorReply
	if !errors.As(err, &er) {
		return false
	}
	switch er.Code {
	case spec.CodeBusy, spec.CodeBadRequest, spec.CodeTooLong:
		return false
	}
	return true
}

func (s *Session) fetch(name string, req []byte, w io.Writer) (*Result, error) {
	defer s.nc.SetDeadline(time.Time{})
	if err := s.write(req); err != nil {
		return nil, fmt.Errorf("sending request: %w", err)
	}
	size, err := s.r.ReadReply()
	if err != nil {
		return nil, wrap("waiting for the size", err)
	}
	if err := s.write(spec.EncodeAck(s.cfg.Framing)); err != nil {
		return nil, fmt.Errorf("sending ack: %w", err)
	}

	d := newDigester(size)
	defer d.close()
	body := s.r.Body(size)
	var done int64
	s.progress(0, size)
	for done < size {
		// Fill the buffer (up to what is left) before handing it on, so
		// that a large transfer moves big chunks between goroutines.
		buf := d.next()
		n, rerr := io.ReadFull(body, buf[:min(int64(len(buf)), size-done)])
		if n > 0 {
			d.add(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return nil, fmt.Errorf("writing data: %w", err)
			}
			done += int64(n)
			s.progress(done, size)
		}
		if rerr != nil {
			return nil, wrap("receiving data", rerr)
		}
	}

	if s.cfg.Digest == spec.DigestNone {
		return &Result{Name: name, Size: size, Digest: hex.EncodeToString(d.sum())}, nil
	}
	got, err := s.r.ReadDigest()
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, new(*spec.TruncatedError)) {
		err = &spec.TruncatedError{Phase: spec.PhaseDigest, Got: 0, Want: spec.DigestLen}
	}
	if err != nil {
		return nil, wrap("receiving digest", err)
	}
	local := hex.EncodeToString(d.sum())
	if got != local {
		return nil, &DigestError{Name: name, Server: got, Local: local}
	}
	return &Result{Name: name, Size: size, Digest: local}, nil
}

// wrap adds the phase to I/O errors; errors of package spec already say
// which message they concern.
func wrap(phase string, err error) error {
	var pe *spec.ProtocolError
	var te *spec.TruncatedError
	var er *spec.ErrorReply
	if errors.As(err, &pe) || errors.As(err, &te) || errors.As(err, &er) || errors.Is(err, spec.ErrTooLong) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: server closed the connection: %w", phase, err)
	}
	return fmt.Errorf("%s: %w", phase, err)
}

func (s *Session) progress(done, total int64) {
	if s.cfg.Progress != nil {
		s.cfg.Progress(done, total)
	}
}

func (s *Session) write(b []byte) error {
	s.nc.SetWriteDeadline(time.Now().Add(orDefault(s.cfg.Timeout, DefaultTimeout)))
	_, err := s.nc.Write(b)
	return err
}

// deadlineReader sets the read deadline before every read of the
// connection, so each read, not the whole transfer, is bounded.
type deadlineReader struct{ s *Session }

func (d deadlineReader) Read(p []byte) (int, error) {
	d.s.nc.SetReadDeadline(time.Now().Add(orDefault(d.s.cfg.Timeout, DefaultTimeout)))
	return d.s.nc.Read(p)
}

// Get downloads name to the file dst. It writes to a temporary file beside
// dst, syncs it, and renames it to dst only when the digest matched. On any
// failure it removes the temporary file, leaves an existing dst untouched,
// and returns the error.
func (s *Session) Get(name, dst string) (*Result, error) {
	if s.broken != nil {
		return nil, fmt.Errorf("%w (%v)", ErrSessionBroken, s.broken)
	}
	if err := spec.ValidateName(name); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return nil, fmt.Errorf("creating temporary file: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	res, err := s.Fetch(name, writeBehind(tmp))
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, fmt.Errorf("saving file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("saving file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("saving file: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return nil, fmt.Errorf("saving file: %w", err)
	}
	kept = true
	return res, nil
}

// Close closes the connection.
func (s *Session) Close() error {
	return s.nc.Close()
}
