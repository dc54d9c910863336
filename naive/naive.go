package naive

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Variant selects which of the tutorial's clients to reproduce.
type Variant int

const (
	// Naive is the tutorial's first client: recv(1024) until at least SIZE
	// bytes have arrived, writing everything it read, then one recv(1024)
	// for the digest.
	Naive Variant = iota
	// Article is the article's fix: recv(min(1024, remaining)) for the body,
	// then one recv(1024) for the digest.
	Article
)

// ParseVariant returns the variant named s: "naive" or "article".
func ParseVariant(s string) (Variant, error) {
	switch strings.ToLower(s) {
	case "naive":
		return Naive, nil
	case "article":
		return Article, nil
	}
	return 0, fmt.Errorf("naive: unknown variant %q (want naive or article)", s)
}

// String returns "naive" or "article".
func (v Variant) String() string {
	switch v {
	case Naive:
		return "naive"
	case Article:
		return "article"
	}
	return fmt.Sprintf("Variant(%d)", int(v))
}

// BufSize is the size of every read a Client makes, as the tutorial's
// recv(1024).
const BufSize = 1024

// Defaults for the zero values of the Client's durations.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultDigestWait = time.Second
)

// Client downloads one file per Get the way the tutorial's clients did. Its
// zero value is the tutorial's first client in the lockstep framing.
type Client struct {
	Variant Variant
	Framing spec.Framing

	// Timeout bounds each read of the size and of the body, and each
	// write. Zero or less means DefaultTimeout.
	Timeout time.Duration

	// DigestWait is how long the single digest read waits. Zero or less
	// means DefaultDigestWait. The tutorial's client waited forever when its
	// body reads had swallowed the digest; a Client stops after DigestWait
	// and reports that no digest came.
	DigestWait time.Duration
}

// Result is what a Get read and wrote: a record of the tutorial's reads,
// not a verified download (compare ref.Result, which reports a file whose
// digest matched).
type Result struct {
	Size        int64  // size announced by the server
	Written     int64  // bytes written to w; more than Size when digest bytes were taken as data
	Local       string // MD5 of what was written, in lowercase hex
	Server      string // what the single digest read returned, as text: "", part of a digest, or 32 hex digits
	Match       bool   // Local == Server
	Reads       []int  // length of every body read, in order
	DigestReads int    // bytes the digest read returned
}

// Get requests name on conn, reads the reply, acknowledges it, and reads
// the body and the digest as the client's Variant does, writing every byte
// its body reads return to w.
//
// Unlike ref.Client.Get, which dials, verifies and leaves a file only when
// its digest matched, Get works on a connection the caller opened, writes
// whatever its reads returned (corrupt or not, as the tutorial did), and
// only reports whether the digests matched; it is the counterpart of
// ref.Session.Fetch, wrong on purpose.
//
// Get returns an error only when the exchange fails before the body is
// complete: a failed write or read, the server's error reply (a
// *spec.ErrorReply), a malformed size (a *spec.ProtocolError), or a stream
// that ends early (matching io.ErrUnexpectedEOF). A digest that does not
// match, is partial, or never comes is not an error: Result.Match is false.
// The Result is never nil; after an error it describes what was done.
// Get clears conn's deadlines before it returns.
func (c *Client) Get(conn net.Conn, name string, w io.Writer) (*Result, error) {
	res := &Result{}
	h := md5.New()
	defer func() { res.Local = hex.EncodeToString(h.Sum(nil)) }()
	req, err := spec.EncodeRequest(c.Framing, name)
	if err != nil {
		return res, fmt.Errorf("naive: %w", err)
	}
	defer conn.SetDeadline(time.Time{})

	// client.send(cmd.encode())
	if err := c.write(conn, req); err != nil {
		return res, fmt.Errorf("naive: send request: %w", err)
	}

	// server_response = client.recv(1024)
	buf := make([]byte, BufSize)
	n, err := c.read(conn, buf, c.timeout())
	if n == 0 {
		return res, fmt.Errorf("naive: read size: %w", eofUnexpected(err))
	}
	reply := buf[:n]
	if c.Framing == spec.Line {
		reply = spec.TrimLine(reply)
	}
	size, err := spec.ParseReply(reply)
	if err != nil {
		return res, fmt.Errorf("naive: get %q: %w", name, err)
	}
	res.Size = size

	// client.send(b"ready to recv file")
	if err := c.write(conn, spec.EncodeAck(c.Framing)); err != nil {
		return res, fmt.Errorf("naive: send ack: %w", err)
	}

	// while received_size < file_total_size: data = client.recv(...)
	var received int64
	for received < size {
		p := buf
		if c.Variant == Article {
			p = buf[:min(int64(len(buf)), size-received)]
		}
		n, err := c.read(conn, p, c.timeout())
		if n > 0 {
			res.Reads = append(res.Reads, n)
			received += int64(n)
			h.Write(p[:n])
			wn, werr := w.Write(p[:n])
			res.Written += int64(wn)
			if werr != nil {
				return res, fmt.Errorf("naive: write output: %w", werr)
			}
		}
		if err != nil && received < size {
			if err == io.EOF {
				err = &spec.TruncatedError{Phase: spec.PhaseData, Got: received, Want: size}
			}
			return res, fmt.Errorf("naive: read body: %w", err)
		}
	}

	// server_file_md5 = client.recv(1024). A timeout or an EOF means no
	// digest came, which the Result shows; neither is an error here.
	n, _ = c.read(conn, buf, c.digestWait())
	res.DigestReads = n
	res.Server = string(buf[:n])
	res.Local = hex.EncodeToString(h.Sum(nil))
	res.Match = res.Local == res.Server
	return res, nil
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Client) digestWait() time.Duration {
	if c.DigestWait <= 0 {
		return DefaultDigestWait
	}
	return c.DigestWait
}

// write sends b with one Write under the write deadline.
func (c *Client) write(conn net.Conn, b []byte) error {
	if err := conn.SetWriteDeadline(time.Now().Add(c.timeout())); err != nil {
		return err
	}
	_, err := conn.Write(b)
	return err
}

// read makes one Read into p under a read deadline of d, as one recv did.
// A Read that returns 0, nil is retried a few times.
func (c *Client) read(conn net.Conn, p []byte, d time.Duration) (int, error) {
	if err := conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		// net.Pipe refuses a deadline once the peer has closed; the Read
		// cannot block then, and says EOF, which is what the caller needs.
		if !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, net.ErrClosed) {
			return 0, err
		}
	}
	for range 100 {
		n, err := conn.Read(p)
		if n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
