package ref

import (
	"errors"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stickykit/stickykit/spec"
)

// refuseQueued is what Serve does when the process is out of file
// descriptors: it waits for the next connection in ln's listen queue and
// answers it "ERR busy" at once, with the descriptor *spare gives up for
// the moment, reading what the client has already sent (so that the close
// does not reset the connection and destroy the reply) and closing it. A
// connection is never left waiting in the queue, unanswered, for as long
// as the shortage lasts. It returns false when it could do nothing: ln is
// not a TCP listener, no spare descriptor is left, or the listener closed.
func (s *Server) refuseQueued(ln net.Listener, spare **os.File) bool {
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
	err = rc.Read(func(lfd uintptr) bool {
		if *spare == nil {
			return true
		}
		(*spare).Close()
		fd, _, err := unix.Accept4(int(lfd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
		*spare = openSpare()
		if errors.Is(err, unix.EAGAIN) {
			return false // nothing queued yet: wait for it
		}
		if err != nil {
			return true
		}
		unix.Write(fd, reply)
		buf := make([]byte, 4096)
		for range 16 { // what has arrived, without waiting
			if n, err := unix.Read(fd, buf); n <= 0 || err != nil {
				break
			}
		}
		unix.Close(fd)
		refused = true
		return true
	})
	if refused {
		s.refusals.note(s.logger(), "out of file descriptors")
	}
	return err == nil && refused
}
