//go:build amd64 && !purego

package tensor

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels of dot_legacy_amd64.s, each bit-identical to its
// pure-Go twin in dot.go (dot_legacy_amd64_test.go checks them). nb is a
// number of blocks, n a number of elements.

//go:noescape
func dotQ4_1Q8_1AVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ5_0Q8_0AVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ5_1Q8_1AVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ5_0Q8_0AVX512(nb int, w, x *byte) float32

//go:noescape
func dotQ5_1Q8_1AVX512(nb int, w, x *byte) float32

//go:noescape
func dotBF16F32AVX2(n int, w *uint16, x *float32) float32

// hasAVX512BWVL tells whether the AVX-512 variants of the five-bit kernels
// (byte operations under a mask register) run on this CPU.
var hasAVX512BWVL = hasAVX512 && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// dotBF16AVX2 wraps dotBF16F32AVX2 as a dotFunc.
func dotBF16AVX2(n int, w, x []byte) float32 {
	if n == 0 {
		return 0
	}
	_, _ = w[2*n-1], x[4*n-1]
	return dotBF16F32AVX2(n, (*uint16)(unsafe.Pointer(&w[0])), (*float32)(unsafe.Pointer(&x[0])))
}

// useAsmLegacy switches the Q4_1, Q5_0, Q5_1 and BF16 dot products between
// their assembly kernels (when on and the CPU has AVX2, FMA and F16C) and
// their pure-Go twins (see useAsm); Q5_0 and Q5_1 use their AVX-512
// variants when the CPU also has AVX-512 BW and VL.
func useAsmLegacy(on bool) {
	dotQ4_1Q8_1, dotQ5_0Q8_0, dotQ5_1Q8_1, dotBF16BF16 = dotQ4_1Q8_1Go, dotQ5_0Q8_0Go, dotQ5_1Q8_1Go, dotBF16BF16Go
	if !on || !hasAVX2 {
		return
	}
	dotQ4_1Q8_1 = blockDot(dotQ4_1Q8_1AVX2, qk, szQ41, szQ81)
	dotQ5_0Q8_0 = blockDot(dotQ5_0Q8_0AVX2, qk, szQ50, szQ80)
	dotQ5_1Q8_1 = blockDot(dotQ5_1Q8_1AVX2, qk, szQ51, szQ81)
	dotBF16BF16 = dotBF16AVX2
	if hasAVX512BWVL {
		dotQ5_0Q8_0 = blockDot(dotQ5_0Q8_0AVX512, qk, szQ50, szQ80)
		dotQ5_1Q8_1 = blockDot(dotQ5_1Q8_1AVX512, qk, szQ51, szQ81)
	}
}
