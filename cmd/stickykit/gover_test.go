package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestGoVersionAgrees checks that the Go release the README asks for is
// the one go.mod's go line requires: a newcomer with that release can
// build, and none older can.
func TestGoVersionAgrees(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(repoRoot(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)\s*$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	r := regexp.MustCompile(`Go (\d+\.\d+(?:\.\d+)?) or later`).FindSubmatch(readme)
	if r == nil {
		t.Fatal(`README.md does not say "Go X or later"`)
	}
	// "go 1.26.0" is the release 1.26; "go 1.26" means the same.
	if got, want := strings.TrimSuffix(string(r[1]), ".0"), strings.TrimSuffix(string(m[1]), ".0"); got != want {
		t.Errorf("README.md asks for Go %s or later, go.mod's go line requires %s", r[1], m[1])
	}
}
