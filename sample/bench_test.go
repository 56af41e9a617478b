package sample

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkSample(b *testing.B) {
	for _, n := range []int{32000, 151936} {
		logits := randomLogits(rand.New(rand.NewPCG(1, 2)), n)
		hist := make([]int, 64)
		for i := range hist {
			hist[i] = i * 37 % n
		}
		b.Run(fmt.Sprintf("default/vocab=%d", n), func(b *testing.B) {
			s := mustNew(b, DefaultParams())
			for b.Loop() {
				s.Sample(logits, hist)
			}
		})
		b.Run(fmt.Sprintf("trace/vocab=%d", n), func(b *testing.B) {
			s := mustNew(b, DefaultParams())
			var tr Trace
			for b.Loop() {
				s.SampleTrace(logits, hist, &tr, 10)
			}
		})
		b.Run(fmt.Sprintf("top_p_only/vocab=%d", n), func(b *testing.B) {
			s := mustNew(b, Params{Temperature: 0.8, TopP: 0.95, RepeatPenalty: 1.1, RepeatLastN: 64})
			for b.Loop() {
				s.Sample(logits, hist)
			}
		})
		b.Run(fmt.Sprintf("greedy/vocab=%d", n), func(b *testing.B) {
			s := mustNew(b, Params{TopP: 1, RepeatPenalty: 1})
			for b.Loop() {
				s.Sample(logits, hist)
			}
		})
		b.Run(fmt.Sprintf("logprobs_top5/vocab=%d", n), func(b *testing.B) {
			var top []TokenLogProb
			for b.Loop() {
				_, top = LogProbs(logits, 0, 5, top)
			}
		})
	}
}
