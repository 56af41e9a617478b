package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQuantizeMXFP4 checks the MXFP4 reference quantizer against the format
// as written down (a shared power-of-two scale 2^(e-127) per block of 32,
// E2M1 values 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6), computed here in float64
// independently of ggml's doubled-value tables: the exponent byte is
// floor(log2(amax)) - 2 + 127, and every decoded value is a nearest
// representable one (the first in code order among equals).
func TestQuantizeMXFP4(t *testing.T) {
	e2m1 := []float64{0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6}
	rng := rand.New(rand.NewPCG(14, 39))
	blocks := [][]float32{
		make([]float32, 32), // all zero: exponent 0, codes 0
	}
	exact := make([]float32, 32) // exactly representable at scale 2^-1
	for i := range exact {
		exact[i] = float32(e2m1[i%16] / 2)
	}
	exact[5] = 3 // amax 3: floor(log2 3) - 2 = -1
	blocks = append(blocks, exact)
	for _, scale := range []float64{1e-3, 0.07, 1, 5, 300} {
		for range 20 {
			b := make([]float32, 32)
			for i := range b {
				b[i] = float32(scale * rng.NormFloat64())
			}
			blocks = append(blocks, b)
		}
	}
	for bi, x := range blocks {
		q := make([]byte, 17)
		if err := Quantize(MXFP4, x, q); err != nil {
			t.Fatal(err)
		}
		var amax float64
		for _, v := range x {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		wantE := 0
		if amax > 0 {
			wantE = int(math.Floor(math.Log2(amax))) - 2 + 127
		}
		if int(q[0]) != wantE {
			t.Fatalf("block %d: exponent byte %d, want %d (amax %g)", bi, q[0], wantE, amax)
		}
		scale := math.Ldexp(1, wantE-127)
		got := make([]float32, 32)
		if err := Dequantize(MXFP4, q, got); err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			code := q[1+i%16] & 15
			if i >= 16 {
				code = q[1+i%16] >> 4
			}
			if dec := e2m1[code] * scale; float64(got[i]) != dec {
				t.Fatalf("block %d value %d: decoded %g, the format gives %g for code %d", bi, i, got[i], dec, code)
			}
			best := 0
			for c := 1; c < 16; c++ {
				if math.Abs(e2m1[c]*scale-float64(v)) < math.Abs(e2m1[best]*scale-float64(v)) {
					best = c
				}
			}
			if math.Abs(e2m1[code]*scale-float64(v)) != math.Abs(e2m1[best]*scale-float64(v)) {
				t.Fatalf("block %d value %d (%g): code %d (%g), nearest is code %d (%g)", bi, i, v, code, e2m1[code]*scale, best, e2m1[best]*scale)
			}
		}
		if bi == 1 {
			for i, v := range x {
				if got[i] != v {
					t.Fatalf("representable block: value %d %g decoded as %g", i, v, got[i])
				}
			}
		}
	}
}

// TestSoftmaxSink checks the softmax with a sink logit against float64
// arithmetic, its weights plus the returned sink share summing to 1, and
// that a sink of -Inf gives Softmax's weights bit for bit.
func TestSoftmaxSink(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 5, 16, 32, 47} {
		for _, sink := range []float32{-3, 0, 0.7, 9} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(2 * rng.NormFloat64())
			}
			m := float64(sink)
			for _, v := range x {
				m = math.Max(m, float64(v))
			}
			sum := math.Exp(float64(sink) - m)
			for _, v := range x {
				sum += math.Exp(float64(v) - m)
			}
			got := append([]float32(nil), x...)
			share := SoftmaxSink(got, sink)
			total := float64(share)
			for i, v := range x {
				want := math.Exp(float64(v)-m) / sum
				if d := math.Abs(float64(got[i]) - want); d > 1e-6*math.Max(want, 1e-3) {
					t.Errorf("n %d sink %g: weight %d %g, want %g", n, sink, i, got[i], want)
				}
				total += float64(got[i])
			}
			if want := math.Exp(float64(sink)-m) / sum; math.Abs(float64(share)-want) > 1e-6 {
				t.Errorf("n %d sink %g: sink share %g, want %g", n, sink, share, want)
			}
			if math.Abs(total-1) > 1e-5 {
				t.Errorf("n %d sink %g: weights and sink sum to %g", n, sink, total)
			}
			plain, none := append([]float32(nil), x...), append([]float32(nil), x...)
			Softmax(plain)
			if s := SoftmaxSink(none, float32(math.Inf(-1))); s != 0 {
				t.Errorf("n %d: a -Inf sink takes %g", n, s)
			}
			for i := range plain {
				if plain[i] != none[i] {
					t.Fatalf("n %d: with a -Inf sink weight %d is %g, Softmax gives %g", n, i, none[i], plain[i])
				}
			}
		}
	}
}
