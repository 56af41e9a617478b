package vectors

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestSpearmanPearson(t *testing.T) {
	tests := []struct {
		x, y              []float64
		pearson, spearman float64
	}{
		{[]float64{1, 2, 3}, []float64{2, 4, 6}, 1, 1},
		{[]float64{1, 2, 3}, []float64{3, 2, 1}, -1, -1},
		// scipy.stats: pearsonr 0.9486832980505138, spearmanr 0.9486832980505139 (ties averaged)
		{[]float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}, 0.9486832980505138, 0.9486832980505139},
		{[]float64{1, 1, 1}, []float64{1, 2, 3}, math.NaN(), math.NaN()},
	}
	for _, tt := range tests {
		p, s := Pearson(tt.x, tt.y), Spearman(tt.x, tt.y)
		if !(near(p, tt.pearson, 1e-12) || math.IsNaN(p) && math.IsNaN(tt.pearson)) {
			t.Errorf("Pearson(%v, %v) = %v, want %v", tt.x, tt.y, p, tt.pearson)
		}
		if !(near(s, tt.spearman, 1e-12) || math.IsNaN(s) && math.IsNaN(tt.spearman)) {
			t.Errorf("Spearman(%v, %v) = %v, want %v", tt.x, tt.y, s, tt.spearman)
		}
	}
	b, _ := json.Marshal(SimilarityResult{Pearson: Score(math.NaN())})
	if !strings.Contains(string(b), `"pearson":null`) {
		t.Errorf("NaN written as %s", b)
	}
}

func TestEvaluateAnalogies(t *testing.T) {
	v := toy(t)
	res, err := v.EvaluateAnalogies(strings.NewReader(": royals\nman king woman queen\nMAN KING WOMAN QUEEN\nman king woman unicorn\nbad line\n: empty\n"), EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Correct != 2 || res.Total != 2 || res.OOV != 1 || res.Accuracy != 1 || len(res.Sections) != 2 || res.Sections[1].Total != 0 || len(res.Skipped) != 1 || res.Skipped[0] != 5 {
		t.Errorf("got %+v", res)
	}
	res, _ = v.EvaluateAnalogies(strings.NewReader(": s\nMAN KING WOMAN QUEEN\n"), EvalOptions{CaseSensitive: true})
	if res.OOV != 1 {
		t.Errorf("case sensitive: %+v", res)
	}
	res, _ = v.EvaluateAnalogies(strings.NewReader(": s\nman king woman queen\n"), EvalOptions{Restrict: 3})
	if res.OOV != 1 {
		t.Errorf("restrict 3: %+v", res)
	}
	if _, err := v.EvaluateAnalogies(strings.NewReader("man king woman queen\n"), EvalOptions{}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("question before a section: %v", err)
	}
}

func TestEvaluateWordPairs(t *testing.T) {
	v := toy(t)
	tests := []struct {
		name, in string
		pairs    int
		oov      int
		skipped  int
	}{
		{"gensim layout", "# comment\nking\tqueen\t8\nman\twoman\t7\nking\tcar\t1\nking\tunicorn\t3\n", 3, 1, 0},
		{"WordSim-353 header", "Word 1\tWord 2\tHuman (mean)\nking\tqueen\t8\nman\twoman\t7\nking\tcar\t1\n", 3, 0, 1},
		{"SimLex-999 original", "word1\tword2\tPOS\tSimLex999\tconc(w1)\nking\tqueen\tN\t8\t4.5\nman\twoman\tN\t7\t4\nking\tcar\tN\t1\t3\n", 3, 0, 0},
	}
	for _, tt := range tests {
		res, err := v.EvaluateWordPairs(strings.NewReader(tt.in), EvalOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if res.Pairs != tt.pairs || res.OOV != tt.oov || len(res.Skipped) != tt.skipped {
			t.Errorf("%s: %+v", tt.name, res)
		}
		if want := 100 * float64(tt.oov) / float64(tt.oov+tt.pairs); float64(res.OOVRatio) != want {
			t.Errorf("%s: OOV ratio %v, want %v", tt.name, res.OOVRatio, want)
		}
	}
	if _, err := v.EvaluateWordPairs(strings.NewReader("a\tb\t1\n"), EvalOptions{}); !errors.Is(err, ErrNoPairs) {
		t.Errorf("no pairs: %v", err)
	}
}
