package vectors

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWords(t *testing.T) {
	for _, tt := range []struct {
		text  string
		lower bool
		want  []string
	}{
		{"L'homme a été là.", false, []string{"L'", "homme", "a", "été", "là"}},
		{"L’homme, aujourd'hui !", true, []string{"l'", "homme", "aujourd'", "hui"}},
		{"Peut-être -- un chef-d'œuvre?", true, []string{"peut-être", "un", "chef-d'", "œuvre"}},
		{"don't stop 1812, ÉCOLE", true, []string{"don'", "t", "stop", "1812", "école"}},
		{"' -x- 'a", false, []string{"x", "a"}},
		{"naïve café\tπ=3.14", false, []string{"naïve", "café", "π", "3", "14"}},
		{"", false, nil},
	} {
		if got := Words(nil, tt.text, tt.lower); !slices.Equal(got, tt.want) {
			t.Errorf("Words(%q, %v) = %q, want %q", tt.text, tt.lower, got, tt.want)
		}
	}
}

func TestParagraphs(t *testing.T) {
	got := Paragraphs("a b\nc\n\n  \nd\n\n\ne")
	want := []string{"a b\nc\n", "d\n", "e"}
	if !slices.Equal(got, want) {
		t.Errorf("Paragraphs = %q, want %q", got, want)
	}
}

func TestReadCorpus(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("deux trois\n\nquatre"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte("cinq"), 0o644)
	os.WriteFile(filepath.Join(dir, ".git", "x"), []byte("\x00\x01"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("caché"), 0o644)
	c, err := ReadCorpus([]string{dir}, WordTokenizer(false))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range c.Sentences() {
		got = append(got, strings.Join(c.Sentence(i), " "))
	}
	if want := []string{"deux trois", "quatre", "cinq"}; !slices.Equal(got, want) {
		t.Errorf("sentences %q, want %q", got, want)
	}
	bin := filepath.Join(dir, "bin")
	os.WriteFile(bin, []byte("a\x00b"), 0o644)
	if _, err := ReadCorpus([]string{bin}, WordTokenizer(false)); err == nil || !strings.Contains(err.Error(), "not a UTF-8 text file") {
		t.Errorf("binary file: err %v", err)
	}
	if _, err := ReadCorpus([]string{filepath.Join(dir, "missing")}, WordTokenizer(false)); err == nil {
		t.Error("missing file: no error")
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte(" ,;\n"), 0o644)
	if _, err := ReadCorpus([]string{empty}, WordTokenizer(false)); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("no token: err %v", err)
	}
}

func TestLongSentenceCut(t *testing.T) {
	c := NewCorpus()
	c.AddSentence(make([]string, 5)) // empty tokens only: no sentence
	long := slices.Repeat([]string{"w"}, MaxSentenceWords+3)
	c.AddSentence(long)
	if c.Sentences() != 2 || len(c.Sentence(0)) != MaxSentenceWords || len(c.Sentence(1)) != 3 {
		t.Errorf("%d sentences; want 2 of %d and 3 words", c.Sentences(), MaxSentenceWords)
	}
}

func TestPhrases(t *testing.T) {
	c := NewCorpus()
	r := rand.New(rand.NewPCG(3, 4))
	filler := []string{"the", "a", "walked", "saw", "city", "big", "old", "we", "they", "went"}
	for range 400 {
		s := []string{}
		for range 20 {
			s = append(s, filler[r.IntN(len(filler))])
		}
		at := r.IntN(len(s))
		s = slices.Insert(s, at, "new", "york")
		c.AddSentence(s)
	}
	p, err := c.Phrases(DefaultPhraseOptions())
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Count("new_york"); n != 400 {
		t.Errorf("new_york %d times, want 400", n)
	}
	if p.Count("new") != 0 || p.Words() != c.Words()-400 {
		t.Errorf("new left %d times, %d words (from %d)", p.Count("new"), p.Words(), c.Words())
	}
	for _, w := range []string{"the_a", "a_the", "walked_saw", "we_went"} {
		if p.Count(w) != 0 {
			t.Errorf("random bigram %s joined %d times", w, p.Count(w))
		}
	}
	// the word2phrase score
	if s := PhraseScore(20, 40, 50, 1000, 5); math.Abs(s-7.5) > 1e-12 {
		t.Errorf("PhraseScore = %v, want 7.5", s)
	}
	if _, err := c.Phrases(PhraseOptions{MinCount: 0, Threshold: 10}); err == nil {
		t.Error("min count 0 accepted")
	}
	if _, err := c.Phrases(PhraseOptions{MinCount: 5, Threshold: math.NaN()}); err == nil {
		t.Error("NaN threshold accepted")
	}
}

// TestAliasTable: the noise words are drawn with probability count^0.75 / Σ.
func TestAliasTable(t *testing.T) {
	counts := []int64{10000, 1000, 300, 100, 10, 1}
	tab := newAliasTable(counts, 0.75)
	r := newRNG(1, 0, 0)
	const n = 2_000_000
	got := make([]int, len(counts))
	for range n {
		got[tab.draw(r.next())]++
	}
	var sum float64
	for _, c := range counts {
		sum += math.Pow(float64(c), 0.75)
	}
	for i, c := range counts {
		p := math.Pow(float64(c), 0.75) / sum
		sd := math.Sqrt(p * (1 - p) / n)
		if f := float64(got[i]) / n; math.Abs(f-p) > 5*sd {
			t.Errorf("word %d (count %d): drawn %.5f of the time, want %.5f", i, c, f, p)
		}
	}
}

// TestKeepProbs: word2vec's subsampling formula.
func TestKeepProbs(t *testing.T) {
	counts := []int64{100000, 1000, 10}
	total := int64(1_000_000)
	p := keepProbs(counts, total, 1e-3)
	for i, c := range counts {
		f := float64(c) / float64(total)
		want := min((math.Sqrt(f/1e-3)+1)*1e-3/f, 1)
		if got := float64(p[i]) / (1 << 32); math.Abs(got-want) > 1e-9 {
			t.Errorf("word %d: keep %v, want %v", i, got, want)
		}
	}
	if p[0] >= 1<<32 || p[2] != 1<<32 {
		t.Errorf("the frequent word must be subsampled and the rare one kept: %v", p)
	}
	for _, q := range keepProbs(counts, total, 0) {
		if q != 1<<32 {
			t.Error("sample 0 must keep every word")
		}
	}
}

// TestHuffman: the codes are prefix-free, every word has one, more frequent
// words never have longer codes, and the inner nodes are in range.
func TestHuffman(t *testing.T) {
	counts := []int64{50, 20, 15, 10, 3, 1, 1}
	h := newHuffman(counts)
	codes := make([]string, len(counts))
	for w := range counts {
		var b strings.Builder
		for _, c := range h.codes[w] {
			b.WriteByte('0' + c)
		}
		codes[w] = b.String()
		if len(h.codes[w]) == 0 || len(h.codes[w]) != len(h.points[w]) {
			t.Fatalf("word %d: code %q, points %v", w, codes[w], h.points[w])
		}
		for _, p := range h.points[w] {
			if p < 0 || int(p) >= len(counts)-1 {
				t.Errorf("word %d: inner node %d out of range", w, p)
			}
		}
		if h.points[w][0] != int32(len(counts)-2) {
			t.Errorf("word %d: path starts at %d, not the root %d", w, h.points[w][0], len(counts)-2)
		}
	}
	for i := range codes {
		for j := range codes {
			if i != j && strings.HasPrefix(codes[j], codes[i]) {
				t.Errorf("code %q of word %d is a prefix of %q (word %d)", codes[i], i, codes[j], j)
			}
		}
		if i > 0 && len(codes[i]) < len(codes[i-1]) {
			t.Errorf("word %d (count %d) has a shorter code than word %d", i, counts[i], i-1)
		}
	}
	// Kraft equality for a full binary tree
	var k float64
	for _, c := range codes {
		k += math.Pow(2, -float64(len(c)))
	}
	if math.Abs(k-1) > 1e-12 {
		t.Errorf("Σ 2^-len = %v, want 1", k)
	}
}

// clusterCorpus plants structure: groups of words that only ever appear with
// words of their own group.
func clusterCorpus(groups, size, sentences int) *Corpus {
	r := rand.New(rand.NewPCG(7, 8))
	c := NewCorpus()
	for range sentences {
		g := r.IntN(groups)
		s := make([]string, 12)
		for i := range s {
			s[i] = fmt.Sprintf("g%dw%d", g, r.IntN(size))
		}
		c.AddSentence(s)
	}
	return c
}

func TestTrainDeterministic(t *testing.T) {
	c := clusterCorpus(4, 15, 3000)
	for _, cbow := range []bool{false, true} {
		o := DefaultTrainOptions()
		o.CBOW, o.Dim, o.Epochs, o.HS = cbow, 16, 2, cbow
		run := func(threads int, seed uint64) []float32 {
			o.Threads, o.Seed = threads, seed
			r, err := Train(context.Background(), c, o)
			if err != nil {
				t.Fatal(err)
			}
			return r.Data
		}
		a := run(1, 5)
		if !slices.Equal(a, run(1, 5)) {
			t.Errorf("cbow=%v: two runs with seed 5 differ", cbow)
		}
		for _, threads := range []int{2, 3, 4} {
			if !slices.Equal(a, run(threads, 5)) {
				t.Errorf("cbow=%v: 1 and %d threads differ", cbow, threads)
			}
		}
		if slices.Equal(a, run(2, 6)) {
			t.Errorf("cbow=%v: seeds 5 and 6 give the same vectors", cbow)
		}
		// Hogwild with one thread is sequential SGD: reproducible too
		o.Hogwild = true
		h := run(1, 5)
		if !slices.Equal(h, run(1, 5)) {
			t.Errorf("cbow=%v: two Hogwild runs with one thread differ", cbow)
		}
		if slices.Equal(h, a) {
			t.Errorf("cbow=%v: Hogwild gives the vectors of the reproducible schedule", cbow)
		}
	}
}

// TestTrainQuality: on a corpus with planted groups, every word's nearest
// neighbours are in its group (by chance, 14 of 59 other words are).
func TestTrainQuality(t *testing.T) {
	c := clusterCorpus(4, 15, 4000)
	for _, tt := range []struct {
		name string
		mod  func(*TrainOptions)
	}{
		{"skipgram-negative", func(o *TrainOptions) {}},
		{"cbow-negative", func(o *TrainOptions) { o.CBOW = true }},
		{"skipgram-hs", func(o *TrainOptions) { o.HS, o.Negative = true, 0 }},
		{"cbow-hs", func(o *TrainOptions) { o.CBOW, o.HS, o.Negative = true, true, 0 }},
		{"skipgram-hogwild", func(o *TrainOptions) { o.Hogwild, o.Threads = true, 2 }},
		{"cbow-hogwild", func(o *TrainOptions) { o.CBOW, o.Hogwild, o.Threads = true, true, 2 }},
		{"cbow-hs-negative-hogwild", func(o *TrainOptions) { o.CBOW, o.HS, o.Hogwild, o.Threads = true, true, true, 3 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultTrainOptions()
			o.Dim, o.Epochs, o.Sample = 20, 3, 0
			tt.mod(&o)
			if o.Hogwild && o.Threads > 1 && raceEnabled {
				t.Skip("Hogwild threads race by design")
			}
			r, err := Train(context.Background(), c, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Len() != 60 {
				t.Fatalf("%d words, want 60", r.Len())
			}
			bad := 0
			for _, w := range r.Words {
				nn, err := r.Similar(Query{Positive: []string{w}, N: 5})
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range nn {
					if n.Word[:2] != w[:2] {
						bad++
					}
				}
			}
			if bad > 3 {
				t.Errorf("%d of 300 nearest neighbours are outside their word's group", bad)
			}
			if l := r.EpochLoss; len(l) != 3 || !(l[2] < l[0]) {
				t.Errorf("loss per epoch %v: want 3 values, decreasing", l)
			}
		})
	}
}

// TestTrainLee: on real text (lee_background.cor), frequent words have
// related neighbours (by chance, 2 of 9 number words among the 5 nearest
// of some 1 700 would almost never happen).
func TestTrainLee(t *testing.T) {
	c, err := ReadCorpus([]string{"../../shared/fixtures/embeddings/lee_background.cor"}, WordTokenizer(true))
	if err != nil {
		t.Skip("fixture:", err)
	}
	o := DefaultTrainOptions()
	o.Epochs, o.CBOW = 10, true
	r, err := Train(context.Background(), c, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		word  string
		among []string
	}{
		{"two", []string{"three", "four", "five", "six", "seven", "eight", "several", "nine", "ten"}},
	} {
		nn, err := r.Similar(Query{Positive: []string{tt.word}, N: 5})
		if err != nil {
			t.Fatal(err)
		}
		hits := 0
		for _, n := range nn {
			if slices.Contains(tt.among, n.Word) {
				hits++
			}
		}
		if hits < 2 {
			t.Errorf("neighbours of %q: %v; want at least 2 of %v", tt.word, nn, tt.among)
		}
	}
}

func TestTrainOptionsErrors(t *testing.T) {
	c := clusterCorpus(2, 5, 50)
	for _, tt := range []struct {
		mod  func(*TrainOptions)
		want string
	}{
		{func(o *TrainOptions) { o.Dim = 0 }, "dimension"},
		{func(o *TrainOptions) { o.Window = 0 }, "window"},
		{func(o *TrainOptions) { o.Negative = 0 }, "nothing to train"},
		{func(o *TrainOptions) { o.Negative = -1 }, "negative"},
		{func(o *TrainOptions) { o.Sample = -1 }, "sample"},
		{func(o *TrainOptions) { o.MinCount = 0 }, "min count"},
		{func(o *TrainOptions) { o.MinCount = 1 << 30 }, "no word occurs"},
		{func(o *TrainOptions) { o.Epochs = 0 }, "epochs"},
		{func(o *TrainOptions) { o.Alpha = math.NaN() }, "alpha"},
		{func(o *TrainOptions) { o.Alpha, o.MinAlpha = 0.01, 0.1 }, "min alpha"},
	} {
		o := DefaultTrainOptions()
		tt.mod(&o)
		_, err := Train(context.Background(), c, o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("want an error about %q, got %v", tt.want, err)
		}
	}
	defer func(m int64) { maxWeightBytes = m }(maxWeightBytes)
	maxWeightBytes = 1 << 10
	if _, err := Train(context.Background(), c, DefaultTrainOptions()); err == nil || !strings.Contains(err.Error(), "GiB of weights") {
		t.Errorf("weights over the bound: err %v", err)
	}
	maxWeightBytes = 64 << 30
	if _, err := Train(context.Background(), NewCorpus(), DefaultTrainOptions()); err == nil {
		t.Error("empty corpus accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, c, func() TrainOptions { o := DefaultTrainOptions(); o.MinCount = 1; return o }()); err == nil {
		t.Error("cancelled context: no error")
	}
}
