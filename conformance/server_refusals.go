package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Server cases about refusals: a missing file and names that leave the root.

func init() {
	register(
		&Case{
			ID:           "server/missing-file",
			Title:        "a request for a missing file gets a prompt ERR not-found and the connection stays usable",
			Requirements: []string{"REQ-SRV-5", "REQ-SRV-4", "REQ-ERR-2", "REQ-ERR-3"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerMissing,
		},
		&Case{
			ID: "server/path-escape",
			Title: "names that leave the root (\"../NAME\", an absolute path) get ERR forbidden " +
				"and disclose nothing of the file outside",
			Requirements: []string{"REQ-SRV-6", "REQ-SEC-1", "REQ-SEC-3", "REQ-ERR-7"},
			Severity:     Must,
			Role:         RoleServer,
			run:          runServerPathEscape,
		},
	)
}

func runServerMissing(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/missing-file")
	defer fx.remove()
	missing := fx.name("missing.txt")
	after := fx.name("after.txt")
	data, err := fx.file(after, 100)
	if err != nil {
		return setupFailed(err)
	}
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err)
	}
	defer k.close()
	if err := k.request(missing); err != nil {
		return fail("%v", err)
	}
	size, er, err := k.reply(missing)
	switch {
	case err != nil:
		if isTimeout(err) {
			return fail("the server sent nothing for %v after `get %s` (%s): a client would hang, as the tutorial's did",
				x.timeout, missing, reqs("REQ-SRV-5", "REQ-ERR-2"))
		}
		return fail("%v: a missing file must get an error reply (%s)", err, reqs("REQ-SRV-4", "REQ-ERR-2"))
	case er == nil:
		return fail("the server announced %d bytes for %q, which does not exist (%s)", size, missing, reqs("REQ-SRV-5"))
	case er.Code != spec.CodeNotFound:
		return fail("the server answered a missing file with ERR %s, want ERR %s (%s)", er.Code, spec.CodeNotFound, reqs("REQ-SRV-5", "REQ-ERR-1"))
	}
	if err := k.get(after, data); err != nil {
		return fail("after ERR not-found the connection must stay usable, but the next request failed: %v (%s)", err, reqs("REQ-ERR-3"))
	}
	return pass("ERR %s %q, and the next request on the connection was served", er.Code, er.Text)
}

// escapeSecret marks the content of the file the kit places outside the
// root, so any disclosure of it can be recognised.
const escapeSecret = "stickykit: this file lies outside the server's root; a server that sends it has a path-escape bug\n"

func runServerPathEscape(ctx context.Context, x *checker) Outcome {
	fx := x.newFixtures("server/path-escape")
	defer fx.remove()
	root, err := filepath.Abs(x.server.Root)
	if err != nil {
		return setupFailed(err)
	}
	parent := filepath.Dir(root)
	if parent == root {
		return inconclusive("the server's root %s has no parent directory to place a file outside it", root)
	}
	outside := fx.name("outside.txt")
	secret := []byte(escapeSecret + fx.token + "\n")
	if err := fx.writeAt(filepath.Join(parent, outside), secret); err != nil {
		return inconclusive("cannot place a file just outside the root, in %s: %v", parent, err)
	}
	absent := fx.name("absent.txt")
	probes := []struct {
		name, what string
	}{
		{"../" + outside, "a name climbing out with \"..\""},
		{filepath.ToSlash(filepath.Join(parent, outside)), "an absolute path"},
		{"../" + absent, "a \"..\" name for a file that does not exist outside either"},
	}
	var codes []string
	for _, p := range probes {
		o, code := x.escapeProbe(ctx, p.name, p.what, secret, root)
		if o.Verdict != Pass {
			return o
		}
		codes = append(codes, code)
	}
	return pass("all %d escaping names were refused (%s); nothing outside the root was disclosed", len(probes), strings.Join(codes, ", "))
}

// escapeProbe requests one escaping name on a fresh connection. It passes
// only on ERR forbidden whose text discloses neither the secret nor the
// absolute path of the root.
func (x *checker) escapeProbe(ctx context.Context, name, what string, secret []byte, root string) (Outcome, string) {
	k, err := x.dial(ctx)
	if err != nil {
		return cannotConnect(err), ""
	}
	defer k.close()
	if err := k.request(name); err != nil {
		return fail("%v", err), ""
	}
	size, er, err := k.reply(name)
	if err != nil {
		return fail("%s, %q: %v; it must refuse with ERR forbidden (%s)", what, name, err, reqs("REQ-SRV-6", "REQ-SRV-4")), ""
	}
	if er == nil {
		return x.escapeServed(k, name, what, size, secret), ""
	}
	if bytes.Contains([]byte(er.Text), bytes.TrimSpace(secret)[:40]) || strings.Contains(er.Text, root) {
		return fail("%s, %q: the error text %q discloses the file's content or the server's absolute path (%s)",
			what, name, er.Text, reqs("REQ-ERR-7")), ""
	}
	if er.Code != spec.CodeForbidden {
		return fail("%s, %q: the server answered ERR %s, want ERR %s (%s: whether or not the target exists)",
			what, name, er.Code, spec.CodeForbidden, reqs("REQ-SRV-6", "REQ-SEC-3")), ""
	}
	return pass(""), er.Code
}

// escapeServed judges a server that announced a size for an escaping name:
// that alone breaks REQ-SRV-6; the kit reads what follows (bounded) to say
// whether the file outside was disclosed.
func (x *checker) escapeServed(k *kitConn, name, what string, size int64, secret []byte) Outcome {
	base := fmt.Sprintf("%s, %q: the server announced %d bytes instead of refusing with ERR forbidden", what, name, size)
	if err := k.ack(); err != nil {
		return fail("%s (%s)", base, reqs("REQ-SRV-6", "REQ-SEC-1"))
	}
	const limit = 1 << 20
	got, _ := io.ReadAll(io.LimitReader(k.r.Body(size), min(size, limit)))
	k.logf("<- data %d bytes", len(got))
	if bytes.Contains(got, secret[:len(secret)-1]) {
		return fail("%s and sent the content of the file the kit placed outside the root (%s)", base, reqs("REQ-SRV-6", "REQ-SEC-1"))
	}
	return fail("%s and sent %d bytes of something (%s)", base, len(got), reqs("REQ-SRV-6", "REQ-SEC-1"))
}
