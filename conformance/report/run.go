package report

import (
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Run describes one run of the cases for its reports, as CI systems and
// other suites' reports do: the tool that ran them, when, how, and against
// what. Fields left zero are written empty.
type Run struct {
	Tool    Tool
	Started time.Time    // when the run began; written in RFC 3339
	Args    []string     // the command line, the program's name first
	Framing spec.Framing // the framing the implementation speaks
	Target  string       // the server's address, or the client's command line
	Reads   Reads        // whether the programs' reads were recorded
}

// Reads says whether a run recorded the read calls of the programs it
// started ("stickykit check --reads").
type Reads struct {
	Asked       bool   // the run was asked to record them
	Unavailable string // why they could not be recorded here; "" when they were
}

// json returns the JSON report's "reads" field: nil when the reads
// were not asked for.
func (r Reads) json() *JSONReads {
	if !r.Asked {
		return nil
	}
	return &JSONReads{Recorded: r.Unavailable == "", Why: r.Unavailable}
}

// String says it for the JUnit report: "recorded", or "not recorded: WHY";
// "" when the reads were not asked for.
func (r Reads) String() string {
	switch {
	case !r.Asked:
		return ""
	case r.Unavailable != "":
		return "not recorded: " + r.Unavailable
	}
	return "recorded"
}

// Tool names the program that ran the cases and its version.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// started returns r.Started in RFC 3339, or "" when it is not known.
func (r Run) started() string {
	if r.Started.IsZero() {
		return ""
	}
	return r.Started.Format(time.RFC3339)
}

// BuildVersion returns the version of the program described by info (from
// [debug.ReadBuildInfo]): its module version when it was built as a
// module (go install MODULE@VERSION); else, when it was built from a
// version-control checkout, the revision, with "+dirty" when the tree had
// changes; else "(devel)".
func BuildVersion(info *debug.BuildInfo) string {
	if info == nil {
		return "(devel)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "(devel)"
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// CommandLine renders argv on one line, as Go quotes a string each
// argument that a shell would split or that is empty.
func CommandLine(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`") {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}
