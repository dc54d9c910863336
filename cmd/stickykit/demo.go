package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/stickykit/stickykit/internal/demo"
	"github.com/stickykit/stickykit/internal/timeline"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

const demoAbout = `
Show the sticky-packet bug (粘包) and its fix, with no setup: the tutorial's
naive client, the article's fix and the reference client each fetch a file
from the reference server, in this process, over net.Pipe, while the
server's bytes are delivered in the ways that matter:

  plain       every write arrives on its own
  sticky      the file's tail and the digest arrive together
  half        the digest arrives in two pieces, 20 + 12 bytes
  split-size  the size arrives in two pieces (line framing unless --framing)

Its first screen draws the byte timeline of one case (naive/sticky unless
--timeline), from the reads and writes it recorded: the server's writes
above the stream, the client's reads below, the read that crossed a message
boundary, and the reads of the article's fix on the same columns. With
--full it prints, for every client and delivery, the bytes expected and
written, both digests, the verdict and why, then the timeline and the
lesson. The output is the same for the same flags. The exit status is 0
when the lesson ran, whatever the clients did.`

// demoRun is one run of "stickykit demo": what the flags asked for.
type demoRun struct {
	cfg        demo.Config
	lang       demo.Lang
	framing    *spec.Framing // nil: each delivery's default
	delivery   string
	client     string
	timeline   string
	svgFile    string
	htmlFile   string
	traceFile  string
	noColor    bool
	full       bool
	deliveries []demo.Delivery
	clients    []demo.ClientKind
}

func runDemo(e *env, args []string) int {
	d, code, ok := parseDemo(e, args)
	if !ok {
		return code
	}
	cases, tl, code := d.cases(e)
	if code != exitOK {
		return code
	}
	cases, fix := d.fixCase(cases, tl)
	outcomes, err := demo.Run(context.Background(), d.cfg, cases)
	if err != nil {
		e.errorf("demo: %v", err)
		return exitFail
	}
	rep := &demo.Report{Config: d.cfg, Lang: d.lang, Outcomes: outcomes[:len(d.deliveries)*len(d.clients)], Full: d.full}
	if tl >= 0 {
		rep.Timeline = timeline.NewLayout(outcomes[tl].Trace)
		rep.TimelineOutcome = outcomes[tl]
		if fix >= 0 {
			rep.Fix = outcomes[fix]
		}
	}
	return d.write(e, rep)
}

// parseDemo parses the command line of "stickykit demo". It returns the
// run, or the exit status and false when the command should stop.
func parseDemo(e *env, args []string) (*demoRun, int, bool) {
	d := &demoRun{cfg: demo.DefaultConfig(), lang: demo.LangFromEnv(os.Getenv("LANG"))}
	fs := e.newFlags("demo", "[flags]", demoAbout)
	fs.Int64Var(&d.cfg.Size, "size", demo.DefaultSize, "file size in `bytes`")
	fs.Uint64Var(&d.cfg.Seed, "seed", 1, "`seed` of the file content")
	fs.StringVar(&d.delivery, "delivery", "all", "`delivery`: plain, sticky, half, split-size or all")
	fs.StringVar(&d.client, "client", "all", "`client`: naive, article, ref or all")
	fs.Func("framing", "`framing` for every delivery: lockstep or line (default: line for split-size, else lockstep)", func(s string) error {
		f, err := spec.ParseFraming(s)
		d.framing = &f
		return err
	})
	fs.Func("lang", "`language` of the lesson: en or zh (default from $LANG: zh* gives zh)", func(s string) (err error) {
		d.lang, err = demo.ParseLang(s)
		return err
	})
	fs.StringVar(&d.timeline, "timeline", "naive/sticky", "the case whose byte timeline to draw, `CLIENT/DELIVERY`, or none")
	fs.StringVar(&d.svgFile, "svg", "", "also write the timeline as an SVG picture to `FILE`")
	fs.StringVar(&d.htmlFile, "html", "", "also write the lesson as a self-contained HTML page to `FILE`")
	fs.StringVar(&d.traceFile, "trace", "", "also write the timeline's recorded reads and writes as JSON to `FILE`")
	fs.BoolVar(&d.noColor, "no-color", false, "no colour, even on a terminal")
	fs.BoolVar(&d.full, "full", false, "the whole lesson: every client under every delivery, the timeline and what to learn (default: the first screen)")
	if _, code, ok := e.parse(fs, args); !ok {
		return nil, code, false
	} else if len(fs.Args()) > 0 {
		return nil, e.usageErr(fs, "unexpected argument %q", fs.Args()[0]), false
	}
	if code := d.validate(e, fs); code != exitOK {
		return nil, code, false
	}
	return d, exitOK, true
}

// validate checks the size and picks the deliveries and clients.
func (d *demoRun) validate(e *env, fs *flag.FlagSet) int {
	if d.cfg.Size < 0 || d.cfg.Size > demo.MaxSize {
		return e.usageErr(fs, "--size %d out of range 0..%d", d.cfg.Size, demo.MaxSize)
	}
	d.deliveries, d.clients = demo.Deliveries, demo.Clients
	if d.delivery != "all" {
		v, err := demo.ParseDelivery(d.delivery)
		if err != nil {
			return e.usageErr(fs, "--delivery: %v", err)
		}
		d.deliveries = []demo.Delivery{v}
	}
	if d.client != "all" {
		c, err := demo.ParseClient(d.client)
		if err != nil {
			return e.usageErr(fs, "--client: %v", err)
		}
		d.clients = []demo.ClientKind{c}
	}
	if (d.svgFile != "" || d.traceFile != "") && d.timeline == "none" {
		return e.usageErr(fs, "--svg and --trace need a timeline (not --timeline none)")
	}
	return exitOK
}

// framingFor returns the framing delivery v is shown in.
func (d *demoRun) framingFor(v demo.Delivery) spec.Framing {
	if d.framing != nil {
		return *d.framing
	}
	return v.DefaultFraming()
}

// cases returns the cases to run: every delivery with every client, and
// the timeline's case if the table does not hold it, whose index it
// returns (-1 for none).
func (d *demoRun) cases(e *env) ([]demo.Case, int, int) {
	var cases []demo.Case
	for _, v := range d.deliveries {
		for _, c := range d.clients {
			cases = append(cases, demo.Case{Client: c, Delivery: v, Framing: d.framingFor(v)})
		}
	}
	if d.timeline == "none" {
		return cases, -1, exitOK
	}
	cs, ds, ok := strings.Cut(d.timeline, "/")
	c, err1 := demo.ParseClient(cs)
	v, err2 := demo.ParseDelivery(ds)
	if !ok || err1 != nil || err2 != nil {
		e.errorf("demo: --timeline %q: want CLIENT/DELIVERY (e.g. naive/sticky) or none", d.timeline)
		fmt.Fprintf(e.stderr, "Run \"stickykit demo --help\" for usage.\n")
		return nil, -1, exitUsage
	}
	want := demo.Case{Client: c, Delivery: v, Framing: d.framingFor(v)}
	if i := slices.Index(cases, want); i >= 0 {
		return cases, i, exitOK
	}
	return append(cases, want), len(cases), exitOK
}

// fixCase returns the cases with the one whose reads the first screen
// draws beside the timeline's: the article's client under the timeline's
// delivery, when the timeline is the naive client's. It returns its index,
// or -1 for none.
func (d *demoRun) fixCase(cases []demo.Case, tl int) ([]demo.Case, int) {
	if tl < 0 || cases[tl].Client != demo.NaiveClient {
		return cases, -1
	}
	want := cases[tl]
	want.Client = demo.ArticleClient
	if i := slices.Index(cases, want); i >= 0 {
		return cases, i
	}
	return append(cases, want), len(cases)
}

// write writes the lesson as text to stdout, and the files asked for.
func (d *demoRun) write(e *env, rep *demo.Report) int {
	var out bytes.Buffer
	if err := rep.WriteText(&out, isTerminal(e.stdout) && !d.noColor && os.Getenv("NO_COLOR") == ""); err != nil {
		e.errorf("demo: %v", err)
		return exitFail
	}
	e.stdout.Write(out.Bytes())
	files := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{d.svgFile, func(b *bytes.Buffer) error { return rep.WriteSVG(b) }},
		{d.htmlFile, func(b *bytes.Buffer) error { return rep.WriteHTML(b) }},
		{d.traceFile, func(b *bytes.Buffer) error { return rep.Timeline.Trace.WriteJSON(b) }},
	}
	code := exitOK
	for _, f := range files {
		if f.name == "" {
			continue
		}
		var b bytes.Buffer
		err := f.write(&b)
		if err == nil {
			err = os.WriteFile(f.name, b.Bytes(), 0o644)
		}
		if err != nil {
			e.errorf("demo: %v", err)
			code = exitFail
			continue
		}
		fmt.Fprintln(e.stdout, rep.Lang.Wrote(f.name))
	}
	return code
}

// tracedGet is ref.Client.Get with every read and write of the connection
// recorded in rec: it dials addr itself and wraps the conn with
// shape.Record. It returns the size the server announced, or -1.
func tracedGet(ctx context.Context, c *ref.Client, addr, name, dst string, rec *shape.Recorder) (*ref.Result, int64, error) {
	size := int64(-1)
	progress := c.Progress
	cc := *c
	cc.Progress = func(done, total int64) {
		size = total
		if progress != nil {
			progress(done, total)
		}
	}
	d := &net.Dialer{Timeout: ref.DefaultTimeout}
	if c.Timeout > 0 {
		d.Timeout = c.Timeout
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, size, err
	}
	s := cc.NewSession(shape.Record(nc, rec))
	defer s.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	res, err := s.Get(name, dst)
	if !stop() && err != nil {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return res, size, err
}

// writeTrace writes the trace of a client's connection, recorded in rec,
// to path as JSON.
func writeTrace(path string, rec *shape.Recorder, f spec.Framing, name string, size int64) error {
	var b bytes.Buffer
	if err := timeline.ClientTrace(rec, f, name, size).WriteJSON(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
