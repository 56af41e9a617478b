//go:build amd64 && !purego

package tensor

import "unsafe"

// AVX-512 activation conversions (act_amd64.s), bit-identical to their
// pure-Go twins: Q8_K quantization (quantQ8_KGo) and F32 to F16
// (F32ToF16, roundF16).

//go:noescape
func quantQ8_KAVX512(src *float32, dst *byte, nb int)

//go:noescape
func f32ToF16AVX512(src *float32, dst *uint16, n int)

//go:noescape
func roundF16AVX512(src, dst *float32, n int)

// quantQ8_KAVX512Act is quantQ8_KGo with the AVX-512 kernel.
func quantQ8_KAVX512Act(src []float32, dst []byte) {
	nb := len(src) / qkK
	if nb == 0 {
		return
	}
	_, _ = src[nb*qkK-1], dst[nb*szQ8K-1]
	quantQ8_KAVX512(&src[0], &dst[0], nb)
}

// f32ToF16Asm is f32ToF16Go with the AVX-512 kernel for whole groups of
// sixteen values.
func f32ToF16Asm(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := len(src) &^ 15
	if n > 0 {
		f32ToF16AVX512(&src[0], &dst[0], n)
	}
	f32ToF16Go(dst[n:], src[n:])
}

// actF16AVX512 is actF16Go with the AVX-512 kernel.
func actF16AVX512(src []float32, dst []byte) {
	if len(src) == 0 {
		return
	}
	y := unsafe.Slice((*float32)(unsafe.Pointer(&dst[:4*len(src)][0])), len(src))
	n := len(src) &^ 15
	if n > 0 {
		roundF16AVX512(&src[0], &y[0], n)
	}
	for i := n; i < len(src); i++ {
		y[i] = roundF16(src[i])
	}
}
