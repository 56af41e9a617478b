//go:build amd64 && !purego

package tensor

//go:noescape
func dot8AVX2(a, b *float32, n int) float32

//go:noescape
func axpy8AVX2(y, x *float32, s float32, n int)

// useVecF32Asm selects the AVX2 twins of Dot and Axpy (part of useAsm).
func useVecF32Asm(on bool) {
	dotF32Vec, axpyF32 = dotF32, axpyF32Go
	if on && hasAVX2 {
		dotF32Vec, axpyF32 = dotF32AVX2, axpyF32AVX2
	}
}

// dotF32AVX2 is dotF32 with the 8-lane blocks in AVX2.
func dotF32AVX2(a, b []float32) float32 {
	n := len(a) &^ 7
	if n == 0 {
		return dotF32(a, b)
	}
	b = b[:len(a)]
	s := dot8AVX2(&a[0], &b[0], n)
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpyF32AVX2 is axpyF32Go with the 8-lane blocks in AVX2.
func axpyF32AVX2(y, x []float32, g float32) {
	n := len(y) &^ 7
	if n == 0 {
		axpyF32Go(y, x, g)
		return
	}
	x = x[:len(y)]
	axpy8AVX2(&y[0], &x[0], g, n)
	for i := n; i < len(y); i++ {
		y[i] += g * x[i]
	}
}
