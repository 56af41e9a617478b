package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMatVecMulti checks that one MatVecMulti call gives exactly the
// results of separate MatVec calls, for several types, row counts that are
// and are not multiples of eight, and 1 to 3 threads.
func TestMatVecMulti(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(31, 37))
	for _, typ := range []Type{F32, F16, Q4_0, Q8_0, Q4_K, Q6_K} {
		cols := 512
		for _, rows := range [][]int{{1536, 512, 512}, {40, 13}, {8, 16, 24, 7}, {300}} {
			for _, threads := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("%s/%v/t%d", typ, rows, threads), func(t *testing.T) {
					SetThreads(threads)
					x := randNormal(rng, cols, 1)
					ws := make([]*Matrix, len(rows))
					got := make([][]float32, len(rows))
					for i, r := range rows {
						ws[i] = randomMatrix(t, rng, typ, r, cols)
						got[i] = make([]float32, r)
					}
					MatVecMulti(got, ws, x)
					for i, w := range ws {
						want := make([]float32, w.Rows)
						MatVec(want, w, x)
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
}

// TestMatVecMultiErrors checks that mismatched weights are refused.
func TestMatVecMultiErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := randomMatrix(t, rng, Q8_0, 8, 64)
	b := randomMatrix(t, rng, Q4_0, 8, 64)
	c := randomMatrix(t, rng, Q8_0, 8, 32)
	x := make([]float32, 64)
	for _, tc := range []struct {
		name string
		ws   []*Matrix
		dsts [][]float32
	}{
		{"types", []*Matrix{a, b}, [][]float32{make([]float32, 8), make([]float32, 8)}},
		{"widths", []*Matrix{a, c}, [][]float32{make([]float32, 8), make([]float32, 8)}},
		{"short dst", []*Matrix{a, a}, [][]float32{make([]float32, 8), make([]float32, 7)}},
		{"count", []*Matrix{a, a}, [][]float32{make([]float32, 8)}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			MatVecMulti(tc.dsts, tc.ws, x)
		}()
	}
}
