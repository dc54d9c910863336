package mutants_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/spec"
)

// The kit writes fixtures into a root that belongs to the server under
// test, and a hostile server may replace any of them at any moment. These
// tests hold the kit to changing only files it made, through the
// descriptors it made them with: a file outside the root (the victim)
// keeps its content and its mode whatever the server does.

// victimOf returns the file outside target's root that a mutant links
// to, and checks after the test that it is as it was.
func victimOf(t *testing.T, target conformance.ServerTarget) string {
	t.Helper()
	victim := filepath.Join(filepath.Dir(target.Root), "victim.txt")
	t.Cleanup(func() {
		fi, err := os.Stat(victim)
		if err != nil {
			t.Fatalf("the victim outside the root: %v, want it untouched", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("the victim outside the root has mode %v, want -rw------- (the kit changed a file it did not make)", fi.Mode().Perm())
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != victimContent {
			t.Errorf("the victim outside the root holds %q (%v), want %q (the kit wrote to a file it did not make)", b, err, victimContent)
		}
	})
	return victim
}

// TestHostileServerSwapsFixtures runs the cases in which the kit changes
// its fixtures against a server that replaces every file it is asked for
// with a symbolic link to a file outside its root, before it sends the
// size: the kit must change nothing through the link, FAIL the server for
// tampering (REQ-SRV-19), and leave the link, which is not its own.
func TestHostileServerSwapsFixtures(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, id := range []string{"server/file-changes", "server/unreadable"} {
		t.Run(id, func(t *testing.T) {
			target := startMutant(t, spec.Lockstep, swapsFiles)
			victim := victimOf(t, target)
			r := runServerCase(t, swapsFiles, target, id)
			if r.Outcome.Verdict != conformance.Fail || !strings.Contains(r.Outcome.Detail, "REQ-SRV-19") {
				t.Errorf("%s = %s: %s, want FAIL citing REQ-SRV-19", id, r.Outcome.Verdict, r.Outcome.Detail)
			}
			links := 0
			ents, _ := os.ReadDir(target.Root)
			for _, e := range ents {
				if e.Type()&os.ModeSymlink != 0 {
					links++
					if to, err := os.Readlink(filepath.Join(target.Root, e.Name())); err != nil || to != victim {
						t.Errorf("%s links to %q (%v), want %s", e.Name(), to, err, victim)
					}
				}
			}
			if links == 0 {
				t.Errorf("the kit removed the server's symbolic links: it must remove only what is still its own")
			}
			casetest.AssertNoFixtures(t, target.Root)
		})
	}
}

// TestFixturesChmodRace runs the cases that change fixtures while a
// hostile process swaps every new fixture file for a symbolic link to a
// file outside the root as fast as it can, whenever it sees one. However
// the race goes, the file outside keeps its mode and content (the kit
// used to take the permissions away by name, and could make a user's
// private file mode 000). (The verdict depends on when the swaps land:
// one after the kit's last look at its fixtures changes nothing it
// judged.)
func TestFixturesChmodRace(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, id := range []string{"server/unreadable", "server/file-changes"} {
		t.Run(id, func(t *testing.T) {
			target := startMutant(t, spec.Lockstep, healthy)
			victim := victimOf(t, target)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			swapped := 0
			wg.Go(func() { swapped = swapNewFixtures(target.Root, victim, stop) })
			o := healthy.options()
			o.Run = regexp.MustCompile("^" + regexp.QuoteMeta(id) + "$")
			results := conformance.RunServer(t.Context(), target, o)
			close(stop)
			wg.Wait()
			for _, r := range results {
				casetest.CheckCitations(t, r)
				t.Logf("%s = %s after %d swaps: %s", r.Case.ID, r.Outcome.Verdict, swapped, r.Outcome.Detail)
			}
		})
	}
}

// swapNewFixtures replaces each regular fixture file that appears in root
// (not the kit's mark) with a symbolic link to victim, until stop is
// closed, and returns how many it replaced.
func swapNewFixtures(root, victim string, stop <-chan struct{}) int {
	n := 0
	for {
		select {
		case <-stop:
			return n
		default:
		}
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			name := e.Name()
			if !e.Type().IsRegular() || !strings.HasPrefix(name, ".stickykit-check-") || strings.HasSuffix(name, ".mark") {
				continue
			}
			p := filepath.Join(root, name)
			tmp := p + ".swap"
			if os.Symlink(victim, tmp) == nil && os.Rename(tmp, p) == nil {
				n++
			}
			os.Remove(tmp)
		}
	}
}

var _ = bytes.Equal
