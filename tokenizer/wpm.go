package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WordPiece encoding as llama.cpp's llm_tokenizer_wpm. GGUF BERT vocabularies use
// the "phantom space" form: word-initial pieces start with '▁', continuation
// pieces ("##x" in the original vocabulary) have no prefix.

// nfdFirst maps a code point to the first code point of its canonical
// decomposition (dropping the combining marks), as llama.cpp's
// unicode_cpts_normalize_nfd does.
func nfdFirst(r rune) rune {
	i := sort.Search(len(nfdBase), func(i int) bool { return nfdBase[i].first > r }) - 1
	if i >= 0 && nfdBase[i].first <= r && r <= nfdBase[i].last {
		return nfdBase[i].base
	}
	return r
}

// isChineseChar reports the CJK ideograph ranges BERT splits into single characters.
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

func isOtherControl(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// wpmWords lower-cases, strips accents, drops control characters and splits
// text on whitespace, punctuation, ASCII symbols and CJK ideographs.
func wpmWords(text string) []string {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		if r == utf8.RuneError && n <= 1 {
			r = 0xFFFD
		}
		r = nfdFirst(r)
		if unicode.IsSpace(r) {
			flush()
			continue
		}
		if r == 0 || r == 0xFFFD || isOtherControl(r) {
			continue
		}
		lr := unicode.ToLower(r)
		if unicode.IsPunct(r) || (r < 0x7F && unicode.IsSymbol(r)) || isChineseChar(r) {
			flush()
			words = append(words, string(lr))
			continue
		}
		cur.WriteRune(lr)
	}
	flush()
	return words
}

// encodeWPM appends the ids of one raw-text fragment.
func (t *Tokenizer) encodeWPM(dst []int, text string) []int {
	for _, word := range wpmWords(text) {
		w := "▁" + word
		n := len(w)
		start := len(dst)
		for i := 0; i < n; i++ {
			match := false
			for j := min(n, i+t.maxTokLen+1); j > i; j-- {
				if id, ok := t.toID[w[i:j]]; ok {
					dst = append(dst, id)
					match = true
					i = j - 1
					break
				}
			}
			if !match {
				dst = dst[:start]
				break
			}
		}
		if len(dst) == start && t.unk >= 0 {
			dst = append(dst, t.unk)
		}
	}
	return dst
}
