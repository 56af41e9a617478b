package tensor

import "fmt"

// Float32 vector kernels of word-vector training: a dot product and
// y += g·x. The assembly twins (vecf32_amd64.s,
// AVX2) compute the same float steps, so results never depend on the CPU.

var (
	dotF32Vec func(a, b []float32) float32    = dotF32
	axpyF32   func(y, x []float32, g float32) = axpyF32Go
)

// Dot returns the float32 dot product of a and b, which must have the same
// length: element i goes to lane i%8, the lanes are added pairwise as a SIMD
// reduction, then the tail in order (see dotF32).
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("tensor.Dot: lengths differ (%d and %d)", len(a), len(b)))
	}
	return dotF32Vec(a, b)
}

// Axpy adds g·x to y (each element rounded once for the product and once for
// the sum); x must be as long as y.
func Axpy(y, x []float32, g float32) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("tensor.Axpy: lengths differ (%d and %d)", len(y), len(x)))
	}
	axpyF32(y, x, g)
}

// axpyF32Go is Axpy's pure-Go twin.
func axpyF32Go(y, x []float32, g float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += g * x[i]
	}
}
