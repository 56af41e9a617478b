package tensor

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMatMulMulti checks MatMulMulti (one hand-out for several packed
// weights) against separate products on the plain layout, for every batch
// of 0 to 17 rows, 1 to 3 threads, weights whose row counts cut through
// groups of sixteen, and a set with an unpacked weight (run one by one).
func TestMatMulMulti(t *testing.T) {
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(57, 58))
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K, Q5_0} {
		cols := 256
		var plain, packed []*Matrix
		for k, rows := range []int{40, 100, 16} {
			p := randomMatrix(t, rng, typ, rows, cols)
			q, _ := NewMatrix(typ, rows, cols, bytes.Clone(p.Data))
			q.Pack() // where this CPU has kernels for it
			if k == 1 {
				// a LoRA update on one weight: every path must add it
				u := LowRank{A: randNormal(rng, 2*cols, 0.1), B: randNormal(rng, rows*2, 0.1), Rank: 2, Scale: 0.5}
				var err error
				if p, err = p.WithUpdates(u); err != nil {
					t.Fatal(err)
				}
				if q, err = q.WithUpdates(u); err != nil {
					t.Fatal(err)
				}
			}
			plain, packed = append(plain, p), append(packed, q)
		}
		small := randomMatrix(t, rng, typ, 8, cols) // too few rows for a copy
		x := randNormal(rng, 17*cols, 1)
		for threads := 1; threads <= 3; threads++ {
			SetThreads(threads)
			for n := 0; n <= 17; n++ {
				for _, set := range [][]int{{0, 1, 2}, {1, 0}, {2, 3}} {
					var ws, want []*Matrix
					var dsts [][]float32
					for _, i := range set {
						if i == 3 {
							ws, want = append(ws, small), append(want, small)
						} else {
							ws, want = append(ws, packed[i]), append(want, plain[i])
						}
						dsts = append(dsts, make([]float32, n*ws[len(ws)-1].Rows))
					}
					MatMulMulti(dsts, ws, x[:n*cols], n)
					for j, w := range want {
						ref := make([]float32, n*w.Rows)
						MatMul(ref, w, x[:n*cols], n)
						for i := range ref {
							if math.Float32bits(ref[i]) != math.Float32bits(dsts[j][i]) {
								t.Fatalf("%s, %d threads, n=%d, weights %v: weight %d output %d: MatMulMulti %v, MatMul %v",
									typ, threads, n, set, j, i, dsts[j][i], ref[i])
							}
						}
					}
				}
			}
		}
	}
}
