package casetest

import (
	"os"
	"regexp"
	"testing"
)

// reqDef matches a requirement's definition in SPEC.md:
//
//	**REQ-SRV-3** (MUST) After an exchange ends ...
var reqDef = regexp.MustCompile(`\*\*(REQ-[A-Z]+-[0-9]+)\*\*\s*\((MUST|SHOULD|MAY)\b[^)]*\)`)

// SpecRequirements returns every requirement the specification at
// specPath defines, with its level.
func SpecRequirements(t *testing.T, specPath string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("reading the specification: %v", err)
	}
	reqs := map[string]string{}
	for _, m := range reqDef.FindAllStringSubmatch(string(b), -1) {
		if old, dup := reqs[m[1]]; dup {
			t.Errorf("%s: %s defined twice (%s and %s)", specPath, m[1], old, m[2])
		}
		reqs[m[1]] = m[2]
	}
	if len(reqs) == 0 {
		t.Fatalf("%s defines no requirement matching %v", specPath, reqDef)
	}
	return reqs
}
