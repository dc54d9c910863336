package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/stickykit/stickykit/internal/readtrace"
)

// Recording the reads of a program the kit starts (ClientTarget.Reads,
// ServerTarget.Reads): the command runs under strace (package
// internal/readtrace), which writes every read call of the program, with
// the addresses of its socket, to a file of the kit's own. Once the
// program has ended, the kit keeps the reads of the one connection the
// case is about, named by the addresses the kit saw from its side.
//
// The recorded reads name what the kit otherwise infers from outside:
// which read took the digest as file data, which read got half of it,
// that a client never read it. They never make a verdict worse for a
// program that reads correctly: a read that takes data and digest
// together is no fault by itself (a buffered reader splits them); what a
// client did with the bytes, the file it left says. Tracing that fails
// is never a verdict: the cases run as they would without it, and the
// kit says so once.

// Read is one read call of a program on the kit's connection that
// returned, as the kit recorded it: how many bytes it asked for and got,
// and Offset, the bytes of the stream before its first byte.
type Read = readtrace.Read

// Layout says where the data and the digest begin in the
// server-to-client stream of one exchange, and where the exchange ends:
//
//	0         Data                Digest       End
//	| size    | data (the file)   | digest (32) |
type Layout = readtrace.Layout

// Reads is what the kit recorded of a client's read calls on its
// connection in one case (ClientTarget.Reads).
type Reads struct {
	// Calls are the read calls that returned, in the order they
	// returned, each with its offset in the server-to-client stream.
	Calls []Read
	// Layout says where the messages of the exchange lie in that stream,
	// as the kit announced them (a truncated stream ends before End); nil
	// when the kit sent no size (an error reply, a malformed reply).
	Layout *Layout
	// Wrote holds the sizes of the kit's writes to the client, in order
	// from offset 0.
	Wrote []int64
	// Failed counts the calls that failed and took nothing, by the
	// error's name (EAGAIN, EINTR, ...); Pending counts the calls still
	// waiting when the client ended.
	Failed  map[string]int
	Pending int
}

// WriteSVG draws the reads as the byte timeline "stickykit demo" draws:
// the kit's writes above the stream, the client's reads below it, and the
// first read that took bytes of two messages, or part of the size or of
// the digest, highlighted and put in words. It needs a Layout.
func (r *Reads) WriteSVG(w io.Writer, title string) error {
	if r.Layout == nil {
		return errors.New("conformance: no picture of reads without a size: the kit sent none in this case")
	}
	p := &readtrace.Picture{Title: title, Layout: *r.Layout, Reads: r.Calls, Wrote: r.Wrote, Failed: r.Failed, Pending: r.Pending}
	return p.WriteSVG(w)
}

// ProbeReads reports whether the kit can record the reads of a program
// here: nil, or an error that says in one sentence why not (strace is not
// installed, or may not trace programs here). RunClient and RunServer ask
// the same once per run when a target asks for its reads, and run the
// cases without them when it fails, saying so in the first case's log.
func ProbeReads(ctx context.Context) error {
	_, err := readtrace.Probe(ctx)
	return err
}

// readsRun is the recording of reads across one run's cases: the tracer,
// probed once, and why the reads are not recorded (the probe failed, or
// tracing failed in a case, after which the later cases run untraced).
type readsRun struct {
	once   sync.Once
	tracer *readtrace.Tracer
	mu     sync.Mutex
	off    string // why the reads are not recorded, or ""
	said   bool   // off has been said, in a log or a detail
}

// newReadsRun returns the recording of a run whose target asks for its
// reads (on), or nil.
func newReadsRun(on bool) *readsRun {
	if !on {
		return nil
	}
	return &readsRun{}
}

// get returns the tracer the case should run its program under, or nil:
// none was asked for, or none works here.
func (r *readsRun) get(ctx context.Context) *readtrace.Tracer {
	if r == nil {
		return nil
	}
	r.once.Do(func() {
		t, err := readtrace.Probe(ctx)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.off = err.Error()
			return
		}
		r.tracer = t
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off != "" {
		return nil
	}
	return r.tracer
}

// stop turns the recording off for the rest of the run: tracing failed
// in a case, for the reason why.
func (r *readsRun) stop(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.off, r.said = why, true
}

// unsaid returns, once, why the reads are not recorded: for the first
// result's log, when nobody has said it.
func (r *readsRun) unsaid() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off == "" || r.said {
		return ""
	}
	r.said = true
	return fmt.Sprintf("kit: the reads were not recorded: %s; the cases ran without them", r.off)
}

// programTrace is the recording of one run of a program under strace:
// the directory of the kit's own that holds the trace file.
type programTrace struct {
	tracer *readtrace.Tracer
	dir    string
}

// newProgramTrace makes the directory for the trace of one run of a
// program, or returns nil when t is nil.
func newProgramTrace(t *readtrace.Tracer) (*programTrace, error) {
	if t == nil {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "stickykit-reads-")
	if err != nil {
		return nil, err
	}
	return &programTrace{tracer: t, dir: dir}, nil
}

func (p *programTrace) file() string { return filepath.Join(p.dir, "trace") }

// wrap returns argv run under strace, or argv itself when p is nil.
func (p *programTrace) wrap(argv []string) []string {
	if p == nil {
		return argv
	}
	return p.tracer.Command(p.file(), argv)
}

// read parses the trace; call it once the program has ended.
func (p *programTrace) read() (*readtrace.Trace, error) { return readtrace.ReadFile(p.file()) }

// remove removes the trace.
func (p *programTrace) remove() {
	if p != nil {
		os.RemoveAll(p.dir)
	}
}

// straceSays returns the first line strace itself wrote to the program's
// stderr ("strace: ..."), and stderr without strace's lines.
func straceSays(stderr string) (said, rest string) {
	if !strings.Contains(stderr, "strace: ") {
		return "", stderr
	}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(nil, procOutputKeep+1)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "strace: ") {
			if said == "" {
				said = oneLine(line, 160)
			}
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return said, b.String()
}

// tracingError is a program that did not start under strace: strace said
// why (it could not trace it, or start it).
type tracingError struct {
	said string // the first line strace wrote
	err  error  // what the kit saw of the program
}

func (e *tracingError) Error() string { return e.err.Error() }
func (e *tracingError) Unwrap() error { return e.err }
