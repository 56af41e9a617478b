package tokenizer

import "strings"

// SentencePiece-style encoding as llama.cpp's llm_tokenizer_spm: the text is cut
// into UTF-8 characters, then the adjacent pair whose concatenation is the
// vocabulary token with the highest score is merged (leftmost on ties) until no
// pair forms a token. Symbols that are not tokens fall back to <0xNN> byte tokens.

type spmSymbol struct {
	start, n   int32 // byte range in the text; n == 0 once merged away
	prev, next int32
	fixed      bool // byte-fallback group that never merges (llama2.c run.c)
}

type spmBigram struct {
	left, right int32
	size        int32
	score       float32
}

// spmState holds reusable buffers for encoding calls (pooled in the Tokenizer).
type spmState struct {
	syms  []spmSymbol
	heap  []spmBigram
	buf   strings.Builder
	cache map[string][]int32 // word → ids, when words merge independently
}

// spmCacheMax bounds the word cache of one pooled state.
const spmCacheMax = 1 << 16

// getSPMState takes a state from the pool.
func (t *Tokenizer) getSPMState() *spmState {
	if st, ok := t.spmPool.Get().(*spmState); ok {
		return st
	}
	return &spmState{cache: make(map[string][]int32)}
}

// word appends the ids of the word text[start:end] held in st.syms, through the cache.
func (t *Tokenizer) word(st *spmState, dst []int, text string, start, end int) []int {
	key := text[start:end]
	if ids, ok := st.cache[key]; ok {
		for _, id := range ids {
			dst = append(dst, int(id))
		}
		return dst
	}
	n := len(dst)
	dst = t.mergeSPM(st, dst, text)
	if len(st.cache) >= spmCacheMax {
		clear(st.cache)
	}
	ids := make([]int32, len(dst)-n)
	for i, id := range dst[n:] {
		ids[i] = int32(id)
	}
	st.cache[strings.Clone(key)] = ids
	return dst
}

// before reports whether a pops before b: higher score first, then leftmost.
func (a spmBigram) before(b spmBigram) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

func (s *spmState) push(b spmBigram) {
	h := append(s.heap, b)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	s.heap = h
}

func (s *spmState) pop() spmBigram {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(h[l]) {
			m = r
		}
		if !h[m].before(h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.heap = h
	return top
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length announced by a
// lead byte, without validation (continuation bytes count as 1).
func utf8Len(c byte) int {
	switch c >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// escapeSPM returns text with spaces replaced by the space symbol and, when
// prefix, a leading one added.
func (t *Tokenizer) escapeSPM(st *spmState, text string, prefix bool) string {
	if t.spaceSym == " " {
		if prefix {
			return " " + text
		}
		return text
	}
	if !prefix && !strings.Contains(text, " ") {
		return text
	}
	b := &st.buf
	b.Reset()
	b.Grow(len(text) + len(text)/4 + 3)
	if prefix {
		b.WriteString(t.spaceSym)
	}
	for {
		i := strings.IndexByte(text, ' ')
		if i < 0 {
			b.WriteString(text)
			break
		}
		b.WriteString(text[:i])
		b.WriteString(t.spaceSym)
		text = text[i+1:]
	}
	return b.String()
}

// encodeSPM appends the ids of one raw-text fragment.
func (t *Tokenizer) encodeSPM(st *spmState, dst []int, text string, prefix bool) []int {
	text = t.escapeSPM(st, text, prefix)
	syms := st.syms[:0]
	prevSpace := false
	wordStart := 0
	for off := 0; off < len(text); {
		var n int
		fixed := false
		if t.runC {
			// llama2.c: a byte and the continuation bytes after it (4 at most).
			n = 1
			for n < 4 && off+n < len(text) && text[off+n]&0xC0 == 0x80 {
				n++
			}
			_, fixed = t.toID[text[off:off+n]]
			fixed = !fixed
		} else {
			n = min(utf8Len(text[off]), len(text)-off)
		}
		isSpace := text[off:off+n] == t.spaceSym
		if isSpace && !prevSpace && t.spaceSplits && len(syms) > 0 {
			// No token spans a word start here: merge the word before it on its own.
			st.syms = syms
			dst = t.word(st, dst, text, wordStart, off)
			syms = st.syms[:0]
			wordStart = off
		}
		prevSpace = isSpace
		i := int32(len(syms))
		syms = append(syms, spmSymbol{start: int32(off), n: int32(n), prev: i - 1, next: i + 1, fixed: fixed})
		off += n
	}
	st.syms = syms
	if t.spaceSplits {
		return t.word(st, dst, text, wordStart, len(text))
	}
	return t.mergeSPM(st, dst, text)
}

// mergeSPM runs the bigram merges over st.syms (symbols of text) and appends the ids.
func (t *Tokenizer) mergeSPM(st *spmState, dst []int, text string) []int {
	syms := st.syms
	if len(syms) == 0 {
		return dst
	}
	syms[len(syms)-1].next = -1
	st.heap = st.heap[:0]

	tryAdd := func(left, right int32) {
		if left < 0 || right < 0 {
			return
		}
		l, r := &syms[left], &syms[right]
		if l.fixed || r.fixed {
			return
		}
		id, ok := t.toID[text[l.start:l.start+l.n+r.n]]
		if !ok || (t.runC && t.scores[id] <= -1e10) {
			return // run.c starts its best score at -1e10 and needs a strictly higher one
		}
		st.push(spmBigram{left: left, right: right, size: l.n + r.n, score: t.scores[id]})
	}
	for i := int32(1); i < int32(len(syms)); i++ {
		tryAdd(i-1, i)
	}
	for len(st.heap) > 0 {
		b := st.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		tryAdd(l.prev, b.left)
		tryAdd(b.left, l.next)
	}
	for i := int32(0); i != -1; i = syms[i].next {
		s := syms[i]
		piece := text[s.start : s.start+s.n]
		if id, ok := t.toID[piece]; ok && !s.fixed {
			dst = append(dst, id)
			continue
		}
		for j := 0; j < len(piece); j++ {
			id := t.byteTok[piece[j]]
			if id < 0 {
				id = t.unk
			}
			if id >= 0 {
				dst = append(dst, id)
			}
		}
	}
	return dst
}

// computeSpaceSplits decides whether SentencePiece text may be merged word by
// word: true when no token holds the space symbol after another character
// (only leading runs of it), so no token can span the start of a word.
func (t *Tokenizer) computeSpaceSplits() {
	t.spaceSplits = false
	if t.model != ModelSPM {
		return
	}
	for id, p := range t.pieces {
		if t.types[id] == TypeByte {
			continue
		}
		rest := p
		for strings.HasPrefix(rest, t.spaceSym) {
			rest = rest[len(t.spaceSym):]
		}
		if strings.Contains(rest, t.spaceSym) {
			return
		}
	}
	t.spaceSplits = true
}
