package ref

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
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
	// buffer of it (at most 512KiB), so the last call has done == total.
	Progress func(done, total int64)
	// Dialer dials for Get; nil means a net.Dialer with Timeout.
	Dialer *net.Dialer
	// MaxTime bounds each Get and Fetch as a whole, from its start
	// (dialing included, for Client.Get) to its end; 0 means no bound. A
	// download that runs out of it fails with a *TimeLimitError.
	MaxTime time.Duration
	// MinRate is the slowest a download may go, in bytes per second,
	// judged over each successive RateWindow from the request on: a
	// window with fewer bytes fails the download with a *RateError. It
	// stops a server that trickles a byte now and then, each just inside
	// Timeout, from holding the client forever. 0 means DefaultMinRate;
	// a negative value turns the rule off.
	MinRate int64
	// RateWindow is the length of each window of MinRate; 0 means
	// DefaultRateWindow.
	RateWindow time.Duration
}

// Result describes a verified download.
type Result struct {
	Name   string // the requested name
	Size   int64  // bytes received
	Digest string // the MD5 of the data in hex, equal to the server's (with spec.DigestNone, unverified)
}

// Get dials addr over TCP, downloads name to dst as Session.Get does, and
// closes the connection. It checks the name and prepares dst before it
// dials, so a bad destination costs no connection. When ctx is done the
// connection is closed and the error wraps ctx.Err().
func (c *Client) Get(ctx context.Context, addr, name, dst string) (*Result, error) {
	if err := spec.ValidateName(name); err != nil {
		return nil, err
	}
	end := c.end(time.Now())
	ctx, cancel := withEnd(ctx, end)
	defer cancel()
	d, err := openDest(ctx, dst)
	if err != nil {
		return nil, err
	}
	var res *Result
	err = c.dialed(ctx, addr, end, func(s *Session) error {
		res, err = s.getInto(name, d)
		return err
	})
	if err != nil {
		d.abort()
	}
	return res, err
}

// Fetch dials addr over TCP, fetches name to w as Session.Fetch does, and
// closes the connection; ctx works as for Get.
func (c *Client) Fetch(ctx context.Context, addr, name string, w io.Writer) (*Result, error) {
	if err := spec.ValidateName(name); err != nil {
		return nil, err
	}
	end := c.end(time.Now())
	ctx, cancel := withEnd(ctx, end)
	defer cancel()
	var res *Result
	err := c.dialed(ctx, addr, end, func(s *Session) (err error) {
		res, err = s.Fetch(name, w)
		return err
	})
	return res, err
}

// dialed dials addr, runs f on a session over the connection, and closes
// it. The session's transfers end by end (zero: no bound).
func (c *Client) dialed(ctx context.Context, addr string, end time.Time, f func(*Session) error) error {
	d := c.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: orDefault(c.Timeout, DefaultTimeout)}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if !end.IsZero() && !time.Now().Before(end) {
			return &TimeLimitError{Limit: c.MaxTime}
		}
		return err
	}
	s := c.NewSession(nc)
	s.end = end
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	err = f(s)
	if !stop() && err != nil {
		// ctx is done and closed the connection.
		var tl *TimeLimitError
		switch {
		case errors.As(err, &tl):
		case !end.IsZero() && !time.Now().Before(end):
			err = &TimeLimitError{Limit: c.MaxTime}
		default:
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
	}
	return err
}

// end returns when a transfer begun at start must end, or the zero time.
func (c *Client) end(start time.Time) time.Time {
	if c.MaxTime <= 0 {
		return time.Time{}
	}
	return start.Add(c.MaxTime)
}

// withEnd returns ctx, done at end too unless end is zero.
func withEnd(ctx context.Context, end time.Time) (context.Context, context.CancelFunc) {
	if end.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, end)
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

	end  time.Time // when the transfer in progress must end; zero: no bound
	rate rateFloor // the minimum rate of the transfer in progress
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
	now := time.Now()
	if s.end.IsZero() {
		s.end = s.cfg.end(now)
	}
	defer func() { s.end = time.Time{} }()
	minRate := s.cfg.MinRate
	if minRate == 0 {
		minRate = DefaultMinRate
	}
	s.rate = newRateFloor(minRate, orDefault(s.cfg.RateWindow, DefaultRateWindow), now)
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
		return nil, replyError(err)
	}
	if r, ok := w.(sizeReserver); ok {
		// Before the ack: a size that cannot be stored is refused while
		// the server still waits, and no data is sent.
		if err := r.reserveSize(size); err != nil {
			return nil, err
		}
	}
	if err := s.write(spec.EncodeAck(s.cfg.Framing)); err != nil {
		return nil, fmt.Errorf("sending ack: %w", err)
	}

	sum, err := s.receive(size, w)
	if err != nil {
		return nil, err
	}

	if s.cfg.Digest == spec.DigestNone {
		return &Result{Name: name, Size: size, Digest: hex.EncodeToString(sum)}, nil
	}
	got, err := s.r.ReadDigest()
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, new(*spec.TruncatedError)) {
		err = &spec.TruncatedError{Phase: spec.PhaseDigest, Got: 0, Want: spec.DigestLen}
	}
	if err != nil {
		return nil, wrap("receiving digest", err)
	}
	local := hex.EncodeToString(sum)
	if got != local {
		return nil, &DigestError{Name: name, Server: got, Local: local}
	}
	return &Result{Name: name, Size: size, Digest: local}, nil
}

// NoReplyError reports a request that got no reply: the server closed or
// reset the connection, or stayed silent until the timeout. Besides a
// server that failed, the usual cause is a framing mismatch: a server of
// the line framing waits for an LF that a lockstep request never sends, and
// a lockstep server's reply has no LF for a line client to find.
type NoReplyError struct {
	Err error // what ended the wait: io.ErrUnexpectedEOF, a timeout, a reset
}

// Error returns "waiting for the size: ..." and what ended the wait.
func (e *NoReplyError) Error() string { return e.Err.Error() }

// Unwrap returns e.Err.
func (e *NoReplyError) Unwrap() error { return e.Err }

// replyError classifies a failure to read the reply: a reply that came
// but is wrong is returned as it is, no reply at all as *NoReplyError.
func replyError(err error) error {
	var pe *spec.ProtocolError
	var er *spec.ErrorReply
	w := wrap("waiting for the size", err)
	if errors.As(err, &pe) || errors.As(err, &er) || errors.Is(err, spec.ErrTooLong) {
		return w
	}
	return &NoReplyError{Err: w}
}

// receive reads exactly size bytes of data, hashes them and writes them
// to w (see receiver), and returns their MD5.
func (s *Session) receive(size int64, w io.Writer) ([]byte, error) {
	r := newReceiver(size, w)
	defer r.close()
	body := s.r.Body(size)
	var done int64
	s.progress(0, size)
	for done < size {
		// Fill the buffer (up to what is left) before handing it on, so
		// that a large transfer moves big chunks between goroutines.
		buf, err := r.next()
		if err != nil {
			return nil, fmt.Errorf("writing data: %w", err)
		}
		n, rerr := io.ReadFull(body, buf[:min(int64(len(buf)), size-done)])
		if n > 0 {
			r.add(buf[:n])
			done += int64(n)
			s.progress(done, size)
		}
		if rerr != nil {
			return nil, wrap("receiving data", rerr)
		}
	}
	sum, err := r.finish()
	if err != nil {
		return nil, fmt.Errorf("writing data: %w", err)
	}
	return sum, nil
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
	s.nc.SetWriteDeadline(s.opDeadline(time.Now()))
	_, err := s.nc.Write(b)
	if err != nil && s.pastEnd(time.Now()) {
		return &TimeLimitError{Limit: s.cfg.MaxTime}
	}
	return err
}

// opDeadline returns the deadline of one read or write begun at now: the
// Timeout, cut short by the end of the transfer.
func (s *Session) opDeadline(now time.Time) time.Time {
	d := now.Add(orDefault(s.cfg.Timeout, DefaultTimeout))
	if !s.end.IsZero() && s.end.Before(d) {
		return s.end
	}
	return d
}

func (s *Session) pastEnd(now time.Time) bool {
	return !s.end.IsZero() && !now.Before(s.end)
}

// deadlineReader sets the read deadline before every read of the
// connection, so each read, not the whole transfer, is bounded; it also
// keeps the transfer's end and minimum rate.
type deadlineReader struct{ s *Session }

func (d deadlineReader) Read(p []byte) (int, error) {
	s := d.s
	for {
		op := s.opDeadline(time.Now())
		dl := s.rate.deadline(op)
		s.nc.SetReadDeadline(dl)
		n, err := s.nc.Read(p)
		now := time.Now()
		if rerr := s.rate.add(n, now); rerr != nil {
			return n, rerr
		}
		if err == nil || !isTimeout(err) {
			return n, err
		}
		if s.pastEnd(now) {
			return n, &TimeLimitError{Limit: s.cfg.MaxTime}
		}
		if n > 0 || !dl.Before(op) {
			return n, err
		}
		// Only the rate window ended, and it was judged enough: read on.
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Get downloads name to dst. For a regular file (or none) at dst, it
// writes to a temporary file in the same directory, syncs it, and puts it
// in place only when the digest matched; on any failure it leaves nothing
// behind and an existing dst untouched. A device or FIFO at dst is written
// through instead, and a directory is refused before anything is sent:
// see DestError and the rules in dest.go. Before the ack it refuses a size
// the file system cannot hold (*SpaceError) and, where it can, reserves
// the space. Opening a FIFO waits for its reader (Client.Get can cancel
// that wait).
func (s *Session) Get(name, dst string) (*Result, error) {
	if s.broken != nil {
		return nil, fmt.Errorf("%w (%v)", ErrSessionBroken, s.broken)
	}
	if err := spec.ValidateName(name); err != nil {
		return nil, err
	}
	d, err := openDest(context.Background(), dst)
	if err != nil {
		return nil, err
	}
	return s.getInto(name, d)
}

// getInto fetches name into d and commits it once verified; on any
// failure d is aborted.
func (s *Session) getInto(name string, d destination) (*Result, error) {
	res, err := s.Fetch(name, d)
	if err != nil {
		d.abort()
		return nil, annotateThrough(err, d)
	}
	if err := d.commit(); err != nil {
		d.abort()
		return nil, fmt.Errorf("saving file: %w", err)
	}
	return res, nil
}

// Close closes the connection.
func (s *Session) Close() error {
	return s.nc.Close()
}
