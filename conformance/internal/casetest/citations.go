package casetest

import (
	"maps"
	"regexp"
	"slices"
	"testing"

	"github.com/stickykit/stickykit/conformance"
)

// reqWord is a requirement ID in a detail.
var reqWord = regexp.MustCompile(`REQ-[A-Z]+-[0-9]+`)

// CheckCitations fails t when r's detail names a requirement its findings
// do not cite, or its findings cite one its case does not list: then the
// report would say two things at once.
func CheckCitations(t *testing.T, r conformance.Result) {
	t.Helper()
	named := map[string]bool{}
	for _, id := range reqWord.FindAllString(r.Outcome.Detail, -1) {
		named[id] = true
	}
	cites := r.Outcome.Cites()
	if r.Outcome.Verdict == conformance.Error && (len(cites) > 0 || len(named) > 0) {
		t.Errorf("%s: an ERROR names requirements (%v): a case that could not run breaks none: %s", r.Case.ID, r.Outcome.Cites(), r.Outcome.Detail)
	}
	for _, id := range cites {
		if !r.Case.Declares(id) {
			t.Errorf("%s: a finding cites %s, which the case does not list (it lists %v): %s", r.Case.ID, id, r.Case.Requirements, r.Outcome.Detail)
		}
		if !named[id] {
			t.Errorf("%s: a finding cites %s, which its words do not name: %s", r.Case.ID, id, r.Outcome.Detail)
		}
		delete(named, id)
	}
	for _, id := range slices.Sorted(maps.Keys(named)) {
		t.Errorf("%s: the detail names %s, but no finding cites it: %s", r.Case.ID, id, r.Outcome.Detail)
	}
}

// LogResult logs r's log, line by line.
func LogResult(t *testing.T, r conformance.Result) {
	t.Helper()
	for _, l := range r.Log {
		t.Log(l)
	}
}
