package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/stickykit/stickykit/demo"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

func runDemo(e *env, args []string) int {
	fs := e.newFlags("demo", "[flags]", `
Show the sticky-packet bug (粘包) and its fix, with no setup: the tutorial's
naive client, the article's fix and the reference client each fetch a file
from the reference server, in this process, over net.Pipe, while the
server's bytes are delivered in the ways that matter:

  plain       every write arrives on its own
  sticky      the file's tail and the digest arrive together
  half        the digest arrives in two pieces, 20 + 12 bytes
  split-size  the size arrives in two pieces (line framing unless --framing)

For each client and delivery it prints the bytes expected and written, both
digests, the verdict and why. Then it draws the byte timeline of one case,
from the reads and writes it recorded: the server's writes above the stream,
the client's reads below, and the read that crossed a message boundary.
The output is the same for the same flags. The exit status is 0 when the
lesson ran, whatever the clients did.`)
	size := fs.Int64("size", demo.DefaultSize, "file size in `bytes`")
	seed := fs.Uint64("seed", 1, "`seed` of the file content")
	delivery := fs.String("delivery", "all", "`delivery`: plain, sticky, half, split-size or all")
	client := fs.String("client", "all", "`client`: naive, article, ref or all")
	var framing *spec.Framing
	fs.Func("framing", "`framing` for every delivery: lockstep or line (default: line for split-size, else lockstep)", func(s string) error {
		f, err := spec.ParseFraming(s)
		framing = &f
		return err
	})
	lang := demo.LangFromEnv(os.Getenv("LANG"))
	fs.Func("lang", "`language` of the lesson: en or zh (default from $LANG: zh* gives zh)", func(s string) error {
		l, err := demo.ParseLang(s)
		lang = l
		return err
	})
	timeline := fs.String("timeline", "naive/sticky", "the case whose byte timeline to draw, `CLIENT/DELIVERY`, or none")
	svgFile := fs.String("svg", "", "also write the timeline as an SVG picture to `FILE`")
	htmlFile := fs.String("html", "", "also write the lesson as a self-contained HTML page to `FILE`")
	traceFile := fs.String("trace", "", "also write the timeline's recorded reads and writes as JSON to `FILE`")
	noColor := fs.Bool("no-color", false, "no colour, even on a terminal")
	if _, code, ok := e.parse(fs, args); !ok {
		return code
	} else if len(fs.Args()) > 0 {
		return e.usageErr(fs, "unexpected argument %q", fs.Args()[0])
	}
	if *size < 0 || *size > demo.MaxSize {
		return e.usageErr(fs, "--size %d out of range 0..%d", *size, demo.MaxSize)
	}
	deliveries := demo.Deliveries
	if *delivery != "all" {
		d, err := demo.ParseDelivery(*delivery)
		if err != nil {
			return e.usageErr(fs, "--delivery: %v", err)
		}
		deliveries = []demo.Delivery{d}
	}
	clients := demo.Clients
	if *client != "all" {
		c, err := demo.ParseClient(*client)
		if err != nil {
			return e.usageErr(fs, "--client: %v", err)
		}
		clients = []demo.ClientKind{c}
	}
	framingFor := func(d demo.Delivery) spec.Framing {
		if framing != nil {
			return *framing
		}
		return d.DefaultFraming()
	}
	var cases []demo.Case
	for _, d := range deliveries {
		for _, c := range clients {
			cases = append(cases, demo.Case{Client: c, Delivery: d, Framing: framingFor(d)})
		}
	}
	// The timeline's case: run it too if the table does not hold it.
	tlIndex := -1
	if *timeline != "none" {
		cs, ds, ok := strings.Cut(*timeline, "/")
		c, err1 := demo.ParseClient(cs)
		d, err2 := demo.ParseDelivery(ds)
		if !ok || err1 != nil || err2 != nil {
			return e.usageErr(fs, "--timeline %q: want CLIENT/DELIVERY (e.g. naive/sticky) or none", *timeline)
		}
		want := demo.Case{Client: c, Delivery: d, Framing: framingFor(d)}
		for i, k := range cases {
			if k == want {
				tlIndex = i
			}
		}
		if tlIndex < 0 {
			cases = append(cases, want)
			tlIndex = len(cases) - 1
		}
	}
	if (*svgFile != "" || *traceFile != "") && tlIndex < 0 {
		return e.usageErr(fs, "--svg and --trace need a timeline (not --timeline none)")
	}

	cfg := demo.DefaultConfig()
	cfg.Size, cfg.Seed = *size, *seed
	outcomes, err := demo.Run(context.Background(), cfg, cases)
	if err != nil {
		e.errorf("demo: %v", err)
		return exitFail
	}
	rep := &demo.Report{Config: cfg, Lang: lang, Outcomes: outcomes[:len(deliveries)*len(clients)]}
	if tlIndex >= 0 {
		rep.Timeline = demo.NewTimeline(outcomes[tlIndex].Trace)
		rep.TimelineOutcome = outcomes[tlIndex]
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out, isTerminal(e.stdout) && !*noColor && os.Getenv("NO_COLOR") == ""); err != nil {
		e.errorf("demo: %v", err)
		return exitFail
	}
	e.stdout.Write(out.Bytes())

	files := []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{*svgFile, func(b *bytes.Buffer) error { return rep.WriteSVG(b) }},
		{*htmlFile, func(b *bytes.Buffer) error { return rep.WriteHTML(b) }},
		{*traceFile, func(b *bytes.Buffer) error { return rep.Timeline.Trace.WriteJSON(b) }},
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
		fmt.Fprintf(e.stdout, "wrote %s\n", f.name)
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
	if err := demo.ClientTrace(rec, f, name, size).WriteJSON(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
