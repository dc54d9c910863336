package report

import (
	"encoding/json"
	"io"

	"github.com/stickykit/stickykit/conformance"
)

// JSONReport is the document WriteJSON writes, indented, fields in this
// order:
//
//	{
//	  "tool": {"name": "stickykit", "version": "v1.2.0"},
//	  "started": "2025-06-11T14:03:27+02:00",
//	  "args": ["stickykit", "check", "server", "--addr", "127.0.0.1:8888", "--root", "srv"],
//	  "framing": "lockstep",
//	  "target": "127.0.0.1:8888",
//	  "cases": [
//	    {
//	      "id": "server/sizes",
//	      "requirements": ["REQ-SRV-1", "REQ-MSG-2"],
//	      "severity": "MUST",
//	      "verdict": "PASS",
//	      "detail": "",
//	      "duration_ms": 12
//	    }
//	  ],
//	  "summary": {"PASS": 1, "FAIL": 0, "HAZARD": 0, "INCONCLUSIVE": 0, "SKIP": 0}
//	}
//
// The fields before cases describe the run (see [Run]): the tool and its
// version, the start time in RFC 3339 ("" when not known), the command
// line, the framing, and the target: the server's address, or the
// client's command line. Every verdict appears in summary, zero included;
// duration_ms is whole milliseconds, 0 for a case that did not run. A
// detail names only requirements its case lists. ReadBaseline accepts
// this document as a baseline.
//
// A run asked to record the programs' reads ("check --reads") has a
// "reads" field after target: {"recorded": true}, or {"recorded": false,
// "why": "..."} where strace is missing or may not trace. Then each
// client case whose reads were recorded has, after duration_ms:
//
//	"reads": [{"asked": 1024, "got": 4, "offset": 0}, ..., {"asked": 1024, "got": 704, "offset": 99334}],
//	"layout": {"data": 6, "digest": 100006, "end": 100038},
//	"wrote": [6, 99328, 704]
//
// reads are the client's read calls on the kit's connection that
// returned, in order: the bytes each asked for (-1 when strace did not
// show it), the bytes it got (0: the end of the stream), and its offset,
// the bytes of the connection's server-to-client stream before its first
// byte; "peek": true marks a read that left the bytes in the stream
// (MSG_PEEK). layout says where the data and the digest begin in that
// stream and where the exchange ends (the end of the digest, or of the
// data without one), as the kit announced it; it is absent when the kit
// sent no size (an error reply). wrote are the sizes of the kit's writes,
// in order from offset 0. With them anyone can redraw the timeline or
// judge the reads again.
type JSONReport struct {
	Tool    Tool       `json:"tool"`
	Started string     `json:"started"`
	Args    []string   `json:"args"`
	Framing string     `json:"framing"`
	Target  string     `json:"target"`
	Reads   *JSONReads `json:"reads,omitempty"`
	Cases   []JSONCase `json:"cases"`
	Summary Counts     `json:"summary"`
}

// JSONReads is the "reads" field of a JSONReport: whether the reads were
// recorded, and why not.
type JSONReads struct {
	Recorded bool   `json:"recorded"`
	Why      string `json:"why,omitempty"`
}

// JSONCase is one case's entry in a JSONReport.
type JSONCase struct {
	ID           string               `json:"id"`
	Requirements []string             `json:"requirements"`
	Severity     conformance.Severity `json:"severity"`
	Verdict      conformance.Verdict  `json:"verdict"`
	Detail       string               `json:"detail"`
	DurationMS   int64                `json:"duration_ms"`
	// Reads, Layout and Wrote are the client's recorded reads
	// (conformance.Reads); Reads is nil when none were recorded, and
	// empty when the client read nothing.
	Reads  *[]conformance.Read `json:"reads,omitempty"`
	Layout *conformance.Layout `json:"layout,omitempty"`
	Wrote  []int64             `json:"wrote,omitempty"`
}

// WriteJSON writes the results of run as an indented [JSONReport].
func WriteJSON(w io.Writer, run Run, results []conformance.Result) error {
	args := run.Args
	if args == nil {
		args = []string{}
	}
	rep := JSONReport{Tool: run.Tool, Started: run.started(), Args: args, Framing: run.Framing.String(), Target: run.Target,
		Reads: run.Reads.json(), Cases: []JSONCase{}, Summary: Count(results)}
	for _, r := range results {
		reqs := r.Case.Requirements
		if reqs == nil {
			reqs = []string{}
		}
		c := JSONCase{
			ID:           r.Case.ID,
			Requirements: reqs,
			Severity:     r.Case.Severity,
			Verdict:      r.Outcome.Verdict,
			Detail:       r.Outcome.Detail,
			DurationMS:   r.Duration.Milliseconds(),
		}
		if rd := r.Reads; rd != nil {
			calls := rd.Calls
			if calls == nil {
				calls = []conformance.Read{}
			}
			c.Reads, c.Layout, c.Wrote = &calls, rd.Layout, rd.Wrote
		}
		rep.Cases = append(rep.Cases, c)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
