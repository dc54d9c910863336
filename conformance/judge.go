package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// Judging a client case: from how the client ended, what it left at {out}
// and in its directory, and what the kit saw on the wire. Wire evidence
// outranks the exit status and the output: a client the kit saw leave
// with digest bytes unread, or never read them, fails whatever it
// reported and whatever file it left. With ClientTarget.IgnoreStatus the
// exit status carries no verdict at all: the output and the wire decide.

// clientRules are the requirements a client case's judgement cites, each
// one its case lists; a nil citation leaves that finding uncited.
type clientRules struct {
	reads   citation // what a misreading breaks, shown by a wrong output
	success citation // what a success breaks: with a wrong file or none (received), or at all (refused)
	kept    citation // what a file left that did not verify breaks (REQ-CLI-5)
	closes  citation // what a connection left open after a failure breaks (refused)
	hangs   citation // what a client that neither closed nor exited breaks
	digest  citation // what a digest left unread breaks (REQ-CLI-3), where the case lists it
	crash   citation // what a crash in place of a reported failure breaks (REQ-CLI-18)
	// hangWhy, when set, says why a client that hung broke hangs,
	// in place of the plain words.
	hangWhy string
	// says, when set, is what the client's report of a failure must
	// hold (the code and text of an error reply).
	says *mustSay
}

// mustSay is what a client's report of a failure must say: words it
// must hold, each whole (not inside a longer word or number), and the
// requirements their absence breaks.
type mustSay struct {
	what  string // what the words are, for a detail: "the server's code and text"
	words []string
	cites citation
}

// missing returns the words of m that report does not hold.
func (m *mustSay) missing(report string) []string {
	var out []string
	for _, w := range m.words {
		if !holdsWord(report, w) {
			out = append(out, w)
		}
	}
	return out
}

// holdsWord reports whether s holds w as a whole: neither the byte
// before it nor the byte after it is a letter or a digit.
func holdsWord(s, w string) bool {
	alnum := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' }
	for from := 0; ; {
		i := strings.Index(s[from:], w)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(w)
		if (i == 0 || !alnum(s[i-1])) && (end == len(s) || !alnum(s[end])) {
			return true
		}
		from = i + 1
	}
}

// reportWords names where a client's report was read, for a detail.
func (s *clientSession) reportWords() string {
	if t := s.x.target; t != nil && t.Func != nil {
		return "the error it returned"
	}
	return "what it printed (stdout and stderr)"
}

// judgeSays judges the client's report of a failure against s.rules.says:
// a finding when words are missing, or none.
func (s *clientSession) judgeSays() Finding {
	m := s.rules.says
	if m == nil || s.exit.ignored || s.exit.err == nil || s.exit.crash != "" {
		return Finding{}
	}
	missing := m.missing(s.exit.report)
	if len(missing) == 0 {
		return Finding{}
	}
	q := make([]string, len(missing))
	for i, w := range missing {
		q[i] = quote([]byte(w))
	}
	last := "nothing"
	if r := strings.TrimSpace(s.exit.report); r != "" {
		last = "it ends " + quote([]byte(lastLine(r)))
	}
	return cited(m.cites, "the client reported failure, but its report does not say %s: %s %s not in %s (%s)",
		m.what, strings.Join(q, " and "), isAre(len(q)), s.reportWords(), last)
}

// isAre returns "is" for one, "are" for more.
func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// crashedFinding says that a client crashed where it had to report a
// failure, citing c.
func crashedFinding(c citation, e *clientExit) Finding {
	return cited(c, "the client crashed (%s) instead of reporting failure: a client reports a failure by ending on its own, with an exit status and a message, never with an uncaught exception, a panic or a signal", e.crash)
}

// violate records wire evidence that breaks one of the case's
// requirements.
func (s *clientSession) violate(f Finding) {
	s.violations = append(s.violations, f)
	s.x.logf("kit: %s", f)
}

// digestEvidence turns what the kit saw of the digest into a violation,
// unless the case has recorded one about the digest already: a client
// that had closed the connection before the digest was sent never read
// it; one whose end of the connection was reset when it left had bytes
// of it unread. Neither can have verified the file.
func (s *clientSession) digestEvidence() {
	if !s.digestSent || len(s.rules.digest) == 0 || s.exit.killed {
		return
	}
	for _, v := range s.violations {
		if slices.Contains(v.Cites, s.rules.digest[0]) {
			return
		}
	}
	switch {
	case s.closedEarly:
		s.violate(cited(s.rules.digest, "the client closed the connection before the kit sent the digest: it never read the digest, whatever it reported"))
	case s.unread:
		s.violate(cited(s.rules.digest, "the client left with bytes of the digest unread (its end of the connection was reset when it closed): it did not read the whole digest, whatever it reported"))
	}
}

// suffix returns " (IDS)" for a citation, or "" for none.
func (c citation) suffix() string {
	if len(c) == 0 {
		return ""
	}
	return " (" + c.String() + ")"
}

// cited returns a finding of words (formatted from format and a) that
// ends with the citation c, or with nothing when c is nil.
func cited(c citation, format string, a ...any) Finding {
	f := finding(format, a...)
	if len(c) > 0 {
		f.Words += c.suffix()
		f.Cites = append(f.Cites, c...)
	}
	return f
}

// endedEarly ends a case the client broke before the scripted exchange was
// over: it closes the connection, waits for the client to end (killing it
// at the timeout), and fails with why, unless the client declared the case
// unsupported.
func (s *clientSession) endedEarly(why Finding) Outcome {
	if s.conn != nil {
		s.conn.Close()
	}
	if !s.waitExit(s.x.timeout) {
		s.kill(s.x.timeout)
	}
	select {
	case <-s.exited:
	default:
		return fail("%s; the client was still running %v later and did not stop when cancelled", why, s.x.timeout)
	}
	e := &s.exit
	switch {
	case e.setup != nil:
		return errored("the client could not be started: %v", e.setup)
	case e.unsupported:
		return skip("the client does not support this case (%s)", e)
	case s.ctx.Err() != nil:
		return interrupted(s.ctx, "the client was stopped")
	}
	s.x.logf("kit: the client %s", e)
	return fail("%s; the client %s", why, e)
}

// exitVerdict handles the endings that decide a case whatever it checks:
// a client that declared the case unsupported, could not be started, was
// interrupted, or hung. ok is false when one of them applies.
func (s *clientSession) exitVerdict(after string) (Outcome, bool) {
	select {
	case <-s.exited:
	default:
		return fail("the client hung %s: it was still running %v later and did not stop when cancelled", after, s.x.timeout), false
	}
	e := &s.exit
	switch {
	case e.setup != nil:
		return errored("the client could not be started: %v", e.setup), false
	case e.unsupported && !e.killed:
		return skip("the client does not support this case (%s)", e), false
	case s.ctx.Err() != nil:
		return interrupted(s.ctx, "the client was stopped"), false
	case e.killed:
		what := "it neither closed the connection nor exited"
		if s.closed || s.reset {
			what = "it closed the connection but did not exit"
		}
		if s.rules.hangWhy != "" {
			return outcome(Fail, cited(s.rules.hangs, "the client did not end %s: %s; %s within %v and was killed", after, s.rules.hangWhy, what, s.x.timeout)), false
		}
		return outcome(Fail, cited(s.rules.hangs, "the client hung %s: %s within %v and was killed", after, what, s.x.timeout)), false
	}
	return Outcome{}, true
}

// outWords names the client's output in a detail: "{out}" for a
// command, whose author wrote that placeholder; "the output file" for a
// ClientFunc, which was given a path.
func (s *clientSession) outWords() string { return s.x.outWords() }

// outWords names the client's output in a detail, as
// clientSession.outWords does.
func (x *clientCheck) outWords() string {
	if x.target != nil && x.target.Func != nil {
		return "the output file"
	}
	return "{out}"
}

// output is what the client left at {out}.
type output struct {
	at     string // how a detail names where it is (outWords)
	exists bool
	kind   string // "file", or what else is there ("directory", "symbolic link", ...)
	data   []byte // up to limit bytes of the file
	size   int64
	err    error
}

// is reports whether the output is exactly the file data.
func (o output) is(data []byte) bool {
	return o.exists && o.kind == "file" && o.size == int64(len(data)) && bytes.Equal(o.data, data)
}

// readOutput reads what is at s.out, at most limit bytes of it.
func (s *clientSession) readOutput(limit int64) output {
	at := s.outWords()
	fi, err := os.Lstat(s.out)
	if errors.Is(err, os.ErrNotExist) {
		s.x.logf("kit: nothing at %s", s.out)
		return output{at: at}
	}
	if err != nil {
		return output{at: at, exists: true, kind: "something unreadable", err: err}
	}
	if !fi.Mode().IsRegular() {
		kind := "non-regular file"
		switch {
		case fi.IsDir():
			kind = "directory"
		case fi.Mode()&os.ModeSymlink != 0:
			kind = "symbolic link"
		}
		s.x.logf("kit: a %s at %s", kind, s.out)
		return output{at: at, exists: true, kind: kind}
	}
	o := output{at: at, exists: true, kind: "file", size: fi.Size()}
	f, err := os.Open(s.out)
	if err != nil {
		o.err = err
		return o
	}
	defer f.Close()
	o.data, o.err = io.ReadAll(io.LimitReader(f, limit))
	s.x.logf("kit: a %d-byte file at %s", o.size, s.out)
	return o
}

// received ends a session in which the kit served data correctly: it
// waits for the client to end, then judges it (judgeReceived).
func (s *clientSession) received(data []byte, cond string) Outcome {
	s.finish()
	return s.judgeReceived(data, cond)
}

// resetNote is what a reset after the kit's last byte means where no
// requirement of the case is about it.
const resetNote = "the connection was reset: the client closed it with bytes still unread"

// judgeReceived judges a case in which the kit served data correctly: the
// client must read every byte, report success and leave exactly data at
// {out}. cond says what condition the case produced, for a PASS.
func (s *clientSession) judgeReceived(data []byte, cond string) Outcome {
	if o, ok := s.exitVerdict("after the kit's last byte"); !ok {
		return o
	}
	s.digestEvidence()
	if len(s.rules.digest) == 0 && s.unread {
		s.note(resetNote)
	}
	e, r := &s.exit, s.rules
	out := s.readOutput(int64(len(data)) + 64<<10)
	s.exactOut = out.is(data)
	if len(s.violations) > 0 {
		return s.failOnWire(out, data, finding("on a transfer the kit served correctly (%s)", cond))
	}
	if e.ignored {
		return s.judgeOutput(out, data, cond)
	}
	var fs []Finding
	switch {
	case e.err == nil && out.is(data):
		if len(s.unconfirmed) > 0 {
			return inconclusive("the client received the file correctly, but the condition was not confirmed: %s", strings.Join(s.unconfirmed, "; "))
		}
		return outcome(Pass, append([]Finding{finding("%s; the client %s and left the exact file at %s", cond, e, out.at)}, s.notes...)...)
	case e.err == nil && !out.exists:
		fs = append(fs, cited(r.success, "the client reported success but left no file at %s", out.at))
	case e.err == nil:
		fs = append(fs, finding("the client reported success but %s", s.describeOutput(out, data, append(slices.Clone(r.reads), r.success...))))
	default:
		// Lead with what went wrong in the client's reading, then its exit.
		fs = append(fs, s.notes...)
		s.notes = nil
		if out.exists && !out.is(data) {
			fs = append(fs, s.describeOutput(out, data, r.reads))
		}
		fs = append(fs, finding("the client %s, on a transfer the kit served correctly (%s)", e, cond))
		if s.stillOn {
			fs = append(fs, cited(r.hangs, "it had not closed the connection %v after the kit's last byte", s.x.timeout))
		}
		switch {
		case out.is(data):
			fs = append(fs, cited(r.kept, "it left the file at %s although it reported failure: a file it did not verify must not be left", out.at))
		case out.exists:
			fs = append(fs, cited(r.kept, "it left that corrupt file at %s", out.at))
		}
	}
	fs = append(fs, s.notes...)
	if s.werr != nil {
		fs = append(fs, finding("the kit could not send everything: %s", writeWords(s.werr)))
	}
	return outcome(Fail, fs...)
}

// failOnWire fails a case on its wire evidence (s.violations), whatever
// the client reported and left: the evidence first, then what it left and
// how it ended, for the learner (when neither carries a verdict of its
// own, they cite nothing).
func (s *clientSession) failOnWire(out output, data []byte, served Finding) Outcome {
	fs := append([]Finding(nil), s.violations...)
	if out.exists && !out.is(data) {
		fs = append(fs, s.describeOutput(out, data, s.rules.reads))
	}
	fs = append(fs, finding("the client %s %s", &s.exit, served))
	e := &s.exit
	switch {
	case out.is(data) && (e.ignored || e.err == nil):
		fs = append(fs, cited(s.rules.kept, "it left the file at %s without having verified it (the file is right, but that was luck): a file that did not verify must not be left", out.at))
	case out.is(data):
		fs = append(fs, cited(s.rules.kept, "it left the file at %s although it reported failure: a file it did not verify must not be left", out.at))
	case out.exists:
		fs = append(fs, cited(s.rules.kept, "it left that corrupt file at %s", out.at))
	}
	return outcome(Fail, append(fs, s.notes...)...)
}

// judgeOutput judges, with the exit status ignored, a case in which the
// kit served data correctly: only the output decides. A file at {out} is
// the client's claim of success.
func (s *clientSession) judgeOutput(out output, data []byte, cond string) Outcome {
	r := s.rules
	switch {
	case out.is(data) && len(s.unconfirmed) > 0:
		return inconclusive("the client received the file correctly, but the condition was not confirmed: %s", strings.Join(s.unconfirmed, "; "))
	case out.is(data):
		return outcome(Pass, append([]Finding{finding("%s; the client %s and left the exact file at %s", cond, &s.exit, out.at)}, s.notes...)...)
	case !out.exists:
		return outcome(Fail, append([]Finding{cited(orCite(r.reads, r.success),
			"the client left no file at %s on a transfer the kit served correctly (%s): it did not complete it", out.at, cond), finding("it %s", &s.exit)}, s.notes...)...)
	}
	return outcome(Fail, append([]Finding{finding("%s, on a transfer the kit served correctly (%s)",
		s.describeOutput(out, data, orCite(r.reads, r.kept)), cond), finding("the client %s", &s.exit)}, s.notes...)...)
}

// orCite returns a, or b when a is empty.
func orCite(a, b citation) citation {
	if len(a) > 0 {
		return a
	}
	return b
}

// judgeRefused judges a case in which the transfer could not succeed: the
// client must report failure, promptly and without crashing, close the
// connection, leave nothing at {out}, and (rules.says) say what failed.
// what says why it could not succeed ("the digest did not match the
// data").
func (s *clientSession) judgeRefused(what Finding, data []byte) Outcome {
	if o, ok := s.exitVerdict(fmt.Sprintf("after %s", what)); !ok {
		return o
	}
	s.digestEvidence()
	e, r := &s.exit, s.rules
	out := s.readOutput(int64(len(data)) + 64<<10)
	if len(s.violations) > 0 {
		return s.failOnWire(out, data, finding("although %s", what))
	}
	crashed := e.crash != "" && !e.ignored
	failed, asMust := "reported failure", "reported failure, as it must,"
	if crashed {
		failed, asMust = "ended in failure", "ended in failure"
	}
	var f Finding
	switch left := s.leftovers(); {
	case e.ignored && out.exists:
		f = cited(r.kept, "%s, yet the client left a %d-byte %s at %s: a file that did not verify must not be left", what, out.size, out.kind, out.at)
	case e.ignored && len(left) > 0:
		f = cited(r.kept, "%s; the client left nothing at %s, but it left %s in its working directory: a temporary file must be removed on failure", what, out.at, strings.Join(left, ", "))
	case e.ignored && s.stillOn && len(r.closes) > 0:
		f = cited(r.closes, "%s; the client did not close the connection", what)
	case e.ignored:
	case e.err == nil && out.exists:
		f = cited(r.success, "the client reported success (exit status 0) although %s, and left a %d-byte %s at %s", what, out.size, out.kind, out.at)
	case e.err == nil:
		f = cited(r.success, "the client reported success (exit status 0) although %s", what)
	case out.exists:
		f = cited(r.kept, "the client %s but left a corrupt %s at %s (%s): a file that did not verify must not be left", asMust, out.kind, out.at, count(out.size, "byte"))
	case len(left) > 0:
		f = cited(r.kept, "the client %s and left nothing at %s, but it left %s in its working directory: a temporary file must be removed on failure", failed, out.at, strings.Join(left, ", "))
	case s.stillOn && len(r.closes) > 0 && !crashed:
		f = cited(r.closes, "the client reported failure but did not close the connection")
	}
	fs := []Finding{f}
	if crashed && e.err != nil {
		fs = append(fs, crashedFinding(r.crash, e))
	}
	if said := s.judgeSays(); f.Words == "" && !crashed && said.Words != "" {
		fs = append(fs, what, said)
	}
	if o := outcome(Fail, fs...); len(o.Findings) > 0 {
		return outcome(Fail, append(o.Findings, s.notes...)...)
	}
	return outcome(Pass, append([]Finding{finding("%s; the client %s and left nothing at %s", what, e, out.at)}, s.notes...)...)
}

// leftovers lists, quoted, what is in the client's temporary directory
// besides {out}: at most five names.
func (s *clientSession) leftovers() []string {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil
	}
	out := outName
	if rel, err := filepath.Rel(s.dir, s.out); err == nil {
		out, _, _ = strings.Cut(filepath.ToSlash(rel), "/")
	}
	var names []string
	for _, e := range ents {
		if e.Name() == out {
			continue
		}
		if len(names) == 5 {
			names = append(names, "...")
			break
		}
		names = append(names, quote([]byte(e.Name())))
	}
	return names
}

// describeOutput says in a learner's words how the output differs from the
// file the kit served, citing ids (what the difference breaks).
func describeOutput(out output, data []byte, ids citation) Finding {
	if out.kind != "file" {
		return cited(ids, "there is a %s at %s, not the file", out.kind, out.at)
	}
	if out.err != nil {
		return cited(ids, "the file at %s cannot be read: %v", out.at, out.err)
	}
	got, size, want := out.data, out.size, int64(len(data))
	switch {
	case size > want && bytes.HasPrefix(got, data):
		k := size - want
		extra := got[len(data):]
		if _, ok := digestTail(out, data); ok {
			sticky := finding("the output is %s longer than the file and ends with the digest: the last read took the digest as file data (sticky packet", count(k, "byte"))
			if len(ids) > 0 {
				return finding("%s, %s)", sticky, ids)
			}
			return finding("%s)", sticky)
		}
		return cited(ids, "the output is the file followed by %s %s: the client wrote bytes beyond SIZE", count(k, "extra byte"), quote(extra))
	case size == want && bytes.Equal(got, data):
		return finding("the file at %s is the right one", out.at)
	case size < want && bytes.HasPrefix(data, got):
		return cited(ids, "the output is only the first %d of %d bytes of the file", size, want)
	}
	i := firstDiff(got, data)
	if size == want {
		return cited(ids, "the output has the right length (%s) but differs from the file from byte %d on", count(size, "byte"), i)
	}
	return cited(ids, "the output is %s, the file %d; they differ from byte %d on", count(size, "byte"), want, i)
}

// digestTail reports whether the output is the file followed by the
// first bytes of its digest (the sticky packet's signature), and how many.
func digestTail(out output, data []byte) (int64, bool) {
	k := out.size - int64(len(data))
	if out.kind != "file" || out.err != nil || k <= 0 || k > spec.DigestLen || !bytes.HasPrefix(out.data, data) {
		return 0, false
	}
	return k, strings.HasPrefix(digestOf(data), string(out.data[len(data):]))
}

// describeOutput is describeOutput, naming also, when the output ends
// with digest bytes, the client's recorded read that took them.
func (s *clientSession) describeOutput(out output, data []byte, ids citation) Finding {
	f := describeOutput(out, data, ids)
	if k, ok := digestTail(out, data); ok {
		if w := s.stickyInto(k); w != "" {
			f.Words += ": " + w
		}
	}
	return f
}

// noAckAfterRefusal judges what a client sent after an error reply: nothing,
// or (line framing) an ack it had pipelined before the reply arrived. ids
// are the requirements an ack breaks.
func noAckAfterRefusal(f spec.Framing, o Outcome, extra []byte, ids citation) Outcome {
	if extra == nil || o.Verdict != Pass {
		return o
	}
	if f == spec.Line && string(extra) == string(spec.EncodeAck(spec.Line)) {
		return pass("%s; it had sent the ack (allowed only when pipelined before the reply, %s)", o, cite("REQ-LINE-7"))
	}
	return fail("the client sent %s after the error reply: on an error reply it must not send the ack (%s); %s", quote(extra), ids, o)
}

// clientRun is one run of the client in a case that tries several
// conditions, a fresh run of the client for each: the condition, for the
// detail, and the run.
type clientRun struct {
	what string
	run  func(ctx context.Context) Outcome
}

// runEach runs the client once for each condition, in turn, and combines
// the outcomes. A run that could not be judged (ERROR, SKIP) ends the
// case with its outcome. Any FAIL makes the case FAIL, with the findings
// of each failed run led by its condition; otherwise an INCONCLUSIVE run
// makes the case INCONCLUSIVE; otherwise it passes, with the words of
// passed, formatted as by finding.
func (x *clientCheck) runEach(ctx context.Context, runs []clientRun, passed string, a ...any) Outcome {
	var fails, unsure []Finding
	for i, r := range runs {
		x.logf("kit: run %d of %d: %s", i+1, len(runs), r.what)
		o := r.run(ctx)
		x.logf("kit: run %d: %s: %s", i+1, o.Verdict, o.Detail)
		switch o.Verdict {
		case Error, Skip:
			return o
		case Fail:
			fails = append(fails, finding("%s: %s", r.what, o))
		case Inconclusive, Hazard:
			unsure = append(unsure, finding("%s: %s", r.what, o))
		}
		if ctx.Err() != nil {
			return interrupted(ctx, "the case was stopped before it finished")
		}
	}
	switch {
	case len(fails) > 0:
		return outcome(Fail, fails...)
	case len(unsure) > 0:
		return outcome(Inconclusive, unsure...)
	}
	return pass(passed, a...)
}

// judgeReport judges only how the client reported a failure the kit
// caused (what): whether its report says what say demands. A client
// that did not report failure, or crashed, or hung leaves no report to
// judge (the case that judges the failure itself says so): the case is
// then INCONCLUSIVE.
func (s *clientSession) judgeReport(what Finding, say *mustSay) Outcome {
	if o, ok := s.exitVerdict(fmt.Sprintf("after %s", what)); !ok {
		if o.Verdict == Fail {
			return inconclusive("%s: there is no report to judge", o)
		}
		return o
	}
	e := &s.exit
	if e.err == nil || e.crash != "" {
		return inconclusive("%s; the client %s: there is no report of the failure to judge", what, e)
	}
	s.rules.says = say
	if f := s.judgeSays(); f.Words != "" {
		return outcome(Fail, what, f)
	}
	return pass("%s; the client %s and said %s", what, e, say.what)
}
