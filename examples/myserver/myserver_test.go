package myserver_test

import (
	"context"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// TestMyServer runs every server case against a server listening on a
// loopback port and serving a directory the kit may write its fixtures
// into. Here that is the reference server, started for this test by one
// call; start yours instead, and give its address and directory.
func TestMyServer(t *testing.T) {
	srv := reftest.NewServer(t, "", reftest.Options{Framing: spec.Lockstep})
	conformance.TestServer(t, conformance.ServerTarget{Addr: srv.Addr, Root: srv.Root, Framing: spec.Lockstep},
		conformance.Options{})
}

// TestMyClient runs every client case against a function that downloads
// name from the server at addr to the file out, and leaves nothing at out
// unless the digest matched. Here that is the reference client; call
// yours instead.
func TestMyClient(t *testing.T) {
	get := func(ctx context.Context, addr, name, out string) error {
		c := &ref.Client{Framing: spec.Lockstep}
		_, err := c.Get(ctx, addr, name, out)
		return err
	}
	conformance.TestClient(t, conformance.ClientTarget{Framing: spec.Lockstep, Func: get}, conformance.Options{})
}
