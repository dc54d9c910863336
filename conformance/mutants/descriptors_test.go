package mutants_test

import (
	"crypto/md5"
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/spec"
)

// server/out-of-descriptors needs a server the kit starts itself, as a
// process whose descriptors it can limit: the in-process mutants of
// mutants_server_test.go cannot run out of descriptors without the test
// running out with them. So its mutants are this test binary, started by
// the kit as the server (TestDescriptorServerHelper), each doing one thing
// when accept fails with EMFILE.

// descriptorMutant is a server that runs out of descriptors, and what it
// does with the connections then waiting in its listen queue.
type descriptorMutant struct {
	name   string
	want   conformance.Verdict
	detail string // what the verdict's detail must hold
}

// descriptorMutants are the mutants of server/out-of-descriptors, and one
// that behaves as REQ-LIM-16 asks (the control).
var descriptorMutants = []descriptorMutant{
	// A descriptor kept in reserve gives way for a moment to answer a
	// queued connection ERR busy, as REQ-LIM-16 asks.
	{"spare", conformance.Pass, "ERR busy"},
	// It waits for a descriptor and tries again, as a Go HTTP server
	// does: the queued connections wait unanswered.
	{"retries", conformance.Fail, "the connection is still in its listen queue"},
	// It answers the first queued connection ERR busy with its reserve,
	// and never opens another: the next one waits unanswered.
	{"spends", conformance.Fail, "it had answered an earlier one ERR busy"},
	// It takes the connection with its spare descriptor and closes it at
	// once, with no ERR busy.
	{"closes", conformance.Fail, "closed the connection without a reply"},
	// It takes the connection with its spare descriptor, and then leaves
	// it without a word.
	// (Its reserve spent, it then leaves the next one in the queue.)
	{"holds", conformance.Fail, "without a reply"},
}

// TestDescriptorMutants runs server/out-of-descriptors against each
// descriptor mutant in both framings: the broken ones FAIL, the control
// passes.
func TestDescriptorMutants(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the kit limits a server's descriptors on Linux only")
	}
	for _, m := range descriptorMutants {
		for _, f := range spec.Framings {
			t.Run(m.name+"/"+f.String(), func(t *testing.T) {
				t.Parallel()
				target := conformance.ServerTarget{Framing: f,
					Command: []string{os.Args[0], "-test.run=^TestDescriptorServerHelper$", "--", "{addr}", "{root}", m.name, f.String()}}
				o := conformance.Options{Run: regexp.MustCompile("^server/out-of-descriptors$")}
				results := conformance.RunServer(t.Context(), target, o)
				if len(results) != 1 {
					t.Fatalf("RunServer returned %d results, want 1", len(results))
				}
				r := results[0]
				casetest.CheckCitations(t, r)
				if r.Outcome.Verdict != m.want || !strings.Contains(r.Outcome.Detail, m.detail) {
					t.Fatalf("against the %s mutant (%s): %s: %s, want %s holding %q\n%s",
						m.name, f, r.Outcome.Verdict, r.Outcome.Detail, m.want, m.detail, strings.Join(r.Log, "\n"))
				}
				t.Logf("%s: %s", r.Outcome.Verdict, r.Outcome.Detail)
			})
		}
	}
}

// TestDescriptorServerHelper is not a test: TestDescriptorMutants runs it
// as the server under test, with its address, root, mutant and framing
// after "--". It serves until the kit stops it.
func TestDescriptorServerHelper(t *testing.T) {
	args := flag.Args()
	if len(args) != 4 {
		t.Skip("a server under test; runs only as a child process of TestDescriptorMutants")
	}
	f, err := spec.ParseFraming(args[3])
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", args[0])
	if err != nil {
		t.Fatal(err)
	}
	s := &descServer{root: args[1], mode: args[2], f: f, ln: ln.(*net.TCPListener)}
	s.spare, _ = os.Open(os.DevNull)
	for {
		c, err := s.ln.Accept()
		switch {
		case errors.Is(err, syscall.EMFILE):
			s.outOfFiles()
		case err != nil:
			t.Fatal(err)
		default:
			go s.serve(c)
		}
	}
}

// descServer is a descriptor mutant at work.
type descServer struct {
	root  string
	mode  string
	f     spec.Framing
	ln    *net.TCPListener
	spare *os.File
	held  []net.Conn // connections "holds" keeps without a word
}

// outOfFiles does what the mutant does when accept fails with EMFILE.
func (s *descServer) outOfFiles() {
	if s.mode == "retries" || s.spare == nil {
		time.Sleep(10 * time.Millisecond) // the server's own pace, not the test's
		return
	}
	s.spare.Close()
	c, err := s.ln.Accept()
	s.spare = nil
	if s.mode != "spends" {
		s.spare, _ = os.Open(os.DevNull)
	}
	if err != nil {
		return
	}
	switch s.mode {
	case "spare", "spends":
		c.Write(spec.EncodeError(s.f, spec.CodeBusy, "out of file descriptors"))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
		if s.spare == nil && s.mode == "spare" {
			s.spare, _ = os.Open(os.DevNull) // the descriptor c held
		}
	case "closes":
		c.Close()
		if s.spare == nil {
			s.spare, _ = os.Open(os.DevNull) // the descriptor c held
		}
	case "holds":
		s.held = append(s.held, c)
	}
}

// serve answers requests on c: a file of the root, or ERR not-found.
func (s *descServer) serve(c net.Conn) {
	defer c.Close()
	r := spec.NewReader(c, s.f)
	for {
		name, err := r.ReadRequest()
		if err != nil {
			return
		}
		data, err := os.ReadFile(filepath.Join(s.root, name))
		if err != nil {
			c.Write(spec.EncodeError(s.f, spec.CodeNotFound, "no such file"))
			continue
		}
		b, _ := spec.EncodeSize(s.f, int64(len(data)))
		c.Write(b)
		if r.ReadAck() != nil {
			return
		}
		sum := md5.Sum(data)
		d, _ := spec.EncodeDigest(sum[:])
		c.Write(append(data, d...))
	}
}
