package vectors

import "golang.org/x/sys/cpu"

//go:noescape
func dot8AVX2(a, b *float32, n int) float32

//go:noescape
func axpy8AVX2(y, x *float32, s float32, n int)

// useAVX2 selects the AVX2 kernels; they give the pure-Go twins' results bit
// for bit (kernels_test.go), so the vectors do not depend on it.
var useAVX2 = cpu.X86.HasAVX2

// dot returns Σ a[i]·b[i] (see dotGo).
func dot(a, b []float32) float32 {
	n := len(a) &^ 7
	if !useAVX2 || n == 0 {
		return dotGo(a, b)
	}
	b = b[:len(a)]
	s := dot8AVX2(&a[0], &b[0], n)
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpy adds g·x to y (see axpyGo).
func axpy(y, x []float32, g float32) {
	n := len(y) &^ 7
	if !useAVX2 || n == 0 {
		axpyGo(y, x, g)
		return
	}
	x = x[:len(y)]
	axpy8AVX2(&y[0], &x[0], g, n)
	for i := n; i < len(y); i++ {
		y[i] += g * x[i]
	}
}
