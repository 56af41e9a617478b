package infer_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/trace"
)

// TestAttentionWeightsSum: the traced attention weights are the ones that
// multiplied the cached values, so they sum to 1 up to their rounding: within
// 1e-5 with an F32 cache; with the F16 cache each weight is rounded to F16
// (relative error at most 2^-11, absolute at most 2^-25 below F16's normal
// range), so within 2^-11 + n·2^-25 over n positions, as docs/trace-schema.md says.
func TestAttentionWeightsSum(t *testing.T) {
	files := [][]string{
		{"llama2c", "stories260K.bin"},
		{"gguf", "stories260K-h192-Q8_0.gguf"},
		{"gguf", "random-llama-d256-Q4_K_M.gguf"},
		{"gguf", "llama-2-tiny-random.gguf"},
	}
	for _, f32 := range []bool{false, true} {
		kv := "F16"
		bound := func(n int) float64 { return math.Ldexp(1, -11) + float64(n)*math.Ldexp(1, -25) + 1e-6 }
		if f32 {
			kv = "F32"
			bound = func(int) float64 { return 1e-5 }
		}
		worst := 0.0
		for _, f := range files {
			m, err := glassbox.Open(fixtures.Path(t, f...), &glassbox.Options{Context: 256, KVCacheF32: f32})
			if err != nil {
				t.Fatal(err)
			}
			_, err = m.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{
				MaxTokens: 120, IgnoreEOS: true,
				Trace: &infer.Tracing{Options: trace.Options{Top: 1, Attention: true}, Emit: func(ev trace.Event) error {
					if ev.Type == trace.TypeMeta && ev.Meta.KVCache != kv {
						t.Fatalf("%s: kv cache %s, want %s", strings.Join(f, "/"), ev.Meta.KVCache, kv)
					}
					if ev.Type != trace.TypeStep {
						return nil
					}
					for _, h := range ev.Step.Attention {
						var sum float64
						for _, w := range h.Weights {
							sum += float64(w)
						}
						d := math.Abs(sum - 1)
						worst = max(worst, d)
						if d > bound(len(h.Weights)) {
							t.Errorf("%s %s cache, step %d L%d H%d: %d weights sum to 1%+.2e, beyond %.2e",
								strings.Join(f, "/"), kv, ev.Step.Index, h.Layer, h.Head, len(h.Weights), sum-1, bound(len(h.Weights)))
						}
					}
					return nil
				}},
			})
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s cache: the weights sum to 1 within %.2e", kv, worst)
	}
}
