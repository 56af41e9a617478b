package grammar

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// A parse stack is a linked list of nodes, interned by the Matcher so that
// equal stacks are the same int32 and a set of stacks is a slice of ids. The
// top node of a stack in a set always sits on a character element, except for
// the empty stack (emptyStack), which means the text so far is complete.
type node struct {
	pos    int32 // index in Grammar.elems of the next element to match
	parent int32 // the stack below: where to continue once this rule ends
}

const emptyStack int32 = 0

// utfState is a UTF-8 character in progress: the bits read so far, how many
// continuation bytes are still missing and the character's total length.
type utfState struct {
	cp   rune
	need int8
	size int8
}

// ErrRejected is wrapped by the error Accept and AcceptString return for
// text the grammar does not allow.
var ErrRejected = errors.New("grammar: text rejected")

// Matcher follows a text through a grammar and tells which tokens of a
// vocabulary may come next. It is not safe for concurrent use; make one per
// generation with NewMatcher.
type Matcher struct {
	g     *Grammar
	v     *Vocab
	nodes []node
	index map[uint64]int32

	stacks []int32  // the parses alive after the accepted text
	utf    utfState // an incomplete character at the end of the accepted text
	strip  bool     // the next token loses one leading space (text start after a SentencePiece BOS)
	ended  bool     // an end-of-generation token was accepted

	stamp []uint32 // per node, the generation of the set it was last added to
	gen   uint32

	first   [256]firstByte // memo of the first byte of tokens, for this state
	firstOK bool
	bufs    [][]int32 // scratch stack sets, one per depth of the trie walk
}

type firstByte struct {
	known bool
	ok    bool
	utf   utfState
	set   []int32
}

// NewMatcher returns a matcher at the start of the text. v may be nil when
// only AcceptString and Complete are used.
func NewMatcher(g *Grammar, v *Vocab) *Matcher {
	m := &Matcher{g: g, v: v, index: map[uint64]int32{}}
	m.Reset()
	return m
}

// Reset returns to the start of the text.
func (m *Matcher) Reset() {
	m.nodes = append(m.nodes[:0], node{pos: -1, parent: -1})
	clear(m.index)
	m.stamp = m.stamp[:0]
	m.gen = 0
	m.utf = utfState{}
	m.ended = false
	m.strip = false
	m.newGen()
	set := m.stacks[:0]
	for _, a := range m.g.alts[m.g.root] {
		set = m.push(a, emptyStack, set)
	}
	m.stacks = set
	m.firstOK = false
}

// SetStripSpace says whether the next token loses one leading space, as a
// SentencePiece token does where the text starts (right after BOS): the
// grammar then sees the text without it.
func (m *Matcher) SetStripSpace(strip bool) {
	if m.strip != strip {
		m.strip = strip
		m.firstOK = false
	}
}

// Complete reports whether the text accepted so far is a sentence of the
// grammar (so that generation may end here).
func (m *Matcher) Complete() bool {
	return m.utf.need == 0 && slices.Contains(m.stacks, emptyStack)
}

// CanContinue reports whether some non-empty text may still follow.
func (m *Matcher) CanContinue() bool {
	for _, s := range m.stacks {
		if s != emptyStack {
			return true
		}
	}
	return false
}

// Ended reports whether an end-of-generation token was accepted.
func (m *Matcher) Ended() bool { return m.ended }

func (m *Matcher) intern(pos, parent int32) int32 {
	k := uint64(uint32(pos))<<32 | uint64(uint32(parent))
	if id, ok := m.index[k]; ok {
		return id
	}
	id := int32(len(m.nodes))
	m.nodes = append(m.nodes, node{pos: pos, parent: parent})
	m.index[k] = id
	return id
}

// push adds to set the stacks that continue at element pos above parent,
// expanded until each has a character on top.
func (m *Matcher) push(pos, parent int32, set []int32) []int32 {
	if m.g.elems[pos].kind == kindEnd {
		return m.expand(parent, set)
	}
	return m.expand(m.intern(pos, parent), set)
}

// expand adds the stacks node id stands for to set: itself when a character
// (or nothing) is on top, the expansion of every alternative of the rule on
// top otherwise. Nodes already added in this generation are skipped, which
// also ends loops through rules that match the empty string.
func (m *Matcher) expand(id int32, set []int32) []int32 {
	for int(id) >= len(m.stamp) {
		m.stamp = append(m.stamp, 0)
	}
	if m.stamp[id] == m.gen {
		return set
	}
	m.stamp[id] = m.gen
	if id == emptyStack {
		return append(set, id)
	}
	n := m.nodes[id]
	e := &m.g.elems[n.pos]
	if e.kind == kindChar {
		return append(set, id)
	}
	// a rule reference: continue after it once the rule ends (directly with
	// the parent when the reference ends its alternative, so that right
	// recursion does not grow the stack)
	cont := n.parent
	if m.g.elems[n.pos+1].kind != kindEnd {
		cont = m.intern(n.pos+1, n.parent)
	}
	for _, a := range m.g.alts[e.rule] {
		set = m.push(a, cont, set)
	}
	return set
}

// newGen starts a new stack set: nodes stamped before it count as absent.
func (m *Matcher) newGen() {
	m.gen++
	if m.gen == 0 {
		clear(m.stamp)
		m.gen = 1
	}
}

// advance returns the stacks of from that accept character r, each moved past it.
func (m *Matcher) advance(from []int32, r rune, out []int32) []int32 {
	m.newGen()
	for _, id := range from {
		if id == emptyStack {
			continue
		}
		n := m.nodes[id]
		if m.g.elems[n.pos].match(r) {
			out = m.push(n.pos+1, n.parent, out)
		}
	}
	return out
}

// partialOK reports whether some stack of from accepts a character that
// starts with the bytes u holds.
func (m *Matcher) partialOK(from []int32, u utfState) bool {
	shift := 6 * uint(u.need)
	lo := u.cp << shift
	hi := lo | (1<<shift - 1)
	lo = max(lo, [5]rune{0, 0, 0x80, 0x800, 0x10000}[u.size])
	hi = min(hi, utf8.MaxRune)
	if lo > hi {
		return false
	}
	for _, id := range from {
		if id != emptyStack && m.g.elems[m.nodes[id].pos].matchAny(lo, hi) {
			return true
		}
	}
	return false
}

// step moves the state (from, u) over one byte. The result is in out (or
// from itself while a character is incomplete); ok is false when the byte
// cannot continue the text.
func (m *Matcher) step(from []int32, u utfState, b byte, out []int32) (set []int32, u2 utfState, ok bool) {
	if u.need == 0 {
		switch {
		case b < 0x80:
			set = m.advance(from, rune(b), out)
			return set, u, len(set) > 0
		case b >= 0xC2 && b <= 0xDF:
			u = utfState{cp: rune(b & 0x1F), need: 1, size: 2}
		case b >= 0xE0 && b <= 0xEF:
			u = utfState{cp: rune(b & 0x0F), need: 2, size: 3}
		case b >= 0xF0 && b <= 0xF4:
			u = utfState{cp: rune(b & 0x07), need: 3, size: 4}
		default:
			return nil, u, false
		}
		return from, u, m.partialOK(from, u)
	}
	if b&0xC0 != 0x80 {
		return nil, u, false
	}
	u.cp = u.cp<<6 | rune(b&0x3F)
	u.need--
	if u.need > 0 {
		return from, u, m.partialOK(from, u)
	}
	r := u.cp
	if r < [5]rune{0, 0, 0x80, 0x800, 0x10000}[u.size] || r > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
		return nil, u, false
	}
	set = m.advance(from, r, out)
	return set, utfState{}, len(set) > 0
}

// buf returns scratch stack set number i, empty.
func (m *Matcher) buf(i int) []int32 {
	for len(m.bufs) <= i {
		m.bufs = append(m.bufs, make([]int32, 0, 16))
	}
	return m.bufs[i][:0]
}

// keep stores a grown scratch buffer back.
func (m *Matcher) keep(i int, b []int32) {
	if cap(b) > cap(m.bufs[i]) {
		m.bufs[i] = b[:0]
	}
}

// accepts reports whether text b can follow the state (from, u), leaving
// the resulting state in scratch buffers (not kept).
func (m *Matcher) accepts(from []int32, u utfState, b []byte) bool {
	cur := from
	for i, c := range b {
		out := m.buf(i & 1)
		next, u2, ok := m.step(cur, u, c, out)
		if !ok {
			return false
		}
		if len(next) > 0 && &next[0] == &out[:1][0] {
			m.keep(i&1, next)
		}
		cur, u = next, u2
	}
	return true
}

// AcceptString moves the matcher over text s, as if generated. It returns an
// error wrapping ErrRejected, and leaves the matcher unchanged, when the
// grammar does not allow s here.
func (m *Matcher) AcceptString(s string) error {
	return m.acceptBytes([]byte(s))
}

func (m *Matcher) acceptBytes(b []byte) error {
	cur, u := m.stacks, m.utf
	for i, c := range b {
		next, u2, ok := m.step(cur, u, c, nil)
		if !ok {
			return fmt.Errorf("%w: byte %d (%q) of %q cannot continue the text", ErrRejected, i, c, b)
		}
		cur, u = next, u2
	}
	m.stacks = append(m.stacks[:0], cur...)
	m.utf = u
	m.firstOK = false
	return nil
}

// Accept moves the matcher over token id of its vocabulary: its bytes, or
// the end of the text for an end-of-generation token. It returns an error
// wrapping ErrRejected, leaving the matcher unchanged, when the grammar does
// not allow the token here.
func (m *Matcher) Accept(id int) error {
	if m.v == nil || id < 0 || id >= len(m.v.pieces) {
		return fmt.Errorf("grammar: token %d is not in the vocabulary", id)
	}
	if m.ended {
		return fmt.Errorf("%w: token %d after the end of generation", ErrRejected, id)
	}
	if m.v.eog[id] {
		if !m.Complete() {
			return fmt.Errorf("%w: end of generation before the text is complete", ErrRejected)
		}
		m.ended = true
		return nil
	}
	p := m.piece(id)
	if len(p) == 0 {
		return fmt.Errorf("%w: token %d adds no text", ErrRejected, id)
	}
	if err := m.acceptBytes(p); err != nil {
		return err
	}
	m.strip = false
	return nil
}

// piece returns the bytes token id adds to the text here.
func (m *Matcher) piece(id int) []byte {
	p := m.v.pieces[id]
	if m.strip && len(p) > 0 && p[0] == ' ' {
		p = p[1:]
	}
	return p
}

// Allows reports whether token id may come next: an end-of-generation token
// where the text is complete, another token when its bytes continue a valid
// text. Tokens that add no text (control tokens) are never allowed.
func (m *Matcher) Allows(id int) bool {
	if m.v == nil || id < 0 || id >= len(m.v.pieces) || m.ended {
		return false
	}
	if m.v.eog[id] {
		return m.Complete()
	}
	p := m.piece(id)
	if len(p) == 0 {
		return false
	}
	if !m.firstOK {
		for i := range m.first {
			m.first[i].known = false
		}
		m.firstOK = true
	}
	f := &m.first[p[0]]
	if !f.known {
		f.known = true
		set, u, ok := m.step(m.stacks, m.utf, p[0], f.set[:0])
		f.ok, f.utf = ok, u
		if ok && u.need == 0 {
			f.set = set
		} else if ok {
			f.set = append(f.set[:0], set...)
		}
	}
	if !f.ok {
		return false
	}
	return m.accepts(f.set, f.utf, p[1:])
}

// Mask sets allowed[id] for every token of the vocabulary (allowed must
// have the vocabulary's length) to Allows(id), walking the vocabulary's
// prefix trie so that tokens sharing a prefix share its work. It returns the
// number of allowed tokens.
func (m *Matcher) Mask(allowed []bool) int {
	clear(allowed)
	if m.v == nil || m.ended {
		return 0
	}
	n := 0
	if m.Complete() {
		for _, id := range m.v.eogs {
			allowed[id] = true
			n++
		}
	}
	if m.strip {
		// the text starts here: pieces lose their leading space, so the trie of
		// whole pieces does not apply
		for id := range m.v.pieces {
			if !m.v.eog[id] && m.Allows(id) {
				allowed[id] = true
				n++
			}
		}
		return n
	}
	return n + m.walk(0, m.stacks, m.utf, 0, allowed)
}

// walk visits the children of trie node t from state (set, u) at depth d.
func (m *Matcher) walk(t int32, set []int32, u utfState, d int, allowed []bool) int {
	n := 0
	tn := &m.v.trie[t]
	for _, e := range m.v.edges[tn.edges:tn.edgesEnd] {
		out := m.buf(d)
		next, u2, ok := m.step(set, u, e.b, out)
		if !ok {
			continue
		}
		if len(next) > 0 && &next[0] == &out[:1][0] {
			m.keep(d, next)
		}
		c := &m.v.trie[e.child]
		for _, id := range m.v.toks[c.toks:c.toksEnd] {
			allowed[id] = true
			n++
		}
		if c.edges < c.edgesEnd {
			n += m.walk(e.child, next, u2, d+1, allowed)
		}
	}
	return n
}
