package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
)

// PythonServer is a tutorial-style server written in Python (such as
// testdata/python/tutorial_server.py), serving the lab's root. It speaks
// the lockstep framing only and serves one client at a time.
type PythonServer struct {
	cmd    *exec.Cmd
	addr   string
	exited chan error
}

// StartPython runs "python script PORT ROOT" with PORT 0 and waits for the
// script's "listening PORT" line on its standard output.
func (l *Lab) StartPython(ctx context.Context, python, script string) (*PythonServer, error) {
	if l.opts.Framing != spec.Lockstep {
		return nil, errors.New("the Python server speaks the lockstep framing only")
	}
	cmd := exec.Command(python, script, "0", l.root)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", script, err)
	}
	p := &PythonServer{cmd: cmd, exited: make(chan error, 1)}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		got := false
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); !got && len(f) == 2 && f[0] == "listening" {
				port <- f[1]
				got = true
			}
		}
		io.Copy(io.Discard, stdout)
		p.exited <- cmd.Wait()
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case pt := <-port:
		p.addr = "127.0.0.1:" + pt
		return p, nil
	case err := <-p.exited:
		return nil, fmt.Errorf("%s exited before listening: %v", script, err)
	case <-t.C:
	case <-ctx.Done():
	}
	cmd.Process.Kill()
	<-p.exited
	return nil, fmt.Errorf("%s did not print \"listening PORT\"", script)
}

// Addr returns the server's address.
func (p *PythonServer) Addr() string { return p.addr }

// Close kills the server and waits for it to exit.
func (p *PythonServer) Close() error {
	p.cmd.Process.Kill()
	<-p.exited
	return nil
}
