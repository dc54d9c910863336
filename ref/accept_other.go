//go:build !linux

package ref

import (
	"context"
	"net"
	"os"
)

// refuseQueued does nothing here: Serve backs off and retries instead.
func (s *Server) refuseQueued(context.Context, net.Listener, **os.File) bool { return false }
