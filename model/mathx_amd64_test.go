//go:build amd64 && !purego

package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// mathxInputs are random values over expf's whole range plus the edges:
// zeros, subnormals, the saturation limits, infinities and NaN.
func mathxInputs() []float32 {
	rng := rand.New(rand.NewPCG(3, 5))
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0x1p-149, -0x1p-149, 0x1p-126, 88.3, 88.4, 88.8,
		-87.3, -103.9, -104, -150, 133.1, 133.2, -133.1, -133.2, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for range 4096 {
		switch rng.IntN(3) {
		case 0:
			xs = append(xs, float32(rng.NormFloat64()))
		case 1:
			xs = append(xs, float32(rng.Float64()*300-150))
		default:
			xs = append(xs, math.Float32frombits(rng.Uint32()))
		}
	}
	for len(xs)%16 != 0 {
		xs = append(xs, float32(rng.NormFloat64()*10))
	}
	return xs
}

func sameFloat(a, b float32) bool {
	return a != a && b != b || math.Float32bits(a) == math.Float32bits(b)
}

// TestVectorMathMatchesScalar checks the AVX-512 SiLU and softmax
// exponentials against the scalar expf bit for bit.
func TestVectorMathMatchesScalar(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU: the scalar code runs")
	}
	xs := mathxInputs()
	up := mathxInputs()
	g := append([]float32(nil), xs...)
	if !siluMulVec(g, up) {
		t.Fatal("siluMulVec declined on an AVX-512 CPU")
	}
	for i, x := range xs {
		want := x / (1 + expf(-x)) * up[i]
		if !sameFloat(g[i], want) {
			t.Fatalf("silu(%v)·%v: vector %v (%#x), scalar %v (%#x)", x, up[i], g[i], math.Float32bits(g[i]), want, math.Float32bits(want))
		}
	}
	for _, m := range []float32{0, 3.5, -2, 80} {
		e := append([]float32(nil), xs...)
		expSubVec(e, m)
		for i, x := range xs {
			if want := expf(x - m); !sameFloat(e[i], want) {
				t.Fatalf("expf(%v - %v): vector %v, scalar %v", x, m, e[i], want)
			}
		}
	}
}
