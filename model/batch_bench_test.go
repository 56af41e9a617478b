package model_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

// benchModel loads the model file $GLASSBOX_BENCH_MODEL names, a GGUF
// file, for a benchmark; without the variable it skips the benchmark.
func benchModel(b *testing.B) *model.Model {
	b.Helper()
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
	return m
}

// BenchmarkForwardBatch times one batched decode step of n sequences (at
// position 32 of their caches) on the model file $GLASSBOX_BENCH_MODEL,
// such as the synthetic 400M Q4_0 that `glassbox bench --synthetic 400M
// -o FILE` writes; it reports tokens per second over all the sequences, and
// (paired/seqs=n) the median cost of a step of n sequences in single steps,
// each measured right after a single step.
func BenchmarkForwardBatch(b *testing.B) {
	m := benchModel(b)
	newSteps := func(b *testing.B, n int) []model.SeqStep {
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
		return steps
	}
	for _, n := range []int{1, 2, 3, 4, 8, 16} {
		b.Run(fmt.Sprintf("seqs=%d", n), func(b *testing.B) {
			bt, _ := m.NewBatch(n)
			steps := newSteps(b, n)
			b.ResetTimer()
			for range b.N {
				if err := m.ForwardBatch(bt, steps); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
	// paired: a step of n sequences right after a step of one, b.N times;
	// the median ratio of the two times (step-cost, in single steps) holds
	// up better than separate runs on a machine shared with other work
	for _, n := range []int{2, 4, 8, 16} {
		b.Run(fmt.Sprintf("paired/seqs=%d", n), func(b *testing.B) {
			bt, _ := m.NewBatch(n)
			steps := newSteps(b, n)
			ratios := make([]float64, 0, b.N)
			for range b.N {
				t0 := time.Now()
				if err := m.ForwardBatch(bt, steps[:1]); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := m.ForwardBatch(bt, steps); err != nil {
					b.Fatal(err)
				}
				ratios = append(ratios, float64(time.Since(t1))/float64(t1.Sub(t0)))
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "step-cost")
		})
	}
}
