package ref_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// TestLogEscapesPeerBytes: names and bad requests from a peer reach the log
// and the Debug copy escaped and bounded (REQ-SEC-10): no raw escape
// sequence, no forged line, no unbounded quote.
func TestLogEscapesPeerBytes(t *testing.T) {
	root := t.TempDir()
	srv := newServer(t, root, spec.Line)
	var logs, debug syncBuffer
	srv.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv.Debug = &debug
	c := servePipe(t, srv)
	r := spec.NewReader(c, spec.Line)

	evil := "x\x1b[2J\x1b]0;owned\x07 msg=forged level=ERROR" + strings.Repeat("A", 900)
	for _, req := range [][]byte{
		[]byte("get " + evil + "\n"),         // a valid name, refused: not-found
		[]byte("put \x1b[31mred\x1b[0m\r\n"), // malformed: bad-request, then close
	} {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			t.Fatalf("write %q: %v", req[:10], err)
		}
		if _, err := r.ReadReply(); err == nil {
			t.Fatalf("reply to %q: got a size, want an error reply", req[:10])
		}
	}
	c.Close()
	srv.Close()

	for name, out := range map[string]string{"log": logs.String(), "debug": debug.String()} {
		if bytes.ContainsAny([]byte(out), "\x1b\x07") {
			t.Errorf("%s holds a raw escape or bell byte:\n%q", name, out)
		}
		// One record per line: a line that does not begin as the
		// handler begins every record was forged by a peer's bytes.
		prefix := map[string]string{"log": "time=", "debug": "conn "}[name]
		for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if !strings.HasPrefix(line, prefix) {
				t.Errorf("%s line %d does not begin with %q: forged by peer bytes? %q", name, i, prefix, line)
			}
			if len(line) > 1000 {
				t.Errorf("%s line %d is %d bytes long, want the peer's bytes bounded", name, i, len(line))
			}
		}
	}
	if !strings.Contains(logs.String(), `\x1b[2J`) {
		t.Errorf("log does not show the escaped name:\n%s", logs.String())
	}
}
