package conformance

import (
	"context"

	"github.com/stickykit/stickykit/spec"
)

// The catalogue: every case, one row each, with the function that runs it.
// A case's ID is a contract (baselines and CI scripts name it): never
// rename or remove one. To add a case, add a row here and write its
// function in the file of its topic:
//
//	server_transfer.go   transfers that should simply work
//	server_refusals.go   names the server must refuse, and files it cannot serve
//	server_malformed.go  malformed requests, and requests at and past the length limit
//	server_framing.go    turn-taking, terminators, fragments and ends of stream
//	server_changes.go    files that change while they are sent
//	server_load.go       vanishing clients, many clients at once
//	server_limit.go      the connection limit
//	server_room.go       making room for a newcomer: the budget and the limit per address
//	server_descriptors.go a server out of file descriptors
//	server_closing.go    how the server closes after a refusal
//	server_remote.go     a server whose root the kit cannot write; named files
//	client_delivery.go   deliveries a client must survive
//	client_messages.go   what a client sends: the ack, the longest name
//	client_replies.go    replies a client must refuse, or report as what they are
//	client_faults.go     server faults a client must report
//
// A case that writes fixtures into the server's root says so
// (NeedsRoot); the others must also run without a root, on names that
// cannot exist and the files the user names (server_remote.go).
//
// The runner (run.go) gives each run its fixtures, its log and its
// deadline; a server case's function gets a *serverCheck, a client case's
// a *clientCheck, so a case cannot be listed for the wrong role.

// serverCase is a row of the server catalogue.
type serverCase struct {
	Case
	run func(ctx context.Context, x *serverCheck) Outcome
}

// clientCase is a row of the client catalogue.
type clientCase struct {
	Case
	run func(ctx context.Context, x *clientCheck) Outcome
}

// lineOnly is the Framings of a case that applies to the line framing only.
var lineOnly = []spec.Framing{spec.Line}

// serverCatalogue is every server case, sorted by ID. Every MUST case
// lists REQ-SRV-16: a server that stops accepting connections during a
// case (it crashed on what the case sent, or on a client that left) fails
// it, whatever the case was about (run.go, afterCase). (The SHOULD cases
// fail such a server without naming it, so as to stay SHOULD cases.) A
// case that needs the server's root is a SKIP without one (see
// needsRoot).
var serverCatalogue = needsRoot([]serverCase{
	{Case{ID: "server/abandoned-transfer", NeedsRoot: true, Severity: Must,
		Title:        "clients vanish before the ack, mid-transfer and by stalling; other clients are still served byte-exact",
		Requirements: []string{"REQ-SRV-13", "REQ-SRV-14", "REQ-SRV-15", "REQ-SRV-16"}},
		runServerAbandoned},
	{Case{ID: "server/bad-request", Severity: Must,
		Title: "malformed requests (no \"get \", an empty name, a NUL, invalid UTF-8, a bare CR, and a NUL, CR or LF " +
			"as a name's first byte) each get ERR bad-request and a closed connection; the server then still serves",
		Requirements: []string{"REQ-ERR-1", "REQ-ERR-2", "REQ-ERR-4", "REQ-MSG-2", "REQ-MSG-5", "REQ-MSG-6",
			"REQ-LIM-4", "REQ-SRV-4", "REQ-SRV-16"}},
		runServerBadRequest},
	{Case{ID: "server/concurrent", NeedsRoot: true, Severity: Must,
		Title:        "24 clients at once, all byte-exact, while one idle connection stays open",
		Requirements: []string{"REQ-SRV-14", "REQ-SRV-16"}},
		runServerConcurrent},
	{Case{ID: "server/conn-limit", Severity: Must,
		Title: "the kit holds connections, each after a request, from many loopback addresses (up to 1100): " +
			"past its limit the server answers a newcomer ERR busy and closes it, never leaves it waiting; then serves again",
		Requirements: []string{"REQ-LIM-10", "REQ-ERR-4", "REQ-SRV-16"}},
		runServerConnLimit},
	{Case{ID: "server/default-limit", Severity: Should,
		Title: "the kit holds 257 connections, each after a request, from many loopback addresses: the server " +
			"refuses one by then (default limit 256; one configured higher fails this SHOULD case); the 256th, " +
			"which sends nothing, is pushed out (ERR busy, close) by the next rather than that one refused",
		Requirements: []string{"REQ-LIM-18", "REQ-LIM-13"}},
		runServerDefaultLimit},
	{Case{ID: "server/end-of-stream", Severity: Must,
		Title: "the kit ends its stream before a request, where the ack is due, and (line) inside a request line: " +
			"the server closes without a reply and sends no data",
		Requirements: []string{"REQ-GEN-5", "REQ-SRV-7", "REQ-LINE-6", "REQ-SRV-16"}},
		runServerEndOfStream},
	{Case{ID: "server/file-changes", NeedsRoot: true, Severity: Must,
		Title: "the file shrinks, then another grows, between the size and the ack: exactly SIZE bytes " +
			"and their digest, or a close without a digest; a third, unchanged for 3.5 s, arrives whole twice",
		Requirements: []string{"REQ-SRV-9", "REQ-ERR-6", "REQ-MSG-10", "REQ-SRV-19", "REQ-SRV-16", "REQ-SRV-1", "REQ-SRV-18"}},
		runServerFileChanges},
	{Case{ID: "server/line-endings", NeedsRoot: true, Severity: Must, Framings: lineOnly,
		Title:        "requests ending with CRLF are served; every reply ends with LF; no terminator follows a digest",
		Requirements: []string{"REQ-LINE-1", "REQ-LINE-3", "REQ-LINE-5", "REQ-SRV-16"}},
		runServerLineEndings},
	{Case{ID: "server/longest-name", NeedsRoot: true, Severity: Must,
		Title: "a file whose name is 1020 bytes (nested directories) is served for the longest valid request, " +
			"1024 octets: in one write; in the line framing ending with LF, CRLF, and CR then LF in a later segment",
		Requirements: []string{"REQ-MSG-2", "REQ-LIM-1", "REQ-LINE-3", "REQ-LINE-6", "REQ-SRV-1", "REQ-SRV-16"}},
		runServerLongestName},
	{Case{ID: "server/makes-room", Severity: Should,
		Title: "at the limit of 32 per address, then at the budget of 64 connections without a request (from addresses " +
			"below that limit), a newcomer pushes out the oldest connection that sent nothing (ERR busy, close) and is " +
			"served; no other connection goes, and one whose request arrived never does; with every connection of the " +
			"address after a request, a newcomer is refused; (line) with each stuck inside a partial request, the oldest goes",
		Requirements: []string{"REQ-LIM-12", "REQ-LIM-13", "REQ-LIM-14"}},
		runServerMakesRoom},
	{Case{ID: "server/missing-file", Severity: Must,
		Title:        "a request for a missing file gets a prompt ERR not-found and the connection stays usable",
		Requirements: []string{"REQ-SRV-5", "REQ-SRV-4", "REQ-ERR-2", "REQ-ERR-3", "REQ-SRV-16"}},
		runServerMissing},
	{Case{ID: "server/multi-request", NeedsRoot: true, Severity: Must,
		Title:        "several requests on one connection, a refused one among them, are all answered",
		Requirements: []string{"REQ-SRV-3", "REQ-GEN-4", "REQ-ERR-3", "REQ-SRV-5", "REQ-SRV-16"}},
		runServerMulti},
	{Case{ID: "server/names", NeedsRoot: true, Severity: Must,
		Title:        "names with inner, repeated, leading and trailing spaces, non-ASCII UTF-8 and a subdirectory are served",
		Requirements: []string{"REQ-SRV-2", "REQ-MSG-1", "REQ-MSG-3", "REQ-SRV-16"}},
		runServerNames},
	{Case{ID: "server/named-files", Severity: Must,
		Title: "each file named with --file (ServerTarget.Files) arrives self-consistent: a well-formed size, " +
			"exactly that many bytes, then the MD5 of those bytes",
		Requirements: []string{"REQ-SRV-1", "REQ-MSG-4", "REQ-MSG-9", "REQ-MSG-10"}},
		runServerNamedFiles},
	{Case{ID: "server/no-data-before-ack", NeedsRoot: true, Severity: Must,
		Title:        "after the size the kit waits 300 ms before its ack: no data byte may arrive before it",
		Requirements: []string{"REQ-SRV-7", "REQ-LOCK-2", "REQ-SRV-16"}},
		runServerNoDataBeforeAck},
	{Case{ID: "server/out-of-descriptors", NeedsRoot: true, Severity: Should,
		Title: "the kit limits the server it started to 64 file descriptors and holds connections, each after a request, " +
			"until the server holds them all: the next connection gets ERR busy and a close, not a place in the listen queue; " +
			"once the kit closes its connections the server serves again",
		Requirements: []string{"REQ-LIM-16"}},
		runServerOutOfDescriptors},
	{Case{ID: "server/path-escape", Severity: Must,
		Title: "names that leave the root (\"../NAME\", an absolute path) get ERR forbidden " +
			"and disclose nothing of the file outside",
		Requirements: []string{"REQ-SRV-6", "REQ-SEC-1", "REQ-SEC-3", "REQ-ERR-7", "REQ-SRV-16"}},
		runServerPathEscape},
	{Case{ID: "server/pipelined-ack", NeedsRoot: true, Severity: Must, Framings: lineOnly,
		Title:        "the ack sent in the same write as the request, behind a served and behind a refused request",
		Requirements: []string{"REQ-SRV-12", "REQ-LINE-4", "REQ-LINE-7", "REQ-SRV-16"}},
		runServerPipelinedAck},
	{Case{ID: "server/refusal-close", Severity: Should,
		Title: "after ERR too-long, ERR bad-request (line) and ERR busy, with more of the kit's input unread, " +
			"the server closes cleanly: an end of stream, not a reset that can destroy its reply",
		Requirements: []string{"REQ-ERR-5"}},
		runServerRefusalClose},
	{Case{ID: "server/sizes", NeedsRoot: true, Severity: Must,
		Title:        "files of 0, 1, 1023, 1024, 1025, 65537 bytes and 5 MiB arrive byte-exact with their digest",
		Requirements: []string{"REQ-SRV-1", "REQ-MSG-4", "REQ-MSG-9", "REQ-MSG-10", "REQ-SRV-9", "REQ-LOCK-1", "REQ-SRV-16"}},
		runServerSizes},
	// Pauses far below the shortest write timeout REQ-LIM-9 recommends: a
	// server that gives up on this reader has a write timeout below that
	// floor, which is a SHOULD. (A reader that stops altogether,
	// REQ-SRV-15, is server/abandoned-transfer's third client.)
	{Case{ID: "server/slow-reader", NeedsRoot: true, Severity: Should,
		Title: "a 5 MiB file read in small reads with pauses (none near the 1 s floor of a write timeout) " +
			"still arrives byte-exact",
		Requirements: []string{"REQ-LIM-9"}},
		runServerSlowReader},
	{Case{ID: "server/special-files", NeedsRoot: true, Severity: Must,
		Title: "a directory and a FIFO get a prompt ERR not-regular; the connection stays usable " +
			"and other clients are served",
		Requirements: []string{"REQ-SRV-8", "REQ-SEC-5", "REQ-ERR-1", "REQ-ERR-3", "REQ-SRV-16"}},
		runServerSpecialFiles},
	{Case{ID: "server/split-request", Severity: Must,
		Title: "the request arrives one byte per segment: line framing must serve it; " +
			"in lockstep it is HAZARD-FRAG-CONTROL and the kit reports what the server did",
		Requirements: []string{"REQ-SRV-11", "REQ-LINE-6", "REQ-GEN-1", "REQ-SRV-16"}},
		runServerSplitRequest},
	// A reader far above any minimum rate a server keeps (REQ-LIM-15),
	// through a small window so that the server's writes block: against
	// a server with a short rate window (1 s), writes are still blocked
	// when windows end. A SHOULD case: a server configured with a minimum
	// rate above this reader's may close it.
	{Case{ID: "server/steady-reader", NeedsRoot: true, Severity: Should,
		Title: "a 3 MiB file read steadily at about 1 MiB/s through a 16 KiB receive buffer, so that the server's " +
			"writes block for seconds, across the ends of its rate windows: every byte and the digest arrive",
		Requirements: []string{"REQ-LIM-15"}},
		runServerSteadyReader},
	{Case{ID: "server/too-long", Severity: Must,
		Title: "a 1025-octet request, and in the line framing lines of 1025 and 2000 octets with no LF and nothing after, " +
			"get ERR too-long and a closed connection",
		Requirements: []string{"REQ-LIM-1", "REQ-LIM-2", "REQ-ERR-1", "REQ-ERR-4", "REQ-SEC-9",
			"REQ-SRV-4", "REQ-ERR-2", "REQ-MSG-5", "REQ-MSG-6", "REQ-LIM-4", "REQ-SRV-16"}},
		runServerTooLong},
	{Case{ID: "server/unreadable", NeedsRoot: true, Severity: Must,
		Title:        "a regular file with mode 000 gets ERR unreadable and the connection stays usable",
		Requirements: []string{"REQ-SRV-10", "REQ-ERR-3", "REQ-SRV-19", "REQ-SRV-16"}},
		runServerUnreadable},
})

// clientCatalogue is every client case, sorted by ID.
var clientCatalogue = []clientCase{
	{Case{ID: "client/ack", Severity: Must,
		Title:        "the client's ack is exactly \"ready to recv file\" (lockstep: bare; line: ended by LF)",
		Requirements: []string{"REQ-MSG-8", "REQ-LOCK-1", "REQ-LINE-1"}},
		runClientAck},
	{Case{ID: "client/bad-digest", Severity: Must,
		Title:        "the digest is the right MD5 in uppercase hex (malformed)",
		Requirements: []string{"REQ-CLI-10", "REQ-MSG-10", "REQ-CLI-5", "REQ-CLI-13", "REQ-CLI-3", "REQ-CLI-18"}},
		runClientBadDigest},
	{Case{ID: "client/bad-name", Severity: Must,
		Title:        "the client is asked for a 1021-byte name, one byte over the limit",
		Requirements: []string{"REQ-CLI-1", "REQ-MSG-2", "REQ-CLI-5", "REQ-CLI-18"}},
		runClientBadName},
	{Case{ID: "client/bad-size", Severity: Must,
		Title: "malformed replies, a run of the client each: not digits, 20 digits, 2^63, a leading zero, a sign, " +
			"\"ERR \" with no code, a code of 33 octets or in capitals, over 1024 octets (line: also with no LF, " +
			"and cut by the end of the stream), and the end of the stream where the reply is due",
		Requirements: []string{"REQ-CLI-8", "REQ-MSG-4", "REQ-MSG-5", "REQ-CLI-5", "REQ-LIM-1", "REQ-LIM-2",
			"REQ-LINE-6", "REQ-GEN-5", "REQ-CLI-18"}},
		runClientBadSize},
	{Case{ID: "client/crlf", Severity: Must, Framings: lineOnly,
		Title:        "the size line ends with CRLF",
		Requirements: []string{"REQ-LINE-3", "REQ-CLI-12", "REQ-CLI-3"}},
		runClientCRLF},
	{Case{ID: "client/empty-file", Severity: Must,
		Title:        "fetch an empty file (size 0)",
		Requirements: []string{"REQ-CLI-6", "REQ-CLI-12", "REQ-CLI-3"}},
		runClientEmptyFile},
	{Case{ID: "client/error-codes", Severity: Must,
		Title: "valid error replies at the edges of the grammar, a run each: codes of 1 and 32 octets, with digits, " +
			"an empty text, a text of 300 octets, a reply of 1024 octets: no ack, and the code and text reported",
		Requirements: []string{"REQ-MSG-7", "REQ-MSG-5", "REQ-CLI-7", "REQ-LIM-1", "REQ-CLI-5", "REQ-CLI-12",
			"REQ-LINE-7", "REQ-CLI-18"}},
		runClientErrorCodes},
	{Case{ID: "client/error-reply", Severity: Must,
		Title:        "the server answers ERR not-found with a 150-octet text: no ack, and the code and text reported",
		Requirements: []string{"REQ-CLI-7", "REQ-MSG-5", "REQ-CLI-5", "REQ-CLI-12", "REQ-CLI-17", "REQ-LINE-7", "REQ-CLI-18"}},
		runClientErrorReply},
	{Case{ID: "client/file-mode", Severity: Should,
		Title: "the file the client saves has mode 0666 less the umask when new, and keeps the mode of a file " +
			"it replaces (0604)",
		Requirements: []string{"REQ-SEC-14"}},
		runClientFileMode},
	{Case{ID: "client/large-file", Severity: Must,
		Title:        "fetch an 8 MiB file at full speed",
		Requirements: []string{"REQ-MSG-9", "REQ-LIM-3", "REQ-CLI-2", "REQ-CLI-12", "REQ-CLI-3"}},
		runClientLargeFile},
	{Case{ID: "client/longest-name", Severity: Must,
		Title:        "the client is asked for a name of exactly 1020 bytes, the longest valid one: it sends it and saves the file",
		Requirements: []string{"REQ-MSG-2", "REQ-CLI-1", "REQ-CLI-12", "REQ-CLI-3"}},
		runClientLongestName},
	// A SHOULD case: a client configured with a minimum rate above this
	// server's may fail it.
	{Case{ID: "client/paused-server", Severity: Should,
		Title: "256 KiB of data in 8 writes of 32 KiB, 350 ms apart (at least 64 KiB in any second): the client " +
			"waits through the pauses, across the ends of its rate windows, and saves the file",
		Requirements: []string{"REQ-LIM-15"}},
		runClientPausedServer},
	{Case{ID: "client/plain", Severity: Must,
		Title: "fetch a 100000-byte file with every message arriving on its own: the transfer, whatever the ack's text (client/ack)",
		Requirements: []string{"REQ-GEN-4", "REQ-LINE-1", "REQ-LINE-5",
			"REQ-CLI-12", "REQ-CLI-17", "REQ-SEC-11", "REQ-CLI-3"}},
		runClientPlain},
	{Case{ID: "client/sizes", Severity: Must,
		Title: "files of 1, 1023, 1025, 65537, 262145 and 524289 bytes (a read buffer's size plus one) arrive byte-exact " +
			"with their digest, and one of 1025 bytes replaces an older file at the destination",
		Requirements: []string{"REQ-MSG-9", "REQ-CLI-2", "REQ-CLI-12", "REQ-CLI-5", "REQ-CLI-3"}},
		runClientSizes},
	{Case{ID: "client/split-body", Severity: Must,
		Title:        "the data arrives one byte per segment",
		Requirements: []string{"REQ-CLI-16", "REQ-GEN-1", "REQ-CLI-12", "REQ-CLI-5", "REQ-CLI-3"}},
		runClientSplitBody},
	{Case{ID: "client/split-digest", Severity: Must,
		Title:        "the digest arrives as 16 bytes, then 16 more",
		Requirements: []string{"REQ-CLI-3", "REQ-GEN-1", "REQ-CLI-12", "REQ-CLI-5"}},
		runClientSplitDigest},
	{Case{ID: "client/split-size", Severity: Must,
		Title:        "the size arrives in two pieces (a hazard in lockstep)",
		Requirements: []string{"REQ-CLI-15", "REQ-LINE-6", "REQ-CLI-12", "REQ-CLI-5", "REQ-CLI-3"}},
		runClientSplitSize},
	{Case{ID: "client/sticky", Severity: Must,
		Title:        "the file's last 672 bytes and the digest arrive in one segment",
		Requirements: []string{"REQ-CLI-2", "REQ-GEN-1", "REQ-GEN-2", "REQ-CLI-12", "REQ-CLI-5", "REQ-CLI-3"}},
		runClientSticky},
	{Case{ID: "client/truncated", Severity: Must,
		Title:        "the server closes after half the data, and (with a digest) right before the digest",
		Requirements: []string{"REQ-CLI-9", "REQ-GEN-5", "REQ-CLI-5", "REQ-CLI-12", "REQ-CLI-13", "REQ-CLI-18"}},
		runClientTruncated},
	{Case{ID: "client/truncation-report", Severity: Should,
		Title:        "the client's report of each truncation gives its counts: 50000 of 100000 bytes of data, 0 of 32 of the digest",
		Requirements: []string{"REQ-ERR-8"}},
		runClientTruncationReport},
	{Case{ID: "client/unknown-error", Severity: Must,
		Title:        "the server answers an error reply with an unknown code and no text: no ack, and the code reported",
		Requirements: []string{"REQ-MSG-7", "REQ-CLI-7", "REQ-CLI-5", "REQ-CLI-12", "REQ-CLI-17", "REQ-LINE-7", "REQ-CLI-18"}},
		runClientUnknownError},
	{Case{ID: "client/wrong-digest", Severity: Must,
		Title:        "the digest does not match the data",
		Requirements: []string{"REQ-CLI-4", "REQ-CLI-5", "REQ-CLI-12", "REQ-CLI-13", "REQ-CLI-3", "REQ-CLI-18"}},
		runClientWrongDigest},
}

// digestCases are the cases about the digest itself: without one (the
// tutorial's first version, spec.DigestNone) they are SKIP.
var digestCases = map[string]bool{
	"client/bad-digest":   true,
	"client/split-digest": true,
	"client/sticky":       true, // the data's tail and the digest in one segment
	"client/wrong-digest": true,
	"server/named-files":  true, // checks each file against its digest
}

// Cases returns every case of role r, sorted by ID; an empty r returns
// every case, the server cases first. The cases are copies: changing one
// changes nothing in the catalogue.
func Cases(r Role) []Case {
	var out []Case
	if r == "" || r == RoleServer {
		for _, c := range serverCatalogue {
			out = append(out, c.clone())
		}
	}
	if r == "" || r == RoleClient {
		for _, c := range clientCatalogue {
			out = append(out, c.clone())
		}
	}
	return out
}

// Lookup returns the case with the given ID, and whether there is one.
func Lookup(id string) (Case, bool) {
	for _, c := range Cases("") {
		if c.ID == id {
			return c, true
		}
	}
	return Case{}, false
}
