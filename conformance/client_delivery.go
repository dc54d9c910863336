package conformance

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/spec"
)

// Client cases about deliveries a correct client survives: every message
// on its own, the sticky packet, data and digest and size in pieces, a
// CRLF, an empty file, a large one and sizes at a buffer's edge. In each
// the kit serves the file correctly; the client must report success and
// leave exactly the file (with the mode it should have, client/file-mode).

// stickySize is the file of client/plain and client/sticky, as in SPEC.md
// Appendix A: 100000 is not a multiple of 1024, and its last 672 bytes
// plus the 32-byte digest fit in one 1024-byte read.
const (
	stickySize = 100000
	stickyTail = stickySize % 1024
)

// received is the judgement of a client that must receive the file: what
// its success and a file it leaves on failure break, what reads breaks,
// and that it must read the whole digest (REQ-CLI-3, which every case
// that uses it lists).
func received(reads citation, kept bool) clientRules {
	r := clientRules{reads: reads, success: cite("REQ-CLI-12"), digest: cite("REQ-CLI-3")}
	if kept {
		r.kept = cite("REQ-CLI-5")
	}
	return r
}

func runClientPlain(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", stickySize)
	rules := received(nil, false)
	rules.hangs = cite("REQ-CLI-17")
	if x.framing == spec.Line {
		rules.hangs = cite("REQ-CLI-17", "REQ-LINE-5")
	}
	return x.session(ctx, "plain.bin", rules, func(s *clientSession) Outcome {
		// The ack's text is client/ack's to judge: here only that one
		// came, so that one defect shows as one FAIL.
		if o, ok := s.sendSize(len(data), ackTransfer); !ok {
			return o
		}
		s.write("data", data)
		s.drain("the data reached the client before the digest was sent")
		s.writeDigest("digest", []byte(digestOf(data)))
		s.finish()
		o := s.judgeReceived(data, "the size, the data and the digest each reached the client on its own (no coalescing)")
		if o.Verdict == Pass && s.stillOn {
			return fail("the client received the file but ended without closing the connection (%s)", cite("REQ-CLI-17"))
		}
		if left := s.leftovers(); o.Verdict == Pass && len(left) > 0 {
			return fail("the client received the file but also wrote %s in its working directory: it must write only to %s (%s)", strings.Join(left, ", "), s.outWords(), cite("REQ-SEC-11"))
		}
		return o
	})
}

func runClientSticky(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", stickySize)
	digest := digestOf(data)
	return x.session(ctx, "sticky.bin", received(cite("REQ-CLI-2", "REQ-GEN-1", "REQ-GEN-2"), true), func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			return o
		}
		head := len(data) - stickyTail
		s.write("data", data[:head])
		s.drain(fmt.Sprintf("the first %d bytes of data reached the client before the tail", head))
		last := append(append([]byte{}, data[head:]...), digest...)
		s.digestSent = true
		s.write(fmt.Sprintf("data tail (%d bytes) and digest (32 bytes) together", stickyTail), last)
		if s.sent() {
			x.logf("kit: the %d bytes left in one segment: the client's next read can return the tail and the digest together", len(last))
		} else if s.werr == nil {
			s.unconfirm("the tail and the digest could not be confirmed to have left in one segment")
		}
		s.boundary = true
		s.finish()
		s.confirmByReads("that the tail and the digest reached the client together", false, readtrace.Sticky)
		return s.judgeReceived(data, fmt.Sprintf("the last %d bytes of data and the digest reached the client in one segment, after it had read the rest (the sticky packet)", stickyTail))
	})
}

func runClientSplitBody(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", 300)
	return x.session(ctx, "split-body.bin", received(cite("REQ-CLI-16", "REQ-GEN-1"), true), func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			return o
		}
		confirmed := s.writeBytewise(data)
		if s.werr == nil {
			x.logf("kit → client: data as %d one-byte writes, %v apart; %d of them confirmed to have left as a segment of their own", len(data), bytePace, confirmed)
			if confirmed < len(data) {
				s.unconfirm(fmt.Sprintf("only %d of the %d one-byte segments were confirmed to have left alone", confirmed, len(data)))
			}
		}
		s.writeDigest("digest", []byte(digestOf(data)))
		return s.received(data, fmt.Sprintf("the %d bytes of data left in %d one-byte segments, %v apart", len(data), len(data), bytePace))
	})
}

func runClientSplitDigest(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", 3000)
	digest := []byte(digestOf(data))
	reads := cite("REQ-CLI-3", "REQ-GEN-1")
	return x.session(ctx, "split-digest.bin", received(reads, true), func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			return o
		}
		s.write("data", data)
		s.digestSent = true
		s.write("digest, first 16 bytes", digest[:16])
		s.drain("the first 16 bytes of the digest reached the client before the other 16 were sent")
		// However long the client takes to give up on half a digest, one
		// of three things shows it: its close arrives before the kit sends
		// the rest; its kernel answers the rest with a reset, having
		// closed first; or it closes later with the rest unread (a reset).
		half := false
		if _, closed := s.early(time.Millisecond); closed && s.werr == nil {
			s.violate(finding("the client closed the connection after the first 16 bytes of the digest, before the kit sent the other 16: it read only part of the digest (half packet, %s), whatever it reported", reads))
			half = true
		}
		s.write("digest, last 16 bytes", digest[16:])
		if !half && s.resetByPeer() {
			s.note("the client closed the connection without reading the last 16 bytes of the digest (its kernel answered them with a reset): it read only part of the digest (half packet, %s)", reads)
			half = true
		}
		s.finish()
		s.confirmByReads("that the digest reached the client in two pieces", true, readtrace.ShortDigest)
		if s.unread && len(s.violations) == 0 && !s.exit.killed {
			s.violate(finding("the client closed with up to 16 bytes of the digest unread: it read only part of the digest (half packet, %s), whatever it reported", reads))
		}
		return s.judgeReceived(data, fmt.Sprintf("the digest reached the client as 16 bytes, then %v later 16 more", catchUp))
	})
}

// resetByPeer waits until the client's kernel has either acknowledged
// every byte the kit wrote or answered them with a reset, and reports
// whether it reset the connection: the client closed it without reading
// them (before they arrived, or with them unread). It reports false when
// neither can be seen.
func (s *clientSession) resetByPeer() bool {
	reset := false
	s.poll(time.Now(), func() bool {
		r, err := wasReset(s.conn)
		if err != nil || r {
			reset = r
			return true
		}
		n, err := sendQueue(s.conn)
		return err != nil || n == 0
	})
	if reset {
		s.x.logf("kit: the client's kernel reset the connection: it closed without reading the last bytes")
	}
	return reset
}

func runClientSplitSize(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", stickySize)
	var reads citation
	if x.framing == spec.Line {
		reads = cite("REQ-CLI-15", "REQ-LINE-6")
	}
	return x.session(ctx, "split-size.bin", received(reads, true), func(s *clientSession) Outcome {
		size, _ := spec.EncodeSize(x.framing, int64(len(data)))
		s.announce(len(size), len(data))
		first, rest := size[:3], size[3:]
		s.write("size, first piece", first)
		s.drainPause(fmt.Sprintf("the size piece %s reached the client before the rest was sent", quote(first)), 0)
		firstAt := time.Now()
		acked, _ := s.early(catchUp)
		gap := time.Since(firstAt).Round(time.Millisecond)
		if acked {
			x.logf("client → kit: bytes arrived within %v of the first piece of the size, before the rest was sent", catchUp)
		} else {
			x.logf("kit: nothing from the client within %v of the first piece", catchUp)
		}
		s.write("size, rest", rest)
		if o, ok := s.readAck(ackAny); !ok {
			return o
		}
		s.write("data", data)
		if acked && x.framing == spec.Lockstep {
			// A client that took the first piece as the size reads data
			// as the digest: what it leaves unread is the hazard's doing.
			s.rules.digest = nil
		}
		s.writeDigest("digest", []byte(digestOf(data)))
		s.finish()
		sent := fmt.Sprintf("the size %s was sent as %s, then %v later %s", quote(spec.TrimLine(size)), quote(first), gap, quote(rest))
		if acked {
			sent = fmt.Sprintf("the size %s was sent as %s, then %s once the client had answered", quote(spec.TrimLine(size)), quote(first), quote(rest))
		}
		if x.framing == spec.Line {
			o := s.judgeReceived(data, sent)
			if acked && o.Verdict != Skip && o.Verdict != Inconclusive {
				return fail("the client acknowledged after only %s of the size line %s: it acted on a partial line instead of reading up to LF (half packet, %s); %s",
					quote(first), quote(size), reads, o)
			}
			return o
		}
		return splitSizeHazard(s, data, sent, first, acked)
	})
}

// splitSizeHazard judges client/split-size in lockstep: nothing marks
// where the size ends (HAZARD-FRAG-CONTROL), so only what is forbidden
// whatever the client read as the size fails: success with a wrong file,
// or a corrupt file left behind.
func splitSizeHazard(s *clientSession, data []byte, sent string, first []byte, acked bool) Outcome {
	if o, ok := s.exitVerdict("after the split size"); !ok {
		return o
	}
	o := s.judgeReceived(data, sent)
	e := &s.exit
	_, statErr := os.Lstat(s.out)
	switch {
	case o.Verdict == Fail && len(s.violations) > 0:
		return o // the client waited for the whole size: what it then left unread is its own
	case o.Verdict == Pass:
		return hazard("%s; the client got the file right this time (it read the size after both pieces had arrived, or waited), but in lockstep nothing marks where the size ends, so no client can count on that (HAZARD-FRAG-CONTROL)", sent)
	case e.err == nil || statErr == nil:
		return o
	case acked:
		return hazard("%s; the client took the first piece %s as the whole size and acknowledged at once: in lockstep nothing marks where the size ends, so no client can do better (HAZARD-FRAG-CONTROL); it then %s and left no file, as it must",
			sent, quote(first), e)
	}
	return hazard("%s; the client %s and left no file: in lockstep a fragmented size cannot be survived (HAZARD-FRAG-CONTROL)", sent, e)
}

func runClientCRLF(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", 3000)
	return x.session(ctx, "crlf.bin", received(cite("REQ-LINE-3"), false), func(s *clientSession) Outcome {
		size := []byte(fmt.Sprintf("%d\r\n", len(data)))
		s.announce(len(size), len(data))
		s.write("size line ending in CRLF", size)
		if o, ok := s.readAck(ackAny); !ok {
			if o.Verdict == Fail {
				return fail("the size line %s ended with CRLF, which a receiver must accept as a terminator (%s): %s", quote(size), cite("REQ-LINE-3"), o)
			}
			return o
		}
		s.write("data", data)
		s.writeDigest("digest", []byte(digestOf(data)))
		return s.received(data, "the size line ended with CRLF")
	})
}

func runClientEmptyFile(ctx context.Context, x *clientCheck) Outcome {
	return x.session(ctx, "empty.bin", received(cite("REQ-CLI-6"), false), func(s *clientSession) Outcome {
		if o, ok := s.sendSize(0, ackAny); !ok {
			if o.Verdict == Fail {
				return fail("size 0 is a valid size, to be acknowledged like any other (%s): %s", cite("REQ-CLI-6"), o)
			}
			return o
		}
		s.writeDigest("digest of no data", []byte(digestOf(nil)))
		return s.received([]byte{}, "size 0, no data, then the digest of nothing")
	})
}

func runClientLargeFile(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", 8<<20)
	return x.session(ctx, "large.bin", received(cite("REQ-MSG-9", "REQ-CLI-2"), false), func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			if o.Verdict == Fail {
				return fail("a size of 8 MiB must be accepted: sizes range up to 2^63−1 (%s): %s", cite("REQ-LIM-3"), o)
			}
			return o
		}
		s.writeData(data, 64<<10)
		s.writeDigest("digest", []byte(digestOf(data)))
		return s.received(data, "8 MiB of data in 64 KiB writes with the digest right behind")
	})
}

// The pauses of client/paused-server: pausedWrites writes of pausedChunk
// bytes, pausedGap apart. Any second of the transfer carries at least two
// writes (64 KiB), 64 times the 1 KiB/s a client keeps by default over a
// window of 60 s (REQ-LIM-15); a client that judges its rate over
// windows of 1 s has several end while it waits in a pause.
const (
	pausedChunk  = 32 << 10
	pausedWrites = 8
	pausedGap    = 350 * time.Millisecond
)

func runClientPausedServer(ctx context.Context, x *clientCheck) Outcome {
	data := x.content("file", pausedChunk*pausedWrites)
	return x.session(ctx, "paused.bin", clientRules{}, func(s *clientSession) Outcome {
		if o, ok := s.sendSize(len(data), ackAny); !ok {
			return o
		}
		for off := 0; off < len(data) && s.werr == nil; off += pausedChunk {
			// The pauses are the condition under test, not synchronisation.
			if off > 0 && !pause(s.ctx, pausedGap) {
				break
			}
			s.write("data", data[off:off+pausedChunk])
		}
		s.writeDigest("digest", []byte(digestOf(data)))
		cond := fmt.Sprintf("%d KiB of data in %d writes of %d KiB, %v apart", len(data)>>10, pausedWrites, pausedChunk>>10, pausedGap)
		o := s.received(data, cond)
		if o.Verdict == Fail && s.exit.err != nil {
			return fail("%s (%s: a client fails only a download slower than its minimum rate over a whole window; "+
				"every second of this one carried at least %d KiB)", o, cite("REQ-LIM-15"), 2*pausedChunk>>10)
		}
		return o
	})
}

// bufferSizes are the sizes of client/sizes: one byte, and a read
// buffer's size plus one for the buffers clients use (1 KiB, the
// tutorial's; 64, 256 and 512 KiB), so that the last read of the data
// holds a single byte; and 1023, one short of the tutorial's buffer.
var bufferSizes = []int{1, 1023, 1025, 65537, 262145, 524289}

func runClientSizes(ctx context.Context, x *clientCheck) Outcome {
	var runs []clientRun
	var sizes []string
	for _, n := range bufferSizes {
		data := x.content(fmt.Sprintf("file %d", n), n)
		runs = append(runs, clientRun{what: "with a file of " + count(n, "byte"), run: func(ctx context.Context) Outcome {
			o := x.session(ctx, fmt.Sprintf("size-%d.bin", n), received(cite("REQ-MSG-9", "REQ-CLI-2"), true), func(s *clientSession) Outcome {
				if o, ok := s.sendSize(len(data), ackAny); !ok {
					return o
				}
				s.write("data", data)
				s.writeDigest("digest", []byte(digestOf(data)))
				return s.received(data, fmt.Sprintf("%s of data in one write, then the digest", count(n, "byte")))
			})
			if o.Verdict == Fail && len(o.Cites()) == 0 {
				return fail("%s (%s: a file of any size is exactly SIZE octets to read whole)", o, cite("REQ-MSG-9", "REQ-CLI-2"))
			}
			return o
		}})
		sizes = append(sizes, strconv.Itoa(n))
	}
	runs = append(runs, x.replacingRun())
	return x.runEach(ctx, runs, "files of %s bytes each arrived byte-exact with their digest, and the client left each at %s, the last over an older file", strings.Join(sizes, ", "), x.outWords())
}

// replacingRun is the last run of client/sizes: a file of 1025 bytes
// over an older file at the destination, which a client that reports
// success must have replaced (no other case puts a file there but
// client/file-mode, which judges only modes).
func (x *clientCheck) replacingRun() clientRun {
	data := x.content("file over an older one", 1025)
	older := func(out string) error { return os.WriteFile(out, []byte("an older version of the file\n"), 0o644) }
	return clientRun{what: "with a file of 1025 bytes over an older file at the destination", run: func(ctx context.Context) Outcome {
		return x.sessionOver(ctx, "replaces.bin", received(nil, true), older, func(s *clientSession) Outcome {
			if o, ok := s.sendSize(len(data), ackAny); !ok {
				return o
			}
			s.write("data", data)
			s.writeDigest("digest", []byte(digestOf(data)))
			return s.received(data, "1025 bytes of data in one write, then the digest, with an older file at the destination")
		})
	}}
}

// replacedMode is the mode of the file client/file-mode puts at the
// destination before the client replaces it: one a new file rarely gets.
const replacedMode fs.FileMode = 0o604

func runClientFileMode(ctx context.Context, x *clientCheck) Outcome {
	if runtime.GOOS == "windows" {
		return skip("file modes are not Unix permissions here")
	}
	want, err := newFileMode()
	if err != nil {
		return errored("setting up: %v", err)
	}
	kept := replacedMode
	if kept == want {
		kept = 0o640
	}
	data := x.content("file", 3000)
	runs := []clientRun{
		{what: "with nothing at the destination", run: func(ctx context.Context) Outcome {
			return x.fileModeRun(ctx, data, want, nil, fmt.Sprintf("a new file gets 0666 less the umask, here %04o", want))
		}},
		{what: fmt.Sprintf("with a file of mode %04o at the destination", kept), run: func(ctx context.Context) Outcome {
			put := func(out string) error {
				if err := os.WriteFile(out, []byte("an older version of the file\n"), 0o600); err != nil {
					return err
				}
				return os.Chmod(out, kept)
			}
			return x.fileModeRun(ctx, data, kept, put, fmt.Sprintf("a replaced file keeps its mode, %04o", kept))
		}},
	}
	return x.runEach(ctx, runs, "the client gave a new file mode %04o (0666 less the umask) and kept the mode %04o of the file it replaced", want, kept)
}

// fileModeRun runs the client once with put (when not nil) making what is
// at the destination first, and judges the mode of the file it leaves:
// it must be want, which rule explains.
func (x *clientCheck) fileModeRun(ctx context.Context, data []byte, want fs.FileMode, put func(out string) error, rule string) Outcome {
	s := newClientSession(ctx, x, "mode.bin", clientRules{})
	s.prepare = put
	defer s.close()
	if o, ok := s.open(); !ok {
		return notJudged(o, "the client did not fetch the file")
	}
	if o, ok := s.sendSize(len(data), ackAny); !ok {
		return notJudged(o, "the client did not fetch the file")
	}
	s.write("data", data)
	s.writeDigest("digest", []byte(digestOf(data)))
	if o := s.received(data, "a plain transfer"); o.Verdict != Pass {
		return notJudged(o, "the transfer did not succeed")
	}
	fi, err := os.Lstat(s.out)
	if err != nil {
		return errored("reading the mode of %s: %v", s.outWords(), err)
	}
	if got := fi.Mode().Perm(); got != want {
		return fail("the client left the file at %s with mode %04o: %s (%s)", s.outWords(), got, rule, cite("REQ-SEC-14"))
	}
	return pass("the client left the file at %s with mode %04o: %s", s.outWords(), want, rule)
}

// notJudged turns the outcome of a run whose transfer did not succeed
// into an INCONCLUSIVE one, in a case that judges only the file the
// transfer leaves (the cases about the transfer judge the rest); an
// outcome that is no verdict on the client (ERROR, SKIP) stays as it is.
func notJudged(o Outcome, why string) Outcome {
	if o.Verdict == Error || o.Verdict == Skip {
		return o
	}
	return inconclusive("%s, so there is no file whose mode to judge: %s", why, o.Detail)
}

// newFileMode returns the permission bits of a file created with mode
// 0666 in a fresh directory beside the clients' own: 0666 less the umask
// the client inherits (and less what a default ACL of the temporary
// directory takes away), the mode a client should give a new file.
func newFileMode() (fs.FileMode, error) {
	dir, err := os.MkdirTemp("", "stickykit-mode-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	f, err := os.OpenFile(filepath.Join(dir, "probe"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Mode().Perm(), nil
}
