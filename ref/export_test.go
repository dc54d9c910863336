package ref

import "time"

// SetDigestClock sets the clock of s's digest cache, which decides whether
// a version has settled (DigestSettleTime) and whether a digest is too old.
func SetDigestClock(s *Server, now func() time.Time) { s.digests.now = now }

// DigestCacheLen returns the number of digests s remembers.
func DigestCacheLen(s *Server) int { return s.digests.len() }
