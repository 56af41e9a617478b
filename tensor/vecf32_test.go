package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecF32MatchesGo: Dot and Axpy (AVX2 where the processor has it) give
// the pure-Go twins' results bit for bit, for every length around the
// 8-lane blocks and for values of mixed magnitude.
func TestVecF32MatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 67; n++ {
		for trial := range 20 {
			a, b := make([]float32, n), make([]float32, n)
			for i := range a {
				a[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3)))
				b[i] = float32(r.NormFloat64())
			}
			if got, want := Dot(a, b), dotF32(a, b); math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("n=%d trial %d: dot %v, pure Go %v", n, trial, got, want)
			}
			y1, y2 := append([]float32(nil), b...), append([]float32(nil), b...)
			g := float32(r.NormFloat64())
			Axpy(y1, a, g)
			axpyF32Go(y2, a, g)
			for i := range y1 {
				if math.Float32bits(y1[i]) != math.Float32bits(y2[i]) {
					t.Fatalf("n=%d trial %d: axpy[%d] %v, pure Go %v", n, trial, i, y1[i], y2[i])
				}
			}
		}
	}
	var s float64
	for i := range 100 {
		s += float64(i) * float64(100-i)
	}
	a, b := make([]float32, 100), make([]float32, 100)
	for i := range a {
		a[i], b[i] = float32(i), float32(100-i)
	}
	if got := Dot(a, b); float64(got) != s {
		t.Errorf("dot of 0…99 and 100…1 = %v, want %v", got, s)
	}
}

// BenchmarkDotF32 and BenchmarkAxpyF32 are word-vector training's hot loops, on
// rows of 100.
func BenchmarkDotF32(b *testing.B) {
	x, y := make([]float32, 100), make([]float32, 100)
	for i := range x {
		x[i], y[i] = float32(i)/100, float32(100-i)/100
	}
	var s float32
	for b.Loop() {
		s += Dot(x, y)
	}
	_ = s
}

func BenchmarkAxpyF32(b *testing.B) {
	x, y := make([]float32, 100), make([]float32, 100)
	for b.Loop() {
		Axpy(y, x, 0.001)
	}
}
