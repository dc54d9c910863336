package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHelpDurations checks every command's --help: a flag whose default is
// a duration shows its value as "duration" (so a user knows to write 5s,
// not 5), and no flag line names a Go package.
func TestHelpDurations(t *testing.T) {
	flagLine := regexp.MustCompile(`^  -(\S+)(?: (\S+))?$`)
	defaultOf := regexp.MustCompile(`\(default "?([^)"]*)"?\)$`)
	for _, cmd := range [][]string{{"serve"}, {"get"}, {"naive-get"}, {"proxy"}, {"check", "server"}, {"check", "client"}, {"bench"}, {"demo"}} {
		code, stdout, stderr := runCmd(append(cmd, "--help")...)
		if code != exitOK {
			t.Fatalf("%s --help: exit %d, stderr %q", cmd, code, stderr)
		}
		lines := strings.Split(stdout, "\n")
		durations := 0
		for i, l := range lines {
			m := flagLine.FindStringSubmatch(l)
			if m == nil || i+1 == len(lines) {
				continue
			}
			d := defaultOf.FindStringSubmatch(strings.TrimSpace(lines[i+1]))
			if d == nil {
				continue
			}
			if _, err := time.ParseDuration(d[1]); err != nil || strings.Trim(d[1], "0123456789.") == "" {
				continue // not a duration, or a bare number
			}
			durations++
			if m[2] != "duration" {
				t.Errorf("%s --help: -%s (default %s) shows as %q, want \"duration\"", cmd, m[1], d[1], m[2])
			}
		}
		if strings.Contains(stdout, "-timeout") && durations == 0 {
			t.Errorf("%s --help: found no duration flag, though -timeout is there:\n%s", cmd, stdout)
		}
		for _, p := range packagePrefixes {
			if strings.Contains(stdout, p) {
				t.Errorf("%s --help names a Go package (%q)", cmd, p)
			}
		}
	}
}
