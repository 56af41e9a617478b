package glassbox_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/sample"
	"glassbox/tokenizer"
	"glassbox/trace"
)

// TestGrammarTraceTruthful checks each constrained step's grammar record
// against an oracle written without the grammar engine and against logits
// recomputed without the sampler: the removed candidates are rejected by the
// grammar, they are the best rejected ones in the order of the unconstrained
// distribution, none that ranks above the cut is missing, and their
// probabilities are that distribution's.
func TestGrammarTraceTruthful(t *testing.T) {
	// a finite language, so that the oracle is a list of its sentences
	words := []string{"once", "upon", "a", "time", "there", "the"}
	const grammarSrc = `root ::= " " ("once" | "upon" | "a" | "time" | "there" | "the") ", " [0-9] [0-9] "."`
	var sentences []string
	for _, w := range words {
		for d := range 100 {
			sentences = append(sentences, fmt.Sprintf(" %s, %02d.", w, d))
		}
	}
	isPrefix := func(s []byte) bool {
		for _, x := range sentences {
			if bytes.HasPrefix([]byte(x), s) {
				return true
			}
		}
		return false
	}
	complete := func(s []byte) bool { return slices.Contains(sentences, string(s)) }

	sampled := sample.Params{Temperature: 1, TopP: 1, RepeatPenalty: 1, Seed: 5} // no top-k: the whole vocabulary is masked
	topK := sample.DefaultParams()                                               // top-k 40: the best candidates are examined lazily
	topK.Seed = 3
	const prompt, top = "Once upon a time", 8
	for _, tc := range []struct {
		name string
		p    sample.Params
		need func(allowed int) int // candidates the chain uses, given the allowed count
	}{
		{"greedy", sample.Params{}, func(int) int { return 1 }},
		{"top-k", topK, func(a int) int { return min(40, a) }},
		{"full", sampled, func(a int) int { return a }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := open(t, &glassbox.Options{Context: 256}, "llama2c", "stories260K.bin")
			tok := m.Tokenizer()
			var steps []*trace.Step
			res, err := m.Generate(context.Background(), prompt, glassbox.GenerateOptions{
				MaxTokens: 20, Sampler: tc.p, Grammar: grammarSrc,
				Trace: &infer.Tracing{Options: trace.Options{Top: top}, Emit: func(ev trace.Event) error {
					if ev.Type == trace.TypeStep {
						steps = append(steps, ev.Step)
					}
					return nil
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !complete([]byte(res.Text)) {
				t.Fatalf("output %q is not a sentence of the grammar", res.Text)
			}
			// the unconstrained distribution at every step, from one scoring pass
			sc, err := m.NewScorer(len(res.PromptIDs) + len(res.IDs))
			if err != nil {
				t.Fatal(err)
			}
			all := append(slices.Clone(res.PromptIDs), res.IDs...)
			logits, err := sc.Logits(context.Background(), all, nil)
			if err != nil {
				t.Fatal(err)
			}
			vocab := sc.VocabSize()
			allows := func(text []byte, id int) bool {
				if tok.IsEOG(id) {
					return complete(text)
				}
				switch tok.Type(id) {
				case tokenizer.TypeControl, tokenizer.TypeUnknown:
					return false
				}
				b := tok.TokenBytes(id)
				return len(b) > 0 && isPrefix(append(slices.Clone(text), b...))
			}
			var text []byte // generated so far
			if len(steps) != len(res.IDs) {
				t.Fatalf("%d steps for %d tokens", len(steps), len(res.IDs))
			}
			removedSeen := 0
			for i, st := range steps {
				g := st.Sampling.Grammar
				if g == nil {
					t.Fatalf("step %d has no grammar record", i)
				}
				row := logits[(len(res.PromptIDs)-1+i)*vocab:][:vocab]
				probs := softmax64(row)
				// rank the vocabulary by the engine's own order (logit, then id)
				rank := make([]int, vocab)
				for id := range rank {
					rank[id] = id
				}
				slices.SortStableFunc(rank, func(a, b int) int {
					switch {
					case row[a] > row[b]:
						return -1
					case row[a] < row[b]:
						return 1
					}
					return a - b
				})
				var allowedRanks []int
				for r, id := range rank {
					if allows(text, id) {
						allowedRanks = append(allowedRanks, r)
					}
				}
				// the candidates the grammar looked at: the best ones until the
				// chain had enough allowed ones, or the whole vocabulary
				cut := allowedRanks[len(allowedRanks)-1]
				if g.Checked < vocab {
					cut = allowedRanks[tc.need(len(allowedRanks))-1]
					if g.Checked != cut+1 {
						t.Errorf("step %d: checked %d candidates, want %d (up to the %d-th allowed one)", i, g.Checked, cut+1, tc.need(len(allowedRanks)))
					}
				}
				var want []int // the rejected candidates above the cut, best first
				for _, id := range rank[:cut] {
					if !allows(text, id) {
						want = append(want, id)
					}
				}
				want = want[:min(top, len(want))]
				got := make([]int, len(g.Removed))
				for k, c := range g.Removed {
					got[k] = c.ID
					if allows(text, c.ID) {
						t.Errorf("step %d: removed [%s] (%d), which the grammar allows after %q", i, c.Text, c.ID, text)
					}
					if d := math.Abs(float64(c.Prob) - probs[c.ID]); d > 1e-4 {
						t.Errorf("step %d: removed [%s] has p %.6f, the unconstrained distribution %.6f", i, c.Text, c.Prob, probs[c.ID])
					}
					if d := math.Abs(float64(c.Logit - row[c.ID])); d > 1e-3 {
						t.Errorf("step %d: removed [%s] has logit %.4f, recomputed %.4f", i, c.Text, c.Logit, row[c.ID])
					}
					if !bytes.Equal(intsToBytes(c.Bytes), tok.TokenBytes(c.ID)) {
						t.Errorf("step %d: removed %d has bytes %v, the tokenizer %v", i, c.ID, c.Bytes, tok.TokenBytes(c.ID))
					}
				}
				if !slices.Equal(got, want) && !nearTies(got, want, probs) {
					t.Errorf("step %d after %q: removed %v, want %v", i, text, got, want)
				}
				removedSeen += len(got)
				text = append(text, tok.TokenBytes(st.Token.ID)...)
			}
			if removedSeen == 0 {
				t.Error("the grammar removed nothing in the whole generation: the test proves nothing")
			}
		})
	}
}

// nearTies accepts two lists of the same ids up to the order of candidates
// whose probabilities differ by less than the recomputation's rounding.
func nearTies(got, want []int, probs []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for k := range got {
		if got[k] != want[k] && math.Abs(probs[got[k]]-probs[want[k]]) > 1e-6 {
			return false
		}
	}
	return true
}

func softmax64(row []float32) []float64 {
	mx := math.Inf(-1)
	for _, l := range row {
		mx = math.Max(mx, float64(l))
	}
	out := make([]float64, len(row))
	var sum float64
	for i, l := range row {
		out[i] = math.Exp(float64(l) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func intsToBytes(v []int) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}
