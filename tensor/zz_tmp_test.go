//go:build amd64 && !purego

package tensor

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

func BenchmarkTmpColdGEMM(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	defer SetThreads(Threads())
	const nm = 10
	var ws []*Matrix
	for range nm {
		src := make([]float32, 4096*1536)
		for i := range src {
			src[i] = float32(rng.NormFloat64()) * 0.02
		}
		data := make([]byte, 2*len(src))
		Quantize(F16, src, data)
		w, _ := NewMatrix(F16, 4096, 1536, data)
		ws = append(ws, w)
	}
	n := 512
	x := make([]float32, n*1536)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	dst := make([]float32, n*4096)
	SetThreads(runtime.GOMAXPROCS(0))
	i := 0
	for b.Loop() {
		MatMulGEMM(dst, ws[i%nm], x, n)
		i++
	}
	b.ReportMetric(float64(n*4096*1536)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}
