package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stickykit/stickykit/internal/readtrace"
)

// The recorded reads of a server the kit starts (ServerTarget.Reads): the
// server runs under strace for each case, and once it has been stopped,
// the kit says how it read the requests a case watches (a request sent
// in pieces, server/split-request): in one read, in pieces, or a fragment
// and no more.

// watchedRequest is a request whose reading by the server a case's
// verdict names: the server's view of the connection, and the request.
type watchedRequest struct {
	conn    readtrace.Conn
	request string
}

// watchRequest asks for the server's reads of req, the first bytes the
// kit sent on k, to be named in the case's verdict.
func (x *serverCheck) watchRequest(k *kitConn, req []byte) {
	if x.trace == nil {
		return
	}
	c, err := readtrace.Opposite(k.nc)
	if err != nil {
		x.logf("kit: the server's reads cannot be matched to the connection: %v", err)
		return
	}
	x.watched = append(x.watched, watchedRequest{conn: c, request: string(req)})
}

// startTracedServer starts the server of t as startServerProc does,
// under strace when the run records reads. When strace cannot run the
// server, tracing stops for the run and the server starts without it.
func (x *serverCheck) startTracedServer(ctx context.Context, t *ServerTarget, run *serverRun, addr string) (*serverProc, error) {
	trace, err := newProgramTrace(run.reads.get(ctx))
	if err != nil {
		x.logf("kit: cannot record the server's reads: %v", err)
	}
	sp, err := startServerProc(ctx, t, x.root, addr, x.timeout, trace)
	if err == nil || trace == nil {
		x.trace = trace
		return sp, err
	}
	trace.remove()
	var te *tracingError
	if !errors.As(err, &te) {
		return sp, err
	}
	said := te.said
	run.reads.stop(said)
	x.traceNote = fmt.Sprintf("the kit could not record the server's reads (%s): it started the server without them, in this case and the rest", said)
	x.logf("kit: %s", x.traceNote)
	return startServerProc(ctx, t, x.root, addr, x.timeout, nil)
}

// withRequestReads adds to o how the server read each watched request,
// from its recorded reads. Call it once the server has ended.
func (x *serverCheck) withRequestReads(o Outcome) Outcome {
	var words []string
	if x.trace != nil && len(x.watched) > 0 && o.Verdict != Skip && o.Verdict != Error {
		words = x.requestWords()
	}
	if x.traceNote != "" {
		words = append(words, x.traceNote)
	}
	if len(words) == 0 {
		return o
	}
	return outcome(o.Verdict, append(slices.Clone(o.Findings), finding("%s", strings.Join(words, "; ")))...)
}

// requestWords says how the server read each watched request.
func (x *serverCheck) requestWords() []string {
	tr, err := x.trace.read()
	if err != nil {
		x.logf("kit: the server's reads could not be read: %v", err)
		return nil
	}
	var words []string
	for _, w := range x.watched {
		st := tr.Stream(w.conn)
		x.logf("kit: the server's reads of %s, recorded with strace: %d calls took %d bytes%s", w.conn, len(st.Reads), st.Consumed(), failedWords(st))
		f := readtrace.ClassifyRequest(st, w.request)
		s := f.Words()
		switch {
		case f.Kind == readtrace.RequestPart:
			s += ": it took that fragment for the whole request"
		case f.Kind == readtrace.RequestNone && len(st.Reads) == 0:
			continue // nothing recorded: nothing to say
		}
		words = append(words, "the server's recorded reads: "+s)
	}
	return words
}
