package bpe

import (
	"fmt"
	"strings"
	"sync"
)

// Options tunes a Model.
type Options struct {
	// IgnoreMerges emits a pre-token that is itself in the vocabulary as that
	// one token, without merging (Llama 3, tokenizer.json "ignore_merges").
	IgnoreMerges bool
	// ByteFallback emits <0xXX> tokens for the bytes of a symbol that is not
	// in the vocabulary, when those tokens exist.
	ByteFallback bool
	// Unk is the id emitted for a symbol that cannot be encoded otherwise;
	// -1 means none (such bytes are dropped, as llama.cpp does).
	Unk int
	// CacheSize bounds the pre-token cache (entries); 0 means 65536 and a
	// negative value disables the cache.
	CacheSize int
}

// Model encodes text fragments (no special tokens in them) with byte-level
// BPE. It is safe for concurrent use.
type Model struct {
	pre  PreTokenizer
	opts Options

	// Symbols are the vocabulary tokens and the strings merges produce;
	// symbol ids equal token ids for vocabulary tokens, extra strings get
	// ids above the largest token id.
	vocab    map[string]int32 // raw bytes -> token id
	symToken []int32          // symbol id -> token id or -1
	symRaw   []string         // symbol id -> raw bytes
	byteSym  [256]int32       // symbol of each single byte
	merges   map[uint64]uint64
	fallback [256]int32 // <0xXX> token ids or -1
	maxID    int

	cacheMu sync.Mutex
	cache   map[string][]int32
	cacheN  int

	work sync.Pool
}

// New builds a model. vocab maps token strings in GPT-2 byte-to-unicode form
// to ids; merges are pairs in rank order ("Ġ t" split into [2]string{"Ġ","t"});
// pre is a PreTokenizer (nil = the whole text is one pre-token).
//
// Tokens that are not in byte-level form (added tokens such as "<|im_start|>"
// written with plain characters outside the GPT-2 alphabet) are kept for
// lookups but cannot be produced by merging. Merges naming strings outside
// the vocabulary still merge, as in llama.cpp; a symbol that ends up outside
// the vocabulary is emitted by fallback (see Options).
func New(vocab map[string]int, merges [][2]string, pre PreTokenizer, opts Options) (*Model, error) {
	if len(vocab) == 0 {
		return nil, fmt.Errorf("bpe: empty vocabulary")
	}
	m := &Model{pre: pre, opts: opts, vocab: make(map[string]int32, len(vocab))}
	if m.opts.CacheSize == 0 {
		m.opts.CacheSize = 1 << 16
	}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id > 1<<30 {
			return nil, fmt.Errorf("bpe: token %q has id %d, want 0..2^30", tok, id)
		}
		maxID = max(maxID, id)
	}
	m.maxID = maxID
	m.symToken = make([]int32, maxID+1)
	m.symRaw = make([]string, maxID+1)
	for i := range m.symToken {
		m.symToken[i] = -1
	}
	for tok, id := range vocab {
		raw, err := UnicodeToBytes(tok)
		if err != nil {
			// not byte-level: encoding never produces it; decoding gives
			// its text as is
			m.symRaw[id] = tok
			continue
		}
		m.vocab[string(raw)] = int32(id)
		m.symToken[id] = int32(id)
		m.symRaw[id] = string(raw)
	}
	extra := map[string]int32{}
	intern := func(raw string) int32 {
		if id, ok := m.vocab[raw]; ok {
			return id
		}
		if id, ok := extra[raw]; ok {
			return id
		}
		id := int32(len(m.symToken))
		extra[raw] = id
		m.symToken = append(m.symToken, -1)
		m.symRaw = append(m.symRaw, raw)
		return id
	}
	for b := 0; b < 256; b++ {
		m.byteSym[b] = intern(string([]byte{byte(b)}))
		m.fallback[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallback[b] = int32(id)
		}
	}
	m.merges = make(map[uint64]uint64, len(merges))
	for rank, mg := range merges {
		l, err1 := UnicodeToBytes(mg[0])
		r, err2 := UnicodeToBytes(mg[1])
		if err1 != nil || err2 != nil || len(l) == 0 || len(r) == 0 {
			continue // can never apply to byte-level symbols
		}
		li, ri := intern(string(l)), intern(string(r))
		key := uint64(uint32(li))<<32 | uint64(uint32(ri))
		if _, dup := m.merges[key]; dup {
			continue // the first (lowest) rank wins, as in llama.cpp
		}
		res := intern(string(l) + string(r))
		m.merges[key] = uint64(rank)<<32 | uint64(uint32(res))
	}
	if m.opts.CacheSize > 0 {
		m.cache = make(map[string][]int32)
	}
	return m, nil
}

// Token returns the id of a token given as raw bytes (not GPT-2 form).
func (m *Model) Token(raw string) (int, bool) {
	id, ok := m.vocab[raw]
	return int(id), ok
}

// Decode appends the bytes of token ids to dst. Ids outside the vocabulary
// are an error naming them.
func (m *Model) Decode(dst []byte, ids []int) ([]byte, error) {
	for i, id := range ids {
		if id < 0 || id > m.maxID || (m.symToken[id] < 0 && m.symRaw[id] == "") {
			return dst, fmt.Errorf("bpe: decoding: ids[%d] = %d is not in the vocabulary", i, id)
		}
		dst = append(dst, m.symRaw[id]...)
	}
	return dst, nil
}

// PreTokenizer returns the model's pre-tokenizer (nil if none).
func (m *Model) PreTokenizer() PreTokenizer { return m.pre }

type work struct {
	pieces []string
	syms   []int32
	ranks  []int32
	res    []int32
	heap   []heapItem
	next   []int32
	prev   []int32
	out    []int32
}

// Encode appends the ids of raw UTF-8 text to dst and returns it.
func (m *Model) Encode(dst []int, text string) []int {
	if text == "" {
		return dst
	}
	w, _ := m.work.Get().(*work)
	if w == nil {
		w = new(work)
	}
	defer m.work.Put(w)
	if m.pre == nil {
		return m.encodePiece(dst, text, w)
	}
	pp, _ := m.pre.(*Pipeline)
	for len(text) > 0 {
		chunk := text
		if pp != nil {
			chunk = text[:pp.chunkEnd(text, 1<<16)]
		}
		text = text[len(chunk):]
		w.pieces = m.pre.Split(w.pieces[:0], chunk)
		for _, p := range w.pieces {
			dst = m.encodePiece(dst, p, w)
		}
		clear(w.pieces)
	}
	return dst
}

// EncodePiece appends the ids of one pre-token (raw bytes), skipping the
// pre-tokenizer.
func (m *Model) EncodePiece(dst []int, piece string) []int {
	w, _ := m.work.Get().(*work)
	if w == nil {
		w = new(work)
	}
	defer m.work.Put(w)
	return m.encodePiece(dst, piece, w)
}

func (m *Model) encodePiece(dst []int, piece string, w *work) []int {
	if piece == "" {
		return dst
	}
	if len(piece) == 1 {
		return m.emit(dst, m.byteSym[piece[0]])
	}
	if m.opts.IgnoreMerges {
		if id, ok := m.vocab[piece]; ok {
			return append(dst, int(id))
		}
	}
	if m.cache != nil {
		m.cacheMu.Lock()
		ids, ok := m.cache[piece]
		m.cacheMu.Unlock()
		if ok {
			for _, id := range ids {
				dst = append(dst, int(id))
			}
			return dst
		}
	}
	syms := m.merge(piece, w)
	start := len(dst)
	for _, s := range syms {
		dst = m.emit(dst, s)
	}
	if m.cache != nil {
		ids := make([]int32, len(dst)-start)
		for i, id := range dst[start:] {
			ids[i] = int32(id)
		}
		key := strings.Clone(piece)
		m.cacheMu.Lock()
		if len(m.cache) >= m.opts.CacheSize {
			clear(m.cache)
		}
		m.cache[key] = ids
		m.cacheMu.Unlock()
	}
	return dst
}

// emit appends the token of a symbol, or its fallback.
func (m *Model) emit(dst []int, sym int32) []int {
	if t := m.symToken[sym]; t >= 0 {
		return append(dst, int(t))
	}
	raw := m.symRaw[sym]
	if m.opts.ByteFallback {
		ok := true
		for i := 0; i < len(raw); i++ {
			if m.fallback[raw[i]] < 0 {
				ok = false
				break
			}
		}
		if ok {
			for i := 0; i < len(raw); i++ {
				dst = append(dst, int(m.fallback[raw[i]]))
			}
			return dst
		}
	}
	if len(raw) > 1 {
		for i := 0; i < len(raw); i++ {
			dst = m.emit(dst, m.byteSym[raw[i]])
		}
		return dst
	}
	if m.opts.Unk >= 0 {
		return append(dst, m.opts.Unk)
	}
	return dst
}

func (m *Model) rank(a, b int32) (rank, res int32, ok bool) {
	v, ok := m.merges[uint64(uint32(a))<<32|uint64(uint32(b))]
	return int32(v >> 32), int32(uint32(v)), ok
}

const noRank = int32(1<<31 - 1)

// merge runs BPE on the bytes of piece: repeatedly the pair of adjacent
// symbols with the lowest merge rank (leftmost on ties) is merged.
func (m *Model) merge(piece string, w *work) []int32 {
	n := len(piece)
	w.syms = w.syms[:0]
	for i := 0; i < n; i++ {
		w.syms = append(w.syms, m.byteSym[piece[i]])
	}
	if n > 48 {
		return m.mergeHeap(w)
	}
	syms := w.syms
	w.ranks = w.ranks[:0]
	w.res = w.res[:0]
	for i := 0; i+1 < n; i++ {
		r, res, ok := m.rank(syms[i], syms[i+1])
		if !ok {
			r = noRank
		}
		w.ranks = append(w.ranks, r)
		w.res = append(w.res, res)
	}
	ranks, ress := w.ranks, w.res
	for len(syms) > 1 {
		best, bi := noRank, -1
		for i, r := range ranks {
			if r < best {
				best, bi = r, i
			}
		}
		if bi < 0 {
			break
		}
		syms[bi] = ress[bi]
		syms = append(syms[:bi+1], syms[bi+2:]...)
		ranks = append(ranks[:bi], ranks[bi+1:]...)
		ress = append(ress[:bi], ress[bi+1:]...)
		if bi > 0 {
			r, res, ok := m.rank(syms[bi-1], syms[bi])
			if !ok {
				r = noRank
			}
			ranks[bi-1], ress[bi-1] = r, res
		}
		if bi < len(ranks) {
			r, res, ok := m.rank(syms[bi], syms[bi+1])
			if !ok {
				r = noRank
			}
			ranks[bi], ress[bi] = r, res
		}
	}
	return syms
}

type heapItem struct {
	rank, left, right int32
	lsym, rsym        int32
}

func heapLess(a, b heapItem) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

func heapPush(h []heapItem, it heapItem) []heapItem {
	h = append(h, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !heapLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []heapItem) (heapItem, []heapItem) {
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
		c := l
		if r := l + 1; r < len(h) && heapLess(h[r], h[l]) {
			c = r
		}
		if !heapLess(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return top, h
}

// mergeHeap is merge for long pieces: a linked list of symbols and a heap of
// candidate pairs ordered by (rank, position); stale pairs are skipped.
func (m *Model) mergeHeap(w *work) []int32 {
	syms := w.syms
	n := int32(len(syms))
	w.next = w.next[:0]
	w.prev = w.prev[:0]
	for i := int32(0); i < n; i++ {
		w.next = append(w.next, i+1)
		w.prev = append(w.prev, i-1)
	}
	next, prev := w.next, w.prev
	h := w.heap[:0]
	push := func(l, r int32) {
		if l < 0 || r >= n {
			return
		}
		if rk, _, ok := m.rank(syms[l], syms[r]); ok {
			h = heapPush(h, heapItem{rank: rk, left: l, right: r, lsym: syms[l], rsym: syms[r]})
		}
	}
	for i := int32(0); i+1 < n; i++ {
		push(i, i+1)
	}
	for len(h) > 0 {
		var it heapItem
		it, h = heapPop(h)
		if syms[it.left] != it.lsym || syms[it.right] != it.rsym || next[it.left] != it.right {
			continue
		}
		_, res, _ := m.rank(it.lsym, it.rsym)
		syms[it.left] = res
		syms[it.right] = -1
		nx := next[it.right]
		next[it.left] = nx
		if nx < n {
			prev[nx] = it.left
		}
		push(prev[it.left], it.left)
		push(it.left, nx)
	}
	w.heap = h
	out := w.out[:0]
	for i := int32(0); i < n; i = next[i] {
		out = append(out, syms[i])
	}
	w.out = out
	return out
}
