//go:build !linux

package ref

import (
	"net"
	"os"
)

// refuseQueued does nothing here: Serve backs off and retries instead.
func (s *Server) refuseQueued(net.Listener, **os.File) bool { return false }
