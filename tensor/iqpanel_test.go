package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestIQPanelDot: the panel dot product of a batch (llama.cpp's IQ panel
// GEMM) equals, bit for bit, fma(Σ integer products, d_w·c·d_x, sum) over the
// super-blocks, with the integer sums recovered from the slow decoder's
// values; it differs from vec_dot's rounding on some rows; and it is chosen
// only where llama.cpp chooses the panel.
func TestIQPanelDot(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	const cols = 4 * qkK
	for _, tc := range []struct {
		t Type
		c float64 // dfac = d_w·c
	}{{IQ2_XXS, 0.125}, {IQ2_XS, 0.125}, {IQ3_XXS, 0.25}, {IQ3_S, 1}, {IQ4_XS, 1}} {
		w := &Matrix{Type: tc.t, Rows: 8, Cols: cols}
		dot := iqPanelDotFor(w, 8)
		if dot == nil {
			t.Fatalf("%s: no panel dot for 8 rows × %d", tc.t, cols)
		}
		rb, _ := tc.t.RowBytes(cols)
		bs := rb / (cols / qkK)
		differ := 0
		for trial := range 200 {
			row := randomBlocks(rng, tc.t, cols, 0.01)
			x := make([]float32, cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			xq := make([]byte, cols/qkK*szQ8K)
			quantQ8_KGo(x, xq)
			var want float32
			for l := range cols / qkK {
				blk := row[l*bs : (l+1)*bs]
				y := xq[l*szQ8K:]
				dfac := float32(float64(halfAt(blk, 0)) * tc.c)
				var s float64 // Σ value/dfac × y: integers, exact in float64
				for e := range qkK {
					s += float64(slowElementIQ(tc.t, blk, e)) / float64(dfac) * float64(int8(y[4+e]))
				}
				si := math.Round(s)
				if math.Abs(s-si) > 1e-6*math.Max(1, math.Abs(s)) {
					t.Fatalf("%s: super-block %d: the integer sum is %v, not an integer", tc.t, l, s)
				}
				dv := float32(dfac * f32At(y[0:]))
				want = FMA32(float32(si), dv, want)
			}
			got := dot(cols, row, xq)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%s trial %d: panel dot %g, want %g", tc.t, trial, got, want)
			}
			if vec := (*mustKernel(t, tc.t).dot)(cols, row, xq); vec != got {
				differ++
			}
		}
		t.Logf("%s: the panel rounds differently from vec_dot on %d of 200 rows", tc.t, differ)
		if differ == 0 {
			t.Errorf("%s: the panel dot never differs from vec_dot: the test does not tell them apart", tc.t)
		}
	}
	for _, tc := range []struct {
		w *Matrix
		n int
	}{
		{&Matrix{Type: IQ2_XS, Rows: 8, Cols: qkK}, 7},  // batch below 8: vec_dot
		{&Matrix{Type: IQ2_XS, Rows: 12, Cols: qkK}, 8}, // rows not a multiple of 8
		{&Matrix{Type: IQ4_NL, Rows: 8, Cols: qkK}, 8},  // not a panel type
		{&Matrix{Type: Q4_K, Rows: 8, Cols: qkK}, 8},    // not an IQ type
	} {
		if iqPanelDotFor(tc.w, tc.n) != nil {
			t.Errorf("%s %d×%d, batch %d: panel chosen, llama.cpp uses vec_dot", tc.w.Type, tc.w.Rows, tc.w.Cols, tc.n)
		}
	}
}

func mustKernel(t *testing.T, typ Type) kernel {
	k, ok := kernelFor(typ)
	if !ok {
		t.Fatalf("no kernel for %s", typ)
	}
	return k
}
