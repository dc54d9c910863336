package conformance_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/spec"
)

// naiveClientFunc runs a naive client as the tutorial's program did: it
// writes whatever it read to out and leaves it there, and it fails (as
// "stickykit naive-get" exits 1) when the digests differ.
func naiveClientFunc(v naive.Variant, f spec.Framing) conformance.ClientFunc {
	return func(ctx context.Context, addr, name, out string) error {
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		fh, err := os.Create(out)
		if err != nil {
			return err
		}
		c := &naive.Client{Variant: v, Framing: f, Timeout: 5 * time.Second, DigestWait: time.Second}
		res, err := c.Get(conn, name, fh)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if !res.Match {
			return fmt.Errorf("digest mismatch: wrote %d of %d bytes hashing to %s, server sent %q", res.Written, res.Size, res.Local, res.Server)
		}
		return nil
	}
}

// The tutorial's clients, as mutants: the naive reader passes
// client/plain and fails client/sticky; the article's fix passes
// client/sticky and fails client/split-digest.
func init() {
	clientMutantTests = append([]clientMutantTest{
		{
			name:    "naive reader",
			framing: spec.Lockstep,
			client:  naiveClientFunc(naive.Naive, spec.Lockstep),
			caught:  "client/sticky",
			passes:  []string{"client/plain"},
			detail:  "32 bytes longer than the file and ends with the digest",
		},
		{
			name:    "naive reader, line framing",
			framing: spec.Line,
			client:  naiveClientFunc(naive.Naive, spec.Line),
			caught:  "client/sticky",
			passes:  []string{"client/plain"},
			detail:  "sticky packet",
		},
		{
			name:    "article's fix",
			framing: spec.Lockstep,
			client:  naiveClientFunc(naive.Article, spec.Lockstep),
			caught:  "client/split-digest",
			passes:  []string{"client/plain", "client/sticky"},
			detail:  "half packet",
		},
	}, clientMutantTests...)
}
