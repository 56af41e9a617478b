package infer_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/models"
	"glassbox/trace"
)

// TestTraceTokenText: wherever a trace names a token (prompt tokens,
// embeddings and their neighbours, a step's input and chosen token,
// attention targets, prediction, logit-lens and sampler candidates) it
// carries the token's piece, its own bytes and their display text, so that a
// renderer needs no tokenizer. SentencePiece (▁) and byte-level BPE (GPT-2's
// byte table) vocabularies both spell pieces differently from their text.
func TestTraceTokenText(t *testing.T) {
	open := map[string]func(t *testing.T) *glassbox.Model{
		"llama2c stories260K (SentencePiece)": func(t *testing.T) *glassbox.Model {
			m, err := glassbox.Open(fixtures.Path(t, "llama2c", "stories260K.bin"), &glassbox.Options{Context: 128})
			if err != nil {
				t.Fatal(err)
			}
			return m
		},
		"embedded default (byte-level BPE)": func(t *testing.T) *glassbox.Model {
			m, err := glassbox.OpenBytes(models.DefaultName, models.Default, &glassbox.Options{Context: 128})
			if err != nil {
				t.Fatal(err)
			}
			return m
		},
	}
	prompts := map[string]string{
		"llama2c stories260K (SentencePiece)": "Once upon a time",
		"embedded default (byte-level BPE)":   "func main() {\n\tfmt.",
	}
	for name, openModel := range open {
		t.Run(name, func(t *testing.T) {
			m := openModel(t)
			defer m.Close()
			tok := m.Tokenizer()
			var evs []trace.Event
			_, err := m.Generate(context.Background(), prompts[name], glassbox.GenerateOptions{
				MaxTokens: 6,
				Trace:     &infer.Tracing{Options: trace.All(8), Emit: func(ev trace.Event) error { evs = append(evs, ev); return nil }},
			})
			if err != nil {
				t.Fatal(err)
			}
			named, differ := 0, 0
			check := func(where string, id int, piece string, bytes []int, text string) {
				t.Helper()
				named++
				own := tok.TokenBytes(id)
				if piece != tok.Piece(id) || !slices.Equal(bytes, trace.Ints(own)) || text != trace.Text(own) {
					t.Errorf("%s: token %d is {piece %q bytes %v text %q}, want {%q %v %q}", where, id, piece, bytes, text, tok.Piece(id), trace.Ints(own), trace.Text(own))
				}
				if text != piece {
					differ++
				}
			}
			token := func(where string, tk trace.Token) { check(where, tk.ID, tk.Piece, tk.Bytes, tk.Text) }
			cands := func(where string, cs []trace.Candidate) {
				if len(cs) == 0 {
					t.Errorf("%s: no candidates", where)
				}
				for _, c := range cs {
					check(where, c.ID, c.Piece, c.Bytes, c.Text)
				}
			}
			steps := 0
			for _, ev := range evs {
				switch ev.Type {
				case trace.TypeTokenization:
					for _, tk := range ev.Tokenization.Tokens {
						token("tokenization", tk)
					}
				case trace.TypeEmbeddings:
					for _, e := range ev.Embeddings {
						token("embedding", e.Token)
						for _, n := range e.Neighbors {
							check("neighbour", n.ID, n.Piece, n.Bytes, n.Text)
						}
					}
				case trace.TypeStep:
					s := ev.Step
					steps++
					token("step input", s.Input)
					token("step token", s.Token)
					for _, h := range s.Attention {
						for _, a := range h.Top {
							token("attention target", a.Token)
						}
					}
					for _, l := range s.LogitLens {
						cands("logit lens", l.Top)
					}
					cands("prediction", s.Prediction.Top)
					for _, st := range s.Sampling.Steps {
						cands("sampler "+st.Name, st.Top)
					}
				}
			}
			if steps == 0 || named < 100 {
				t.Fatalf("%d steps, %d tokens named: the trace is too small to check", steps, named)
			}
			// the pieces are not the text (▁ or Ġ for spaces, Ċ for new lines...)
			if differ == 0 {
				t.Errorf("every text equals its piece: the trace does not decode pieces")
			}
			if !strings.Contains(evs[0].Meta.Tokenizer, map[bool]string{true: "llama", false: "gpt2"}[strings.Contains(name, "SentencePiece")]) {
				t.Errorf("tokenizer %q: the test does not cover the vocabulary it names", evs[0].Meta.Tokenizer)
			}
		})
	}
}
