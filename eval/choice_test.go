package eval

import (
	"context"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

func TestParseChoices(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ChoiceItem
		err  string
	}{
		{"context", `{"context": "a", "choices": ["b", "c"], "answer": 1}`, []ChoiceItem{{Context: "a", Choices: []string{"b", "c"}, Answer: 1}}, ""},
		{"question and id", "\n{\"id\": 7, \"question\": \"q?\", \"choices\": [\"x\", \"y\", \"z\"], \"answer\": 2}\n\n", []ChoiceItem{{ID: "7", Context: "q?", Question: "q?", Choices: []string{"x", "y", "z"}, Answer: 2}}, ""},
		{"french", `{"id": "fr", "context": "Où est la gare ?", "choices": ["à gauche", "à droite"], "answer": 0}`, []ChoiceItem{{ID: "fr", Context: "Où est la gare ?", Choices: []string{"à gauche", "à droite"}, Answer: 0}}, ""},
		{"empty file", "", nil, "no questions"},
		{"not json", "hello", nil, "line 1"},
		{"array", `["a"]`, nil, "want an object"},
		{"two values", `{"context": "a", "choices": ["b", "c"], "answer": 0} {}`, nil, "more than one"},
		{"no context", `{"choices": ["b", "c"], "answer": 0}`, nil, "no \"context\""},
		{"both", `{"context": "a", "question": "a", "choices": ["b", "c"], "answer": 0}`, nil, "both"},
		{"one choice", `{"context": "a", "choices": ["b"], "answer": 0}`, nil, "at least 2"},
		{"empty choice", `{"context": "a", "choices": ["b", ""], "answer": 0}`, nil, "choice 1 is empty"},
		{"no answer", `{"context": "a", "choices": ["b", "c"]}`, nil, "no \"answer\""},
		{"answer out of range", `{"context": "a", "choices": ["b", "c"], "answer": 2}`, nil, "answer 2"},
		{"negative answer", `{"context": "a", "choices": ["b", "c"], "answer": -1}`, nil, "answer -1"},
		{"answer not a number", `{"context": "a", "choices": ["b", "c"], "answer": "A"}`, nil, "line 1"},
		{"second line bad", "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"answer\": 0}\n{", nil, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChoices(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d items, want %d", len(got), len(tt.want))
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.ID != w.ID || g.Context != w.Context || g.Question != w.Question || g.Answer != w.Answer || strings.Join(g.Choices, "|") != strings.Join(w.Choices, "|") {
					t.Errorf("item %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func FuzzParseChoices(f *testing.F) {
	f.Add(`{"context": "a", "choices": ["b", "c"], "answer": 1}`)
	f.Add(`{"question": "q", "choices": ["b", "c"], "answer": 0, "id": [1]}` + "\n\n{}")
	f.Add(`{"context": "a", "choices": ["b", "c"], "answer": 9e99}`)
	f.Fuzz(func(t *testing.T, in string) {
		items, err := ParseChoices(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, it := range items {
			if len(it.Choices) < 2 || it.Answer < 0 || it.Answer >= len(it.Choices) {
				t.Fatalf("accepted an invalid item %+v", it)
			}
		}
	})
}

func TestSplitPair(t *testing.T) {
	tests := []struct{ ctx, choice, wantCtx, wantCont string }{
		{"The sky is", "blue", "The sky is", " blue"},
		{"The sky is ", "blue", "The sky is", " blue"},
		{"Q:\n", "yes", "Q:\n", "yes"},
		{"", "blue", "", "blue"},
		{"Réponse :", "huit", "Réponse :", " huit"},
	}
	for _, tt := range tests {
		c, k := splitPair(tt.ctx, tt.choice)
		if c != tt.wantCtx || k != tt.wantCont {
			t.Errorf("splitPair(%q, %q) = %q, %q; want %q, %q", tt.ctx, tt.choice, c, k, tt.wantCtx, tt.wantCont)
		}
	}
}

// TestChoiceLogLikelihood checks the scorer's arithmetic against
// log-likelihoods computed here from the SDK's logits, one choice at a time.
func TestChoiceLogLikelihood(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	f, err := os.Open("testdata/choice-en-fr.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	items, err := ParseChoices(f)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Choice(context.Background(), m, items, ChoiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok := m.Tokenizer()
	enc := func(s string) []int { return tok.Encode(s, glassbox.EncodeOptions{AddBOS: true}) }
	correct, correctNorm := 0, 0
	for q, it := range items {
		best, bestNorm := 0, 0
		var lls, norms []float64
		for _, choice := range it.Choices {
			head := enc(strings.TrimRight(it.Context, " "))
			whole := enc(strings.TrimRight(it.Context, " ") + " " + choice)
			sc, err := m.NewScorer(m.ContextSize())
			if err != nil {
				t.Fatal(err)
			}
			logits, err := sc.Logits(context.Background(), whole, nil)
			if err != nil {
				t.Fatal(err)
			}
			v := sc.VocabSize()
			ll := 0.0
			for i := len(head); i < len(whole); i++ {
				row := logits[(i-1)*v : i*v]
				var z float64
				for _, l := range row {
					z += math.Exp(float64(l))
				}
				ll += float64(row[whole[i]]) - math.Log(z)
			}
			lls = append(lls, ll)
			norms = append(norms, ll/float64(len(choice)))
		}
		for c := range lls {
			if lls[c] > lls[best] {
				best = c
			}
			if norms[c] > norms[bestNorm] {
				bestNorm = c
			}
			// the same logits; only the softmax's rounding differs
			if got := res.Items[q].LogLikelihoods[c]; math.Abs(got-lls[c]) > 1e-9+1e-7*math.Abs(lls[c]) {
				t.Errorf("%s choice %d: loglikelihood %.6f, want %.6f", it.ID, c, got, lls[c])
			}
		}
		if res.Items[q].Predicted != best || res.Items[q].PredictedNorm != bestNorm {
			t.Errorf("%s: predicted %d/%d, want %d/%d", it.ID, res.Items[q].Predicted, res.Items[q].PredictedNorm, best, bestNorm)
		}
		if best == it.Answer {
			correct++
		}
		if bestNorm == it.Answer {
			correctNorm++
		}
		t.Logf("%s: %v", it.ID, lls)
	}
	// a question scores the same alone as among others
	alone, err := Choice(context.Background(), m, items[2:3], ChoiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(alone.Items[0].LogLikelihoods, res.Items[2].LogLikelihoods) {
		t.Errorf("alone %v, among others %v", alone.Items[0].LogLikelihoods, res.Items[2].LogLikelihoods)
	}
	if res.Correct != correct || res.CorrectNorm != correctNorm || res.Total != len(items) || res.Acc != float64(correct)/float64(len(items)) {
		t.Errorf("result %+v, want %d and %d right of %d", res, correct, correctNorm, len(items))
	}
}

// TestChoiceGreedy builds questions whose right answer is the model's own
// greedy continuation of the context (the wrong ones: the continuations of
// the other contexts); the model must score 100 %. The context runs up to
// the first space of the continuation, so that the choice follows it after
// a space as in the generated text.
func TestChoiceGreedy(t *testing.T) {
	m := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	prompts := []string{"Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a big bird", "Tom had a red ball"}
	var ctxs, conts []string
	for _, p := range prompts {
		params := glassbox.DefaultSamplerParams()
		params.Temperature = 0
		r, err := m.Generate(context.Background(), p, glassbox.GenerateOptions{MaxTokens: 12, Sampler: params})
		if err != nil {
			t.Fatal(err)
		}
		head, tail, ok := strings.Cut(r.Text, " ")
		if !ok || tail == "" {
			t.Fatalf("%q: continuation %q has no space", p, r.Text)
		}
		ctxs = append(ctxs, p+head)
		conts = append(conts, tail)
	}
	var items []ChoiceItem
	for i := range prompts {
		it := ChoiceItem{Context: ctxs[i], Answer: 0, Choices: []string{conts[i]}}
		for j := range conts {
			if j != i && conts[j] != conts[i] {
				it.Choices = append(it.Choices, conts[j])
			}
		}
		items = append(items, it)
	}
	res, err := Choice(context.Background(), m, items, ChoiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range res.Items {
		t.Logf("%q → %q: %v", ctxs[i], conts[i], s.LogLikelihoods)
	}
	if res.Acc != 1 || res.AccNorm != 1 {
		t.Errorf("acc = %v, acc_norm = %v, want 1 (%d of %d)", res.Acc, res.AccNorm, res.Correct, res.Total)
	}
}
