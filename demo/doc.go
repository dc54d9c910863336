// Package demo is the sticky-packet lesson: it fetches one file from the
// reference server over an in-process connection (net.Pipe), with the
// server's writes shaped into the deliveries that matter, by the tutorial's
// naive client, by the article's fix and by the reference client, and it
// records every real read and write on both ends.
//
// A run gives one [Outcome] per client and delivery (bytes expected and
// written, both digests, a verdict and the reason for it) and a [Trace]: the
// recorded events, which [NewTimeline] lays out as a byte timeline of the
// server-to-client stream, labelled by protocol region (size, data,
// digest), with the server's write boundaries above and the client's read
// boundaries below. The timeline renders as plain text ([Report.WriteText]),
// SVG ([Report.WriteSVG]) and a self-contained HTML page
// ([Report.WriteHTML]); the trace as JSON.
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
