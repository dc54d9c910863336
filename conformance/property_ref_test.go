package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/stickykit/stickykit/ref"
	"github.com/stickykit/stickykit/shape"
	"github.com/stickykit/stickykit/spec"
)

// TestPropertyRefClientScripted checks that the reference client receives
// exactly the file and verifies its digest whatever the cut of the server's
// bytes: every plan in the line framing, fragmented size lines included,
// and every plan that keeps the size whole in the lockstep framing.
func TestPropertyRefClientScripted(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, f := range spec.Framings {
		t.Run(f.String(), rapid.MakeCheck(func(t *rapid.T) {
			data := drawFile(t)
			d := drawDelivery(t, f, len(data))
			t.Logf("plan: %v", d)

			srvEnd, cliEnd := net.Pipe()
			errc := make(chan error, 1)
			go func() {
				_, err := scriptedServer(srvEnd, f, data, d)
				errc <- err
			}()
			sess := (&ref.Client{Framing: f, Timeout: pipeTimeout}).NewSession(cliEnd)
			var got bytes.Buffer
			res, err := sess.Fetch("file", &got)
			sess.Close()
			serr := <-errc

			if err != nil {
				t.Fatalf("Fetch: %v (server: %v)", err, serr)
			}
			if serr != nil {
				t.Fatalf("server: %v", serr)
			}
			checkReceived(t, got.Bytes(), data)
			if want := digestOf(data); res.Digest != want || res.Size != int64(len(data)) {
				t.Fatalf("Result = {Size %d, Digest %s}, want {Size %d, Digest %s}", res.Size, res.Digest, len(data), want)
			}
		}))
	}
}

// checkReceived fails t unless got equals want, saying where they part.
func checkReceived(t *rapid.T, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Fatalf("received %d bytes, want %d; first difference at offset %d", len(got), len(want), i)
}

// drawShaper draws a shaping wrapper for the server's end of the pipe: a
// Fragment or a Coalesce fed by a drawn list of sizes (shape.Sizes: in
// order, the last repeating). The repeating size is at least 256 bytes, to
// keep a 300 KiB transfer quick.
//
// In the lockstep framing every size is at least MaxSizeDigits, so that no
// size message is ever cut: Fragment cuts a write only where it is longer
// than the segment, and Coalesce releases a held size message whole at the
// server's next Read (the ack) unless the segment is shorter than it. A cut
// size message is a hazard of that framing: the client takes "1" of "161"
// for the size, and both ends then block writing.
func drawShaper(t *rapid.T, f spec.Framing) (string, func(net.Conn) net.Conn) {
	lo := 1
	if f == spec.Lockstep {
		lo = spec.MaxSizeDigits
	}
	head := rapid.SliceOfN(rapid.IntRange(lo, 4096), 0, 8).Draw(t, "plan head")
	last := rapid.IntRange(256, 65536).Draw(t, "plan last")
	sizes := append(head, last)
	if rapid.Bool().Draw(t, "coalesce") {
		return fmt.Sprintf("Coalesce(Sizes%v)", sizes), func(c net.Conn) net.Conn { return shape.Coalesce(c, shape.Sizes(sizes...)) }
	}
	return fmt.Sprintf("Fragment(Sizes%v)", sizes), func(c net.Conn) net.Conn { return shape.Fragment(c, shape.Sizes(sizes...)) }
}

// TestPropertyRefShaped checks the reference client against the reference
// server whose writes a drawn shaping wrapper cuts and merges, for one to
// three requests on one connection.
func TestPropertyRefShaped(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, f := range spec.Framings {
		t.Run(f.String(), func(tt *testing.T) {
			base := tt.TempDir()
			rapid.Check(tt, func(t *rapid.T) {
				data := drawFile(t)
				desc, wrap := drawShaper(t, f)
				requests := rapid.IntRange(1, 3).Draw(t, "requests")
				t.Logf("size %d, server writes through %s, %d requests", len(data), desc, requests)

				dir, err := os.MkdirTemp(base, "root")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(dir)
				if err := os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644); err != nil {
					t.Fatal(err)
				}
				srv, err := ref.NewServer(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				srv.Framing = f

				srvEnd, cliEnd := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- srv.ServeConn(context.Background(), wrap(srvEnd)) }()
				sess := (&ref.Client{Framing: f, Timeout: pipeTimeout}).NewSession(cliEnd)
				defer func() {
					sess.Close()
					if err := <-done; err != nil {
						t.Errorf("ServeConn: %v", err)
					}
				}()

				for i := range requests {
					var got bytes.Buffer
					res, err := sess.Fetch("f.bin", &got)
					if err != nil {
						t.Fatalf("request %d: Fetch: %v", i+1, err)
					}
					checkReceived(t, got.Bytes(), data)
					if want := digestOf(data); res.Digest != want {
						t.Fatalf("request %d: digest %s, want %s", i+1, res.Digest, want)
					}
				}
			})
		})
	}
}
