//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSGEMMAsmMatchesGo checks the AVX-512 training GEMM kernels
// (PanelsABt) against GEMMRowsABt bit for bit: shapes with row and column
// tails, accumulate or overwrite, all rows at once or split in two ranges,
// and special values (signed zeros, subnormals, overflow to Inf, NaN).
func TestSGEMMAsmMatchesGo(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512: GEMMRowsABt runs")
	}
	defer useAsm(true)
	useAsm(true)
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {3, 5, 7}, {4, 32, 16}, {5, 33, 9}, {17, 31, 100}, {64, 70, 16}, {33, 65, 1}, {256, 128, 128}, {16, 2048, 128},
	}
	for _, s := range shapes {
		for _, special := range []bool{false, true} {
			rng := rand.New(rand.NewPCG(uint64(s.m), uint64(s.n*1000+s.k)))
			fill := func(n int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(rng.NormFloat64())
					if special {
						switch rng.IntN(12) {
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
				for _, split := range []int{0, s.m / 2, min((s.m/2+3)&^3, s.m)} {
					t.Run(fmt.Sprintf("%dx%dx%d/special=%v/acc=%v/split%d", s.m, s.n, s.k, special, acc, split), func(t *testing.T) {
						got := append([]float32(nil), base...)
						want := append([]float32(nil), base...)
						rows, release := PanelsABt(got, a, b, s.m, s.n, s.k, acc)
						if rows == nil {
							t.Fatal("PanelsABt declined on an AVX-512 CPU")
						}
						rows(0, split)
						rows(split, s.m)
						release()
						GEMMRowsABt(want, a, b, 0, s.m, s.n, s.k, acc)
						for i := range got {
							if !sameBits(got[i], want[i]) {
								t.Fatalf("element %d (row %d, column %d): assembly %v, Go %v", i, i/s.n, i%s.n, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
	useAsm(false)
	if rows, _ := PanelsABt(make([]float32, 1), make([]float32, 1), make([]float32, 1), 1, 1, 1, false); rows != nil {
		t.Error("PanelsABt runs the kernels with the assembly switched off")
	}
}
