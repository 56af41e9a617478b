package train

import (
	"fmt"
	"testing"
)

// BenchmarkGEMM reports GFLOP/s of the three products at training shapes.
func BenchmarkGEMM(b *testing.B) {
	shapes := []struct{ m, n, k int }{{256, 128, 128}, {256, 2048, 128}, {256, 352, 128}, {512, 512, 512}}
	for _, s := range shapes {
		for _, threads := range []int{1, 2} {
			a := make([]float32, s.m*s.k)
			bb := make([]float32, s.n*s.k)
			c := make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			for i := range bb {
				bb[i] = float32(i%5) * 0.1
			}
			b.Run(fmt.Sprintf("ABt_%dx%dx%d_t%d", s.m, s.n, s.k, threads), func(b *testing.B) {
				for b.Loop() {
					matABt(c, a, bb, s.m, s.n, s.k, false, threads)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkTrainStep reports training throughput (tokens/s) of the default
// model shape on a synthetic token stream.
func BenchmarkTrainStep(b *testing.B) {
	r := DefaultRecipe()
	r.BatchSeqs = 2
	stream := syntheticStream(20000, r.Model.Vocab, 9)
	tr, err := NewTrainer(r, stream, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := tr.TrainStep(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*r.TokensPerStep())/b.Elapsed().Seconds(), "tokens/s")
}
