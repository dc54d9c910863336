package spec

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// Reader decodes the messages of the exchange from one connection, in one
// framing, without ever consuming a byte of the message after the one it
// was asked for. Use one Reader per connection for its whole life: the body
// and the digest are read from the same buffer as the control messages.
type Reader struct {
	br  *bufio.Reader
	f   Framing
	buf []byte
}

// readBufSize is the buffer of a Reader: large enough for any control
// message plus its terminator and for efficient body reads.
const readBufSize = 64 << 10

// NewReader returns a Reader that reads the framing f from r. A
// *bufio.Reader with room for the longest control line (MaxControlLen+2
// bytes) is used as is, so the Reader and other readers of it share one
// buffer; any other reader, a smaller *bufio.Reader included, is wrapped in
// a new 64 KiB bufio.Reader, which reads ahead of it: read the connection
// through the Reader only, from then on.
func NewReader(r io.Reader, f Framing) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < MaxControlLen+2 {
		br = bufio.NewReaderSize(r, readBufSize)
	}
	return &Reader{br: br, f: f}
}

// Framing returns the framing r decodes.
func (r *Reader) Framing() Framing { return r.f }

// Buffered returns the number of bytes read from the connection but not yet
// consumed by a message.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadRequest reads a request and returns the requested name. At a clean end
// of stream before the first byte it returns io.EOF: the client has left.
// A request longer than MaxControlLen yields an error wrapping ErrTooLong;
// any other malformed request, a *ProtocolError.
//
// In the line framing a line equal to AckText is skipped: it is the ack a
// client pipelined behind a request that was refused (SPEC.md REQ-LINE-4).
func (r *Reader) ReadRequest() (string, error) {
	for {
		b, err := r.readControl(PhaseRequest, true)
		if err != nil {
			return "", err
		}
		if r.f == Line && string(b) == AckText {
			continue
		}
		return ParseRequest(b)
	}
}

// ReadReply reads the server's answer to a request: the size, or an error
// reply returned as a *ErrorReply error.
func (r *Reader) ReadReply() (int64, error) {
	b, err := r.readControl(PhaseReply, false)
	if err != nil {
		return 0, err
	}
	return ParseReply(b)
}

// ReadAck reads one acknowledgement and discards its content, as the
// tutorial's server did. An empty line is an ack too.
func (r *Reader) ReadAck() error {
	_, err := r.readControl(PhaseAck, false)
	return err
}

// Body returns a reader of exactly size bytes of file content. It reports
// io.EOF after the last byte and io.ErrUnexpectedEOF if the stream ends
// before it. The digest that follows stays unread.
func (r *Reader) Body(size int64) io.Reader {
	return &bodyReader{br: r.br, n: size}
}

// ReadDigest reads exactly DigestLen bytes and checks they are lowercase hex.
func (r *Reader) ReadDigest() (string, error) {
	var b [DigestLen]byte
	n, err := io.ReadFull(r.br, b[:])
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if n > 0 && errors.Is(err, io.ErrUnexpectedEOF) {
			return "", &TruncatedError{Phase: PhaseDigest, Got: int64(n), Want: DigestLen}
		}
		return "", err
	}
	return ParseDigest(b[:])
}

// TruncatedError reports a stream that ended inside a fixed-length message.
// It matches io.ErrUnexpectedEOF with errors.Is.
type TruncatedError struct {
	Phase Phase
	Got   int64 // bytes received
	Want  int64 // bytes announced
}

// Error returns "spec: PHASE truncated: got N of M bytes".
func (e *TruncatedError) Error() string {
	return "spec: " + string(e.Phase) + " truncated: got " + itoa(e.Got) + " of " + itoa(e.Want) + " bytes"
}

// Is reports whether target is io.ErrUnexpectedEOF.
func (e *TruncatedError) Is(target error) bool { return target == io.ErrUnexpectedEOF }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// readControl reads one control message's content, without terminator.
// atStart says whether a clean EOF before any byte is io.EOF (the peer left
// between exchanges) rather than io.ErrUnexpectedEOF.
func (r *Reader) readControl(p Phase, atStart bool) ([]byte, error) {
	var b []byte
	var err error
	if r.f == Line {
		b, err = r.readLine()
	} else {
		b, err = r.readOnce()
	}
	if err == io.EOF && !atStart {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, ErrTooLong) {
		return nil, &tooLongError{p}
	}
	return b, err
}

type tooLongError struct{ p Phase }

func (e *tooLongError) Error() string {
	return "spec: " + string(e.p) + " longer than " + itoa(MaxControlLen) + " bytes"
}
func (e *tooLongError) Unwrap() error { return ErrTooLong }

// readOnce performs the lockstep framing's single bounded read.
func (r *Reader) readOnce() ([]byte, error) {
	if r.buf == nil {
		r.buf = make([]byte, MaxControlLen+1)
	}
	// A conforming io.Reader does not return 0, nil; tolerate a few.
	for tries := 0; tries < 100; tries++ {
		n, err := r.br.Read(r.buf)
		if n > MaxControlLen {
			return nil, ErrTooLong
		}
		if n > 0 {
			return r.buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, io.ErrNoProgress
}

// readLine reads up to and including LF and returns the content without
// its terminator. It never buffers more than MaxControlLen+2 bytes of one
// line: a peer that sends a longer line is refused as soon as the limit is
// passed, not when it finally sends LF.
func (r *Reader) readLine() ([]byte, error) {
	var line []byte
	for {
		n := r.br.Buffered()
		if n == 0 {
			if _, err := r.br.Peek(1); err != nil {
				if err == io.EOF && len(line) > 0 {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, err
			}
			n = r.br.Buffered()
		}
		buf, _ := r.br.Peek(n)
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line = append(line, buf[:i+1]...)
			r.br.Discard(i + 1)
			line = TrimLine(line)
			if len(line) > MaxControlLen {
				return nil, ErrTooLong
			}
			return line, nil
		}
		// Take no more than one byte past what a line may hold (+1 for a
		// CR that may still precede the LF), so an endless line costs
		// at most MaxControlLen+2 bytes before it is refused.
		if room := MaxControlLen + 2 - len(line); n > room {
			n = room
		}
		line = append(line, buf[:n]...)
		r.br.Discard(n)
		// Past MaxControlLen only a CR (then LF) may still come.
		if len(line) > MaxControlLen+1 || len(line) == MaxControlLen+1 && line[MaxControlLen] != '\r' {
			return nil, ErrTooLong
		}
	}
}

type bodyReader struct {
	br   *bufio.Reader
	n    int64 // bytes left
	done int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	b.done += int64(n)
	if err == io.EOF {
		if b.n > 0 {
			return n, &TruncatedError{Phase: PhaseData, Got: b.done, Want: b.done + b.n}
		}
		err = nil
	}
	return n, err
}
