package main

import (
	"errors"
	"flag"
	"strings"

	"github.com/stickykit/stickykit/conformance"
)

// check server without --root: the server's root is out of the kit's
// reach (another host, a container), so the kit writes no fixtures. The
// cases that need none run; the others are a SKIP that says so; and each
// file named with --file is fetched and checked for self-consistency
// (server/named-files, which runs with --root too).

// fileNames is the value of the repeatable --file flag.
type fileNames []string

func (f *fileNames) String() string { return strings.Join(*f, ", ") }

func (f *fileNames) Set(name string) error {
	if name == "" {
		return errors.New("a file name cannot be empty")
	}
	*f = append(*f, name)
	return nil
}

// remoteFlags adds the flags of check server without --root.
func (c *checkRun) remoteFlags(fs *flag.FlagSet) {
	fs.Var(&c.files, "file", "a `name` the server serves, fetched and checked for self-consistency (size, data, digest); repeat for more (check server)")
}

// validateRemote accepts check server without --root, and says on stderr
// what the kit cannot do without it.
func (c *checkRun) validateRemote(e *env) int {
	need := 0
	for _, k := range conformance.Cases(conformance.RoleServer) {
		if k.NeedsRoot {
			need++
		}
	}
	e.errorf("check: no --root: the kit cannot write fixtures into the server's root, so %d of the %d server cases are skipped; "+
		"the others run on names that cannot exist and the files named with --file",
		need, len(conformance.Cases(conformance.RoleServer)))
	return exitOK
}
