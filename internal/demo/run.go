package demo

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stickykit/stickykit/internal/seeded"
	"github.com/stickykit/stickykit/internal/timeline"
	"github.com/stickykit/stickykit/naive"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

// Delivery names how the server's writes reach the client.
type Delivery string

// The deliveries the lesson shows.
const (
	Plain     Delivery = "plain"      // every write arrives as a piece of its own
	Sticky    Delivery = "sticky"     // the file's tail and the digest arrive together
	Half      Delivery = "half"       // the digest arrives as 20 + 12 bytes
	SplitSize Delivery = "split-size" // the size arrives in two pieces
)

// Deliveries lists every delivery, in the order of the lesson.
var Deliveries = []Delivery{Plain, Sticky, Half, SplitSize}

// DefaultFraming returns the framing a delivery is shown in when none is
// chosen: line for split-size (in lockstep nothing can survive it), else
// lockstep, the tutorial's bytes.
func (d Delivery) DefaultFraming() spec.Framing {
	if d == SplitSize {
		return spec.Line
	}
	return spec.Lockstep
}

// ParseDelivery returns the delivery named s.
func ParseDelivery(s string) (Delivery, error) {
	return parseName(s, Deliveries, "delivery", "plain, sticky, half or split-size")
}

// ClientKind names one of the clients the lesson runs.
type ClientKind string

// The clients.
const (
	NaiveClient   ClientKind = "naive"   // recv(1024) until at least SIZE bytes
	ArticleClient ClientKind = "article" // recv(min(1024, remaining)), then one recv(1024) for the digest
	RefClient     ClientKind = "ref"     // the reference client: exact reads
)

// Clients lists every client, in the order of the lesson.
var Clients = []ClientKind{NaiveClient, ArticleClient, RefClient}

// ParseClient returns the client named s.
func ParseClient(s string) (ClientKind, error) {
	return parseName(s, Clients, "client", "naive, article or ref")
}

// Case is one client fetching the file under one delivery and framing.
type Case struct {
	Client   ClientKind
	Delivery Delivery
	Framing  spec.Framing
}

// String returns "client/delivery".
func (c Case) String() string { return string(c.Client) + "/" + string(c.Delivery) }

// Config is what every case of a run shares. The zero value fetches an
// empty file; DefaultConfig returns the lesson's settings.
type Config struct {
	Size int64  // file size in bytes
	Seed uint64 // seed of the file content
	// DigestWait bounds the naive clients' single digest read (the
	// tutorial's waited forever); 0 means Timeout. A read that waits for
	// bytes the server will never send (it has sent everything and waits
	// for the client) ends at once, as if its bound had passed, so the
	// lesson's outcomes do not depend on how busy the machine is.
	DigestWait time.Duration
	// Timeout bounds every other read and write of both ends; 0 means 5s.
	Timeout time.Duration
}

// DefaultSize is the lesson's file size, as in SPEC.md Appendix A.
const DefaultSize = 100000

// MaxSize bounds Config.Size: the demo holds the file in memory.
const MaxSize = 64 << 20

// DefaultConfig returns the lesson's settings: a 100,000-byte file, seed 1.
func DefaultConfig() Config { return Config{Size: DefaultSize, Seed: 1} }

// FileName is the name the clients request.
const FileName = "demo.bin"

// halfSplit is where the half delivery cuts the digest (SPEC.md Appendix A).
const halfSplit = 20

// Verdict is the result of one case.
type Verdict string

// The verdicts.
const (
	VerdictOK     Verdict = "ok"     // the file arrived whole and the digests match
	VerdictWrong  Verdict = "wrong"  // the client finished but its file or digest is wrong
	VerdictFailed Verdict = "failed" // the client gave up with an error
)

// Reason says why a case ended as it did; the lesson turns it into one
// sentence.
type Reason string

// The reasons.
const (
	ReasonExact     Reason = "exact"      // exact reads: SIZE bytes, then 32
	ReasonExactData Reason = "exact-data" // the article: exact data reads, the digest read got all 32
	ReasonLucky     Reason = "lucky"      // the naive client: its reads happened to end at the boundary
	ReasonSticky    Reason = "sticky"     // digest bytes were written as file data
	ReasonHalf      Reason = "half"       // the digest read returned part of the digest
	ReasonSize      Reason = "size"       // the size was read in part, so everything after was misread
	ReasonHazard    Reason = "hazard"     // lockstep split size: no client can survive it
	ReasonOther     Reason = "other"      // any other failure; see Err
)

// Outcome is what one case did.
type Outcome struct {
	Case
	Size     int64  // bytes the server announced
	SizeRead int64  // the size the client understood; -1 if none
	Written  int64  // bytes the client wrote to its output
	Server   string // the digest the client received ("" if none; may be partial)
	Local    string // MD5 of what the client wrote
	Verdict  Verdict
	Reason   Reason
	Err      error // the client's error, if any
	Trace    *timeline.Trace
}

// Run runs every case, concurrently, and returns the outcomes in the order
// of cases. An error means the demo could not be set up (not that a client
// failed: that is an outcome).
func Run(ctx context.Context, cfg Config, cases []Case) ([]*Outcome, error) {
	if cfg.Size < 0 || cfg.Size > MaxSize {
		return nil, fmt.Errorf("demo: size %d out of range 0..%d", cfg.Size, MaxSize)
	}
	dir, err := os.MkdirTemp("", "stickykit-demo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	content := Content(cfg.Size, cfg.Seed)
	if err := os.WriteFile(filepath.Join(dir, FileName), content, 0o644); err != nil {
		return nil, err
	}
	out := make([]*Outcome, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = runCase(ctx, cfg, dir, c)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Content returns the demo file: the first size bytes of the seeded
// stream of seed (package internal/seeded), the same bytes as the test
// scripts' mkfile command makes.
func Content(size int64, seed uint64) []byte { return seeded.Bytes(seed, size) }

func (cfg Config) digestWait() time.Duration {
	if cfg.DigestWait > 0 {
		return cfg.DigestWait
	}
	return cfg.timeout()
}

func (cfg Config) timeout() time.Duration {
	if cfg.Timeout > 0 {
		return cfg.Timeout
	}
	return 5 * time.Second
}

// shaper returns the wrapper that makes delivery d of a file of size bytes
// out of the server's writes.
func shaper(d Delivery, f spec.Framing, size int64) func(net.Conn) net.Conn {
	switch d {
	case Sticky:
		// Everything written between two turns arrives as one piece: the
		// size alone (the server then waits for the ack), then the data
		// and the digest together.
		return func(c net.Conn) net.Conn { return shape.Coalesce(c, shape.Fixed(1<<30)) }
	case Half:
		// The size alone; the data in one piece; the digest in two.
		plan := []int{1 << 30}
		if size > 0 {
			plan = append(plan, int(size))
		}
		plan = append(plan, halfSplit, spec.DigestLen-halfSplit)
		return func(c net.Conn) net.Conn { return shape.Coalesce(c, shape.Sizes(plan...)) }
	case SplitSize:
		// The size's first half of digits alone, then the rest; every
		// later write whole.
		msg, _ := spec.EncodeSize(f, size)
		cut := (len(spec.TrimLine(msg)) + 1) / 2
		if cut >= len(msg) {
			return func(c net.Conn) net.Conn { return c }
		}
		return func(c net.Conn) net.Conn { return shape.Fragment(c, shape.Sizes(cut, 1<<30)) }
	}
	return func(c net.Conn) net.Conn { return c }
}

// runCase fetches FileName from a reference server rooted at dir over
// net.Pipe. The server's end, from the pipe out:
//
//	pipe -> turnConn -> Record(delivered) -> shaper -> Record(server) -> ref server
//
// and the client's: pipe -> recvConn -> Record(client) -> client.
func runCase(ctx context.Context, cfg Config, dir string, c Case) (*Outcome, error) {
	if c.Client != NaiveClient && c.Client != ArticleClient && c.Client != RefClient {
		return nil, fmt.Errorf("demo: unknown client %q", c.Client)
	}
	p, err := newPipeline(ctx, cfg, dir, c)
	if err != nil {
		return nil, err
	}
	o := &Outcome{Case: c, Size: cfg.Size, SizeRead: -1}
	stop := context.AfterFunc(ctx, func() { p.client.Close() })
	if c.Client == RefClient {
		fetchRef(cfg, c, p.client, o)
	} else {
		fetchNaive(cfg, c, p.client, o)
	}
	stop()
	p.hangUp(cfg)
	o.Verdict, o.Reason = judge(o)
	o.Trace = p.trace(cfg, c)
	return o, nil
}

// pipeline is the connection of one case: the reference server serving
// one end of a net.Pipe through the shaping and recording wrappers, and
// the client's end, recorded.
type pipeline struct {
	srv                     *ref.Server
	turn                    *turnConn
	client                  net.Conn
	served                  chan struct{} // closed when the server is done
	srvRec, wireRec, cliRec shape.Recorder
}

// newPipeline starts the reference server of case c on its end of a pipe.
func newPipeline(ctx context.Context, cfg Config, dir string, c Case) (*pipeline, error) {
	srv, err := ref.NewServer(dir)
	if err != nil {
		return nil, err
	}
	srv.Framing = c.Framing
	srv.IdleTimeout = cfg.timeout()
	srv.AckTimeout = cfg.timeout()
	srv.WriteTimeout = cfg.timeout()
	p := &pipeline{srv: srv, served: make(chan struct{})}
	sEnd, cEnd := net.Pipe()
	p.turn = newTurnConn(sEnd)
	rc := newRecvConn(cEnd)
	// A client read that waits for bytes the server will never send (the
	// naive client's digest read, after its body reads took the digest)
	// ends at once rather than at its deadline.
	rc.stuck = func(pumped, sent int64) bool {
		idle, inPipe := p.turn.idle(sent, p.serverWrote())
		return idle && pumped >= inPipe
	}
	p.turn.onChange = rc.wake
	sc := shape.Record(shaper(c.Delivery, c.Framing, cfg.Size)(shape.Record(p.turn, &p.wireRec)), &p.srvRec)
	go func() {
		defer close(p.served)
		srv.ServeConn(ctx, sc)
	}()
	p.client = shape.Record(rc, &p.cliRec)
	return p, nil
}

// serverWrote returns the bytes the server has written, before shaping.
func (p *pipeline) serverWrote() int64 {
	var n int64
	for _, e := range p.srvRec.Events() {
		if e.Op == "write" {
			n += int64(e.N)
		}
	}
	return n
}

// fetchNaive fetches the file with the tutorial's naive client or the
// article's fix, into o.
func fetchNaive(cfg Config, c Case, conn net.Conn, o *Outcome) {
	v := naive.Naive
	if c.Client == ArticleClient {
		v = naive.Article
	}
	nc := &naive.Client{Variant: v, Framing: c.Framing, Timeout: cfg.timeout(), DigestWait: cfg.digestWait()}
	res, err := nc.Get(conn, FileName, io.Discard)
	o.Err = err
	if res != nil {
		o.SizeRead = res.Size
		o.Written = res.Written
		o.Local = res.Local
		o.Server = res.Server
	}
}

// fetchRef fetches the file with the reference client, into o.
func fetchRef(cfg Config, c Case, conn net.Conn, o *Outcome) {
	rc := &ref.Client{Framing: c.Framing, Timeout: cfg.timeout()}
	rc.Progress = func(done, total int64) { o.SizeRead = total }
	w := &hashWriter{h: md5.New()}
	res, err := rc.NewSession(conn).Fetch(FileName, w)
	o.Err = err
	o.Written = w.n
	o.Local = hex.EncodeToString(w.h.Sum(nil))
	var de *ref.DigestError
	switch {
	case res != nil:
		o.Server = res.Digest
	case errors.As(err, &de):
		o.Server = de.Server
	}
}

// hangUp lets the server finish what it was writing once the client is
// done, then hangs up, as a client process that exits would, and waits for
// the server.
func (p *pipeline) hangUp(cfg Config) {
	var sent int64
	for _, e := range p.cliRec.Events() {
		if e.Op == "write" {
			sent += int64(e.N)
		}
	}
	p.turn.waitIdle(sent, p.serverWrote, p.served, cfg.timeout())
	p.client.Close()
	<-p.served
	p.srv.Close()
}

// trace returns the recording of case c: the server's writes, the pieces
// delivered, and the client's reads and writes.
func (p *pipeline) trace(cfg Config, c Case) *timeline.Trace {
	t := &timeline.Trace{
		Client:   string(c.Client),
		Delivery: string(c.Delivery),
		Framing:  c.Framing.String(),
		Name:     FileName,
		Size:     cfg.Size,
		Seed:     cfg.Seed,
		Regions:  timeline.Regions(c.Framing, FileName, cfg.Size),
	}
	t.Events = append(t.Events, timeline.Events(&p.srvRec, timeline.WhoServer, timeline.ToClient, timeline.ToServer)...)
	seq := 0
	for _, e := range timeline.Events(&p.wireRec, timeline.WhoDelivered, timeline.ToClient, timeline.ToServer) {
		if e.Op == "write" {
			e.Seq = seq
			seq++
			t.Events = append(t.Events, e)
		}
	}
	t.Events = append(t.Events, timeline.Events(&p.cliRec, timeline.WhoClient, timeline.ToServer, timeline.ToClient)...)
	return t
}

// hashWriter counts and hashes what is written to it.
type hashWriter struct {
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	w.n += int64(len(p))
	return len(p), nil
}

// judge gives an outcome its verdict and reason.
func judge(o *Outcome) (Verdict, Reason) {
	ok := o.Err == nil && o.Written == o.Size && o.Server == o.Local && o.SizeRead == o.Size
	if ok {
		switch {
		case o.Client == RefClient:
			return VerdictOK, ReasonExact
		case o.Client == ArticleClient:
			return VerdictOK, ReasonExactData
		default:
			return VerdictOK, ReasonLucky
		}
	}
	v := VerdictWrong
	if o.Client == RefClient || (o.Err != nil && o.Local == "") {
		v = VerdictFailed
	}
	switch {
	case o.Delivery == SplitSize && o.Framing == spec.Lockstep && o.Client == RefClient:
		return v, ReasonHazard
	case o.SizeRead >= 0 && o.SizeRead != o.Size:
		return v, ReasonSize
	case o.Written > o.Size:
		return v, ReasonSticky
	case len(o.Server) > 0 && len(o.Server) < spec.DigestLen:
		return v, ReasonHalf
	}
	return v, ReasonOther
}

// errLine returns err's text on one line, or "".
func errLine(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
