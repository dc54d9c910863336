package ref

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stickykit/stickykit/spec"
)

// answerAndClose writes reply to the socket fd, half-closes it, and reads
// what the client sends until it closes, for at most evictDrain, before it
// closes fd: unread input would make the close reset the connection and
// destroy the reply before the client reads it (REQ-ERR-5).
func answerAndClose(fd int, reply []byte) {
	defer unix.Close(fd)
	unix.Write(fd, reply)
	unix.Shutdown(fd, unix.SHUT_WR)
	end := time.Now().Add(evictDrain)
	buf := make([]byte, 4096)
	for {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(pfd, int(left.Milliseconds())+1); n == 0 || err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n, err := unix.Read(fd, buf); n == 0 || err != nil && !errors.Is(err, unix.EAGAIN) {
			return // the client closed
		}
	}
}

// refuseQueued is what Serve does when the process is out of file
// descriptors: it waits for the next connection in ln's listen queue and
// answers it "ERR busy" at once (answerAndClose), with the descriptor
// *spare gives up for the moment. A
// connection is never left waiting in the queue, unanswered, for as long
// as the shortage lasts. It returns false when it could do nothing: ln is
// not a TCP listener, no spare descriptor is left, or the server stops.
func (s *Server) refuseQueued(ctx context.Context, ln net.Listener, spare **os.File) bool {
	sc, ok := ln.(syscall.Conn)
	if !ok || *spare == nil {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	reply := spec.EncodeError(s.Framing, spec.CodeBusy, "server out of file descriptors")
	refused := false
	rc.Control(func(lfd uintptr) {
		// The runtime's poller cannot wait on a listener for us here:
		// poll, and look up every 100ms in case the server stops.
		for ctx.Err() == nil && !s.isClosing() && *spare != nil {
			pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
			if n, err := unix.Poll(pfd, 100); n == 0 || errors.Is(err, unix.EINTR) {
				continue
			} else if err != nil {
				return
			}
			(*spare).Close()
			fd, _, err := unix.Accept4(int(lfd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			*spare = openSpare()
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ECONNABORTED) {
				continue
			}
			if err != nil {
				return
			}
			answerAndClose(fd, reply)
			if *spare == nil {
				*spare = openSpare()
			}
			refused = true
			return
		}
	})
	if refused {
		s.refusals.note(s.logger(), "out of file descriptors")
	}
	return refused
}
