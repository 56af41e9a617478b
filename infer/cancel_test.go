package infer

import (
	"context"
	"errors"
	"testing"

	"glassbox/gguf"
	"glassbox/internal/fixtures"
	"glassbox/model"
	"glassbox/tokenizer"
)

// TestCancelledPrefill checks that a generation whose context is cancelled
// does not process its prompt (the prefill stops between two layers), and
// that the session then generates normally.
func TestCancelledPrefill(t *testing.T) {
	f, err := gguf.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := model.LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(m, tok, model.StateOptions{Context: 64})
	if err != nil {
		t.Fatal(err)
	}
	prompt := tok.Encode("Once upon a time", tokenizer.EncodeOptions{AddBOS: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Generate(ctx, Request{Prompt: prompt, MaxTokens: 4}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled generation: err %v", err)
	}
	res, err := s.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Timings.CachedTokens != 0 || res.Timings.PromptTokens != len(prompt) || len(res.IDs) != 4 {
		t.Errorf("after a cancelled generation: %d prompt tokens cached, %d processed, %d generated; want 0, %d, 4",
			res.Timings.CachedTokens, res.Timings.PromptTokens, len(res.IDs), len(prompt))
	}
}
