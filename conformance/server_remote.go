package conformance

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// A server whose root the kit cannot write (on another host, in a
// container): a ServerTarget with neither Root nor Start. The kit cannot
// place fixtures there, so a case that needs them (Case.NeedsRoot) is a
// SKIP that says so. The others run on what needs no file of the kit's: a
// name that cannot exist stands in for the file a case fetches to see
// that the server still serves, and must get ERR not-found. The files the
// user names (ServerTarget.Files) are checked for self-consistency by
// server/named-files, in either mode.

// noRootWords is the detail of a case skipped for want of a root.
const noRootWords = "needs --root: the kit must write fixtures into the directory the server serves"

// remote reports whether the kit checks a server whose root it cannot
// write.
func (x *serverCheck) remote() bool { return x.root == "" }

// needsRoot makes each case of rows that needs the server's root a SKIP
// when the kit has none, and returns rows.
func needsRoot(rows []serverCase) []serverCase {
	for i := range rows {
		if !rows[i].NeedsRoot {
			continue
		}
		run := rows[i].run
		rows[i].run = func(ctx context.Context, x *serverCheck) Outcome {
			if x.remote() {
				return skip(noRootWords)
			}
			return run(ctx, x)
		}
	}
	return rows
}

// probe is a request the kit makes to see that the server still serves
// after a case's condition: a fixture, fetched and compared byte for byte;
// or, without a root, a name that cannot exist, which must get ERR
// not-found.
type probe struct {
	name    string
	data    []byte // the fixture's content
	missing bool   // a name that cannot exist
}

// probeFile returns the probe of label: a fixture of n bytes, or without
// a root a name that cannot exist (the fixtures' random token is in it).
func (x *serverCheck) probeFile(label string, n int) (probe, error) {
	if x.remote() {
		return probe{name: x.fx.name(label), missing: true}, nil
	}
	fs, err := x.fx.files(sized{label, n})
	if err != nil {
		return probe{}, err
	}
	return probe{name: fs[0].name, data: fs[0].data}, nil
}

// served says, for a PASS, how the server answered the probe.
func (p probe) served() string {
	if p.missing {
		return "answered (ERR not-found for a name that cannot exist)"
	}
	return "served"
}

// getProbe asks for p on k: a fixture must arrive whole, a name that
// cannot exist must get ERR not-found.
func (k *kitConn) getProbe(p probe) error {
	if !p.missing {
		return k.get(p.name, p.data)
	}
	if err := k.request(p.name); err != nil {
		return err
	}
	return k.notFound(p.name)
}

// notFound reads the reply to `get name`, a name that cannot exist: it
// must be ERR not-found.
func (k *kitConn) notFound(name string) error {
	size, er, err := k.reply(name)
	switch {
	case err != nil:
		return err
	case er == nil:
		return transferErr(faultSize, nil, "the server announced %s for %q, a name that cannot exist", count(size, "byte"), name)
	case er.Code != spec.CodeNotFound:
		return transferErr(faultRefused, nil, "the server answered `get %s`, a name that cannot exist, with ERR %s, want ERR %s",
			name, er.Code, spec.CodeNotFound)
	}
	return nil
}

// fetchProbe asks for p on a fresh connection.
func (x *serverCheck) fetchProbe(ctx context.Context, p probe) error {
	k, err := x.dial(ctx)
	if err != nil {
		return fmt.Errorf("cannot connect: %w", err)
	}
	defer k.close()
	return k.getProbe(p)
}

// namedFile is what the kit received for one file named in
// ServerTarget.Files.
type namedFile struct {
	name   string
	size   int64
	digest string
}

func runServerNamedFiles(ctx context.Context, x *serverCheck) Outcome {
	if len(x.files) == 0 {
		return skip("no file was named: name files the server serves with --file NAME (ServerTarget.Files) to check them")
	}
	var got []namedFile
	var refused []string
	for _, name := range x.files {
		x.logf("-- %q, a file named by the user", name)
		f, er, o := x.fetchNamed(ctx, name)
		switch {
		case o.Verdict != "":
			return o
		case er != nil:
			refused = append(refused, fmt.Sprintf("%q (ERR %s)", name, er.Code))
			continue
		}
		got = append(got, f)
	}
	parts := make([]string, len(got))
	for i, f := range got {
		parts[i] = fmt.Sprintf("%q (%s, md5 %s)", f.name, count(f.size, "byte"), f.digest)
	}
	if len(refused) > 0 {
		o := inconclusive("the server refused %s: the kit can check only a file the server serves (is the name right?)",
			strings.Join(refused, ", "))
		if len(got) > 0 {
			o = inconclusive("%s; self-consistent: %s", o, strings.Join(parts, ", "))
		}
		return o
	}
	return pass("each named file arrived self-consistent, exactly its announced size followed by the MD5 of those bytes: %s",
		strings.Join(parts, ", "))
}

// fetchNamed fetches name on a fresh connection without knowing its
// content: the reply must be a size, exactly that many bytes must follow,
// then the MD5 of those bytes. An error reply is returned as er; a FAIL,
// or a case that cannot go on, as o.
func (x *serverCheck) fetchNamed(ctx context.Context, name string) (f namedFile, er *spec.ErrorReply, o Outcome) {
	k, err := x.dial(ctx)
	if err != nil {
		return f, nil, cannotConnect(err)
	}
	defer k.close()
	if err := k.request(name); err != nil {
		return f, nil, fail("%v", err)
	}
	size, er, err := k.reply(name)
	var pe *spec.ProtocolError
	switch {
	case errors.As(err, &pe):
		return f, nil, fail("the reply to `get %s` is %s, neither a size nor an error reply (%s: a size is 1 to 19 decimal digits)",
			name, quote(pe.Data), cite("REQ-MSG-4"))
	case err != nil:
		return f, nil, fail("%v", err)
	case er != nil:
		return f, er, Outcome{}
	}
	if err := k.ack(); err != nil {
		return f, nil, fail("%v", err)
	}
	h := md5.New()
	body := k.r.Body(size)
	n, err := io.Copy(h, struct{ io.Reader }{body})
	if err != nil {
		return f, nil, fail("the server announced %s for %q, but after %d of them %s (%s: exactly SIZE octets of data, then the digest)",
			count(size, "byte"), name, n, describe(err, k.timeout, "the rest of the data"), cite("REQ-MSG-9", "REQ-SRV-1"))
	}
	local := hex.EncodeToString(h.Sum(nil))
	k.logf("<- data %s, md5 %s", count(n, "byte"), local)
	d, err := k.r.ReadDigest()
	switch {
	case err != nil:
		return f, nil, fail("after the %s of %q: %s (%s: the MD5 of the data, 32 lowercase hex digits, follows it)",
			count(size, "byte"), name, describe(err, k.timeout, "the 32-byte digest"), cite("REQ-MSG-10", "REQ-SRV-1"))
	case d != local:
		return f, nil, fail("the digest the server sent for %q, %s, is not the MD5 of the %s it sent before it, %s (%s)",
			name, d, count(size, "byte"), local, cite("REQ-MSG-10", "REQ-SRV-1"))
	}
	k.logf("<- digest %q", d)
	if extra := k.r.Buffered(); extra > 0 {
		return f, nil, fail("the server sent %s more after the digest of %q (%s: the digest has no terminator, and exactly SIZE octets come before it)",
			count(extra, "byte"), name, cite("REQ-MSG-10", "REQ-MSG-9"))
	}
	return namedFile{name: name, size: size, digest: d}, nil, Outcome{}
}

// escapesToNothing is server/path-escape without a root: names that leave
// the root for files that cannot exist must get ERR forbidden all the same
// (REQ-SEC-3: whether or not the target exists). With no file of its own
// outside the root, the kit cannot check that a reply discloses nothing,
// and says so.
func (x *serverCheck) escapesToNothing(ctx context.Context) Outcome {
	absent := x.fx.name("absent.txt")
	probes := []struct{ name, what string }{
		{"../" + absent, "a \"..\" name for a file that does not exist"},
		{"/" + absent, "an absolute path to a file that does not exist"},
	}
	var codes []string
	for _, p := range probes {
		o, code := x.escapeProbe(ctx, p.name, p.what, nil, "")
		if o.Verdict != Pass {
			return o
		}
		codes = append(codes, code)
	}
	return pass("both escaping names, to files that cannot exist, were refused (%s); without a root the kit placed no file "+
		"outside it, so it could not check that nothing outside is disclosed (--root checks that too)", strings.Join(codes, ", "))
}

// servedFile is a file the server serves, for a case that needs a size:
// a fixture, whose content the kit knows, or, without a root, the first
// file the user named, whose content it does not. Its name is "" when the
// kit knows none.
type servedFile struct {
	name string
	data []byte
	// named says the file is the user's: only its size is known, once
	// announced.
	named bool
}

// servedFile returns the fixture label of n bytes, or without a root the
// first named file, or none.
func (x *serverCheck) servedFile(label string, n int) (servedFile, error) {
	switch {
	case !x.remote():
		fs, err := x.fx.files(sized{label, n})
		if err != nil {
			return servedFile{}, err
		}
		return servedFile{name: fs[0].name, data: fs[0].data}, nil
	case len(x.files) > 0:
		return servedFile{name: x.files[0], named: true}, nil
	}
	return servedFile{}, nil
}

// announcedFile is announced for f: a fixture must get its size; a named
// file, a size.
func (x *serverCheck) announcedFile(ctx context.Context, f servedFile) (*kitConn, Outcome) {
	if !f.named {
		return x.announced(ctx, f.name, f.data)
	}
	k, err := x.dial(ctx)
	if err != nil {
		return nil, cannotConnect(err)
	}
	if err := k.request(f.name); err != nil {
		k.close()
		return nil, fail("%v", err)
	}
	_, er, err := k.reply(f.name)
	switch {
	case err != nil:
		k.close()
		return nil, fail("%v", err)
	case er != nil:
		k.close()
		return nil, inconclusive("the server refused %q, the file named to check an end of stream where the ack is due: %v", f.name, er)
	}
	return k, Outcome{}
}
