package ref

// UseUnnamed lets tests turn off unnamed temporary files (O_TMPFILE) to
// exercise the named ones.
var UseUnnamed = &useUnnamed
