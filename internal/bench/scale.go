package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/spec"
)

// ScaleResult is the outcome of Lab.Scale.
type ScaleResult struct {
	Clients int   // clients started at once
	Size    int64 // bytes each fetched
	OK      int   // fetches whose digest verified
	Failed  int   // fetches that failed
	Errors  []error
	// Elapsed runs from the start signal to the end of the last fetch.
	Elapsed time.Duration
	// P50, P99 and Max are the latencies of one client, from dialling to
	// the verified digest.
	P50, P99, Max time.Duration
	// Probes is the number of connections made over the server's limit
	// while every client held its connection open, and Busy the number of
	// them answered "ERR busy".
	Probes, Busy int
}

// FetchesPerSec returns the completed fetches per second.
func (r *ScaleResult) FetchesPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// maxErrors bounds the errors a ScaleResult keeps.
const maxErrors = 10

// Scale starts a reference server of its own on the lab's root, with a
// connection limit of clients, and then clients goroutines at once; each
// dials that server, fetches the file of size bytes into memory with the
// reference client (which verifies its digest) and keeps its connection
// open until every client is done. Then, while all those connections are
// open, it makes probes more connections and counts those answered
// "ERR busy": every one should be. Finally it closes every connection and
// stops the server, waiting for all its goroutines. Failures are counted in
// the result, not returned; the error is for setup failures.
func (l *Lab) Scale(ctx context.Context, clients int, size int64, probes int) (*ScaleResult, error) {
	if clients < 1 {
		return nil, errors.New("Scale needs at least one client")
	}
	name, err := l.File(size)
	if err != nil {
		return nil, err
	}
	if err := raiseFileLimit(uint64(3*(clients+probes) + 64)); err != nil {
		return nil, err
	}
	addr, stop, err := l.serveLimited(clients)
	if err != nil {
		return nil, err
	}
	defer stop()
	sc := &scaleRun{res: &ScaleResult{Clients: clients, Size: size, Probes: probes},
		client: l.client(), dialer: &net.Dialer{Timeout: 30 * time.Second}, addr: addr, name: name}
	sc.fetchAll(ctx, clients)
	// Every successful client still holds its connection: the server is
	// at its limit if MaxConns == clients.
	sc.probe(ctx, probes)
	for _, s := range sc.sessions {
		s.Close()
	}
	return sc.res, nil
}

// serveLimited starts a reference server on the lab's root allowing
// maxConns connections, and returns its address and a function that stops
// it and waits for its goroutines.
func (l *Lab) serveLimited(maxConns int) (addr string, stop func(), err error) {
	srv, err := ref.NewServer(l.root)
	if err != nil {
		return "", nil, err
	}
	srv.Framing, srv.MaxConns = l.opts.Framing, maxConns
	srv.MaxPending, srv.MaxConnsPerAddr = maxConns, -1 // every client comes from 127.0.0.1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	return ln.Addr().String(), func() {
		cancel()
		<-served
		srv.Close()
	}, nil
}

// scaleRun is the state of one Scale.
type scaleRun struct {
	res        *ScaleResult
	client     *ref.Client
	dialer     *net.Dialer
	addr, name string

	mu       sync.Mutex
	lat      []time.Duration
	sessions []*ref.Session
	last     time.Time
}

func (sc *scaleRun) fail(err error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.res.Failed++
	if len(sc.res.Errors) < maxErrors {
		sc.res.Errors = append(sc.res.Errors, err)
	}
}

// fetchAll starts n clients at once, each fetching the file and keeping
// its session open, and fills in the counts and latencies.
func (sc *scaleRun) fetchAll(ctx context.Context, n int) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			nc, err := sc.dialer.DialContext(ctx, "tcp", sc.addr)
			if err != nil {
				sc.fail(err)
				return
			}
			s := sc.client.NewSession(nc)
			if _, err := s.Fetch(sc.name, io.Discard); err != nil {
				s.Close()
				sc.fail(err)
				return
			}
			end := time.Now()
			sc.mu.Lock()
			defer sc.mu.Unlock()
			sc.res.OK++
			sc.lat = append(sc.lat, end.Sub(t0))
			sc.sessions = append(sc.sessions, s)
			if end.After(sc.last) {
				sc.last = end
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	if sc.res.OK > 0 {
		sc.res.Elapsed = sc.last.Sub(t0)
		slices.Sort(sc.lat)
		sc.res.P50 = sc.lat[(len(sc.lat)-1)*50/100]
		sc.res.P99 = sc.lat[(len(sc.lat)-1)*99/100]
		sc.res.Max = sc.lat[len(sc.lat)-1]
	}
}

// probe makes n connections at once and counts those refused with
// "ERR busy".
func (sc *scaleRun) probe(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := sc.dialer.DialContext(ctx, "tcp", sc.addr)
			if err != nil {
				return
			}
			s := sc.client.NewSession(nc)
			defer s.Close()
			_, err = s.Fetch(sc.name, io.Discard)
			var er *spec.ErrorReply
			if errors.As(err, &er) && er.Code == spec.CodeBusy {
				sc.mu.Lock()
				sc.res.Busy++
				sc.mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// String summarises the result on one line.
func (r *ScaleResult) String() string {
	s := fmt.Sprintf("%d clients x %s: %d ok, %d failed in %v (%.0f fetches/s), latency p50 %v p99 %v max %v",
		r.Clients, FormatSize(r.Size), r.OK, r.Failed, r.Elapsed.Round(time.Millisecond), r.FetchesPerSec(),
		r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond))
	if r.Probes > 0 {
		s += fmt.Sprintf("; over the limit: %d of %d refused with ERR busy", r.Busy, r.Probes)
	}
	return s
}
