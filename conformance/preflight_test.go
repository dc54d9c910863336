package conformance_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/internal/casetest"
	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/ref/reftest"
	"github.com/stickykit/stickykit/spec"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestPreflightServer checks that the preflight names the user's mistakes
// as a *SetupError, and passes a server described right: a root the
// server does not serve, the wrong framing either way, nothing listening.
func TestPreflightServer(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	lock := reftest.NewServer(t, "", reftest.Options{Framing: spec.Lockstep})
	line := reftest.NewServer(t, "", reftest.Options{Framing: spec.Line})
	other := t.TempDir()
	tests := []struct {
		name   string
		target conformance.ServerTarget
		want   string // in the error; "" for none
	}{
		{"right", conformance.ServerTarget{Addr: lock.Addr, Root: lock.Root}, ""},
		{"right, line", conformance.ServerTarget{Addr: line.Addr, Root: line.Root, Framing: spec.Line}, ""},
		{"another root", conformance.ServerTarget{Addr: lock.Addr, Root: other}, "does not serve the files in " + other + ": asked for"},
		{"line server, lockstep kit", conformance.ServerTarget{Addr: line.Addr, Root: line.Root}, "the server seems to speak line framing: add --framing line"},
		{"lockstep server, line kit", conformance.ServerTarget{Addr: lock.Addr, Root: lock.Root, Framing: spec.Line}, "the server seems to speak lockstep framing"},
		{"nobody there", conformance.ServerTarget{Addr: freeAddr(t), Root: other}, "cannot reach the server"},
	}
	for _, tt := range tests {
		err := conformance.PreflightServer(t.Context(), tt.target, conformance.Options{Timeout: time.Second})
		var se *conformance.SetupError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: PreflightServer = %v, want nil", tt.name, err)
		case tt.want != "" && (!errors.As(err, &se) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: PreflightServer = %v, want a SetupError saying %q", tt.name, err, tt.want)
		}
	}
	casetest.AssertNoFixtures(t, lock.Root)
}

// TestDigestNone checks the exchange without a digest (the tutorial's
// first version) both ways: the reference server and client, each
// speaking it, get the reference verdicts, the cases about the digest
// being SKIP; and a server that does send a digest fails, since what it
// sends after the data is read as the next reply.
func TestDigestNone(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	none := func(s *ref.Server) { s.Digest = spec.DigestNone }
	srv := reftest.NewServer(t, "", reftest.Options{Framing: spec.Line, Configure: none})
	target := conformance.ServerTarget{Addr: srv.Addr, Root: srv.Root, Framing: spec.Line, Digest: spec.DigestNone}
	o := conformance.Options{Skip: regexp.MustCompile(`^server/(conn-limit|default-limit|refusal-close|slow-reader|abandoned-transfer|concurrent)$`)}
	for _, r := range conformance.RunServer(t.Context(), target, o) {
		casetest.CheckCitations(t, r)
		want := casetest.WantRefVerdict(r.Case.ID, spec.Line)
		if r.Case.ID == "server/named-files" {
			want = conformance.Skip // a file's digest is what it checks
		}
		if r.Outcome.Verdict != want {
			t.Errorf("%s (no digest) = %s: %s, want %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, want)
		}
	}
	client := func(ctx context.Context, addr, name, out string) error {
		c := &ref.Client{Framing: spec.Line, Digest: spec.DigestNone, Timeout: 5 * time.Second}
		_, err := c.Get(ctx, addr, name, out)
		return err
	}
	for _, r := range conformance.RunClient(t.Context(), conformance.ClientTarget{Framing: spec.Line, Digest: spec.DigestNone, Func: client}, conformance.Options{}) {
		casetest.CheckCitations(t, r)
		want := casetest.WantRefClient(r.Case.ID, spec.Line)
		if r.Case.ID == "client/sticky" || strings.Contains(r.Case.ID, "digest") {
			want = conformance.Skip
		}
		if r.Outcome.Verdict != want {
			t.Errorf("%s (no digest) = %s: %s, want %s", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail, want)
		}
	}
	// A server with a digest, checked as one without: its digest is read
	// as the reply to the next request.
	md5srv := reftest.NewServer(t, "", reftest.Options{Framing: spec.Line})
	wrong := conformance.ServerTarget{Addr: md5srv.Addr, Root: md5srv.Root, Framing: spec.Line, Digest: spec.DigestNone}
	for _, r := range conformance.RunServer(t.Context(), wrong, conformance.Options{Run: regexp.MustCompile(`^server/multi-request$`)}) {
		if r.Outcome.Verdict != conformance.Fail {
			t.Errorf("%s (a digest where none is due) = %s: %s, want FAIL", r.Case.ID, r.Outcome.Verdict, r.Outcome.Detail)
		}
	}
}
