package bpe

import (
	"unicode"
	"unicode/utf8"
)

// cflags holds the Unicode classes the pre-tokenizers test: \p{L}, \p{N},
// \s (the White_Space property), \p{P}, \p{S} and \p{M}.
type cflags uint8

const (
	fLetter cflags = 1 << iota
	fNumber
	fSpace
	fPunct
	fSymbol
	fMark
)

var asciiFlags [128]cflags

func init() {
	for r := rune(0); r < 128; r++ {
		asciiFlags[r] = classifySlow(r)
	}
}

func classifySlow(r rune) cflags {
	var f cflags
	switch {
	case unicode.IsLetter(r):
		f |= fLetter
	case unicode.IsNumber(r):
		f |= fNumber
	case unicode.IsPunct(r):
		f |= fPunct
	case unicode.IsSymbol(r):
		f |= fSymbol
	case unicode.IsMark(r):
		f |= fMark
	}
	if unicode.IsSpace(r) {
		f |= fSpace
	}
	return f
}

func classify(r rune) cflags {
	if r < 128 {
		return asciiFlags[r]
	}
	return classifySlow(r)
}

// scratch is the per-call working memory of the pre-tokenizers: the text as
// code points, their classes and byte offsets, and span lists.
type scratch struct {
	text  string
	runes []rune
	fl    []cflags
	off   []int32 // byte offset of each code point, plus len(text)
	spans []span
	next  []span
	segs  []seg
	wide  []rune
	strs  []string
	strs2 []string
}

// span is a half-open range of code point indices.
type span struct{ lo, hi int32 }

// seg is the end of one piece produced by a split step and whether the piece
// is a match of the step's pattern (rather than a gap between matches).
type seg struct {
	end   int32
	match bool
}

// load decodes text. Invalid UTF-8 bytes become single code points with the
// classes of U+FFFD, so pieces keep the original bytes.
func (sc *scratch) load(text string) {
	sc.text = text
	sc.runes = sc.runes[:0]
	sc.fl = sc.fl[:0]
	sc.off = sc.off[:0]
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			sc.runes = append(sc.runes, rune(c))
			sc.fl = append(sc.fl, asciiFlags[c])
			sc.off = append(sc.off, int32(i))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		sc.runes = append(sc.runes, r)
		sc.fl = append(sc.fl, classifySlow(r))
		sc.off = append(sc.off, int32(i))
		i += size
	}
	sc.off = append(sc.off, int32(len(text)))
}

func (sc *scratch) piece(s span) string {
	return sc.text[sc.off[s.lo]:sc.off[s.hi]]
}
