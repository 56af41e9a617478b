package vectors

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultEvalRestrict is how many of the most frequent words the evaluations
// use when EvalOptions.Restrict is 0, gensim's restrict_vocab default.
const DefaultEvalRestrict = 300000

// EvalOptions are the options of the evaluations, with gensim's defaults.
type EvalOptions struct {
	// Restrict uses only the first Restrict words of the vocabulary (the most
	// frequent); questions or pairs with a word outside them count as out of
	// vocabulary. 0 means DefaultEvalRestrict.
	Restrict int
	// CaseSensitive compares words as they are spelled. By default, as gensim
	// does, the file's words and the vocabulary are upper-cased and an
	// upper-cased word stands for its most frequent spelling.
	CaseSensitive bool
}

func (o EvalOptions) restrict(n int) int {
	r := o.Restrict
	if r <= 0 {
		r = DefaultEvalRestrict
	}
	return min(r, n)
}

// okVocab maps the words of the first limit rows (upper-cased unless case
// sensitive) to their rows, the most frequent spelling winning.
func (v *Vectors) okVocab(o EvalOptions, limit int) (map[string]int, func(string) string) {
	fold := strings.ToUpper
	if o.CaseSensitive {
		fold = func(s string) string { return s }
	}
	ok := make(map[string]int, limit)
	for i := limit - 1; i >= 0; i-- {
		ok[fold(v.Words[i])] = i
	}
	return ok, fold
}

// Score is a correlation or ratio that may be undefined (NaN); it is written
// in JSON as null when it is.
type Score float64

// MarshalJSON writes NaN and infinities as null.
func (s Score) MarshalJSON() ([]byte, error) {
	f := float64(s)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// AnalogySection is the result of one ": section" of an analogy file.
type AnalogySection struct {
	Name     string `json:"name"`
	Accuracy Score  `json:"accuracy"` // Correct / Total, 0 when Total is 0 (as gensim)
	Correct  int    `json:"correct"`
	Total    int    `json:"total"` // questions answered: OOV ones are not in it
	OOV      int    `json:"oov"`   // questions skipped for an out-of-vocabulary word
}

// AnalogyResult is the result of an analogy benchmark: the totals over every
// section (gensim's "Total accuracy" section) and each section.
type AnalogyResult struct {
	Accuracy Score            `json:"accuracy"`
	Correct  int              `json:"correct"`
	Total    int              `json:"total"`
	OOV      int              `json:"oov"`
	Sections []AnalogySection `json:"sections"`
	Skipped  []int            `json:"-"` // lines that are not four words, skipped as gensim does
}

// EvaluateAnalogies runs an analogy benchmark in the questions-words.txt
// format (": section" lines, then "a b c d" lines meaning a is to b as c is
// to d) as gensim's evaluate_word_analogies does: each question whose four
// words are in the first Restrict words is answered with 3CosAdd among those
// words; the answer is the best of the top five that is none of a, b and c
// (compared after upper-casing unless case sensitive), and it is right when
// it equals d. Questions with an unknown word are counted in OOV and left out
// of Total; lines that are not four words are skipped (their line numbers in
// Skipped). A question before any section is an error.
func (v *Vectors) EvaluateAnalogies(r io.Reader, o EvalOptions) (*AnalogyResult, error) {
	limit := o.restrict(v.Len())
	ok, fold := v.okVocab(o, limit)
	res := &AnalogyResult{Sections: []AnalogySection{}}
	var sec *AnalogySection
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("analogies line %d: not valid UTF-8", lineNo)
		}
		if strings.HasPrefix(line, ": ") {
			res.Sections = append(res.Sections, AnalogySection{Name: strings.TrimSpace(strings.TrimLeft(line, ": "))})
			sec = &res.Sections[len(res.Sections)-1]
			continue
		}
		if sec == nil {
			if strings.TrimSpace(line) == "" {
				continue
			}
			return nil, fmt.Errorf("analogies line %d: a question before any \": section\" line", lineNo)
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			res.Skipped = append(res.Skipped, lineNo)
			continue
		}
		a, b, c, want := fold(f[0]), fold(f[1]), fold(f[2]), fold(f[3])
		ia, oka := ok[a]
		ib, okb := ok[b]
		ic, okc := ok[c]
		_, okd := ok[want]
		if !oka || !okb || !okc || !okd {
			sec.OOV++
			continue
		}
		var predicted string
		for _, nb := range v.similarRows([]int{ib, ic}, []int{ia}, 5, limit, false) {
			predicted = fold(nb.Word)
			if _, in := ok[predicted]; in && predicted != a && predicted != b && predicted != c {
				break
			}
		}
		sec.Total++
		if predicted == want {
			sec.Correct++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("analogies: %w", err)
	}
	for i := range res.Sections {
		s := &res.Sections[i]
		s.Accuracy = ratio(s.Correct, s.Total)
		res.Correct += s.Correct
		res.Total += s.Total
		res.OOV += s.OOV
	}
	res.Accuracy = ratio(res.Correct, res.Total)
	return res, nil
}

func ratio(a, b int) Score {
	if b == 0 {
		return 0
	}
	return Score(float64(a) / float64(b))
}

// SimilarityResult is the result of a word-similarity set: how the cosine
// similarities of its pairs correlate with the human scores.
type SimilarityResult struct {
	File     string `json:"file,omitempty"`
	Pearson  Score  `json:"pearson"`
	Spearman Score  `json:"spearman"`  // Pearson of the ranks, ties given their mean rank
	OOVRatio Score  `json:"oov_ratio"` // pairs with an unknown word, in percent of all valid pairs
	Pairs    int    `json:"pairs"`     // pairs scored
	OOV      int    `json:"oov"`       // pairs skipped for an out-of-vocabulary word
	Skipped  []int  `json:"-"`         // lines that are not a pair and a score
}

// ErrNoPairs is returned when a similarity set has no pair to score.
var ErrNoPairs = errors.New("no valid pair in the vocabulary")

// EvaluateWordPairs scores a word-similarity set as gensim's
// evaluate_word_pairs does: lines "word1<TAB>word2<TAB>score", lines
// starting with '#' and blank lines ignored, other lines that do not have
// this shape skipped (their line numbers in Skipped: a header line such as
// WordSim-353's "Word 1	Word 2	Human (mean)" is one). The original SimLex-999
// file, whose header names a "SimLex999" column among others, is read from
// that column. Pairs with a word outside the first Restrict words are counted
// in OOV; OOVRatio is 100 × OOV / (OOV + Pairs).
func (v *Vectors) EvaluateWordPairs(r io.Reader, o EvalOptions) (*SimilarityResult, error) {
	limit := o.restrict(v.Len())
	ok, fold := v.okVocab(o, limit)
	res := &SimilarityResult{}
	var gold, model []float64
	scoreCol := 2
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if lineNo == 1 && len(f) > 3 {
			if i := slices.Index(f, "SimLex999"); i >= 2 {
				scoreCol = i
				continue
			}
		}
		if len(f) != 3 && scoreCol == 2 || len(f) <= scoreCol {
			res.Skipped = append(res.Skipped, lineNo)
			continue
		}
		sim, err := strconv.ParseFloat(strings.TrimSpace(f[scoreCol]), 64)
		if err != nil {
			res.Skipped = append(res.Skipped, lineNo)
			continue
		}
		ia, oka := ok[fold(f[0])]
		ib, okb := ok[fold(f[1])]
		if !oka || !okb {
			res.OOV++
			continue
		}
		gold = append(gold, sim)
		model = append(model, v.rowCosine(ia, ib))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("word pairs: %w", err)
	}
	if len(gold) == 0 {
		return nil, fmt.Errorf("word pairs: %w (%d out of vocabulary, %d lines skipped)", ErrNoPairs, res.OOV, len(res.Skipped))
	}
	res.Pairs = len(gold)
	res.Pearson = Score(Pearson(gold, model))
	res.Spearman = Score(Spearman(gold, model))
	res.OOVRatio = Score(100 * float64(res.OOV) / float64(res.OOV+len(gold)))
	return res, nil
}

func (v *Vectors) rowCosine(i, j int) float64 {
	var d float64
	uj := v.Unit(j)
	for k, x := range v.Unit(i) {
		d += float64(x) * float64(uj[k])
	}
	return d
}

// Pearson is the Pearson correlation of x and y (NaN when either is constant
// or they have fewer than two values).
func Pearson(x, y []float64) float64 {
	n := len(x)
	if n < 2 || len(y) != n {
		return math.NaN()
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	r := sxy / math.Sqrt(sxx*syy)
	return max(-1, min(1, r))
}

// Spearman is the Spearman rank correlation of x and y: the Pearson
// correlation of their ranks, tied values sharing their mean rank (as
// scipy's spearmanr).
func Spearman(x, y []float64) float64 {
	return Pearson(ranks(x), ranks(y))
}

// ranks returns the 1-based ranks of x, ties given the mean of their ranks.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(x[a], x[b]) })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
