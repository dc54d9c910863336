package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// Options configures a Lab. The zero value is usable.
type Options struct {
	// Framing is the framing of the lab's server and clients.
	Framing spec.Framing
	// TempDir is where the lab makes its directory; "" means os.TempDir().
	TempDir string
	// MaxConns is the connection limit of the lab's server; 0 means
	// ref.DefaultMaxConns.
	MaxConns int
	// DisableDigestCache makes the lab's server hash every transfer (see
	// ref.Server.DisableDigestCache).
	DisableDigestCache bool
}

// Lab is a temporary directory of generated files and a reference server
// serving them on a loopback port. Close stops the server and removes the
// directory.
type Lab struct {
	opts    Options
	dir     string // removed by Close
	root    string // served files
	out     string // downloads
	srv     *ref.Server
	addr    string
	cancel  context.CancelFunc
	served  chan error
	files   map[int64]string
	digests map[string]string // name -> MD5 in hex
}

// fileSeed seeds the content of every generated file, so that runs are
// repeatable; the content of a file also depends on its size.
const fileSeed = 20240611

// NewLab makes the lab's directory and starts its server.
func NewLab(opts Options) (*Lab, error) {
	dir, err := os.MkdirTemp(opts.TempDir, "stickykit-bench-")
	if err != nil {
		return nil, err
	}
	l := &Lab{opts: opts, dir: dir, root: filepath.Join(dir, "root"), out: filepath.Join(dir, "out"), files: map[int64]string{}, digests: map[string]string{}}
	if err := l.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return l, nil
}

func (l *Lab) start() error {
	for _, d := range []string{l.root, l.out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	srv, err := ref.NewServer(l.root)
	if err != nil {
		return err
	}
	srv.Framing = l.opts.Framing
	srv.DisableDigestCache = l.opts.DisableDigestCache
	if l.opts.MaxConns > 0 {
		srv.MaxConns = l.opts.MaxConns
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.srv, l.addr, l.cancel, l.served = srv, ln.Addr().String(), cancel, make(chan error, 1)
	go func() { l.served <- srv.Serve(ctx, ln) }()
	return nil
}

// Close stops the server, waits for its goroutines and removes the lab's
// directory.
func (l *Lab) Close() error {
	l.cancel()
	err := <-l.served
	l.srv.Close()
	if rerr := os.RemoveAll(l.dir); err == nil {
		err = rerr
	}
	return err
}

// Addr returns the address of the lab's server.
func (l *Lab) Addr() string { return l.addr }

// Root returns the directory the lab's server serves.
func (l *Lab) Root() string { return l.root }

// OutDir returns the directory downloads go to.
func (l *Lab) OutDir() string { return l.out }

// outPath returns the path of name in OutDir.
func (l *Lab) outPath(name string) string { return filepath.Join(l.out, name) }

// Framing returns the lab's framing.
func (l *Lab) Framing() spec.Framing { return l.opts.Framing }

// File returns the name, below Root, of a file of size bytes of seeded
// pseudo-random content, creating it on first use.
func (l *Lab) File(size int64) (string, error) {
	if name, ok := l.files[size]; ok {
		return name, nil
	}
	name := "file-" + FormatSize(size)
	if err := writeFile(filepath.Join(l.root, name), size, fileSeed); err != nil {
		return "", err
	}
	l.files[size] = name
	return name, nil
}

// writeFile creates path holding size bytes of pseudo-random content drawn
// from seed and size.
func writeFile(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var key [32]byte
	r := rand.New(rand.NewPCG(seed, uint64(size)))
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	src := rand.NewChaCha8(key)
	_, err = io.CopyBuffer(f, io.LimitReader(src, size), make([]byte, 1<<20))
	if err == nil {
		// Write the file back now rather than during the measurements.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// client returns the reference client of the lab.
func (l *Lab) client() *ref.Client {
	return &ref.Client{Framing: l.opts.Framing, Timeout: 30 * time.Second}
}

// GetRef downloads name with the reference client as "stickykit get" does:
// to a temporary file, synced, renamed into place once the digest matched.
// It returns the path of the file.
func (l *Lab) GetRef(ctx context.Context, name string) (string, error) {
	dst := filepath.Join(l.out, name)
	_, err := l.client().Get(ctx, l.addr, name, dst)
	return dst, err
}

// GetNaive downloads name with the naive client (the article's variant)
// into a file in OutDir, removing it afterwards.
func (l *Lab) GetNaive(ctx context.Context, name string) error {
	d := &net.Dialer{Timeout: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	dst := filepath.Join(l.out, "naive-"+name)
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer os.Remove(dst)
	c := &naive.Client{Variant: naive.Article, Framing: l.opts.Framing, Timeout: 30 * time.Second}
	res, err := c.Get(nc, name, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !res.Match {
		err = fmt.Errorf("%w: server %q, local %s", errDigest, res.Server, res.Local)
	}
	return err
}

// errDigest reports a transfer whose digest did not match.
var errDigest = errors.New("digest mismatch")
