package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/report"
)

// The recorded reads of "stickykit check": --reads runs the program the
// kit starts under strace and records its read calls; --svg draws a
// client's reads in each case as a byte timeline.

// readsOptions are the flags about the recorded reads.
type readsOptions struct {
	asked  bool   // --reads, or --svg
	svgDir string // --svg
	off    string // why the reads cannot be recorded here, or ""
}

// readsFlags registers the flags of readsOptions on fs.
func (c *checkRun) readsFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.reads.asked, "reads", false, "record the program's own read calls with strace (check client; check server with a command): the verdicts name the read that took the digest as file data, or half of it, or a fragment of a request")
	fs.StringVar(&c.reads.svgDir, "svg", "", "check client: draw each case's recorded reads as a byte timeline, one SVG file per case, in `DIR` (made if needed; implies --reads)")
}

// validateReads checks the flags about the reads, once the role is known.
func (c *checkRun) validateReads(e *env, fs *flag.FlagSet) int {
	if c.reads.svgDir != "" {
		if c.role != conformance.RoleClient {
			return e.usageErr(fs, "--svg is for check client: it draws a client's reads")
		}
		c.reads.asked = true
	}
	if c.reads.asked && c.role == conformance.RoleServer && len(c.command) == 0 {
		return e.usageErr(fs, "--reads records the reads of a server the kit starts: give the server's command after \"--\"")
	}
	return exitOK
}

// prepareReads makes the directory of the pictures and finds out, once,
// whether the reads can be recorded here: when they cannot, it says so on
// stderr and the cases run without them. It returns false when the
// directory cannot be made.
func (c *checkRun) prepareReads(ctx context.Context, e *env) bool {
	if !c.reads.asked {
		return true
	}
	if d := c.reads.svgDir; d != "" {
		if err := os.MkdirAll(d, 0o777); err != nil {
			e.errorf("check: --svg: %v", err)
			return false
		}
	}
	if err := conformance.ProbeReads(ctx); err != nil && ctx.Err() == nil {
		c.reads.off = err.Error()
		e.errorf("check %s --reads: %s; the cases run without it", c.role, c.reads.off)
	}
	return true
}

// recording reports whether the run records the reads.
func (c *checkRun) recording() bool { return c.reads.asked && c.reads.off == "" }

// readsStatus describes the recording of reads for the reports.
func (c *checkRun) readsStatus() report.Reads {
	return report.Reads{Asked: c.reads.asked, Unavailable: c.reads.off}
}

// writePictures draws, into the --svg directory, the timeline of each
// case whose reads were recorded and in which the kit sent a size, and
// says on stderr how many it wrote. It reports whether all went well.
func (c *checkRun) writePictures(e *env, results []conformance.Result) bool {
	if c.reads.svgDir == "" || c.reads.off != "" {
		return true
	}
	n := 0
	for _, r := range results {
		if r.Reads == nil || r.Reads.Layout == nil {
			continue
		}
		var b bytes.Buffer
		title := fmt.Sprintf("%s · %s", r.Case.ID, shortCommand(c.command))
		if err := r.Reads.WriteSVG(&b, title); err != nil {
			e.errorf("check: --svg: %s: %v", r.Case.ID, err)
			return false
		}
		file := filepath.Join(c.reads.svgDir, pictureName(r.Case.ID))
		if err := os.WriteFile(file, b.Bytes(), 0o666); err != nil {
			e.errorf("check: --svg: %v", err)
			return false
		}
		n++
	}
	e.errorf("check: --svg: drew %s in %s", count(n, "timeline"), c.reads.svgDir)
	return true
}

// pictureName is the file of a case's picture: "client-sticky.svg".
func pictureName(id string) string { return strings.ReplaceAll(id, "/", "-") + ".svg" }

// shortCommand renders argv for a picture's title, every path cut to its
// last element: "python3 tutorial_client.py {host} {port} {name} {out}".
func shortCommand(argv []string) string {
	short := make([]string, len(argv))
	for i, a := range argv {
		if strings.Contains(a, "/") && !strings.HasSuffix(a, "/") {
			a = filepath.Base(a)
		}
		short[i] = a
	}
	return report.CommandLine(short)
}
