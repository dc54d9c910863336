package timeline

import (
	"fmt"
	"strconv"
	"strings"
)

// Measuring and wording the text of a drawing: widths in terminal columns
// (CJK runes take two), wrapping that also breaks between wide runes, and
// numbers as people read them.

// Width returns the columns s takes in a terminal.
func Width(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// runeWidth is 2 for the wide East Asian runes the lesson uses (CJK
// ideographs and full-width punctuation), else 1.
func runeWidth(r rune) int {
	switch {
	case r >= 0x1100 && r <= 0x115f,
		r >= 0x2e80 && r <= 0xa4cf && r != 0x303f,
		r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff,
		r >= 0xfe30 && r <= 0xfe4f,
		r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6:
		return 2
	}
	return 1
}

// Wrap breaks s into lines of at most n columns, at spaces, or anywhere
// between wide runes (Chinese has no spaces between words).
func Wrap(s string, n int) []string {
	var lines []string
	var cur strings.Builder
	cw := 0
	flush := func() {
		lines = append(lines, strings.TrimRight(cur.String(), " "))
		cur.Reset()
		cw = 0
	}
	for _, word := range splitWords(s) {
		w := Width(word)
		if cw > 0 && cw+w > n {
			flush()
			word = strings.TrimLeft(word, " ")
			w = Width(word)
		}
		cur.WriteString(word)
		cw += w
	}
	if cur.Len() > 0 {
		flush()
	}
	return lines
}

// closers are the punctuation marks that must not begin a line.
const closers = "，。：；）、！？"

// splitWords splits s into the units that Wrap keeps whole: any leading
// spaces, then a word of narrow runes or one wide rune, then any closing
// punctuation.
func splitWords(s string) []string {
	var words []string
	rs := []rune(s)
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j] == ' ' {
			j++
		}
		if j < len(rs) && runeWidth(rs[j]) == 2 {
			j++
		} else {
			for j < len(rs) && rs[j] != ' ' && runeWidth(rs[j]) != 2 {
				j++
			}
		}
		for j < len(rs) && strings.ContainsRune(closers, rs[j]) {
			j++
		}
		words = append(words, string(rs[i:j]))
		i = j
	}
	return words
}

// Commas formats n with thousands separators: 100000 -> "100,000".
func Commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// LabelForms returns a label and shorter forms of it to try when it does
// not fit: 1,024 -> 1024 -> 1.0K.
func LabelForms(s string) []string {
	forms := []string{s}
	if strings.Contains(s, ",") {
		digits := strings.ReplaceAll(s, ",", "")
		forms = append(forms, digits)
		var n int64
		if _, err := fmt.Sscan(digits, &n); err == nil {
			switch {
			case n >= 1e6:
				forms = append(forms, fmt.Sprintf("%.1fM", float64(n)/1e6))
			case n >= 1e3:
				forms = append(forms, fmt.Sprintf("%dK", n/1000))
			}
		}
	}
	return forms
}

// SpanLabel labels a span of an event with its length, and "!" when the
// event's call returned an error.
func SpanLabel(s Span) string {
	l := Commas(s.Len())
	if s.Err != "" {
		l += "!"
	}
	return l
}
