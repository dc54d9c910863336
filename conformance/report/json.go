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
type JSONReport struct {
	Tool    Tool       `json:"tool"`
	Started string     `json:"started"`
	Args    []string   `json:"args"`
	Framing string     `json:"framing"`
	Target  string     `json:"target"`
	Cases   []JSONCase `json:"cases"`
	Summary Counts     `json:"summary"`
}

// JSONCase is one case's entry in a JSONReport.
type JSONCase struct {
	ID           string               `json:"id"`
	Requirements []string             `json:"requirements"`
	Severity     conformance.Severity `json:"severity"`
	Verdict      conformance.Verdict  `json:"verdict"`
	Detail       string               `json:"detail"`
	DurationMS   int64                `json:"duration_ms"`
}

// WriteJSON writes the results of run as an indented [JSONReport].
func WriteJSON(w io.Writer, run Run, results []conformance.Result) error {
	args := run.Args
	if args == nil {
		args = []string{}
	}
	rep := JSONReport{Tool: run.Tool, Started: run.started(), Args: args, Framing: run.Framing.String(), Target: run.Target,
		Cases: []JSONCase{}, Summary: Count(results)}
	for _, r := range results {
		reqs := r.Case.Requirements
		if reqs == nil {
			reqs = []string{}
		}
		rep.Cases = append(rep.Cases, JSONCase{
			ID:           r.Case.ID,
			Requirements: reqs,
			Severity:     r.Case.Severity,
			Verdict:      r.Outcome.Verdict,
			Detail:       r.Outcome.Detail,
			DurationMS:   r.Duration.Milliseconds(),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
