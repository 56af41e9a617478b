package train

import (
	"fmt"
	"testing"
)

// TestGEMM compares the three products with a naive float64 triple loop on
// shapes that exercise the 4×2 micro-kernel's edges, with 1 and 3 threads
// (which must agree bit for bit).
func TestGEMM(t *testing.T) {
	shapes := []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {4, 2, 8}, {17, 9, 33}, {64, 70, 16}, {130, 67, 129}}
	for _, s := range shapes {
		t.Run(fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k), func(t *testing.T) {
			rng := NewRNG(uint64(s.m*1000+s.n), uint64(s.k))
			fill := func(n int) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(rng.Normal())
				}
				return v
			}
			a, b := fill(s.m*s.k), fill(s.k*s.n) // A m×k, B k×n
			at := make([]float32, s.k*s.m)
			transpose(at, a, s.m, s.k)
			bt := make([]float32, s.n*s.k)
			transpose(bt, b, s.k, s.n)
			want := make([]float64, s.m*s.n)
			for i := 0; i < s.m; i++ {
				for j := 0; j < s.n; j++ {
					for p := 0; p < s.k; p++ {
						want[i*s.n+j] += float64(a[i*s.k+p]) * float64(b[p*s.n+j])
					}
				}
			}
			base := fill(s.m * s.n)
			var scratch []float32
			var results [][]float32
			for _, threads := range []int{1, 3} {
				for _, op := range []string{"ABt", "AB", "AtB"} {
					c := append([]float32(nil), base...)
					switch op {
					case "ABt":
						matABt(c, a, bt, s.m, s.n, s.k, true, threads)
					case "AB":
						matAB(c, a, b, s.m, s.n, s.k, true, threads, &scratch)
					case "AtB":
						matAtB(c, at, b, s.m, s.n, s.k, true, threads, &scratch)
					}
					for i := range c {
						if d := float64(c[i]) - float64(base[i]) - want[i]; d > 1e-4*float64(s.k) || d < -1e-4*float64(s.k) {
							t.Fatalf("%s threads=%d: element %d = %g, want %g", op, threads, i, float64(c[i])-float64(base[i]), want[i])
						}
					}
					results = append(results, c)
				}
			}
			for i := 1; i < len(results); i++ {
				for j := range results[0] {
					if results[i][j] != results[0][j] {
						t.Fatalf("result %d differs from result 0 at %d: %g vs %g (the sum order must not depend on the product form or threads)", i, j, results[i][j], results[0][j])
					}
				}
			}
		})
	}
}
