package conformance_test

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
)

// specPath is the specification the cases trace to.
const specPath = "../SPEC.md"

// untestable lists the MUST requirements no case can check by talking to an
// implementation over the wire, each with the reason. Keep it short: a
// requirement belongs here only if no observable behaviour decides it.
var untestable = map[string]string{
	"REQ-GEN-3":  "a deployment and configuration rule: the kit is told the framing to use and cannot see an implementation's default",
	"REQ-SEC-6":  "a default listening address: the kit is given the address and cannot see the default",
	"REQ-SEC-8":  "how an implementation presents a matching digest to its users is not on the wire",
	"REQ-SEC-10": "whether an implementation escapes and bounds peer bytes in what it logs or prints is not on the wire: the kit reads a client's report only for the words a requirement demands (REQ-CLI-7, REQ-ERR-8), and a server's logs not at all",
	"REQ-LIM-5":  "the idle timeout is the server's configuration (default 60 s), too long to wait for in a check and unknown to the kit; the reference server's is tested in ref (slowloris tests)",
	"REQ-LIM-6":  "the ack timeout is the server's configuration (default 30 s), too long to wait for in a check and unknown to the kit; the reference server's is tested in ref (fault tests)",
	"REQ-CLI-11": "a client's timeouts are its own configuration (default 30 s), too long to wait for in a check and unknown to the kit; the reference client's are tested in ref (silent-server and fault tests)",
	"REQ-LIM-8":  "the same rule as REQ-CLI-11, stated as a limit: the reference client's timeouts are tested in ref",
	"REQ-LOCK-3": "a lockstep receiver takes one read as one control message: in lockstep a control message that arrives in pieces is a hazard no peer survives, so neither what a peer sends back nor its own reads (--reads) prove the rule broken (client/split-size and server/split-request report the hazard, and with --reads name the reads)",
	"REQ-LIM-7":  "the write timeout is the server's configuration (default 30 s), too long to wait for in a check; server/slow-reader checks its 1 s floor (REQ-LIM-9), server/abandoned-transfer that a stalled reader holds nothing up (REQ-SRV-15), ref's fault tests the expiry",
}

// TestTraceRequirements checks the traceability between SPEC.md and the
// cases: every MUST requirement is cited by a case (or exempted, with a
// reason), and every ID a case cites exists.
func TestTraceRequirements(t *testing.T) {
	reqs := casetest.SpecRequirements(t, specPath)
	cited := map[string][]string{}
	for _, c := range conformance.Cases("") {
		for _, id := range c.Requirements {
			cited[id] = append(cited[id], c.ID)
			if _, ok := reqs[id]; !ok {
				t.Errorf("case %s cites %s, which %s does not define", c.ID, id, specPath)
			}
		}
	}
	var uncovered []string
	for id, level := range reqs {
		if level == "MUST" && len(cited[id]) == 0 && untestable[id] == "" {
			uncovered = append(uncovered, id)
		}
	}
	if len(uncovered) > 0 {
		sortIDs(uncovered)
		t.Errorf("%d MUST requirements have no case citing them (add a case, or an exemption with its reason to untestable): %s",
			len(uncovered), strings.Join(uncovered, " "))
	}
	for id, why := range untestable {
		switch {
		case strings.TrimSpace(why) == "":
			t.Errorf("untestable[%s] has no reason", id)
		case reqs[id] == "":
			t.Errorf("untestable lists %s, which %s does not define", id, specPath)
		case reqs[id] != "MUST":
			t.Errorf("untestable lists %s, a %s requirement: only MUST requirements need an exemption", id, reqs[id])
		case len(cited[id]) > 0:
			t.Errorf("untestable lists %s, yet %v cite it: remove the exemption", id, cited[id])
		}
	}
}

// TestTraceSeverity checks that each case's severity is the strongest level
// of the requirements it cites, so a SHOULD case never hides a MUST.
func TestTraceSeverity(t *testing.T) {
	reqs := casetest.SpecRequirements(t, specPath)
	for _, c := range conformance.Cases("") {
		want := conformance.Should
		for _, id := range c.Requirements {
			if reqs[id] == "MUST" {
				want = conformance.Must
			}
		}
		if c.Severity != want {
			t.Errorf("case %s has severity %s, want %s (the strongest level of %v)", c.ID, c.Severity, want, c.Requirements)
		}
	}
}

// caseID is the form of a case ID: role, slash, lowercase words.
var caseID = regexp.MustCompile(`^(server|client)/[a-z0-9]+([-/][a-z0-9]+)*$`)

// TestTraceCases checks the registry itself: IDs well-formed, unique and
// led by their role; every case has a title and cites a requirement.
func TestTraceCases(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range conformance.Cases("") {
		if !caseID.MatchString(c.ID) {
			t.Errorf("case ID %q is not of the form ROLE/words", c.ID)
		}
		if seen[c.ID] {
			t.Errorf("case ID %q registered twice", c.ID)
		}
		seen[c.ID] = true
		if c.Title == "" {
			t.Errorf("case %s has no title", c.ID)
		}
		if len(c.Requirements) == 0 {
			t.Errorf("case %s cites no requirement", c.ID)
		}
		if c.Severity != conformance.Must && c.Severity != conformance.Should {
			t.Errorf("case %s has severity %q, want MUST or SHOULD", c.ID, c.Severity)
		}
		if got, ok := conformance.Lookup(c.ID); !ok || got.ID != c.ID || got.Title != c.Title {
			t.Errorf("Lookup(%q) = %v, %v; want the case", c.ID, got, ok)
		}
	}
}

// sortIDs sorts requirement IDs by family, then number.
func sortIDs(ids []string) {
	key := func(id string) (string, int) {
		i := strings.LastIndexByte(id, '-')
		n := 0
		for _, r := range id[i+1:] {
			n = n*10 + int(r-'0')
		}
		return id[:i], n
	}
	sort.Slice(ids, func(i, j int) bool {
		fi, ni := key(ids[i])
		fj, nj := key(ids[j])
		if fi != fj {
			return fi < fj
		}
		return ni < nj
	})
}
