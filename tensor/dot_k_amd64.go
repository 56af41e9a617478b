//go:build amd64 && !purego

package tensor

// The assembly kernels of dot_k_amd64.s for the K-quants Q2_K, Q3_K and Q5_K
// against Q8_K activations. Each computes exactly what its pure-Go twin in
// dot.go computes (the integer sums in any order, the float operations in the
// same order with the same fused multiply-adds); dot_k_amd64_test.go checks
// them bit for bit. nb is a number of super-blocks.

//go:noescape
func dotQ2_KQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ3_KQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ5_KQ8_KAVX2(nb int, w, x *byte) float32

// useAsmK switches the Q2_K, Q3_K and Q5_K dot products between their
// assembly kernels (when on and the CPU has AVX2, FMA and F16C) and their
// pure-Go twins (see useAsm).
func useAsmK(on bool) {
	dotQ2_KQ8_K, dotQ3_KQ8_K, dotQ5_KQ8_K = dotQ2_KQ8_KGo, dotQ3_KQ8_KGo, dotQ5_KQ8_KGo
	if !on || !hasAVX2 {
		return
	}
	dotQ2_KQ8_K = blockDot(dotQ2_KQ8_KAVX2, qkK, szQ2K, szQ8K)
	dotQ3_KQ8_K = blockDot(dotQ3_KQ8_KAVX2, qkK, szQ3K, szQ8K)
	dotQ5_KQ8_K = blockDot(dotQ5_KQ8_KAVX2, qkK, szQ5K, szQ8K)
}
