package ref

import "time"

// UseUnnamed lets tests turn off unnamed temporary files (O_TMPFILE) to
// exercise the named ones.
var UseUnnamed = &useUnnamed

// PeakConns returns the most connections s has admitted at once.
func PeakConns(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

// SetDigestClock sets the clock of s's digest cache, which decides whether
// a version has settled (DigestSettleTime) and whether a digest is too old.
func SetDigestClock(s *Server, now func() time.Time) { s.digests.now = now }

// DigestCacheLen returns the number of digests s remembers.
func DigestCacheLen(s *Server) int { return s.digests.len() }
