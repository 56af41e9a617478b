package vectors

import (
	"cmp"
	"math"
	"slices"
)

// vocab is the training vocabulary: the words kept by min-count, most
// frequent first (ties in order of first appearance, as gensim keeps them).
type vocab struct {
	words  []string
	counts []int64
	total  int64 // sum of counts
}

// buildVocab keeps the corpus words seen at least minCount times and returns
// them with the map from corpus ids to vocabulary rows (-1: dropped).
func buildVocab(c *Corpus, minCount int) (vocab, []int32) {
	keep := make([]int32, 0, len(c.words))
	for id, n := range c.counts {
		if n >= int64(minCount) {
			keep = append(keep, int32(id))
		}
	}
	slices.SortStableFunc(keep, func(a, b int32) int { return cmp.Compare(c.counts[b], c.counts[a]) })
	v := vocab{words: make([]string, len(keep)), counts: make([]int64, len(keep))}
	remap := make([]int32, len(c.words))
	for i := range remap {
		remap[i] = -1
	}
	for row, id := range keep {
		v.words[row], v.counts[row] = c.words[id], c.counts[id]
		v.total += c.counts[id]
		remap[id] = int32(row)
	}
	return v, remap
}

// keepProbs returns, per word, the probability of keeping an occurrence under
// frequent-word subsampling, scaled to 2^32 (word2vec.c and gensim's
// formula: (sqrt(f/(s·N)) + 1) · (s·N)/f, capped at 1).
func keepProbs(counts []int64, total int64, sample float64) []uint64 {
	p := make([]uint64, len(counts))
	for i, n := range counts {
		k := 1.0
		if sample > 0 {
			t := sample * float64(total)
			k = (math.Sqrt(float64(n)/t) + 1) * t / float64(n)
		}
		if k >= 1 {
			p[i] = 1 << 32
		} else {
			p[i] = uint64(k * (1 << 32))
		}
	}
	return p
}

// aliasTable draws words with probability count^power / Σ count^power in
// constant time (Vose's alias method): the unigram^0.75 noise distribution
// of negative sampling, exact where word2vec.c's 10^8-entry table rounds.
type aliasTable struct {
	prob  []uint32 // chance, scaled to 2^32, of keeping column i
	alias []int32  // the other word of column i
}

func newAliasTable(counts []int64, power float64) aliasTable {
	n := len(counts)
	t := aliasTable{prob: make([]uint32, n), alias: make([]int32, n)}
	w := make([]float64, n)
	var sum float64
	for i, c := range counts {
		w[i] = math.Pow(float64(c), power)
		sum += w[i]
	}
	var small, large []int32
	for i := range w {
		w[i] = w[i] / sum * float64(n)
		if w[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		t.prob[s] = uint32(w[s] * (1 << 32))
		t.alias[s] = l
		w[l] -= 1 - w[s]
		if w[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		t.prob[i] = math.MaxUint32
		t.alias[i] = i
	}
	return t
}

// draw maps 64 random bits to a word.
func (t *aliasTable) draw(r uint64) int32 {
	col := int32((r >> 32) * uint64(len(t.prob)) >> 32)
	if uint32(r) < t.prob[col] {
		return col
	}
	return t.alias[col]
}

// huffman is the tree of hierarchical softmax, built as word2vec.c builds it:
// per word, the inner nodes from the root (points) and the branch taken at
// each (codes).
type huffman struct {
	codes  [][]uint8
	points [][]int32
}

func newHuffman(counts []int64) huffman {
	n := len(counts)
	h := huffman{codes: make([][]uint8, n), points: make([][]int32, n)}
	if n < 2 {
		for i := range n {
			h.codes[i], h.points[i] = []uint8{}, []int32{}
		}
		return h
	}
	count := make([]int64, 2*n-1)
	copy(count, counts)
	for i := n; i < len(count); i++ {
		count[i] = math.MaxInt64
	}
	parent := make([]int32, 2*n-1)
	binary := make([]uint8, 2*n-1)
	pos1, pos2 := n-1, n
	pick := func() int {
		if pos1 >= 0 && count[pos1] < count[pos2] {
			pos1--
			return pos1 + 1
		}
		pos2++
		return pos2 - 1
	}
	for a := 0; a < n-1; a++ {
		m1 := pick()
		m2 := pick()
		count[n+a] = count[m1] + count[m2]
		parent[m1], parent[m2] = int32(n+a), int32(n+a)
		binary[m2] = 1
	}
	root := int32(2*n - 2)
	for w := range n {
		var code []uint8
		var point []int32
		for b := int32(w); b != root; b = parent[b] {
			code = append(code, binary[b])
			point = append(point, parent[b]-int32(n))
		}
		slices.Reverse(code)
		slices.Reverse(point)
		h.codes[w], h.points[w] = code, point
	}
	return h
}
