//go:build amd64 && !purego

package tensor

// The assembly kernels of dot_iq_amd64.s for IQ4_NL and MXFP4 weights against
// Q8_0 activations: the codes are looked up in the format's table with
// VPSHUFB, the integer dot product of each block is exact, and the float
// operations are those of the pure-Go twins in iquant.go (one FMA per block
// of s·(d_w·d_x)); dot_iq_amd64_test.go checks them bit for bit. nb is a
// number of blocks.

//go:noescape
func dotIQ4_NLQ8_0AVX2(nb int, w, x *byte) float32

//go:noescape
func dotMXFP4Q8_0AVX2(nb int, w, x *byte) float32

// e8m0HalfTable holds e8m0Half of every byte, for the MXFP4 kernel.
var e8m0HalfTable = func() (t [256]float32) {
	for e := range t {
		t[e] = e8m0Half(byte(e))
	}
	return t
}()

// useAsmIQ switches the IQ4_NL and MXFP4 dot products between their assembly
// kernels (when on and the CPU has AVX2, FMA and F16C) and their pure-Go
// twins (see useAsm).
func useAsmIQ(on bool) {
	dotIQ4_NLQ8_0, dotMXFP4Q8_0 = dotIQ4_NLQ8_0Go, dotMXFP4Q8_0Go
	if !on || !hasAVX2 {
		return
	}
	dotIQ4_NLQ8_0 = blockDot(dotIQ4_NLQ8_0AVX2, qk, szIQ4NL, szQ80)
	dotMXFP4Q8_0 = blockDot(dotMXFP4Q8_0AVX2, qk, szMXFP4, szQ80)
}
