package ref

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Server serves the regular files under a root directory. Set its fields
// before the first call to Serve or ServeConn and do not change them after.
type Server struct {
	// Framing is the framing of every connection.
	Framing spec.Framing
	// Logger receives a record per request, and at debug level one per
	// connection accepted and closed; connections pushed out or refused
	// are counted in at most one record every few seconds. Nil discards
	// them.
	Logger *slog.Logger
	// FirstRequestTimeout bounds the wait for a connection's first
	// request; 0 means DefaultFirstRequestTimeout.
	FirstRequestTimeout time.Duration
	// IdleTimeout bounds the wait for each later request; 0 means
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// AckTimeout bounds the wait for the ack after a size; 0 means
	// DefaultAckTimeout.
	AckTimeout time.Duration
	// WriteTimeout bounds each write; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConns is the most connections served at once; 0 means
	// DefaultMaxConns. At the limit a newcomer pushes out the oldest
	// connection whose client has sent nothing yet; when there is none it
	// is answered "ERR busy ..." and closed (see admit.go).
	MaxConns int
	// MaxPending is the most connections that have not yet sent their
	// first request; 0 means DefaultMaxPending. A newcomer beyond it
	// pushes out the oldest of them whose client has sent nothing.
	MaxPending int
	// MaxConnsPerAddr is the most connections from one IPv4 address or
	// IPv6 /64; 0 means DefaultMaxConnsPerAddr, a negative value no limit.
	// At it, a newcomer pushes out its address's oldest connection whose
	// client has sent nothing yet, or is answered "ERR busy".
	MaxConnsPerAddr int
	// MinRate is the slowest, in bytes per second, that a transfer's data
	// may be taken by its client, judged over each successive RateWindow:
	// a window with fewer bytes closes the connection. 0 means
	// DefaultServerMinRate; a negative value turns the rule off.
	MinRate int64
	// RateWindow is the length of each window of MinRate; 0 means
	// DefaultServerRateWindow.
	RateWindow time.Duration
	// Debug, if not nil, receives a line for every read and write on every
	// connection, quoting the first bytes: a copy of the wire traffic for
	// debugging a peer.
	Debug io.Writer
	// DisableDigestCache makes the server hash every file as it sends it.
	// By default it remembers the digest of each version of a file it has
	// sent whole and sends the next transfer of that version with
	// sendfile, without hashing it again (SPEC.md REQ-SRV-18).
	DisableDigestCache bool

	// Digest says whether a transfer ends with the digest of its data; the
	// zero value is spec.DigestMD5. With spec.DigestNone the transfer ends
	// with the data, as in the tutorial's first version.
	Digest spec.DigestMode

	root    *os.Root
	rootDir *os.File // the root for openat2, or nil (see open_linux.go)
	rootFD  int      // its descriptor
	digests *digestCache
	nextID  atomic.Uint64
	debugMu sync.Mutex

	mu        sync.Mutex
	closing   bool // Shutdown has begun
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}   // connections admitted (see admit.go)
	pending   *list.List           // of *conn: admitted, no request yet, oldest first
	perAddr   map[netip.Prefix]int // admitted connections per address
	peak      int                  // most connections admitted at once
	running   int                  // goroutines started by the server
	idle      chan struct{}        // closed when running drops to 0

	evictions eventLog // connections pushed out to make room
	refusals  eventLog // connections answered "ERR busy" at once
	fdErrors  eventLog // failed accepts
}

// busyDrain bounds how long a refused connection is drained after the busy
// reply, so that unread request bytes do not make the kernel reset the
// connection before the client reads the reply.
const busyDrain = 500 * time.Millisecond

// NewServer returns a Server for the files under root, with the default
// timeouts and limits. Names are resolved below the root (on Linux by the
// kernel, with openat2 and RESOLVE_BENEATH, elsewhere by os.Root): no name
// can reach outside it, not even through a symbolic link. Call Close to release
// it.
func NewServer(root string) (*Server, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("ref: open root: %w", err)
	}
	dir := openRootDir(root)
	fd := -1
	if dir != nil {
		fd = int(dir.Fd())
	}
	return &Server{
		root:                r,
		rootDir:             dir,
		rootFD:              fd,
		digests:             newDigestCache(digestCacheEntries),
		FirstRequestTimeout: DefaultFirstRequestTimeout,
		IdleTimeout:         DefaultIdleTimeout,
		AckTimeout:          DefaultAckTimeout,
		WriteTimeout:        DefaultWriteTimeout,
		MaxConns:            DefaultMaxConns,
		MaxPending:          DefaultMaxPending,
		MaxConnsPerAddr:     DefaultMaxConnsPerAddr,
		MinRate:             DefaultServerMinRate,
		RateWindow:          DefaultServerRateWindow,
		evictions:           eventLog{msg: "connections pushed out to make room, answered ERR busy", interval: logInterval},
		refusals:            eventLog{msg: "connections refused, answered ERR busy", interval: logInterval},
		fdErrors:            eventLog{msg: "accept failed; retrying", interval: logInterval},
	}, nil
}

// logInterval is the least time between two records of one kind of event
// that a crowd can cause by the thousand.
const logInterval = 5 * time.Second

// Close releases the root. Call it once Serve and ServeConn have returned.
func (s *Server) Close() error {
	if s.rootDir != nil {
		s.rootDir.Close()
	}
	return s.root.Close()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func orDefault[T time.Duration | int](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// Serve accepts connections on ln and serves each in its own goroutine
// until ctx is done or Shutdown is called; it closes ln before it returns.
//
// When ctx is done, Serve stops accepting, closes every connection, waits
// for every goroutine the server started, and returns nil. After Shutdown
// it returns nil once Shutdown has let the transfers in flight finish.
// Otherwise it returns the error that made Accept fail.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.root == nil {
		return errors.New("ref: Server not made by NewServer")
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()

	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			ln.Close()
		case <-stop:
		}
	}()
	defer func() {
		close(stop)
		<-watched
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	log := s.logger()
	log.Info("listening", "addr", ln.Addr().String(), "framing", s.Framing.String())
	spare := openSpare()
	defer func() { spare.Close() }()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.closeAll()
				s.wait()
				return nil
			}
			if s.isClosing() {
				s.wait()
				return nil
			}
			if outOfFiles(err) && s.refuseQueued(ctx, ln, &spare) {
				// A connection waiting in the listen queue was answered
				// "ERR busy" at once instead of left there.
				continue
			}
			if isTemporary(err) {
				// Out of descriptors or an aborted handshake: wait and
				// retry rather than stop serving everyone.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.fdErrors.note(log, err.Error())
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
				}
				continue
			}
			return fmt.Errorf("ref: accept: %w", err)
		}
		backoff = 0
		s.start(nc)
	}
}

// openSpare opens a descriptor held in reserve for the moment the process
// runs out of them; nil if it cannot.
func openSpare() *os.File {
	f, err := os.Open(os.DevNull)
	if err != nil {
		return nil
	}
	return f
}

func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

func isTemporary(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS)
}

// ServeConn serves one connection until it ends, then closes it. It
// honours MaxConns and Shutdown as Serve does; when ctx is done the
// connection is closed.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) error {
	if s.root == nil {
		nc.Close()
		return errors.New("ref: Server not made by NewServer")
	}
	c, busy, ok := s.track(nc)
	if !ok {
		nc.Close()
		return nil
	}
	defer s.done(c)
	if busy {
		s.refuseBusy(nc)
		return nil
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	c.serve()
	return nil
}

// start serves nc in a new goroutine, or refuses it as busy.
func (s *Server) start(nc net.Conn) {
	c, busy, ok := s.track(nc)
	if !ok {
		nc.Close()
		return
	}
	go func() {
		defer s.done(c)
		if busy {
			s.refuseBusy(nc)
			return
		}
		c.serve()
	}()
}

// track registers a connection about to be served and one goroutine; ok is
// false once Shutdown has begun. busy says the connection is over MaxConns.
func (s *Server) track(nc net.Conn) (c *conn, busy, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, false, false
	}
	if s.running == 0 {
		s.idle = make(chan struct{})
	}
	s.running++
	c = newConn(s, nc)
	return c, !s.admitLocked(c), true
}

// done ends what track began.
func (s *Server) done(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(c)
	s.running--
	if s.running == 0 {
		close(s.idle)
	}
}

// wait blocks until every goroutine the server started has ended.
func (s *Server) wait() {
	s.mu.Lock()
	ch := s.idle
	n := s.running
	s.mu.Unlock()
	if n > 0 {
		<-ch
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// closeAll closes every connection being served.
func (s *Server) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
}

// Shutdown stops the server gracefully: it closes the listeners and the
// connections waiting for a request, lets the transfers in flight finish,
// and closes each of those connections when its transfer ends. If ctx is
// done first, it closes every connection, waits for the goroutines to end
// and returns ctx.Err(). Serve returns nil after Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		if c.idle {
			c.nc.Close()
		}
	}
	s.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		s.wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		s.closeAll()
		<-finished
		return ctx.Err()
	}
}

// refuseBusy answers a connection over the limit with "ERR busy", closes
// its write side, drains what the client sent for a moment and closes it.
func (s *Server) refuseBusy(nc net.Conn) {
	defer nc.Close()
	log := s.logger().With("remote", nc.RemoteAddr().String())
	nc.SetWriteDeadline(time.Now().Add(orDefault(s.WriteTimeout, DefaultWriteTimeout)))
	if _, err := nc.Write(spec.EncodeError(s.Framing, spec.CodeBusy, "server at its connection limit")); err != nil {
		log.Debug("busy reply failed", "err", err)
		return
	}
	s.refusals.note(s.logger(), "limit")
	drain(nc, busyDrain)
}

// drain half-closes nc (when it can) and reads and discards what the peer
// sends, until it closes or for at most d, so that the peer receives what
// was written before the connection closes.
func drain(nc net.Conn, d time.Duration) {
	cw, ok := nc.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	if cw.CloseWrite() != nil {
		return
	}
	nc.SetReadDeadline(time.Now().Add(d))
	io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
}

// debugf writes one line of wire traffic to s.Debug.
func (s *Server) debugf(id uint64, dir string, b []byte) {
	const quote = 80
	q := b
	more := ""
	if len(q) > quote {
		q, more = q[:quote], "..."
	}
	s.debugMu.Lock()
	defer s.debugMu.Unlock()
	fmt.Fprintf(s.Debug, "conn %d %s %d bytes %q%s\n", id, dir, len(b), q, more)
}
