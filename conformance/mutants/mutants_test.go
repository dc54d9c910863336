package mutants_test

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/spec"
)

// Every check is proven able to fail: deliberately broken servers
// (mutants_server_test.go) and clients (mutants_client_test.go), each
// caught by the cases meant for it. TestMutants runs them all and then
// checks that they cover the catalogue: every case catches a mutant, and
// every MUST requirement a case lists is cited by the failure of one of
// its mutants. casetest.CheckCitations holds every result of every test to its
// case's list.

// coverage collects, per case, how many mutant rows ran and the
// requirements their failures cited.
type coverage struct {
	mu    sync.Mutex
	runs  map[string]int
	cites map[string]map[string]bool
}

func newCoverage() *coverage {
	return &coverage{runs: map[string]int{}, cites: map[string]map[string]bool{}}
}

// ran records that a mutant row of case id ran.
func (c *coverage) ran(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[id]++
}

// caught records what the failure o of case id cites.
func (c *coverage) caught(id string, o conformance.Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cites[id] == nil {
		c.cites[id] = map[string]bool{}
	}
	for _, r := range o.Cites() {
		c.cites[id][r] = true
	}
}

// mustLevel returns the MUST requirements of SPEC.md.
func mustLevel(t *testing.T) map[string]bool {
	must := map[string]bool{}
	for id, level := range casetest.SpecRequirements(t, "../../SPEC.md") {
		must[id] = level == "MUST"
	}
	return must
}

// TestMutants runs every mutant against the cases meant to catch it, then
// checks that every MUST requirement each case lists was cited by the
// failure of one of its mutants. When -run leaves rows out, the coverage
// check is skipped.
func TestMutants(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	cov := newCoverage()
	t.Run("client", func(t *testing.T) { testClientMutants(t, cov) })
	t.Run("server", func(t *testing.T) { testServerMutants(t, cov, serverMutantTests, false) })
	t.Run("remote", func(t *testing.T) { testServerMutants(t, cov, remoteMutantTests, true) })
	want := serverRows(serverMutantTests) + serverRows(remoteMutantTests) + clientRows()
	total := 0
	for _, n := range cov.runs {
		total += n
	}
	if total < want {
		t.Logf("%d of %d mutant rows ran: coverage not checked", total, want)
		return
	}
	must := mustLevel(t)
	for _, c := range conformance.Cases("") {
		var missing []string
		for _, id := range c.Requirements {
			if must[id] && !cov.cites[c.ID][id] {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s lists %s, but no mutant's failure cites it (it cited %v): add a mutant that breaks it, or stop listing it",
				c.ID, strings.Join(missing, " "), slices.Sorted(maps.Keys(cov.cites[c.ID])))
		}
	}
}

// serverRows and clientRows count the mutant rows TestMutants runs.
func serverRows(rows []serverMutantTest) int {
	n := 0
	for _, tc := range rows {
		n += max(len(tc.framings), len(spec.Framings)*boolInt(tc.framings == nil))
	}
	return n
}

func clientRows() int { return len(clientMutantTests) }

// TestEveryCaseHasAMutant checks the mutant tables against the catalogue:
// every case is meant to catch at least one mutant, and every row names a
// case that exists.
func TestEveryCaseHasAMutant(t *testing.T) {
	rows := map[string]int{}
	for _, tc := range serverMutantTests {
		rows[tc.caseID]++
	}
	for _, tc := range clientMutantTests {
		rows[tc.caught]++
	}
	for _, m := range descriptorMutants {
		if m.want == conformance.Fail {
			rows["server/out-of-descriptors"]++
		}
	}
	for _, c := range conformance.Cases("") {
		if rows[c.ID] == 0 {
			t.Errorf("no mutant is meant to be caught by %s", c.ID)
		}
		delete(rows, c.ID)
	}
	for id := range rows {
		t.Errorf("a mutant row names %s, which is not a case", id)
	}
	// Without a root: every case that runs catches a mutant too.
	remote := map[string]int{}
	for _, tc := range remoteMutantTests {
		remote[tc.caseID]++
	}
	for _, c := range conformance.Cases(conformance.RoleServer) {
		switch {
		case c.NeedsRoot && remote[c.ID] > 0:
			t.Errorf("a remote mutant row names %s, which needs a root: it is a SKIP without one", c.ID)
		case !c.NeedsRoot && remote[c.ID] == 0:
			t.Errorf("no mutant is meant to be caught by %s without a root", c.ID)
		}
	}
}

// mutantWorkers is how many mutant rows run at once. A row spends most of
// its time waiting (for the timeout that proves a silence, a pause its
// case needs), not computing, so rows run many at a time, not
// -test.parallel (GOMAXPROCS) at a time, and the package's run stays short
// on a busy machine with few cores.
const mutantWorkers = 8

// runRows runs row i as the subtest names[i], calling f, up to
// mutantWorkers at a time, and returns once all have ended.
func runRows(t *testing.T, names []string, f func(t *testing.T, i int)) {
	sem := make(chan struct{}, mutantWorkers)
	var wg sync.WaitGroup
	for i, name := range names {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t.Run(name, func(t *testing.T) { f(t, i) })
		})
	}
	wg.Wait()
}
