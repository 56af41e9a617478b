//go:build amd64 && !purego

package tensor

import "math"

// The sixteen-lane kernels of mathx_amd64.s (AVX-512F).

//go:noescape
func siluMulAVX512(x, up *float32, n int, c *float32)

//go:noescape
func expSubAVX512(x *float32, n int, m float32, c *float32)

//go:noescape
func max16AVX512(x *float32, n int, m float32) float32

//go:noescape
func scale16AVX512(x *float32, n int, s float32)

func max16Asm(x []float32, m float32) float32 {
	if len(x) == 0 {
		return m
	}
	return max16AVX512(&x[0], len(x), m)
}

func scale16Asm(x []float32, s float32) {
	if len(x) == 0 {
		return
	}
	scale16AVX512(&x[0], len(x), s)
}

// expConsts is the constant table of mathx_amd64.s.
var expConsts = [13]float32{expShift, expLog2e, expLn2hi, expLn2lo, expC0, expC1, expC2, expC3, expC4,
	expLimit, -expLimit, 1, float32(math.Inf(1))}

func siluMul16AVX512(x, up []float32) {
	if len(x) == 0 {
		return
	}
	up = up[:len(x)]
	siluMulAVX512(&x[0], &up[0], len(x), &expConsts[0])
}

func expSub16AVX512(x []float32, m float32) {
	if len(x) == 0 {
		return
	}
	expSubAVX512(&x[0], len(x), m, &expConsts[0])
}
