// Package timeline records the reads and writes of one exchange and lays
// them out as a byte timeline of the server-to-client stream: its protocol
// regions (size, data, digest), the server's write boundaries, the pieces a
// shaped connection delivered, and the client's read boundaries, with the
// read that crossed a message boundary marked. It draws the layout as an
// SVG picture ([WriteSVG]) from the recording alone, so any recording
// (the demo's, or a real client's over TCP) draws the same way.
//
// A [Trace] is the recording: the regions of both streams and every Read
// and Write that moved bytes, as [shape.Record] saw them. [NewLayout] lays
// it out.
package timeline

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"

	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

// Directions of the byte streams of a connection.
const (
	ToServer = "c2s" // client to server: request, ack
	ToClient = "s2c" // server to client: size, data, digest
)

// Who recorded an event.
const (
	WhoClient    = "client"    // the client's reads and writes
	WhoServer    = "server"    // the server's own reads and writes
	WhoDelivered = "delivered" // the pieces the shaped connection handed on to the client
)

// Region names: the protocol messages, as they lie in the streams.
const (
	RegionRequest = "request"
	RegionSize    = "size"
	RegionAck     = "ack"
	RegionData    = "data"
	RegionDigest  = "digest"
)

// Trace is a recording of one exchange: the protocol regions of both
// streams and every read and write that moved bytes, as [shape.Record]
// saw them. It is what "stickykit demo --trace" and "stickykit get
// --trace" write, as JSON.
type Trace struct {
	Client   string   `json:"client,omitempty"`   // naive, article, ref
	Delivery string   `json:"delivery,omitempty"` // plain, sticky, half, split-size; empty for a real network
	Framing  string   `json:"framing"`
	Name     string   `json:"name"`
	Size     int64    `json:"size"`           // file size; -1 when unknown
	Seed     uint64   `json:"seed,omitempty"` // file content seed
	Regions  []Region `json:"regions"`
	Events   []Event  `json:"events"`
}

// Region is one message of the exchange in its stream: bytes [Off, Off+Len)
// of direction Dir.
type Region struct {
	Dir  string `json:"dir"`            // ToServer or ToClient
	Name string `json:"name"`           // RegionRequest, ...
	Off  int64  `json:"off"`            // offset of its first byte in the stream
	Len  int64  `json:"len"`            // bytes
	Text string `json:"text,omitempty"` // the bytes of a control message
}

// End returns the offset just past the region.
func (r Region) End() int64 { return r.Off + r.Len }

// Event is one Read or Write call that moved bytes or failed.
type Event struct {
	Who string `json:"who"` // WhoClient, WhoServer, WhoDelivered
	Seq int    `json:"seq"` // order among the events of the same Who
	Op  string `json:"op"`  // "read" or "write"
	Dir string `json:"dir"` // the stream the bytes belong to
	Off int64  `json:"off"` // offset of the first byte in that stream
	N   int    `json:"n"`   // bytes moved
	Err string `json:"err,omitempty"`
}

// End returns the offset just past the bytes the event moved.
func (e Event) End() int64 { return e.Off + int64(e.N) }

// WriteJSON writes t as indented JSON.
func (t *Trace) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// ReadTrace decodes a trace written by WriteJSON.
func ReadTrace(r io.Reader) (*Trace, error) {
	var t Trace
	if err := json.NewDecoder(r).Decode(&t); err != nil {
		return nil, err
	}
	return &t, nil
}

// ClientTrace builds the trace of a client's own connection from a
// recorder that wrapped it: its writes go to the server, its reads come
// from it. size is the file size, or -1 when no size was received. The
// regions are those of a successful exchange of that size.
func ClientTrace(rec *shape.Recorder, f spec.Framing, name string, size int64) *Trace {
	t := &Trace{Framing: f.String(), Name: name, Size: size}
	t.Regions = Regions(f, name, size)
	t.Events = Events(rec, WhoClient, ToServer, ToClient)
	return t
}

// Regions returns the regions of one exchange of name, of a file of size
// bytes (none from the server when size < 0).
func Regions(f spec.Framing, name string, size int64) []Region {
	var rs []Region
	req, err := spec.EncodeRequest(f, name)
	if err != nil {
		req = []byte(spec.RequestVerb + name)
	}
	rs = append(rs, Region{Dir: ToServer, Name: RegionRequest, Len: int64(len(req)), Text: string(req)})
	if size < 0 {
		return rs
	}
	ack := spec.EncodeAck(f)
	rs = append(rs, Region{Dir: ToServer, Name: RegionAck, Off: int64(len(req)), Len: int64(len(ack)), Text: string(ack)})
	sz, _ := spec.EncodeSize(f, size)
	rs = append(rs,
		Region{Dir: ToClient, Name: RegionSize, Len: int64(len(sz)), Text: string(sz)},
		Region{Dir: ToClient, Name: RegionData, Off: int64(len(sz)), Len: size},
		Region{Dir: ToClient, Name: RegionDigest, Off: int64(len(sz)) + size, Len: spec.DigestLen},
	)
	return rs
}

// Events converts the events recorded by rec, recorded by who, whose
// conn writes to the stream wdir and reads from rdir.
func Events(rec *shape.Recorder, who, wdir, rdir string) []Event {
	var out []Event
	for _, e := range rec.Events() {
		dir := rdir
		if e.Op == "write" {
			dir = wdir
		}
		out = append(out, Event{Who: who, Seq: e.Seq, Op: e.Op, Dir: dir, Off: e.Off, N: e.N, Err: errText(e.Err)})
	}
	return out
}

// errText names an error in words that do not change from run to run.
func errText(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return "closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return err.Error()
}

// regionAt returns the region of dir that holds stream offset off.
func (t *Trace) regionAt(dir string, off int64) (Region, bool) {
	for _, r := range t.Regions {
		if r.Dir == dir && r.Off <= off && off < r.End() {
			return r, true
		}
	}
	return Region{}, false
}

// region returns the region of dir named name.
func (t *Trace) region(dir, name string) (Region, bool) {
	for _, r := range t.Regions {
		if r.Dir == dir && r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}
