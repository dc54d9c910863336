// Package demo is the sticky-packet lesson behind "stickykit demo": it
// fetches one file from the reference server over an in-process connection
// (net.Pipe), with the server's writes shaped into the deliveries that
// matter, by the tutorial's naive client, by the article's fix and by the
// reference client, and it records every real read and write on both ends.
//
// A run ([Run]) gives one [Outcome] per client and delivery (bytes expected
// and written, both digests, a verdict and the reason for it) and a
// recording of its reads and writes (a timeline.Trace, package
// internal/timeline, which lays it out and draws it). A [Report] is the
// lesson: the outcomes and one timeline, as plain text
// ([Report.WriteText]), an SVG picture ([Report.WriteSVG]) and a
// self-contained HTML page ([Report.WriteHTML]), in English or Chinese.
//
// The deliveries, over net.Pipe (where a read never spans two underlying
// writes, so a delivery fixes the client's read boundaries exactly):
//
//	plain       every server write arrives as a piece of its own
//	sticky      everything between two turns arrives as one piece: the file's tail and the digest together (粘包)
//	half        the data arrives whole, the digest as 20 + 12 bytes (半包)
//	split-size  the size arrives in two pieces ("100" + "000\n"); line framing by default
//
// Nothing here draws what should happen: the timeline is computed from the
// recorded events of a real run.
package demo
