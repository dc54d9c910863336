//go:build linux

package ref_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// The tests of remembered digests (REQ-SRV-18). The digest cache only
// remembers a version whose change time is DigestSettleTime old when it is read;
// files made by a test are younger, so these tests move the cache's clock
// an hour ahead (settledClock) and make sure themselves that every change
// they make moves the change time (changeCtime).

// settledClock runs an hour ahead, so every file the test made has settled.
func settledClock() time.Time { return time.Now().Add(time.Hour) }

// rememberingServer returns a server for root whose digest cache treats
// every file as settled, and the buffer its JSON log goes to.
func rememberingServer(t *testing.T, root string, f spec.Framing) (*ref.Server, *syncBuffer) {
	t.Helper()
	srv := newServer(t, root, f)
	logs := new(syncBuffer)
	srv.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	ref.SetDigestClock(srv, settledClock)
	return srv, logs
}

// requestRecord is a "request" record of the server's JSON log.
type requestRecord struct {
	Msg        string `json:"msg"`
	Name       string `json:"name"`
	Result     string `json:"result"`
	Digest     string `json:"digest"`
	Remembered bool   `json:"remembered"`
}

// requests returns the request records of name in a JSON log.
func requests(t *testing.T, logs *syncBuffer, name string) []requestRecord {
	t.Helper()
	var rs []requestRecord
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var r requestRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r.Msg == "request" && r.Name == name {
			rs = append(rs, r)
		}
	}
	return rs
}

// remembered returns, for each logged request of name, whether its digest
// was remembered: "h" for hashed, "r" for remembered.
func remembered(t *testing.T, logs *syncBuffer, name string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range requests(t, logs, name) {
		if r.Remembered {
			b.WriteByte('r')
		} else {
			b.WriteByte('h')
		}
	}
	return b.String()
}

// newSession returns a session over a new connection to addr.
func newSession(t *testing.T, addr string) *ref.Session {
	t.Helper()
	return (&ref.Client{Timeout: 10 * time.Second}).NewSession(dialTCP(t, addr))
}

// fetch fetches name over s.
func fetch(s *ref.Session, name string) ([]byte, *ref.Result, error) {
	var buf bytes.Buffer
	res, err := s.Fetch(name, &buf)
	return buf.Bytes(), res, err
}

// barrier requests a file that does not exist over s and waits for the
// reply. The server logs a request before it reads the next one on the
// same connection, so after barrier the log holds every earlier request
// of s.
func barrier(t *testing.T, s *ref.Session) {
	t.Helper()
	var er *spec.ErrorReply
	if _, err := s.Fetch("no such file", io.Discard); !errors.As(err, &er) {
		t.Fatalf("barrier request: %v, want an error reply", err)
	}
}

// rawBarrier is barrier for a raw client.
func rawBarrier(t *testing.T, rc *rawClient) {
	t.Helper()
	req, err := spec.EncodeRequest(spec.Lockstep, "no such file")
	must(t, err)
	must(t, write(rc.c, req))
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var er *spec.ErrorReply
	if _, err := rc.r.ReadReply(); !errors.As(err, &er) {
		t.Fatalf("barrier request: %v, want an error reply", err)
	}
}

// changeCtime calls change, which must change the file at path, until the
// file's change time differs from before: a change within one timestamp
// tick of the last keeps its change time.
func changeCtime(t *testing.T, path string, change func() error) {
	t.Helper()
	before := ctimeOf(t, path)
	for i := 0; ; i++ {
		must(t, change())
		if ctimeOf(t, path) != before {
			return
		}
		if i == 10000 {
			t.Fatalf("the change time of %s stays %v", path, before)
		}
	}
}

// ctimeOf returns the change time of the file at path.
func ctimeOf(t *testing.T, path string) syscall.Timespec {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Stat(path, &st))
	return st.Ctim
}

// TestDigestRemembered: the second transfer of an unchanged file sends the
// remembered digest, and the data and digest are right for every size,
// over TCP (sendfile) and a pipe (a copy), with and without Debug (with
// Debug, the data still passes through the Debug copy).
func TestDigestRemembered(t *testing.T) {
	sizes := append(append([]int{}, transferSizes...), 64<<10, 64<<10+1, 300<<10)
	for _, tr := range transports {
		for _, debug := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/debug=%v", tr.name, debug), func(t *testing.T) {
				root := t.TempDir()
				files := map[string][]byte{}
				for _, n := range sizes {
					files[fmt.Sprintf("f%d", n)] = content(t, n)
				}
				writeFiles(t, root, files)
				srv, logs := rememberingServer(t, root, spec.Lockstep)
				var wire syncBuffer
				if debug {
					srv.Debug = &wire
				}
				c := tr.dial(t, srv)
				s := (&ref.Client{Timeout: 10 * time.Second}).NewSession(c)
				for round := range 2 {
					for _, n := range sizes {
						name := fmt.Sprintf("f%d", n)
						var buf bytes.Buffer
						res, err := s.Fetch(name, &buf)
						if err != nil {
							t.Fatalf("round %d: Fetch(%s) = %v", round, name, err)
						}
						if want := files[name]; !bytes.Equal(buf.Bytes(), want) || res.Digest != md5hex(want) {
							t.Fatalf("round %d: %s: got %d bytes digest %s, want %d bytes digest %s", round, name, buf.Len(), res.Digest, len(want), md5hex(want))
						}
					}
				}
				barrier(t, s)
				for _, n := range sizes {
					if got := remembered(t, logs, fmt.Sprintf("f%d", n)); got != "hr" {
						t.Errorf("f%d: requests %q, want %q (hashed, then remembered)", n, got, "hr")
					}
				}
				if got := ref.DigestCacheLen(srv); got != len(sizes) {
					t.Errorf("DigestCacheLen = %d, want %d", got, len(sizes))
				}
				if debug {
					// Each 1025-byte transfer writes its data in one piece.
					if got, want := strings.Count(wire.String(), "> 1025 bytes"), 2; got != want {
						t.Errorf("Debug copy shows %d writes of 1025 bytes, want %d (one per transfer):\n%s", got, want, wire.String())
					}
				}
			})
		}
	}
}

// TestDigestKeyChanges: a file changed between two transfers is hashed
// again and its new digest sent, even when the change keeps its size and
// its modification time (set back with os.Chtimes; the change time still
// moves), or replaces it with another file of that size and times.
func TestDigestKeyChanges(t *testing.T) {
	orig := content(t, 100<<10)
	other := bytes.Repeat([]byte("other content "), len(orig)/14+1)[:len(orig)]
	tests := []struct {
		name   string
		change func(path string) error
	}{
		{"rewritten in place, mtime set back", func(p string) error {
			return writeAt(p, other)
		}},
		{"replaced by rename, mtime set back", func(p string) error {
			tmp := p + ".new"
			if err := os.WriteFile(tmp, other, 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, p)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "f")
			writeFiles(t, root, map[string][]byte{"f": orig})
			fi, err := os.Stat(path)
			must(t, err)
			mtime := fi.ModTime()
			srv, logs := rememberingServer(t, root, spec.Lockstep)
			s := newSession(t, serveTCP(t, srv))
			for range 2 {
				if _, res, err := fetch(s, "f"); err != nil || res.Digest != md5hex(orig) {
					t.Fatalf("Fetch = %+v, %v; want the original", res, err)
				}
			}
			changeCtime(t, path, func() error {
				if err := tt.change(path); err != nil {
					return err
				}
				return os.Chtimes(path, mtime, mtime)
			})
			if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(orig)) || !fi.ModTime().Equal(mtime) {
				t.Fatalf("after the change: %v, %v; want the same size and mtime", fi, err)
			}
			body, res, err := fetch(s, "f")
			if err != nil {
				t.Fatalf("Fetch after the change = %v; want the new content (a stale digest?)", err)
			}
			if !bytes.Equal(body, other) || res.Digest != md5hex(other) {
				t.Fatalf("after the change: got %d bytes digest %s, want the new content, digest %s", len(body), res.Digest, md5hex(other))
			}
			barrier(t, s)
			if got := remembered(t, logs, "f"); got != "hrh" {
				t.Errorf("requests %q, want %q", got, "hrh")
			}
		})
	}
}

// writeAt overwrites the start of the file at path with b, in place.
func writeAt(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// changeMidSend requests name (a file of size bytes at path) from addr
// with a small receive buffer, reads its first MiB, overwrites the file's
// first bytes with patch (the server is still sending: the rest of the
// data cannot fit in the socket buffers), and reads the rest of the data
// and the digest.
func changeMidSend(t *testing.T, addr, path, name string, size int64, patch string) (body []byte, digest string, err error) {
	t.Helper()
	rc := newRawClient(t, addr)
	must(t, rc.c.(*net.TCPConn).SetReadBuffer(64<<10))
	if got := rc.requestSize(name); got != size {
		t.Fatalf("size %d, want %d", got, size)
	}
	must(t, write(rc.c, spec.EncodeAck(spec.Lockstep)))
	rc.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var buf bytes.Buffer
	r := rc.r.Body(size)
	if _, err := io.CopyN(&buf, r, 1<<20); err != nil {
		t.Fatalf("reading the first MiB: %v", err)
	}
	changeCtime(t, path, func() error { return writeAt(path, []byte(patch)) })
	if _, err := buf.ReadFrom(r); err != nil || int64(buf.Len()) != size {
		t.Fatalf("reading the rest of the data: %d bytes, %v; want %d bytes", buf.Len(), err, size)
	}
	digest, err = rc.r.ReadDigest()
	if err == nil {
		rawBarrier(t, rc)
	}
	return buf.Bytes(), digest, err
}

// TestDigestChangeMidSend changes a 16 MiB file while it is sent. Hashed
// as it is sent, the transfer ends with the digest of the bytes sent
// (REQ-SRV-9), which is not remembered: they are no version of the file.
// Sent from a remembered digest, the transfer ends without a digest: the
// server closes the connection after the data and forgets the digest. The
// next transfer sends the new content with its own digest.
func TestDigestChangeMidSend(t *testing.T) {
	const size = 16 << 20
	orig := content(t, size)
	root := t.TempDir()
	path := filepath.Join(root, "big")
	writeFiles(t, root, map[string][]byte{"big": orig})
	srv, logs := rememberingServer(t, root, spec.Lockstep)
	addr := serveTCP(t, srv)

	body, digest, err := changeMidSend(t, addr, path, "big", size, "first")
	if err != nil || digest != md5hex(body) {
		t.Fatalf("hashed transfer changed mid-send: digest %q, %v; want the MD5 of the bytes sent, %s", digest, err, md5hex(body))
	}
	if got := ref.DigestCacheLen(srv); got != 0 {
		t.Errorf("DigestCacheLen = %d after a transfer that saw the file change, want 0", got)
	}
	v2, err := os.ReadFile(path)
	must(t, err)
	// Each session is dialed when it is used: one left idle through a
	// 16 MiB transfer on a busy machine would outlive the server's
	// timeout for a first request.
	s := newSession(t, addr)
	if _, res, err := fetch(s, "big"); err != nil || res.Digest != md5hex(v2) {
		t.Fatalf("Fetch = %+v, %v; want the file", res, err)
	}
	barrier(t, s)

	_, digest, err = changeMidSend(t, addr, path, "big", size, "second")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("remembered transfer changed mid-send: digest %q, %v; want the connection closed without a digest", digest, err)
	}
	if got := remembered(t, logs, "big"); got != "hhr" {
		t.Errorf("requests %q, want %q", got, "hhr")
	}
	if rs := requests(t, logs, "big"); len(rs) == 3 && rs[2].Result != "aborted" {
		t.Errorf("third request logged %q, want aborted", rs[2].Result)
	}
	if got := ref.DigestCacheLen(srv); got != 0 {
		t.Errorf("DigestCacheLen = %d after the change, want 0", got)
	}
	want := append([]byte("second"), v2[6:]...)
	if b, res, err := fetch(newSession(t, addr), "big"); err != nil || !bytes.Equal(b, want) || res.Digest != md5hex(want) {
		t.Fatalf("Fetch after the change = %+v, %v; want the new content", res, err)
	}
}

// TestDigestChangeBeforeAck: with a remembered digest, a file that grows
// or shrinks after the size and before the ack is sent as without one
// (REQ-SRV-9): the first SIZE bytes and their digest, or the bytes left
// and no digest.
func TestDigestChangeBeforeAck(t *testing.T) {
	orig := content(t, 1<<20)
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"grows": orig, "shrinks": orig})
	srv, logs := rememberingServer(t, root, spec.Lockstep)
	addr := serveTCP(t, srv)
	s := newSession(t, addr)
	for _, name := range []string{"grows", "shrinks"} {
		if _, _, err := fetch(s, name); err != nil {
			t.Fatal(err)
		}
	}
	barrier(t, s)

	rc := newRawClient(t, addr)
	size := rc.requestSize("grows")
	f, err := os.OpenFile(filepath.Join(root, "grows"), os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.Write([]byte("more data"))
	must(t, err)
	must(t, f.Close())
	body, digest, err := rc.ackAndRead(size)
	if err != nil || !bytes.Equal(body, orig) || digest != md5hex(orig) {
		t.Fatalf("grown: got %d bytes digest %q, %v; want %d bytes digest %s", len(body), digest, err, len(orig), md5hex(orig))
	}
	rawBarrier(t, rc)

	rc = newRawClient(t, addr)
	size = rc.requestSize("shrinks")
	must(t, os.Truncate(filepath.Join(root, "shrinks"), 1000))
	body, _, err = rc.ackAndRead(size)
	var te *spec.TruncatedError
	if !errors.As(err, &te) || te.Phase != spec.PhaseData || !bytes.Equal(body, orig[:1000]) {
		t.Errorf("shrunk: got %d bytes, %v; want the first 1000 and a data truncation", len(body), err)
	}
	for _, name := range []string{"grows", "shrinks"} {
		if got := remembered(t, logs, name); got != "hh" {
			t.Errorf("%s: requests %q, want %q: the version changed before the data", name, got, "hh")
		}
	}
}

// TestDigestCacheDisabled: with DisableDigestCache every transfer is
// hashed and nothing is remembered.
func TestDigestCacheDisabled(t *testing.T) {
	root := t.TempDir()
	want := content(t, 200<<10)
	writeFiles(t, root, map[string][]byte{"f": want})
	srv, logs := rememberingServer(t, root, spec.Lockstep)
	srv.DisableDigestCache = true
	s := newSession(t, serveTCP(t, srv))
	for range 3 {
		if b, res, err := fetch(s, "f"); err != nil || !bytes.Equal(b, want) || res.Digest != md5hex(want) {
			t.Fatalf("Fetch = %+v, %v", res, err)
		}
	}
	barrier(t, s)
	if got := remembered(t, logs, "f"); got != "hhh" {
		t.Errorf("requests %q, want %q", got, "hhh")
	}
	if got := ref.DigestCacheLen(srv); got != 0 {
		t.Errorf("DigestCacheLen = %d, want 0", got)
	}
}

// TestDigestCacheConcurrent: many clients fetch files at once, while one
// file is rewritten again and again, a byte longer each time (so no two of
// its versions share a key, whatever the timestamps). A fetch may fail
// with a truncation when its file changed under it; it must never end in a
// digest mismatch, which would mean the server sent a digest for bytes
// other than those it sent. Run it with -race.
func TestDigestCacheConcurrent(t *testing.T) {
	root := t.TempDir()
	static := map[string][]byte{"a": content(t, 1000), "b": content(t, 100<<10), "c": content(t, 2<<20)}
	writeFiles(t, root, static)
	hot := filepath.Join(root, "hot")
	base := content(t, 300<<10)
	writeFiles(t, root, map[string][]byte{"hot": base})
	srv, logs := rememberingServer(t, root, spec.Lockstep)
	addr := serveTCP(t, srv)

	const clients, rounds, rewrites = 4, 10, 40
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 1; i <= rewrites; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := os.WriteFile(hot, append(base, bytes.Repeat([]byte{byte(i)}, i)...), 0o644); err != nil {
				t.Errorf("rewriting hot: %v", err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &ref.Client{Timeout: 10 * time.Second}
			for r := range rounds {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				s := c.NewSession(nc)
				for _, name := range []string{"a", "b", "c", "hot"} {
					var buf bytes.Buffer
					_, err := s.Fetch(name, &buf)
					var de *ref.DigestError
					switch {
					case errors.As(err, &de):
						t.Errorf("client %d round %d: %s: %v: a digest for other bytes", i, r, name, err)
					case name != "hot" && (err != nil || !bytes.Equal(buf.Bytes(), static[name])):
						t.Errorf("client %d round %d: %s: %d bytes, %v; want the file", i, r, name, buf.Len(), err)
					}
					if err != nil {
						break
					}
				}
				s.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-writerDone
	final, err := os.ReadFile(hot)
	must(t, err)
	s := newSession(t, addr)
	if b, res, err := fetch(s, "hot"); err != nil || !bytes.Equal(b, final) || res.Digest != md5hex(final) {
		t.Errorf("final Fetch(hot) = %d bytes %+v, %v; want the last version", len(b), res, err)
	}
	for _, name := range []string{"a", "b", "c"} {
		if b, _, err := fetch(s, name); err != nil || !bytes.Equal(b, static[name]) {
			t.Errorf("final Fetch(%s) = %d bytes, %v; want the file", name, len(b), err)
		}
	}
	barrier(t, s)
	for _, name := range []string{"a", "b", "c"} {
		if got := remembered(t, logs, name); !strings.Contains(got, "r") {
			t.Errorf("%s: requests %q, want some remembered", name, got)
		}
	}
}

// TestDigestRememberedSlowReader: a client that stops reading in the
// middle of a transfer sent with sendfile from a remembered digest is cut
// off when a write deadline expires (REQ-SRV-15), as in a hashed transfer.
func TestDigestRememberedSlowReader(t *testing.T) {
	const size = 16 << 20
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{"big": content(t, size)})
	srv, logs := rememberingServer(t, root, spec.Lockstep)
	srv.WriteTimeout = 2 * time.Second
	if _, _, err := fetch(newSession(t, serveTCP(t, srv)), "big"); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	c := dialTCP(t, ln.Addr().String())
	must(t, c.(*net.TCPConn).SetReadBuffer(64<<10))
	sc, err := ln.Accept()
	must(t, err)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.ServeConn(context.Background(), sc)
	}()
	rc := &rawClient{t: t, c: c, r: spec.NewReader(c, spec.Lockstep)}
	if got := rc.requestSize("big"); got != size {
		t.Fatalf("size %d, want %d", got, size)
	}
	must(t, write(c, spec.EncodeAck(spec.Lockstep)))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.CopyN(io.Discard, rc.r.Body(size), 1<<20); err != nil {
		t.Fatalf("reading the first MiB: %v", err)
	}
	// The client reads no more: the server must give up by itself.
	select {
	case <-served:
	case <-time.After(20 * time.Second):
		c.Close()
		<-served
		t.Fatalf("the server still sends to a client that stopped reading, 20s on, with a write timeout of %v", srv.WriteTimeout)
	}
	rs := requests(t, logs, "big")
	if last := rs[len(rs)-1]; last.Result != "aborted" || !last.Remembered {
		t.Errorf("last request %+v, want aborted while sending from a remembered digest", last)
	}
}
