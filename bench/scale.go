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
		return nil, errors.New("bench: Scale needs at least one client")
	}
	name, err := l.File(size)
	if err != nil {
		return nil, err
	}
	if err := RaiseFileLimit(uint64(3*(clients+probes) + 64)); err != nil {
		return nil, err
	}
	srv, err := ref.NewServer(l.root)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	srv.Framing, srv.MaxConns = l.opts.Framing, clients
	srv.MaxPending, srv.MaxConnsPerAddr = clients, -1 // every client comes from 127.0.0.1
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		cancel()
		<-served
	}()
	addr := ln.Addr().String()

	res := &ScaleResult{Clients: clients, Size: size, Probes: probes}
	client := l.client()
	d := &net.Dialer{Timeout: 30 * time.Second}

	var (
		mu       sync.Mutex
		lat      []time.Duration
		sessions []*ref.Session
		last     time.Time
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Failed++
		if len(res.Errors) < maxErrors {
			res.Errors = append(res.Errors, err)
		}
	}
	start := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			nc, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				fail(err)
				return
			}
			s := client.NewSession(nc)
			if _, err := s.Fetch(name, io.Discard); err != nil {
				s.Close()
				fail(err)
				return
			}
			end := time.Now()
			mu.Lock()
			defer mu.Unlock()
			res.OK++
			lat = append(lat, end.Sub(t0))
			sessions = append(sessions, s)
			if end.After(last) {
				last = end
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	if res.OK > 0 {
		res.Elapsed = last.Sub(t0)
		slices.Sort(lat)
		res.P50 = lat[(len(lat)-1)*50/100]
		res.P99 = lat[(len(lat)-1)*99/100]
		res.Max = lat[len(lat)-1]
	}

	// Every successful client still holds its connection: the server is
	// at its limit if MaxConns == clients.
	for range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return
			}
			s := client.NewSession(nc)
			defer s.Close()
			_, err = s.Fetch(name, io.Discard)
			var er *spec.ErrorReply
			if errors.As(err, &er) && er.Code == spec.CodeBusy {
				mu.Lock()
				res.Busy++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, s := range sessions {
		s.Close()
	}
	return res, nil
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
