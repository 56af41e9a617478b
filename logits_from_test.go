package glassbox_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// TestScorerLogitsFrom: the rows from a position on equal Logits' rows, at
// every split, to the rounding of a different batch split: about 1e-6 with an
// F32 KV cache, about 1e-3 with the F16 cache (whose attention products
// depend on the batch, see docs/ARCHITECTURE.md).
func TestScorerLogitsFrom(t *testing.T) {
	for _, tc := range []struct {
		kvF32 bool
		tol   float64
	}{{true, 1e-4}, {false, 2e-2}} {
		testLogitsFrom(t, tc.kvF32, tc.tol)
	}
}

func testLogitsFrom(t *testing.T, kvF32 bool, tol float64) {
	m, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Threads: 1, KVCacheF32: kvF32})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := m.Encode("Once upon a time, there was a little girl named Lily.", glassbox.GenerateOptions{})
	sc, err := m.NewScorer(len(ids))
	if err != nil {
		t.Fatal(err)
	}
	v := sc.VocabSize()
	all, err := sc.Logits(context.Background(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	all = append([]float32(nil), all...)
	for from := range ids {
		got, err := sc.LogitsFrom(context.Background(), ids, from, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != (len(ids)-from)*v {
			t.Fatalf("from %d: %d logits, want %d", from, len(got), (len(ids)-from)*v)
		}
		worst := 0.0
		for i, x := range got {
			worst = max(worst, math.Abs(float64(x-all[from*v+i])))
		}
		if worst > tol {
			t.Errorf("kv f32 %v, from %d: the rows differ from Logits' by %g", kvF32, from, worst)
		}
		if from == 0 && worst != 0 {
			t.Errorf("kv f32 %v: from 0 differs from Logits by %g", kvF32, worst)
		}
	}
	for _, tt := range []struct {
		ids  []int
		from int
		want string
	}{
		{nil, 0, "no tokens"},
		{ids, -1, "must be in [0,"},
		{ids, len(ids), "must be in [0,"},
		{append(ids, ids...), 1, "the scorer holds"},
	} {
		if _, err := sc.LogitsFrom(context.Background(), tt.ids, tt.from, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("from %d of %d: error %v, want %q", tt.from, len(tt.ids), err, tt.want)
		}
	}
}
