// Package conformance checks any implementation of the stickykit exchange,
// server or client, in any language, against SPEC.md, and gives a verdict
// per case that names the requirements it checks.
//
// A case is identified by a stable slash path such as "server/sizes" or
// "client/sticky"; IDs never change meaning, so baselines and CI scripts can
// name them. Each case lists the SPEC.md requirements it checks, has a
// severity (MUST or SHOULD, the strongest level of those requirements) and
// the framings it applies to. [Cases] lists them; [RunServer] and
// [RunClient] run them and return one [Result] each; package
// github.com/stickykit/stickykit/conformance/report presents the results
// (table, JSON, JUnit, baselines, exit status).
//
// Verdicts:
//
//	PASS          the implementation met the requirements under the condition the case produced
//	FAIL          it did not; Detail says what happened, in a learner's words
//	HAZARD        a lockstep protocol hazard that no implementation can meet
//	              (a fragmented control message); never counted as a failure
//	INCONCLUSIVE  the adverse condition the case needs could not be produced
//	              or confirmed, or the kit ran out of time, so the case says
//	              nothing either way
//	SKIP          the case does not apply (its framing, or the digest when the
//	              exchange has none), or the implementation declared it
//	              unsupported (a client command that exits 127)
//	ERROR         the case could not run: the implementation could not be
//	              started or reached, it was already gone, the kit's setup
//	              failed, or the run was interrupted; it names no requirement
//
// A verdict is built from findings ([Finding]): sentences that cite the
// requirements they break. A finding cites only requirements its case
// lists, so the detail of a result and its case's requirements (the
// REQUIREMENTS column, the JSON, the JUnit) never disagree; this package's
// tests hold every result to that, and hold every case to this: each MUST
// requirement it lists is cited by the failure of a deliberately broken
// implementation (a mutant) that the case catches. A FAIL is never a false
// positive: each case fails only on behaviour SPEC.md forbids, and what the
// kit saw on the wire outranks what an implementation reports (a client
// that left digest bytes unread fails REQ-CLI-3 whatever its exit status).
//
// The same cases run from the command line ("stickykit check") and as
// subtests of a *testing.T ([TestServer], [TestClient]), with [Options] to
// select cases, bound each wait and each whole case. A [ServerTarget] is a
// running server, a [ServerFactory] that starts a fresh one per case, or a
// command line the kit runs fresh per case; a [ClientTarget] is a Go
// function or a command line, taken as it is (an address written into it,
// commands read from stdin, an output it names itself, an exit status that
// says nothing). [PreflightServer] and [PreflightClient] name the user's
// mistakes (a root the server does not serve, the wrong framing, a client
// that never connects) before any case runs, as [SetupError]s.
//
// With ClientTarget.Reads (or ServerTarget.Reads, for a server the kit
// starts) the kit also sees inside the program: it runs it under strace
// and records its own read calls on the kit's connection
// ([Result].Reads: what each asked for, what it got, where in the stream).
// The verdicts then name the read that took the digest as file data, the
// short read of half a digest, a size read with data, a digest never read,
// a server's fragment of a request; a condition the kit could not confirm
// from its side may be confirmed by them, and the detail says so. The
// reads never make a verdict worse: what the client left and what the
// kernel saw still decide. Where tracing cannot work ([ProbeReads]) the
// cases run as without it.
//
// Whether a server is still there is asked of the kernel, never by
// connecting (a client that connects and leaves can kill a fragile
// server): a server that stops accepting connections during a case fails
// it, naming the crash, its exit status and the end of its stderr. The
// programs the kit starts run in process groups of their own and are
// ended with every descendant, even those that left the group. The kit
// changes the files it writes into a server's root only through the
// descriptors it made them with, and removes only what is still its own,
// also what a killed run left behind.
//
// Most server cases write fixture files into the server's root. A server
// whose root the kit cannot write (on another host, in a container) is a
// ServerTarget with none of Root, Start and Command: then each case that needs the
// root ([Case].NeedsRoot) is a SKIP that says so, and the others run on
// names that cannot exist (a missing file, a path escape, bad and
// over-long requests, ends of stream, the connection limit, a split
// request). server/named-files checks the files ServerTarget.Files names,
// in either mode, for self-consistency: a well-formed size, exactly that
// many bytes, then the MD5 of those bytes.
//
// The kit shapes segments itself, with separate writes on TCP connections
// and the kernel's queues as witnesses (see kitserver.go); the net.Conn
// wrappers of
// package github.com/stickykit/stickykit/shape serve this package's
// property tests, the demo and the proxy.
//
// The code is laid out by concern: the catalogue of cases (catalogue.go),
// the runner (run.go), the kit as a client of a server under test
// (kitclient.go) and as the server of a client under test (kitserver.go),
// the client process (clientproc.go) and the server process (serverproc.go),
// both started in one place (proc.go), their recorded reads (reads.go,
// reads_client.go, reads_server.go), whether a server listens
// (listening*.go), the preflight (preflight.go), judging a client
// (judge.go), the files in a server's root (fixtures.go, stale.go), the
// words for learners (words.go), and the cases by topic (server_*.go,
// client_*.go; server_remote.go holds what runs without a root).
package conformance
