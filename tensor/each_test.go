package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMatVecEach checks that one MatVecEach call gives exactly the results
// of separate MatVec calls, each weight with its own activation and width,
// for several types, row counts that are and are not multiples of eight or
// sixteen, and 1 to 3 threads; and that mismatches are refused.
func TestMatVecEach(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(41, 43))
	for _, typ := range []Type{F32, F16, Q4_0, Q8_0, Q4_K, Q6_K} {
		for _, shape := range [][][2]int{{{1024, 512}, {1024, 512}, {1024, 512}, {1024, 512}}, {{40, 256}, {13, 512}}, {{300, 256}}} {
			for _, threads := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("%s/%v/t%d", typ, shape, threads), func(t *testing.T) {
					SetThreads(threads)
					ws := make([]*Matrix, len(shape))
					xs := make([][]float32, len(shape))
					got := make([][]float32, len(shape))
					for i, s := range shape {
						ws[i] = randomMatrix(t, rng, typ, s[0], s[1])
						xs[i] = randNormal(rng, s[1], 1)
						got[i] = make([]float32, s[0])
					}
					MatVecEach(got, ws, xs)
					for i, w := range ws {
						want := make([]float32, w.Rows)
						MatVec(want, w, xs[i])
						for r := range want {
							if math.Float32bits(got[i][r]) != math.Float32bits(want[r]) {
								t.Fatalf("weight %d row %d: %v, MatVec gives %v", i, r, got[i][r], want[r])
							}
						}
					}
				})
			}
		}
	}
	a := randomMatrix(t, rng, Q8_0, 8, 64)
	b := randomMatrix(t, rng, Q4_0, 8, 64)
	x := make([]float32, 64)
	for _, tc := range []struct {
		name string
		ws   []*Matrix
		xs   [][]float32
		dsts [][]float32
	}{
		{"types", []*Matrix{a, b}, [][]float32{x, x}, [][]float32{make([]float32, 8), make([]float32, 8)}},
		{"short x", []*Matrix{a, a}, [][]float32{x, x[:32]}, [][]float32{make([]float32, 8), make([]float32, 8)}},
		{"short dst", []*Matrix{a, a}, [][]float32{x, x}, [][]float32{make([]float32, 8), make([]float32, 7)}},
		{"count", []*Matrix{a, a}, [][]float32{x}, [][]float32{make([]float32, 8), make([]float32, 8)}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			MatVecEach(tc.dsts, tc.ws, tc.xs)
		}()
	}
}
