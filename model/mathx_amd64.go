//go:build amd64 && !purego

package model

import (
	"math"

	"golang.org/x/sys/cpu"
)

//go:noescape
func siluMulAVX512(x, up *float32, n int, c *float32)

//go:noescape
func expSubAVX512(x *float32, n int, m float32, c *float32)

// hasAVX512 tells whether the sixteen-lane kernels of mathx_amd64.s run.
var hasAVX512 = cpu.X86.HasAVX512F

// expConsts is the constant table of mathx_amd64.s.
var expConsts = [13]float32{expShift, expLog2e, expLn2hi, expLn2lo, expC0, expC1, expC2, expC3, expC4,
	expLimit, -expLimit, 1, float32(math.Inf(1))}

// siluMulVec is siluMul for len(g), a multiple of 16, lanes with the
// AVX-512 kernel; it reports false when the CPU lacks AVX-512.
func siluMulVec(g, up []float32) bool {
	if !hasAVX512 {
		return false
	}
	up = up[:len(g)]
	siluMulAVX512(&g[0], &up[0], len(g), &expConsts[0])
	return true
}

// expSubVec sets x[i] = expf(x[i]-m) for len(x), a multiple of 16, lanes
// with the AVX-512 kernel; it reports false when the CPU lacks AVX-512.
func expSubVec(x []float32, m float32) bool {
	if !hasAVX512 {
		return false
	}
	expSubAVX512(&x[0], len(x), m, &expConsts[0])
	return true
}
