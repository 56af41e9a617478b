package model_test

import (
	"fmt"
	"testing"

	"glassbox/model"
	"glassbox/tensor"
)

// BenchmarkDecodeStep times one decode step (Forward of one token with its
// logits) at positions 64, 1000 and 3000 of a 4096-position cache, F16 and
// F32, on the model file $GLASSBOX_BENCH_MODEL (such as `glassbox bench
// --synthetic 400M -o FILE`): the attention reads the cache in pages, so
// this is the step whose speed paging must keep.
func BenchmarkDecodeStep(b *testing.B) {
	m := benchModel(b)
	for _, kv := range []tensor.Type{tensor.F16, tensor.F32} {
		for _, pos := range []int{64, 1000, 3000} {
			b.Run(fmt.Sprintf("kv=%s/pos=%d", kv, pos), func(b *testing.B) {
				s, err := m.NewState(model.StateOptions{Context: 4096, Batch: 512, KVType: kv})
				if err != nil {
					b.Fatal(err)
				}
				prompt := make([]int, pos)
				for j := range prompt {
					prompt[j] = 100 + j%50
				}
				if err := m.Forward(s, prompt, 0, nil); err != nil {
					b.Fatal(err)
				}
				logits := make([]float32, m.Config.VocabSize)
				b.ResetTimer()
				for b.Loop() {
					if err := m.Forward(s, []int{7}, pos, logits); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
