package model_test

import (
	"fmt"
	"os"
	"testing"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

// BenchmarkForwardBatch times one batched decode step of n sequences (at
// position 32 of their caches) on the model file $GLASSBOX_BENCH_MODEL,
// such as the synthetic 400M Q4_0 that `glassbox bench --synthetic 400M
// -o FILE` writes; it reports tokens per second over all the sequences.
func BenchmarkForwardBatch(b *testing.B) {
	path := os.Getenv("GLASSBOX_BENCH_MODEL")
	if path == "" {
		b.Skip("set GLASSBOX_BENCH_MODEL to a GGUF file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.LoadGGUF(f)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 4, 8, 16} {
		b.Run(fmt.Sprintf("seqs=%d", n), func(b *testing.B) {
			bt, _ := m.NewBatch(n)
			steps := make([]model.SeqStep, n)
			for i := range steps {
				s, err := m.NewState(model.StateOptions{Context: 256, KVType: tensor.F16})
				if err != nil {
					b.Fatal(err)
				}
				prompt := make([]int, 32)
				for j := range prompt {
					prompt[j] = 100 + i*7 + j
				}
				if err := m.Forward(s, prompt, 0, nil); err != nil {
					b.Fatal(err)
				}
				steps[i] = model.SeqStep{State: s, Token: 5 + i, Pos: 32, Logits: make([]float32, m.Config.VocabSize)}
			}
			b.ResetTimer()
			for range b.N {
				if err := m.ForwardBatch(bt, steps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
