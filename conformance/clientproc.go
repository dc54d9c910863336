package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"
)

// runClientCommand runs a client command once, as ClientTarget.Command
// documents: placeholders replaced, in dir, with empty stdin, killed (its
// whole process group, where the system has them) when ctx is done.
func runClientCommand(ctx context.Context, argv []string, dir, addr, name, out string) clientExit {
	host, port, _ := net.SplitHostPort(addr)
	r := strings.NewReplacer("{host}", host, "{port}", port, "{addr}", addr, "{name}", name, "{out}", out)
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = r.Replace(a)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdin = nil // reads from the null device: empty stdin
	tail := &tailBuffer{max: 4 << 10}
	cmd.Stdout = tail
	cmd.Stderr = tail
	cmd.WaitDelay = time.Second
	ownProcessGroup(cmd)
	err := cmd.Run()
	if cmd.Process != nil {
		killProcessGroup(cmd)
	}
	e := clientExit{output: tail.String(), command: true}
	switch {
	case cmd.Process == nil:
		e.setup = err
	case cmd.ProcessState != nil:
		e.status = cmd.ProcessState.ExitCode()
		if err != nil || e.status != 0 {
			e.err = fmt.Errorf("%s", cmd.ProcessState)
			if e.status == 0 { // an I/O error after a clean exit, e.g. ErrWaitDelay
				e.err = err
			}
		}
		e.unsupported = e.status == 127
	default:
		e.status = -1
		e.err = err
	}
	if e.err == nil && err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		e.err = err
	}
	return e
}

// tailBuffer keeps the last max bytes written to it. os/exec calls Write
// from one goroutine at a time when Stdout and Stderr are the same writer.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
