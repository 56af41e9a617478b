//go:build amd64 && !purego

package tensor

// useAsmK switches the Q2_K, Q3_K and Q5_K dot products between their
// assembly kernels and their pure-Go twins (see useAsm).
func useAsmK(on bool) {
	dotQ2_KQ8_K, dotQ3_KQ8_K, dotQ5_KQ8_K = dotQ2_KQ8_KGo, dotQ3_KQ8_KGo, dotQ5_KQ8_KGo
}
