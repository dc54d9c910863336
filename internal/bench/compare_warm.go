package bench

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/stickykit/stickykit/ref"
)

// warm makes the warm runs, from one server that has sent the file once
// before them.
func (t *trial) warm(ctx context.Context) error {
	srv, err := t.l.startServer(ctx, t.cmds, 8)
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := t.settle(ctx); err != nil {
		return err
	}
	// The first transfer hashes the file; the server remembers its digest.
	if _, err := t.transfer(ctx, srv, ImplDisk, 0); err != nil {
		return err
	}
	primed := srv.log.Remembered()
	t.opts.Note("%s warm: md5sum, pipe, dd, get; %d runs", FormatSize(t.size), t.opts.Runs)
	for range t.opts.Runs {
		base, err := t.baselineMD5(ctx, Warm)
		if err != nil {
			return err
		}
		if t.cmds.Fetch != nil {
			if err := t.warmTransfer(ctx, srv, ImplPipe, base); err != nil {
				return err
			}
		}
		if base, err = t.baselineDD(ctx, Warm); err != nil {
			return err
		}
		if err := t.warmTransfer(ctx, srv, ImplDisk, base); err != nil {
			return err
		}
	}
	if err := t.others(ctx, srv); err != nil {
		return err
	}
	if err := srv.stop(); err != nil {
		return err
	}
	// The server has exited: its log is complete.
	t.cmp.Remembered = srv.log.Remembered() - primed
	return nil
}

// warmTransfer runs one transfer from the warm server and records it.
func (t *trial) warmTransfer(ctx context.Context, srv *server, impl string, base time.Duration) error {
	r, err := t.transfer(ctx, srv, impl, base)
	if err != nil {
		return err
	}
	t.add(impl, Warm, r)
	t.cmp.Served++
	return nil
}

// others measures the naive client against srv, each run after an md5sum
// of the file, and "stickykit get" from the Python server, each run after
// a dd copy; all warm.
func (t *trial) others(ctx context.Context, srv *server) error {
	if t.cmds.Naive == nil && t.opts.Python == nil {
		return nil
	}
	t.opts.Note("%s warm: naive, python; %d runs", FormatSize(t.size), t.opts.Runs)
	for range t.opts.Runs {
		if t.cmds.Naive != nil {
			base, err := t.baselineMD5(ctx, Warm)
			if err != nil {
				return err
			}
			out := t.l.outPath("naive-" + t.name)
			if err := t.toFile(ctx, ImplNaive, t.cmds.Naive(srv.addr, t.name, out), out, base); err != nil {
				return err
			}
			t.cmp.Served++
		}
		if p := t.opts.Python; p != nil {
			base, err := t.baselineDD(ctx, Warm)
			if err != nil {
				return err
			}
			out := t.l.outPath("python-" + t.name)
			if err := t.toFile(ctx, ImplPython, t.cmds.Get(p.addr, t.name, out), out, base); err != nil {
				return err
			}
		}
	}
	return nil
}

// toFile runs cmd, a client that writes the file to out, checks and
// removes what it wrote and records the run.
func (t *trial) toFile(ctx context.Context, impl string, cmd *exec.Cmd, out string, base time.Duration) error {
	r, err := runChild(ctx, cmd, false, 0)
	if err == nil {
		err = t.check(out)
	}
	os.Remove(out)
	if err != nil {
		return fmt.Errorf("%s %s: %w", impl, FormatSize(t.size), err)
	}
	t.add(impl, Warm, Run{Wall: r.wall, CPU: r.cpu, Base: base})
	return nil
}

// settle waits until the file is older than ref.DigestSettleTime.
func (t *trial) settle(ctx context.Context) error {
	return t.l.settle(ctx, t.name, func(wait time.Duration) {
		t.opts.Note("%s warm: waiting %v until the file is %v old, so the server remembers its digest",
			FormatSize(t.size), wait.Round(10*time.Millisecond), ref.DigestSettleTime)
	})
}

// Settle waits until the file of size bytes is older than
// ref.DigestSettleTime, so that a server remembers the digest of its next
// transfer, and returns its name.
func (l *Lab) Settle(ctx context.Context, size int64) (string, error) {
	name, err := l.File(size)
	if err != nil {
		return "", err
	}
	return name, l.settle(ctx, name, nil)
}

// settle waits until the file name is older than ref.DigestSettleTime,
// calling note first if it must wait.
func (l *Lab) settle(ctx context.Context, name string, note func(time.Duration)) error {
	fi, err := os.Stat(filepath.Join(l.root, name))
	if err != nil {
		return err
	}
	wait := time.Until(changeTime(fi).Add(ref.DigestSettleTime + 100*time.Millisecond))
	if wait <= 0 {
		return nil
	}
	if note != nil {
		note(wait)
	}
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// digest returns the MD5 in hex of the lab's file name, computed once.
func (l *Lab) digest(name string) (string, error) {
	if d, ok := l.digests[name]; ok {
		return d, nil
	}
	f, err := os.Open(filepath.Join(l.root, name))
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	d := hex.EncodeToString(h.Sum(nil))
	l.digests[name] = d
	return d, nil
}
