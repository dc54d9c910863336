package conformance

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// Words for learners: how the kit puts what happened on the wire into a
// sentence. None of these cite a requirement; the cases do.

// quote renders at most 80 bytes of b for a log or a detail.
func quote(b []byte) string {
	const max = 80
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// isTimeout reports whether err is a deadline that expired.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// describe puts a failure to read from the server in a learner's words.
// waiting names what the kit was waiting for; timeout is how long it
// waited.
func describe(err error, timeout time.Duration, waiting string) string {
	var pe *spec.ProtocolError
	var te *spec.TruncatedError
	switch {
	case isTimeout(err):
		return fmt.Sprintf("the server sent nothing for %v while the kit waited for %s", timeout, waiting)
	case errors.As(err, &te):
		return fmt.Sprintf("the server closed the connection inside the %s: %d of %d bytes arrived", te.Phase, te.Got, te.Want)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("the server closed the connection while the kit waited for %s", waiting)
	case errors.Is(err, syscall.ECONNRESET):
		return fmt.Sprintf("the server reset the connection while the kit waited for %s", waiting)
	case errors.As(err, &pe):
		return fmt.Sprintf("the server sent a malformed %s: %s", pe.Phase, strings.TrimPrefix(pe.Error(), "spec: malformed "+string(pe.Phase)+": "))
	case errors.Is(err, spec.ErrTooLong):
		return fmt.Sprintf("the server sent more than %d bytes where %s was due", spec.MaxControlLen, waiting)
	}
	return fmt.Sprintf("reading %s failed: %v", waiting, err)
}

// netErrorWords name the network errors netWords knows, first match
// first.
var netErrorWords = []struct {
	is    func(error) bool
	words string
}{
	{func(err error) bool { return err == nil }, "ok"},
	{isTimeout, "timeout"},
	{func(err error) bool { return errors.Is(err, io.EOF) }, "end of stream"},
	{func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }, "connection reset"},
	{func(err error) bool { return errors.Is(err, syscall.EPIPE) }, "broken pipe"},
}

// netWords names a network error briefly.
func netWords(err error) string {
	for _, w := range netErrorWords {
		if w.is(err) {
			return w.words
		}
	}
	return err.Error()
}

// endWords says how the server ended a read of the kit's that stopped
// short: "it closed the connection", "it reset the connection", ...
func endWords(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "it closed the connection"
	case errors.Is(err, syscall.ECONNRESET):
		return "it reset the connection"
	case isTimeout(err):
		return "it sent nothing more"
	}
	return netWords(err)
}

// readWords says what a failed read of the client means.
func readWords(err error, timeout time.Duration) string {
	switch {
	case isTimeout(err):
		return fmt.Sprintf("nothing arrived within %v", timeout)
	case err == io.EOF:
		return "it closed the connection"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it closed the connection inside a line"
	case errors.Is(err, syscall.ECONNRESET):
		return "it reset the connection"
	case errors.Is(err, spec.ErrTooLong):
		return fmt.Sprintf("it sent a line longer than %d bytes", spec.MaxControlLen)
	}
	return err.Error()
}

// writeWords says what a failed write to the client means.
func writeWords(err error) string {
	switch {
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		return "the client had already closed the connection"
	case isTimeout(err):
		return "the client stopped reading"
	}
	return err.Error()
}

// oneLine returns s on one line, cut to max bytes.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// lastLine returns the last non-empty line of s, cut to 160 bytes.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return oneLine(lines[len(lines)-1], 160)
}

// count returns "1 noun" or "N nouns", for a detail.
func count[N ~int | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
