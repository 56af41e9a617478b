package infer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/sample"
	"glassbox/trace"
)

// specPrompts repeat themselves, so that prompt lookup finds drafts.
var specPrompts = []string{
	"Once upon a time, there was a little dog. The little dog liked to play. Once upon a time, there was a",
	"func add(a, b int) int {\n\treturn a + b\n}\n\nfunc sub(a, b int) int {\n\treturn a - b\n}\n\nfunc mul(a, b int) int {\n",
}

// specRun generates greedily with opts on a fresh session of m, the
// speculative settings taken from sp (nil: plain decoding), on a batcher
// of two sessions when batched.
func specRun(t *testing.T, m *glassbox.Model, prompt string, sp *glassbox.Speculative, batched bool, tr bool) (*glassbox.Result, []string) {
	t.Helper()
	var s *glassbox.Session
	var err error
	if batched {
		_, ss := batchSessions(t, m, 2)
		s = ss[0]
	} else if s, err = m.NewSession(); err != nil {
		t.Fatal(err)
	}
	spec, err := s.Speculation(sp)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	req := glassbox.Request{Prompt: m.Tokenizer().Encode(prompt, glassbox.EncodeOptions{AddBOS: true}), MaxTokens: 40,
		LogProbs: 3, IgnoreEOS: true, Speculative: spec}
	if tr {
		req.Trace = &infer.Tracing{Options: trace.All(4), Emit: func(ev trace.Event) error {
			if ev.Type == trace.TypeDone {
				ev.Done.PromptPerSec, ev.Done.GenPerSec = 0, 0
			}
			b, err := json.Marshal(ev)
			events = append(events, string(b))
			return err
		}}
	}
	res, err := s.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res, events
}

// TestSpeculativeGreedyIdentical checks that speculative decoding, by prompt
// lookup and with a draft model, alone and on a batcher, generates exactly
// the tokens and log-probabilities (bit for bit) of plain greedy decoding,
// on the llama2c fixture (drafted by its Q8_0 and Q4_0 GGUF conversions)
// and on the default model (drafted by itself), and that drafts were
// verified and some kept.
func TestSpeculativeGreedyIdentical(t *testing.T) {
	ms := batchModels(t, 8)
	q8, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-h192-Q8_0.gguf"), &glassbox.Options{Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	q4, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-h192-Q4_0.gguf"), &glassbox.Options{Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q8.Close(); q4.Close() })
	drafts := map[string][]*glassbox.Model{"stories260K": {q8, q4}, "default": {ms["default"]}}
	kept := map[string]int{}
	defer func() {
		for name := range ms {
			if kept[name] == 0 {
				t.Errorf("%s: no draft was ever kept", name)
			}
		}
	}()
	for name, m := range ms {
		for pi, prompt := range specPrompts {
			want, _ := specRun(t, m, prompt, nil, false, false)
			specs := []*glassbox.Speculative{{Lookup: true}, {Lookup: true, NGramMin: 1}, {Lookup: true, NGramMin: 2, NGramMax: 4, Max: 3}}
			for _, d := range drafts[name] {
				specs = append(specs, &glassbox.Speculative{Draft: d, Max: 5}, &glassbox.Speculative{Draft: d, Max: 4, Min: 2, PMin: 0.3})
			}
			for si, sp := range specs {
				for _, batched := range []bool{false, true} {
					what := fmt.Sprintf("%s/prompt %d/spec %d/batched %v", name, pi, si, batched)
					got, _ := specRun(t, m, prompt, sp, batched, false)
					sameOutcome(t, what, outcome{res: got}, outcome{res: want})
					st := got.Speculative
					if st.Rounds == 0 || st.Drafted == 0 || st.Accepted > st.Drafted {
						t.Errorf("%s: %+v, want verified drafts", what, st)
					}
					kept[name] += st.Accepted
				}
			}
		}
	}
}

// TestSpeculativeSampled runs seeded sampling with speculation: every token
// must lie within the sampler's candidates (top-k 5), and a run is
// reproducible with its seed.
func TestSpeculativeSampled(t *testing.T) {
	m := batchModels(t, 8)["stories260K"]
	q8, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-h192-Q8_0.gguf"), &glassbox.Options{Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer q8.Close()
	p := sample.DefaultParams()
	p.TopK, p.Seed = 5, 11
	for _, sp := range []*glassbox.Speculative{{Lookup: true}, {Draft: q8}} {
		var texts []string
		for range 2 {
			s, _ := m.NewSession()
			spec, err := s.Speculation(sp)
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Generate(context.Background(), glassbox.Request{Prompt: m.Tokenizer().Encode(specPrompts[0], glassbox.EncodeOptions{AddBOS: true}),
				MaxTokens: 40, Sampler: p, LogProbs: 5, IgnoreEOS: true, Speculative: spec})
			if err != nil {
				t.Fatal(err)
			}
			for i, tk := range res.Tokens {
				in := false
				for _, c := range tk.Top {
					in = in || c.ID == tk.ID
				}
				if !in {
					t.Fatalf("token %d (%d) is not among the top 5 %v", i, tk.ID, tk.Top)
				}
			}
			if res.Speculative.Drafted == 0 {
				t.Errorf("lookup %v: nothing drafted", sp.Lookup)
			}
			texts = append(texts, res.Text)
		}
		if texts[0] != texts[1] {
			t.Errorf("the same seed gave %q and %q", texts[0], texts[1])
		}
	}
}

// TestSpeculativeTraceTruthful dissects greedy generations with and without
// prompt-lookup speculation: with the draft records removed, every event
// (attention weights, logit lens, predictions, sampling) is the plain
// dissection's, and the draft records say what happened: a step is marked
// accepted exactly when its token is the proposed one, and the counts
// match done.drafted and done.accepted.
func TestSpeculativeTraceTruthful(t *testing.T) {
	m := batchModels(t, 8)["stories260K"]
	_, plain := specRun(t, m, specPrompts[0], nil, false, true)
	for _, batched := range []bool{false, true} {
		res, spec := specRun(t, m, specPrompts[0], &glassbox.Speculative{Lookup: true, Max: 4}, batched, true)
		if len(spec) != len(plain) {
			t.Fatalf("%d events, plain %d", len(spec), len(plain))
		}
		drafted, accepted := 0, 0
		for i, line := range spec {
			var ev trace.Event
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatal(err)
			}
			switch {
			case ev.Type == trace.TypeStep && ev.Step.Draft != nil:
				d := ev.Step.Draft
				drafted++
				if d.Accepted {
					accepted++
				}
				if d.Accepted != (d.Proposed.ID == ev.Step.Token.ID) || d.Source != "lookup" || d.DraftProb != 1 || d.Round < 1 {
					t.Errorf("step %d: draft record %+v for token %d", ev.Step.Index, d, ev.Step.Token.ID)
				}
				ev.Step.Draft = nil
			case ev.Type == trace.TypeDone:
				if ev.Done.Drafted != res.Speculative.Drafted || ev.Done.Accepted != res.Speculative.Accepted {
					t.Errorf("done: %d drafted, %d accepted; result %+v", ev.Done.Drafted, ev.Done.Accepted, res.Speculative)
				}
				ev.Done.Drafted, ev.Done.Accepted = 0, 0
			}
			b, _ := json.Marshal(ev)
			if string(b) != plain[i] {
				t.Fatalf("batched %v, event %d differs from the plain dissection:\n%.400s\nplain:\n%.400s", batched, i, b, plain[i])
			}
		}
		// a round's rejected draft is a step; a round cut short by the
		// token limit may leave drafts unchecked
		if accepted != res.Speculative.Accepted || drafted == 0 || drafted > res.Speculative.Drafted {
			t.Errorf("trace: %d drafted, %d accepted; result %+v", drafted, accepted, res.Speculative)
		}
	}
}

// TestSpeculativeVocabularyMismatch checks the error for a draft model with
// another tokenizer: it names where the vocabularies part.
func TestSpeculativeVocabularyMismatch(t *testing.T) {
	ms := batchModels(t, 8)
	s, err := ms["default"].NewSession()
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Speculation(&glassbox.Speculative{Draft: ms["stories260K"]})
	if err == nil || !strings.Contains(err.Error(), "draft model") || !strings.Contains(err.Error(), "tokens") {
		t.Fatalf("error %v, want one naming the vocabularies' difference", err)
	}
	bad := []*glassbox.Speculative{{}, {Lookup: true, Max: -1}, {Lookup: true, NGramMin: 4, NGramMax: 2}, {Lookup: true, PMin: 2}, {Lookup: true, Draft: ms["default"]}}
	for _, sp := range bad {
		spec, err := s.Speculation(sp)
		if err == nil {
			_, err = s.Generate(context.Background(), glassbox.Request{Prompt: []int{1, 2}, MaxTokens: 2, Speculative: spec})
		}
		if err == nil || !strings.Contains(err.Error(), "speculative decoding") {
			t.Errorf("%+v: error %v", sp, err)
		}
	}
}
