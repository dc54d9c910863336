package ref

import (
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// sendChunk is the most data one sendfile call sends under one write
// deadline, so that WriteTimeout bounds the progress of a slow reader as
// it bounds each write of a hashed transfer.
const sendChunk = 1 << 20

// sendResult is the outcome of sendBody.
type sendResult struct {
	digest     []byte // the digest to send; nil on error
	sent       int64  // data bytes sent
	remembered bool   // the digest was remembered, not computed now
}

// snapshot reads the version of f before its size is sent, unless the
// digest cache is off.
func (c *conn) snapshot(f *os.File, size int64) snapshot {
	if c.s.DisableDigestCache || c.s.digests == nil {
		return snapshot{}
	}
	return c.s.digests.snapshot(f, size)
}

// sendBody sends exactly size bytes of f and returns their digest.
//
// When the server remembers the digest of the version of f read before the
// size (snap), and f still has that version after the ack, the data goes
// out with sendfile, unhashed, and the remembered digest follows if the
// version is still the same after the last byte. If it is not, the server
// cannot know the digest of what it sent, so it returns an error: the
// connection closes without a digest (SPEC.md REQ-SRV-18).
//
// Otherwise the data is hashed as it is sent, and its digest is remembered
// when the version did not change from before the size to after the last
// byte.
//
// A file that has shrunk is an error: the connection closes without a
// digest. Bytes past size are never read.
func (c *conn) sendBody(f *os.File, size int64, snap snapshot) (sendResult, error) {
	if sum, ok := c.remembered(f, snap); ok {
		sent, err := c.sendKnown(f, size)
		if err == nil && !unchanged(f, snap) {
			err = fmt.Errorf("file changed while being sent from its remembered digest (%d bytes sent): no digest can vouch for them", sent)
		}
		if err != nil {
			c.s.digests.remove(snap.v)
			return sendResult{sent: sent, remembered: true}, err
		}
		digest, err := spec.EncodeDigest(sum[:])
		return sendResult{digest: digest, sent: sent, remembered: true}, err
	}
	sum, sent, err := c.sendHashed(f, size)
	if err != nil {
		return sendResult{sent: sent}, err
	}
	if snap.ok && unchanged(f, snap) {
		c.s.digests.put(snap, sum)
	}
	digest, err := spec.EncodeDigest(sum[:])
	return sendResult{digest: digest, sent: sent}, err
}

// remembered returns the digest remembered for the version of snap if f
// still has that version.
func (c *conn) remembered(f *os.File, snap snapshot) ([md5.Size]byte, bool) {
	if !snap.ok {
		return [md5.Size]byte{}, false
	}
	sum, ok := c.s.digests.get(snap.v)
	if !ok || !unchanged(f, snap) {
		return [md5.Size]byte{}, false
	}
	return sum, true
}

// sendKnown sends size bytes of f without hashing them: with sendfile
// when the connection can (io.Copy from an *os.File to a *net.TCPConn),
// in chunks of sendChunk each under its own write deadline, keeping the
// minimum rate as c.write does. With Debug
// set, or over a connection without ReadFrom, it copies through a buffer
// and c.write, so that the Debug copy sees every byte.
func (c *conn) sendKnown(f *os.File, size int64) (int64, error) {
	rf, ok := c.nc.(io.ReaderFrom)
	if !ok || c.s.Debug != nil {
		return c.copyBody(f, size, nil)
	}
	defer c.nc.SetWriteDeadline(time.Time{})
	var sent int64
	for sent < size {
		n := min(sendChunk, size-sent)
		op := time.Now().Add(orDefault(c.s.WriteTimeout, DefaultWriteTimeout))
		dl := c.rate.deadline(op)
		c.nc.SetWriteDeadline(dl)
		m, err := rf.ReadFrom(io.LimitReader(f, n))
		sent += m
		if rerr := c.rate.add(int(m), time.Now()); rerr != nil {
			return sent, rerr
		}
		if err != nil && isTimeout(err) && dl.Before(op) {
			// Only the rate window ended, and it was judged enough: the
			// file's offset has moved past what was sent, so send on.
			continue
		}
		if err != nil {
			return sent, fmt.Errorf("sending data: %w", err)
		}
		if m < n {
			return sent, shrank(sent, size)
		}
	}
	return sent, nil
}

// sendHashed sends size bytes of f, hashing them, and returns their MD5.
// A large file is hashed on a second goroutine while it is sent (see
// digester).
func (c *conn) sendHashed(f *os.File, size int64) (sum [md5.Size]byte, sent int64, err error) {
	d := newDigester(size)
	defer d.close()
	sent, err = c.copyBody(f, size, d)
	if err != nil {
		return sum, sent, err
	}
	copy(sum[:], d.sum())
	return sum, sent, nil
}

// copyBody sends size bytes of f through a buffer, handing each filled
// part to d before writing it out when d is not nil.
func (c *conn) copyBody(f *os.File, size int64, d *digester) (sent int64, err error) {
	var buf []byte
	if d == nil {
		pool := &pipeBufPool
		if size <= smallBufSize {
			pool = &smallBufPool
		}
		bp := pool.Get().(*[]byte)
		defer pool.Put(bp)
		buf = *bp
	}
	for sent < size {
		if d != nil {
			buf = d.next()
		}
		n := int(min(int64(len(buf)), size-sent))
		m, rerr := io.ReadFull(f, buf[:n])
		if m > 0 {
			if d != nil {
				d.add(buf[:m])
			}
			if err := c.write(buf[:m]); err != nil {
				return sent, fmt.Errorf("sending data: %w", err)
			}
			sent += int64(m)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			return sent, shrank(sent, size)
		}
		if rerr != nil {
			return sent, fmt.Errorf("reading file: %w", rerr)
		}
	}
	return sent, nil
}

func shrank(sent, size int64) error {
	return fmt.Errorf("file shrank to %d bytes while being sent (announced %d)", sent, size)
}
