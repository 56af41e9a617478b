// Package vectors holds word vectors: a vocabulary and one dense vector per
// word, as word2vec trains them or as a language model's token embedding table
// holds them, and the queries people run on them (nearest neighbours,
// analogies, distances, the odd one out) with gensim's conventions.
package vectors

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Vectors is a vocabulary and its vectors: row i of Data (Dim values) is the
// vector of Words[i]. Words are in the order of the file or the training
// vocabulary, most frequent first for word2vec, which is what
// restrict-vocabulary options rely on.
type Vectors struct {
	Words []string
	Dim   int
	Data  []float32

	index map[string]int

	unitOnce sync.Once
	unit     []float32 // Data with every row scaled to unit length (zero rows stay zero)
}

// New checks that words and data agree (len(data) == len(words)*dim, no
// duplicate or empty word) and returns the vectors; it keeps data as is.
func New(words []string, dim int, data []float32) (*Vectors, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("vectors: dimension %d, expected a positive number", dim)
	}
	if len(data) != len(words)*dim {
		return nil, fmt.Errorf("vectors: %d words of dimension %d need %d values, got %d", len(words), dim, len(words)*dim, len(data))
	}
	index := make(map[string]int, len(words))
	for i, w := range words {
		if w == "" {
			return nil, fmt.Errorf("vectors: word %d is empty", i)
		}
		if j, dup := index[w]; dup {
			return nil, fmt.Errorf("vectors: word %q appears twice (rows %d and %d)", w, j, i)
		}
		index[w] = i
	}
	return &Vectors{Words: words, Dim: dim, Data: data, index: index}, nil
}

// Len is the number of words.
func (v *Vectors) Len() int { return len(v.Words) }

// Index returns the row of word, or -1 when it is not in the vocabulary.
func (v *Vectors) Index(word string) int {
	if i, ok := v.index[word]; ok {
		return i
	}
	return -1
}

// Vector returns the vector of word (a view into Data), or nil when the word
// is not in the vocabulary.
func (v *Vectors) Vector(word string) []float32 {
	i := v.Index(word)
	if i < 0 {
		return nil
	}
	return v.Row(i)
}

// Row returns the vector of row i (a view into Data).
func (v *Vectors) Row(i int) []float32 { return v.Data[i*v.Dim : (i+1)*v.Dim] }

// Unit returns row i scaled to unit length (a zero vector stays zero).
func (v *Vectors) Unit(i int) []float32 {
	v.unitOnce.Do(v.normalize)
	return v.unit[i*v.Dim : (i+1)*v.Dim]
}

func (v *Vectors) normalize() {
	v.unit = make([]float32, len(v.Data))
	for i := range v.Words {
		row, out := v.Row(i), v.unit[i*v.Dim:(i+1)*v.Dim]
		var ss float64
		for _, x := range row {
			ss += float64(x) * float64(x)
		}
		if ss == 0 {
			continue
		}
		inv := 1 / math.Sqrt(ss)
		for j, x := range row {
			out[j] = float32(float64(x) * inv)
		}
	}
}

// ErrUnknownWord is wrapped by the errors of queries naming a word that is not
// in the vocabulary.
var ErrUnknownWord = errors.New("not in the vocabulary")

// UnknownWordError names the word a query could not find.
type UnknownWordError struct{ Word string }

func (e *UnknownWordError) Error() string {
	return fmt.Sprintf("word %q is not in the vocabulary", e.Word)
}

// Unwrap makes errors.Is(err, ErrUnknownWord) true.
func (e *UnknownWordError) Unwrap() error { return ErrUnknownWord }

func (v *Vectors) mustIndex(word string) (int, error) {
	i := v.Index(word)
	if i < 0 {
		return -1, &UnknownWordError{word}
	}
	return i, nil
}

// Neighbor is a word and its score against a query (a cosine similarity, or
// for 3CosMul the multiplicative score).
type Neighbor struct {
	Word   string  `json:"word"`
	Cosine float64 `json:"cosine"`
}

// Query says how a nearest-neighbour search ranks and where it looks.
type Query struct {
	// Positive and Negative are the words added and subtracted (each as a unit
	// vector, as gensim's most_similar does).
	Positive, Negative []string
	// N is how many neighbours to return (10 when 0).
	N int
	// Restrict searches only the first Restrict words of the vocabulary (the
	// most frequent for word2vec); 0 searches them all.
	Restrict int
	// Mul ranks with 3CosMul (Levy and Goldberg 2014, gensim's
	// most_similar_cosmul) instead of the cosine with the summed vector (3CosAdd).
	Mul bool
}

// Similar returns the words nearest to the query, best first, leaving out the
// query's own words: with one positive word its nearest neighbours, with
// positive b, c and negative a the 3CosAdd (or 3CosMul) answer to "a is to b
// as c is to ?".
func (v *Vectors) Similar(q Query) ([]Neighbor, error) {
	if len(q.Positive)+len(q.Negative) == 0 {
		return nil, errors.New("vectors: a query needs at least one word")
	}
	n := q.N
	if n <= 0 {
		n = 10
	}
	limit := v.Len()
	if q.Restrict > 0 && q.Restrict < limit {
		limit = q.Restrict
	}
	pos, neg := make([]int, 0, len(q.Positive)), make([]int, 0, len(q.Negative))
	for _, w := range q.Positive {
		i, err := v.mustIndex(w)
		if err != nil {
			return nil, err
		}
		pos = append(pos, i)
	}
	for _, w := range q.Negative {
		i, err := v.mustIndex(w)
		if err != nil {
			return nil, err
		}
		neg = append(neg, i)
	}
	return v.similarRows(pos, neg, n, limit, q.Mul), nil
}

// similarRows ranks rows [0, limit) against the positive and negative rows,
// leaving those out, and returns the best n.
func (v *Vectors) similarRows(pos, neg []int, n, limit int, mul bool) []Neighbor {
	exclude := map[int]bool{}
	for _, i := range pos {
		exclude[i] = true
	}
	for _, i := range neg {
		exclude[i] = true
	}
	score := v.addScorer(pos, neg)
	if mul {
		score = v.mulScorer(pos, neg)
	}
	best := make([]Neighbor, 0, n+1)
	for i := 0; i < limit; i++ {
		if exclude[i] {
			continue
		}
		s := score(i)
		if len(best) == n && s <= best[n-1].Cosine {
			continue
		}
		at, _ := slices.BinarySearchFunc(best, s, func(e Neighbor, t float64) int {
			if e.Cosine > t {
				return -1
			}
			return 1
		})
		best = slices.Insert(best, at, Neighbor{v.Words[i], s})
		if len(best) > n {
			best = best[:n]
		}
	}
	return best
}

// addScorer is 3CosAdd: the cosine with the mean of the positive unit vectors
// minus the negative ones.
func (v *Vectors) addScorer(pos, neg []int) func(int) float64 {
	mean := make([]float64, v.Dim)
	for _, i := range pos {
		for j, x := range v.Unit(i) {
			mean[j] += float64(x)
		}
	}
	for _, i := range neg {
		for j, x := range v.Unit(i) {
			mean[j] -= float64(x)
		}
	}
	var ss float64
	for _, x := range mean {
		ss += x * x
	}
	if ss > 0 {
		inv := 1 / math.Sqrt(ss)
		for j := range mean {
			mean[j] *= inv
		}
	}
	return func(i int) float64 {
		var d float64
		for j, x := range v.Unit(i) {
			d += float64(x) * mean[j]
		}
		return d
	}
}

// mulScorer is 3CosMul: the product of the positive cosines, each shifted to
// [0, 1], divided by the product of the negative ones (plus 1e-6).
func (v *Vectors) mulScorer(pos, neg []int) func(int) float64 {
	cos01 := func(a, b int) float64 {
		var d float64
		ub := v.Unit(b)
		for j, x := range v.Unit(a) {
			d += float64(x) * float64(ub[j])
		}
		return (1 + d) / 2
	}
	return func(i int) float64 {
		num, den := 1.0, 1.0
		for _, p := range pos {
			num *= cos01(i, p)
		}
		for _, q := range neg {
			den *= cos01(i, q)
		}
		return num / (den + 1e-6)
	}
}

// Analogy answers "a is to b as c is to ?" (b − a + c), with 3CosAdd or, when
// mul is set, 3CosMul; n and restrict as in Query.
func (v *Vectors) Analogy(a, b, c string, n, restrict int, mul bool) ([]Neighbor, error) {
	return v.Similar(Query{Positive: []string{b, c}, Negative: []string{a}, N: n, Restrict: restrict, Mul: mul})
}

// Similarity is the cosine similarity of two words.
func (v *Vectors) Similarity(w1, w2 string) (float64, error) {
	i, err := v.mustIndex(w1)
	if err != nil {
		return 0, err
	}
	j, err := v.mustIndex(w2)
	if err != nil {
		return 0, err
	}
	var d float64
	uj := v.Unit(j)
	for k, x := range v.Unit(i) {
		d += float64(x) * float64(uj[k])
	}
	return d, nil
}

// Distance is the cosine distance of two words: 1 − their cosine similarity.
func (v *Vectors) Distance(w1, w2 string) (float64, error) {
	s, err := v.Similarity(w1, w2)
	return 1 - s, err
}

// DoesntMatch returns the word of words farthest from the others: the one
// whose cosine with the mean of their unit vectors is lowest (gensim's
// doesnt_match). Every word must be in the vocabulary, and at least two given.
func (v *Vectors) DoesntMatch(words []string) (string, error) {
	if len(words) < 2 {
		return "", fmt.Errorf("vectors: the odd one out needs at least two words, got %d", len(words))
	}
	idx := make([]int, len(words))
	for k, w := range words {
		i, err := v.mustIndex(w)
		if err != nil {
			return "", err
		}
		idx[k] = i
	}
	score := v.addScorer(idx, nil)
	worst, ws := "", math.Inf(1)
	for k, i := range idx {
		if s := score(i); s < ws {
			worst, ws = words[k], s
		}
	}
	return worst, nil
}
