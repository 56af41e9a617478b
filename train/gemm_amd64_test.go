//go:build amd64 && !purego

package train

import (
	"fmt"
	"math"
	"testing"
)

// TestGEMMAsmMatchesGo checks the AVX-512 kernels against gemmABt bit for
// bit: shapes with row and column tails, accumulate or overwrite, 1 and 2
// threads, and special values (signed zeros, subnormals, overflow to Inf,
// NaN).
func TestGEMMAsmMatchesGo(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512: gemmABt runs")
	}
	defer func() { useAsmGEMM = hasAVX512 }()
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {3, 5, 7}, {4, 32, 16}, {5, 33, 9}, {17, 31, 100}, {64, 70, 16}, {33, 65, 1}, {256, 128, 128}, {16, 2048, 128},
	}
	for _, s := range shapes {
		for _, special := range []bool{false, true} {
			rng := NewRNG(uint64(s.m), uint64(s.n*1000+s.k))
			fill := func(n int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(rng.Normal())
					if special {
						switch rng.Intn(12) {
						case 0:
							v[i] = float32(math.Copysign(0, -1))
						case 1:
							v[i] = 1e-40 // subnormal
						case 2:
							v[i] = 3e38
						case 3:
							v[i] = float32(math.NaN())
						case 4:
							v[i] = float32(math.Inf(-1))
						}
					}
				}
				return v
			}
			a, b, base := fill(s.m*s.k), fill(s.n*s.k), fill(s.m*s.n)
			for _, acc := range []bool{false, true} {
				for _, threads := range []int{1, 2} {
					t.Run(fmt.Sprintf("%dx%dx%d/special=%v/acc=%v/t%d", s.m, s.n, s.k, special, acc, threads), func(t *testing.T) {
						got := append([]float32(nil), base...)
						want := append([]float32(nil), base...)
						useAsmGEMM = true
						matABt(got, a, b, s.m, s.n, s.k, acc, threads)
						useAsmGEMM = false
						matABt(want, a, b, s.m, s.n, s.k, acc, threads)
						for i := range got {
							g, w := got[i], want[i]
							if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
								t.Fatalf("element %d (row %d, column %d): assembly %v, Go %v", i, i/s.n, i%s.n, g, w)
							}
						}
					})
				}
			}
		}
	}
}
