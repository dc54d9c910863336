package ref

// UseUnnamed lets tests turn off unnamed temporary files (O_TMPFILE) to
// exercise the named ones.
var UseUnnamed = &useUnnamed

// PeakConns returns the most connections s has admitted at once.
func PeakConns(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}
