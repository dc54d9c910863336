// Package conformance checks any implementation of the stickykit exchange,
// server or client, in any language, against SPEC.md, and gives a verdict
// per case that names the requirements it checks.
//
// A case is identified by a stable slash path such as "server/sizes" or
// "client/sticky"; IDs never change meaning, so baselines and CI scripts can
// name them. Each case has a severity (MUST or SHOULD, the strongest level of
// the requirements it checks) and the framings it applies to.
//
// Verdicts:
//
//	PASS          the implementation met the requirements under the condition the case produced
//	FAIL          it did not; Detail says what happened, in a learner's words
//	HAZARD        a lockstep protocol hazard that no implementation can meet
//	              (a fragmented control message); never counted as a failure
//	INCONCLUSIVE  the adverse condition the case needs could not be produced
//	              or confirmed, so the case says nothing either way
//	SKIP          the case does not apply, or the implementation declared it
//	              unsupported (a client command that exits 127)
//
// The same cases run from the command line ("stickykit check") and as
// subtests of a *testing.T ([TestServer], [TestClient]). A FAIL is never a
// false positive: each case fails only on behaviour SPEC.md forbids, and
// each is proven able to fail by a deliberately broken implementation in
// this package's tests.
//
// The cases shape segments themselves, with separate writes on a TCP
// connection and the kernel's queues as witnesses; the net.Conn wrappers of
// package github.com/stickykit/stickykit/shape serve this package's
// property tests, the demo and the proxy.
package conformance
