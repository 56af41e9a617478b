package grammar

import (
	"fmt"
	"slices"
)

// Vocab is a tokenizer's vocabulary as a Matcher sees it: the bytes each
// token adds to the text, which tokens end generation, and a prefix trie
// over the pieces. Build it once per tokenizer with NewVocab; it is
// immutable and safe for concurrent use.
type Vocab struct {
	pieces [][]byte
	eog    []bool
	eogs   []int
	trie   []trieNode
	edges  []trieEdge
	toks   []int32 // token ids ending at each trie node, by node
}

type trieNode struct {
	edges, edgesEnd int32 // children in Vocab.edges, by increasing byte
	toks, toksEnd   int32 // tokens whose piece ends here, in Vocab.toks
}

type trieEdge struct {
	b     byte
	child int32
}

// NewVocab returns the vocabulary whose token id adds pieces[id] to the text
// (empty for control tokens and others that add no text, which a grammar
// never allows) and where the tokens listed in eog end generation.
func NewVocab(pieces [][]byte, eog []int) (*Vocab, error) {
	v := &Vocab{pieces: pieces, eog: make([]bool, len(pieces))}
	for _, id := range eog {
		if id < 0 || id >= len(pieces) {
			return nil, fmt.Errorf("grammar: end-of-generation token %d is not in the vocabulary of %d tokens", id, len(pieces))
		}
		if !v.eog[id] {
			v.eog[id] = true
			v.eogs = append(v.eogs, id)
		}
	}
	ids := make([]int32, 0, len(pieces))
	for id, p := range pieces {
		if len(p) > 0 && !v.eog[id] {
			ids = append(ids, int32(id))
		}
	}
	slices.SortFunc(ids, func(a, b int32) int {
		if c := slices.Compare(pieces[a], pieces[b]); c != 0 {
			return c
		}
		return int(a - b)
	})
	v.trie = []trieNode{{}}
	v.build(0, ids, 0)
	return v, nil
}

// build fills node t with the tokens of ids (sorted by piece, every piece
// at least depth bytes long and sharing its first depth bytes).
func (v *Vocab) build(t int32, ids []int32, depth int) {
	i := 0
	v.trie[t].toks = int32(len(v.toks))
	for i < len(ids) && len(v.pieces[ids[i]]) == depth {
		v.toks = append(v.toks, ids[i])
		i++
	}
	v.trie[t].toksEnd = int32(len(v.toks))
	// children: groups of ids by their byte at depth
	type group struct {
		b      byte
		lo, hi int
	}
	var groups []group
	for i < len(ids) {
		b := v.pieces[ids[i]][depth]
		j := i
		for j < len(ids) && v.pieces[ids[j]][depth] == b {
			j++
		}
		groups = append(groups, group{b, i, j})
		i = j
	}
	start := int32(len(v.edges))
	for _, g := range groups {
		c := int32(len(v.trie))
		v.trie = append(v.trie, trieNode{})
		v.edges = append(v.edges, trieEdge{b: g.b, child: c})
	}
	v.trie[t].edges, v.trie[t].edgesEnd = start, int32(len(v.edges))
	for k, g := range groups {
		v.build(v.edges[start+int32(k)].child, ids[g.lo:g.hi], depth+1)
	}
}

// Size returns the number of tokens.
func (v *Vocab) Size() int { return len(v.pieces) }

// Piece returns the bytes token id adds to the text (must not be modified).
func (v *Vocab) Piece(id int) []byte { return v.pieces[id] }

// IsEOG reports whether token id ends generation.
func (v *Vocab) IsEOG(id int) bool { return v.eog[id] }
