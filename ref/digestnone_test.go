package ref_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// TestDigestNone checks the exchange without a digest (the tutorial's
// first version), in both framings: the server sends exactly SIZE bytes
// and then nothing, so a second request on the same connection is
// answered at once; the client keeps the file once SIZE bytes arrived.
func TestDigestNone(t *testing.T) {
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			root := t.TempDir()
			data := content(t, 70001)
			writeFiles(t, root, map[string][]byte{"a.bin": data})
			srv := newServer(t, root, f)
			srv.Digest = spec.DigestNone
			addr := serveTCP(t, srv)

			// The wire: SIZE bytes, then the next reply and nothing else.
			c := dialTCP(t, addr)
			r := spec.NewReader(c, f)
			for i := 0; i < 2; i++ {
				req, _ := spec.EncodeRequest(f, "a.bin")
				must(t, write(c, req))
				size, err := r.ReadReply()
				if err != nil || size != int64(len(data)) {
					t.Fatalf("exchange %d: reply %d, %v; want %d", i+1, size, err, len(data))
				}
				must(t, write(c, spec.EncodeAck(f)))
				got, err := io.ReadAll(r.Body(size))
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("exchange %d: %d bytes, %v; want the file", i+1, len(got), err)
				}
			}
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if n, err := c.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
				t.Errorf("after the data: %d bytes, %v; want nothing (no digest)", n, err)
			}

			// The client.
			out := filepath.Join(t.TempDir(), "a.bin")
			cl := &ref.Client{Framing: f, Digest: spec.DigestNone, Timeout: 5 * time.Second}
			res, err := cl.Get(context.Background(), addr, "a.bin", out)
			if err != nil || res.Size != int64(len(data)) || res.Digest != md5hex(data) {
				t.Fatalf("Get = %+v, %v; want %d bytes hashing to %s", res, err, len(data), md5hex(data))
			}
			if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
				t.Errorf("the file at OUT differs from the served one (%v)", err)
			}
		})
	}
}
