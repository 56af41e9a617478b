package glassbox_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// TestScorer: the logits of every position, the last row agreeing with a
// greedy generation's choice, and a reused Scorer giving the same numbers as
// a fresh one after a longer sequence.
func TestScorer(t *testing.T) {
	for _, kvF32 := range []bool{false, true} {
		m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Threads: 1, KVCacheF32: kvF32})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ids := m.Encode("Once upon a time, there was a little", glassbox.GenerateOptions{})
		sc, err := m.NewScorer(64)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Len() != 64 || sc.VocabSize() != m.Config().VocabSize {
			t.Fatalf("Len %d VocabSize %d", sc.Len(), sc.VocabSize())
		}
		v := sc.VocabSize()
		// a longer sequence first, then ids: the cells it left must not count
		long := append(slices.Clone(ids), ids[1:]...)
		if _, err := sc.Logits(context.Background(), long, nil); err != nil {
			t.Fatal(err)
		}
		reused, err := sc.Logits(context.Background(), ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		// a fresh scorer of the same length (the length of an F16 cache
		// changes the value products' sums in the last bits)
		fresh, err := m.NewScorer(64)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fresh.Logits(context.Background(), ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(reused) != len(ids)*v || !slices.Equal(reused, want) {
			t.Errorf("kv f32 %v: a reused scorer's logits differ from a fresh one's", kvF32)
		}
		// each row's argmax is the greedy next token
		for _, n := range []int{1, 3, len(ids)} {
			r, err := m.GenerateIDs(context.Background(), ids[:n], glassbox.GenerateOptions{MaxTokens: 1})
			if err != nil {
				t.Fatal(err)
			}
			row := want[(n-1)*v : n*v]
			if got := slices.Index(row, slices.Max(row)); len(r.Tokens) != 1 || r.Tokens[0].ID != got {
				t.Errorf("kv f32 %v, prefix %d: argmax %d, greedy generation %v", kvF32, n, got, r.Tokens)
			}
		}
	}
}

func TestScorerErrors(t *testing.T) {
	m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.NewScorer(0); err == nil {
		t.Error("NewScorer(0): no error")
	}
	sc, err := m.NewScorer(4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ids  []int
		want string
	}{
		{"empty", nil, "no tokens"},
		{"too long", []int{1, 2, 3, 4, 5}, "5 tokens"},
		{"outside the vocabulary", []int{1, 100000}, "vocabulary"},
	}
	for _, tt := range tests {
		_, err := sc.Logits(context.Background(), tt.ids, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
	if _, err := sc.Logits(context.Background(), []int{1, 2, 3, 4, 5}, nil); !errors.Is(err, glassbox.ErrContext) {
		t.Errorf("too long: %v does not wrap ErrContext", err)
	}
	m.Close()
	if _, err := sc.Logits(context.Background(), []int{1}, nil); !errors.Is(err, glassbox.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
