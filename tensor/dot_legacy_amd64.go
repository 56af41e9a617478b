//go:build amd64 && !purego

package tensor

// useAsmLegacy switches the Q4_1, Q5_0, Q5_1 and BF16 dot products between
// their assembly kernels and their pure-Go twins (see useAsm).
func useAsmLegacy(on bool) {
	dotQ4_1Q8_1, dotQ5_0Q8_0, dotQ5_1Q8_1, dotBF16BF16 = dotQ4_1Q8_1Go, dotQ5_0Q8_0Go, dotQ5_1Q8_1Go, dotBF16BF16Go
}
