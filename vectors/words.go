package vectors

import (
	"strings"
	"unicode"
)

// WordRule states how Words splits text, for help texts and documentation.
const WordRule = "a word is a run of letters and digits (any script, accents kept: \"été\"); " +
	"a hyphen between two letters or digits stays inside the word (\"peut-être\"); " +
	"an apostrophe (' or ’) after a letter ends the word and stays on it, so French elisions split " +
	"(\"l'homme\" → \"l'\" \"homme\", \"aujourd'hui\" → \"aujourd'\" \"hui\", \"don't\" → \"don'\" \"t\"), " +
	"the typographic ’ written as '; every other character (punctuation, symbols, spaces) separates words " +
	"and is dropped; with lower-casing, words are lower-cased (Unicode rules)"

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// Words splits text into words by WordRule, lower-casing them when lower is
// set, and appends them to dst.
func Words(dst []string, text string, lower bool) []string {
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			w := b.String()
			if lower {
				w = strings.ToLower(w)
			}
			dst = append(dst, w)
			b.Reset()
		}
	}
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case isWordRune(r):
			b.WriteRune(r)
		case (r == '-' || r == '‐') && b.Len() > 0 && i+1 < len(rs) && isWordRune(rs[i+1]):
			b.WriteRune('-')
		case (r == '\'' || r == '’') && b.Len() > 0:
			b.WriteByte('\'')
			flush()
		default:
			flush()
		}
	}
	flush()
	return dst
}

// Paragraphs splits text at blank lines: a paragraph is the unit of context
// (training windows never cross a blank line).
func Paragraphs(text string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) == "" {
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteString(line)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
