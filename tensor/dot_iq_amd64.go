//go:build amd64 && !purego

package tensor

import "math/bits"

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

// The super-block kernels of IQ4_XS, IQ2_XXS, IQ2_XS, IQ3_XXS and IQ3_S
// against Q8_K activations, two per format: dot…AVX2 is vec_dot (the twins
// dot…Go: eight int32 lanes scaled into eight float lanes, see kLanes) and
// panel…AVX2 the IQ panel's dot product of a batch (the twins' closure in
// iqPanelDotFor: one FMA per super-block). The integer sums are exact, so
// their order is free; the float operations are the twins'. nb is a number
// of super-blocks.

//go:noescape
func dotIQ4_XSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func panelIQ4_XSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotIQ2_XXSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func panelIQ2_XXSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotIQ2_XSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func panelIQ2_XSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotIQ3_XXSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func panelIQ3_XXSQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotIQ3_SQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func panelIQ3_SQ8_KAVX2(nb int, w, x *byte) float32

// iq2SignBytes holds, for each 7-bit sign index of the lattice formats, the
// eight bytes ±1 (-1 where bit j of ksignsIQ2 is set), for VPSIGNB.
var iq2SignBytes = func() (t [128]uint64) {
	for i := range t {
		for j := range 8 {
			b := uint64(1)
			if (i|bits.OnesCount8(uint8(i))<<7)>>j&1 != 0 {
				b = 0xff
			}
			t[i] |= b << (8 * j)
		}
	}
	return t
}()

// e8m0HalfTable holds e8m0Half of every byte, for the MXFP4 kernel.
var e8m0HalfTable = func() (t [256]float32) {
	for e := range t {
		t[e] = e8m0Half(byte(e))
	}
	return t
}()

// useAsmIQ switches the IQ dot products (and the IQ panel's) between their assembly
// kernels (when on and the CPU has AVX2, FMA and F16C) and their pure-Go
// twins (see useAsm).
func useAsmIQ(on bool) {
	dotIQ4_NLQ8_0, dotMXFP4Q8_0 = dotIQ4_NLQ8_0Go, dotMXFP4Q8_0Go
	dotIQ4_XSQ8_K, dotIQ2_XXSQ8_K, dotIQ2_XSQ8_K = dotIQ4_XSQ8_KGo, dotIQ2_XXSQ8_KGo, dotIQ2_XSQ8_KGo
	dotIQ3_XXSQ8_K, dotIQ3_SQ8_K = dotIQ3_XXSQ8_KGo, dotIQ3_SQ8_KGo
	clear(iqPanelAsm)
	if !on || !hasAVX2 {
		return
	}
	for _, k := range iqKAsm {
		*k.dot = blockDot(k.vec, qkK, k.size, szQ8K)
		iqPanelAsm[k.t] = blockDot(k.panel, qkK, k.size, szQ8K)
	}
	dotIQ4_NLQ8_0 = blockDot(dotIQ4_NLQ8_0AVX2, qk, szIQ4NL, szQ80)
	dotMXFP4Q8_0 = blockDot(dotMXFP4Q8_0AVX2, qk, szMXFP4, szQ80)
}

// iqKAsm lists the super-block kernels: the type, its block size, the
// dispatch variable of its vec_dot and its two assembly kernels.
var iqKAsm = []struct {
	t          Type
	size       int
	dot        *dotFunc
	vec, panel func(nb int, w, x *byte) float32
}{
	{IQ4_XS, szIQ4XS, &dotIQ4_XSQ8_K, dotIQ4_XSQ8_KAVX2, panelIQ4_XSQ8_KAVX2},
	{IQ2_XXS, szIQ2XXS, &dotIQ2_XXSQ8_K, dotIQ2_XXSQ8_KAVX2, panelIQ2_XXSQ8_KAVX2},
	{IQ2_XS, szIQ2XS, &dotIQ2_XSQ8_K, dotIQ2_XSQ8_KAVX2, panelIQ2_XSQ8_KAVX2},
	{IQ3_XXS, szIQ3XXS, &dotIQ3_XXSQ8_K, dotIQ3_XXSQ8_KAVX2, panelIQ3_XXSQ8_KAVX2},
	{IQ3_S, szIQ3S, &dotIQ3_SQ8_K, dotIQ3_SQ8_KAVX2, panelIQ3_SQ8_KAVX2},
}
