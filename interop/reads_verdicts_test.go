package interop_test

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/internal/testenv"
	"github.com/stickykit/stickykit/spec"
)

// Tracing must not change a verdict: every client case, run on the
// reference client (stickykit get, in both framings) and on every Python
// peer of testdata/python, gives the same verdict with the reads recorded
// as without. Where a verdict depends on timing whichever way the kit
// runs, the test says which and asserts what holds either way.

// readsClient is a client the verdicts test runs, and the cases whose
// verdict depends on how the kernel splits the stream.
type readsClient struct {
	name   string
	target conformance.ClientTarget
	// timing lists the cases in which the client's verdict depends on
	// segmentation the kit does not control: there the run with reads
	// may differ, and its verdict must agree with its reads.
	timing map[string]bool
	// run, when set, picks the cases the client runs; nil runs every
	// client case.
	run *regexp.Regexp
}

// readsClients returns the clients of the verdicts test.
func readsClients(t *testing.T) []readsClient {
	sk := stickykit
	tutorial := func(variant string) []string {
		return testenv.PeerArgv(t, "tutorial_client.py", "{host}", "{port}", "{name}", "{out}", "--variant", variant)
	}
	lockstep := func(argv []string) conformance.ClientTarget {
		return conformance.ClientTarget{Framing: spec.Lockstep, Command: argv}
	}
	get := []string{sk, "get", "--addr", "{addr}", "-o", "{out}", "{name}"}
	return []readsClient{
		// The interactive client's address is written into it: these
		// tests own that port (in a network namespace of their own),
		// and its two runs go one after the other, so it starts first.
		// It reads as the one-recv client below does, which runs every
		// case; here it runs the cases whose verdicts rest on how a
		// client reads the data and the digest, with its commands on
		// stdin and its file collected.
		{name: "interactive", target: conformance.ClientTarget{Framing: spec.Lockstep, Command: testenv.PeerArgv(t, "client_prompt.py"),
			Listen: "127.0.0.1:28653", Stdin: "get {name}\n", Collect: "{name}.new", IgnoreStatus: true},
			run: regexp.MustCompile(`^client/(plain|sticky|split-(body|digest|size)|large-file|wrong-digest|truncated)$`)},
		{name: "stickykit get", target: lockstep(get)},
		{name: "stickykit get, line framing", target: conformance.ClientTarget{Framing: spec.Line, Command: append(append([]string{}, get[:2]...), append([]string{"--framing", "line"}, get[2:]...)...)}},
		// The naive client reads recv(1024) until it has SIZE bytes: in
		// these cases the digest follows the data at once, and
		// whether its last read takes digest bytes depends on how far
		// it had read when they arrived.
		{name: "tutorial, naive", target: lockstep(tutorial("naive")), timing: map[string]bool{"client/large-file": true, "client/split-body": true, "client/longest-name": true, "client/sizes": true}},
		{name: "tutorial, the article's fix", target: lockstep(tutorial("article"))},
		{name: "one recv for the digest", target: lockstep(testenv.PeerArgv(t, "client_onerecv.py", "{host}", "{port}", "{name}", "{out}"))},
		{name: "no digest read", target: lockstep(testenv.PeerArgv(t, "client_nodigest.py", "{host}", "{port}", "{name}", "{out}"))},
	}
}

// readsAtOnce is how many clients the verdicts test runs at once: a run
// mostly waits (for a program to start, or to show that it hangs), so
// more than one per core.
const readsAtOnce = 4

// TestCheckReadsVerdicts runs every client case on each client, without
// and with its reads recorded (the two runs side by side, but for a
// client whose address is written into it), and compares the verdicts.
func TestCheckReadsVerdicts(t *testing.T) {
	testenv.CanTrace(t)
	sem := make(chan struct{}, readsAtOnce)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, c := range readsClients(t) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t.Run(c.name, func(t *testing.T) { compareVerdicts(t, c) })
		})
	}
}

// compareVerdicts runs every case c runs without and with its reads
// recorded, and compares the verdicts.
func compareVerdicts(t *testing.T, c readsClient) {
	traced := c.target
	traced.Reads = true
	run := func(target conformance.ClientTarget) []conformance.Result {
		return conformance.RunClient(t.Context(), target, conformance.Options{Run: c.run})
	}
	var plain, with []conformance.Result
	if c.target.Listen != "" {
		// One address: one run at a time.
		plain, with = run(c.target), run(traced)
	} else {
		var wg sync.WaitGroup
		wg.Go(func() { plain = run(c.target) })
		with = run(traced)
		wg.Wait()
	}
	want := 0
	for _, cc := range conformance.Cases(conformance.RoleClient) {
		if c.run == nil || c.run.MatchString(cc.ID) {
			want++
		}
	}
	if len(plain) != len(with) || len(plain) != want {
		t.Fatalf("%d results without reads, %d with; want %d, one per case it runs", len(plain), len(with), want)
	}
	for i, p := range plain {
		sameVerdict(t, c, p, with[i])
	}
}

// sameVerdict checks the verdict of one case without (p) and with (w)
// the reads recorded.
func sameVerdict(t *testing.T, c readsClient, p, w conformance.Result) {
	t.Helper()
	id := p.Case.ID
	pv, wv := p.Outcome.Verdict, w.Outcome.Verdict
	readsAgree(t, w)
	switch {
	case pv == wv:
	case pv == conformance.Error || wv == conformance.Error:
		// A case that could not run (a fixed port still held by the
		// case before, for a client whose address is written into it)
		// says nothing about what tracing changes.
		t.Logf("%s: %s without reads, %s with them: a run that could not run the case compares nothing", id, pv, wv)
	case pv == conformance.Inconclusive && wv == conformance.Pass && strings.Contains(w.Outcome.Detail, "rests on its recorded reads"):
		// More exact: the reads confirmed what the kit could not.
		t.Logf("%s: INCONCLUSIVE without reads, PASS with them: %s", id, w.Outcome.Detail)
	case pv == conformance.Inconclusive && wv == conformance.Pass, pv == conformance.Pass && wv == conformance.Inconclusive:
		// The kit could not confirm the condition in one of the runs (a
		// busy machine): that run says nothing either way.
		t.Logf("%s: %s without reads, %s with them (a condition the kit could not confirm)", id, pv, wv)
	case c.timing[id]:
		t.Logf("%s: %s without reads, %s with them (the verdict depends on segmentation; the reads agree with it)", id, pv, wv)
	default:
		t.Errorf("%s: %s without reads: %s\nbut %s with them: %s", id, pv, p.Outcome.Detail, wv, w.Outcome.Detail)
	}
}

// readsAgree checks that a verdict with reads agrees with them: an output
// that ends with digest bytes names the read that took them, and a client
// that left the exact file although a read took data and digest together
// is said to have split them itself.
func readsAgree(t *testing.T, w conformance.Result) {
	t.Helper()
	d := w.Outcome.Detail
	if strings.Contains(d, "ends with the digest") && !strings.Contains(d, "they went into the file") {
		t.Errorf("%s: the output ends with the digest, but the detail names no read that took it: %s", w.Case.ID, d)
	}
	rd := w.Reads
	if rd == nil || rd.Layout == nil || w.Outcome.Verdict != conformance.Pass || !strings.Contains(d, "left the exact file") {
		return
	}
	for _, f := range readtrace.Classify(&readtrace.Stream{Reads: rd.Calls}, *rd.Layout) {
		if f.Kind == readtrace.Sticky && !strings.Contains(d, f.Words()+": the client split them itself") {
			t.Errorf("%s: PASS with a read that took data and digest together, not said: %s", w.Case.ID, d)
		}
	}
}
