package conformance

import (
	"slices"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Role says which side of the exchange a case checks.
type Role string

// The roles.
const (
	RoleServer Role = "server"
	RoleClient Role = "client"
)

// Case describes one conformance check, as the catalogue lists it.
type Case struct {
	ID           string         // stable slash path led by its role, e.g. "server/sizes"
	Title        string         // one line: what the case does
	Requirements []string       // the SPEC.md requirement IDs it checks; a detail cites only these
	Severity     Severity       // MUST or SHOULD: the strongest level of Requirements
	Framings     []spec.Framing // framings it applies to; nil means both
	// NeedsRoot says that the case writes fixture files into the
	// server's root: against a server whose root the kit cannot write
	// (a ServerTarget without Root or Start) it is a SKIP.
	NeedsRoot bool
}

// Role returns the side of the exchange the case checks: the first element
// of its ID.
func (c Case) Role() Role {
	r, _, _ := strings.Cut(c.ID, "/")
	return Role(r)
}

// AppliesTo reports whether the case applies to framing f.
func (c Case) AppliesTo(f spec.Framing) bool {
	return len(c.Framings) == 0 || slices.Contains(c.Framings, f)
}

// Declares reports whether the case lists requirement id.
func (c Case) Declares(id string) bool { return slices.Contains(c.Requirements, id) }

// clone returns c with slices of its own, for a caller to keep.
func (c Case) clone() Case {
	c.Requirements = slices.Clone(c.Requirements)
	c.Framings = slices.Clone(c.Framings)
	return c
}
