package tensor

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// This file holds the weight formats with codebooks: IQ4_NL and IQ4_XS (a
// non-linear 4-bit codebook), MXFP4 (4-bit E2M1 values with a shared
// power-of-two scale) and the lattice formats IQ2_XXS, IQ2_XS, IQ3_XXS and
// IQ3_S (indices into grids of 8 or 4 magnitudes, with separate sign bits).
// The layouts and the decoding are those of ggml; the dot products add in
// the order of llama.cpp's x86 kernels (AVX2 integer lanes, the float
// scaling by fused multiply-adds), so that they round like llama.cpp.

// Block sizes in bytes.
const (
	szIQ4NL  = 2 + 16
	szIQ4XS  = 2 + 2 + 4 + 128
	szMXFP4  = 1 + 16
	szIQ2XXS = 2 + 64
	szIQ2XS  = 2 + 64 + 8
	szIQ3XXS = 2 + 96
	szIQ3S   = 2 + 64 + 8 + 32 + 4
)

// kvaluesIQ4NL is the IQ4_NL / IQ4_XS codebook: the 16 values a 4-bit index
// selects, before the block scale.
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// kvaluesMXFP4 holds the E2M1 values of the 16 MXFP4 codes, doubled so that
// they are integers (0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6 times 2); the block
// scale e8m0Half halves them back.
var kvaluesMXFP4 = [16]int8{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}

// e8m0Half returns half the E8M0 scale e, 2^(e-127)/2 = 2^(e-128), exactly
// (a subnormal float32 for e < 2).
func e8m0Half(e byte) float32 {
	if e < 2 {
		return math.Float32frombits(0x00200000 << e)
	}
	return math.Float32frombits(uint32(e-1) << 23)
}

// The grids of the lattice formats, expanded from iqgrids.go: one point's
// magnitudes per entry (8 for the IQ2 grids, 4 for the IQ3 ones).
var (
	iq2xxsGrid [256][8]uint8
	iq2xsGrid  [512][8]uint8
	iq3xxsGrid [256][4]uint8
	iq3sGrid   [512][4]uint8
	// ksignsIQ2 expands 7 sign bits to 8 with an even number of minus
	// signs: bit 7 is the parity of the other seven.
	ksignsIQ2 [128]uint8
)

func init() {
	iq2Levels := [4]uint8{8, 25, 43, 0}
	iq3xxsLevels := [8]uint8{4, 12, 20, 28, 36, 44, 52, 62}
	for i, c := range iq2xxsIdx {
		for j := range 8 {
			iq2xxsGrid[i][j] = iq2Levels[c>>(2*j)&3]
		}
	}
	for i, c := range iq2xsIdx {
		for j := range 8 {
			iq2xsGrid[i][j] = iq2Levels[c>>(2*j)&3]
		}
	}
	for i, c := range iq3xxsIdx {
		for j := range 4 {
			iq3xxsGrid[i][j] = iq3xxsLevels[c>>(3*j)&7]
		}
	}
	for i, c := range iq3sIdx {
		for j := range 4 {
			iq3sGrid[i][j] = uint8(2*(c>>(3*j)&7) + 1)
		}
	}
	for i := range ksignsIQ2 {
		ksignsIQ2[i] = uint8(i) | uint8(bits.OnesCount8(uint8(i))&1)<<7
	}
}

// The dequantization and dot-product kernels of these formats; replaceable
// by faster twins (see useAsmIQ).
var (
	dequantIQ4_NL  dequantFunc = dequantIQ4_NLGo
	dequantIQ4_XS  dequantFunc = dequantIQ4_XSGo
	dequantMXFP4   dequantFunc = dequantMXFP4Go
	dequantIQ2_XXS dequantFunc = dequantIQ2_XXSGo
	dequantIQ2_XS  dequantFunc = dequantIQ2_XSGo
	dequantIQ3_XXS dequantFunc = dequantIQ3_XXSGo
	dequantIQ3_S   dequantFunc = dequantIQ3_SGo

	dotIQ4_NLQ8_0  dotFunc = dotIQ4_NLQ8_0Go
	dotIQ4_XSQ8_K  dotFunc = dotIQ4_XSQ8_KGo
	dotMXFP4Q8_0   dotFunc = dotMXFP4Q8_0Go
	dotIQ2_XXSQ8_K dotFunc = dotIQ2_XXSQ8_KGo
	dotIQ2_XSQ8_K  dotFunc = dotIQ2_XSQ8_KGo
	dotIQ3_XXSQ8_K dotFunc = dotIQ3_XXSQ8_KGo
	dotIQ3_SQ8_K   dotFunc = dotIQ3_SQ8_KGo
)

// iqDequantizer returns the dequantization kernel of one of these formats,
// or nil.
func iqDequantizer(t Type) *dequantFunc {
	switch t {
	case IQ4_NL:
		return &dequantIQ4_NL
	case IQ4_XS:
		return &dequantIQ4_XS
	case MXFP4:
		return &dequantMXFP4
	case IQ2_XXS:
		return &dequantIQ2_XXS
	case IQ2_XS:
		return &dequantIQ2_XS
	case IQ3_XXS:
		return &dequantIQ3_XXS
	case IQ3_S:
		return &dequantIQ3_S
	}
	return nil
}

// iqKernel returns the matrix-vector kernel of one of these formats: the
// activation type is ggml's vec_dot_type (Q8_0 for IQ4_NL and MXFP4, Q8_K
// for the others).
func iqKernel(t Type) (kernel, bool) {
	switch t {
	case IQ4_NL:
		return kernel{Q8_0, Q8_0, &quantActQ8_0, &dotIQ4_NLQ8_0}, true
	case MXFP4:
		return kernel{Q8_0, Q8_0, &quantActQ8_0, &dotMXFP4Q8_0}, true
	case IQ4_XS:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotIQ4_XSQ8_K}, true
	case IQ2_XXS:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotIQ2_XXSQ8_K}, true
	case IQ2_XS:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotIQ2_XSQ8_K}, true
	case IQ3_XXS:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotIQ3_XXSQ8_K}, true
	case IQ3_S:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotIQ3_SQ8_K}, true
	}
	return kernel{}, false
}

func dequantIQ4_NLGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szIQ4NL]byte)(src[i*szIQ4NL:])
		y := (*[qk]float32)(dst[i*qk:])
		d := f16At(b[0:])
		for j := range 16 {
			q := b[2+j]
			y[j] = d * float32(kvaluesIQ4NL[q&15])
			y[j+16] = d * float32(kvaluesIQ4NL[q>>4])
		}
	}
}

func dequantMXFP4Go(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szMXFP4]byte)(src[i*szMXFP4:])
		y := (*[qk]float32)(dst[i*qk:])
		d := e8m0Half(b[0])
		for j := range 16 {
			q := b[1+j]
			y[j] = float32(kvaluesMXFP4[q&15]) * d
			y[j+16] = float32(kvaluesMXFP4[q>>4]) * d
		}
	}
}

// iq4xsScale returns the 6-bit scale of sub-block ib (0…7) of an IQ4_XS
// super-block, minus 32.
func iq4xsScale(b *[szIQ4XS]byte, ib int) int32 {
	sh := binary.LittleEndian.Uint16(b[2:])
	ls := b[4+ib/2]>>(4*(ib%2))&15 | byte(sh>>(2*ib)&3)<<4
	return int32(ls) - 32
}

func dequantIQ4_XSGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szIQ4XS]byte)(src[i*szIQ4XS:])
		d := f16At(b[0:])
		for ib := range 8 {
			dl := d * float32(iq4xsScale(b, ib))
			q := b[8+16*ib : 8+16*ib+16]
			y := dst[i*qkK+32*ib : i*qkK+32*ib+32]
			for j := range 16 {
				y[j] = dl * float32(kvaluesIQ4NL[q[j]&15])
				y[j+16] = dl * float32(kvaluesIQ4NL[q[j]>>4])
			}
		}
	}
}

// signed returns g, negated when bit j of signs is set.
func signed(g uint8, signs uint8, j int) float32 {
	if signs>>j&1 != 0 {
		return -float32(g)
	}
	return float32(g)
}

func dequantIQ2_XXSGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szIQ2XXS]byte)(src[i*szIQ2XXS:])
		d := f16At(b[0:])
		for ib := range 8 {
			idx := b[2+8*ib : 2+8*ib+4]
			aux := binary.LittleEndian.Uint32(b[2+8*ib+4:])
			db := d * (0.5 + float32(aux>>28)) * 0.25
			for l := range 4 {
				g := &iq2xxsGrid[idx[l]]
				s := ksignsIQ2[aux>>(7*l)&127]
				y := dst[i*qkK+32*ib+8*l:]
				for j := range 8 {
					y[j] = db * signed(g[j], s, j)
				}
			}
		}
	}
}

func dequantIQ2_XSGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szIQ2XS]byte)(src[i*szIQ2XS:])
		d := f16At(b[0:])
		for ib := range 8 {
			sc := b[66+ib]
			db := [2]float32{d * (0.5 + float32(sc&15)) * 0.25, d * (0.5 + float32(sc>>4)) * 0.25}
			for l := range 4 {
				v := binary.LittleEndian.Uint16(b[2+2*(4*ib+l):])
				g := &iq2xsGrid[v&511]
				s := ksignsIQ2[v>>9]
				y := dst[i*qkK+32*ib+8*l:]
				for j := range 8 {
					y[j] = db[l/2] * signed(g[j], s, j)
				}
			}
		}
	}
}

func dequantIQ3_XXSGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szIQ3XXS]byte)(src[i*szIQ3XXS:])
		d := f16At(b[0:])
		for ib := range 8 {
			aux := binary.LittleEndian.Uint32(b[2+64+4*ib:])
			db := d * (0.5 + float32(aux>>28)) * 0.5
			q := b[2+8*ib : 2+8*ib+8]
			for l := range 4 {
				s := ksignsIQ2[aux>>(7*l)&127]
				g1, g2 := &iq3xxsGrid[q[2*l]], &iq3xxsGrid[q[2*l+1]]
				y := dst[i*qkK+32*ib+8*l:]
				for j := range 4 {
					y[j] = db * signed(g1[j], s, j)
					y[j+4] = db * signed(g2[j], s, j+4)
				}
			}
		}
	}
}

// iq3sIndex returns the 9-bit grid index of point k (0…63) of an IQ3_S
// super-block: 8 low bits from qs, the 9th from qh.
func iq3sIndex(b *[szIQ3S]byte, k int) int {
	return int(b[2+k]) | int(b[66+k/8]>>(k%8)&1)<<8
}

func dequantIQ3_SGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szIQ3S]byte)(src[i*szIQ3S:])
		d := f16At(b[0:])
		for ib := range 8 {
			sc := b[106+ib/2] >> (4 * (ib % 2)) & 15
			db := d * float32(1+2*int32(sc))
			for l := range 4 {
				s := b[74+4*ib+l]
				g1, g2 := &iq3sGrid[iq3sIndex(b, 8*ib+2*l)], &iq3sGrid[iq3sIndex(b, 8*ib+2*l+1)]
				y := dst[i*qkK+32*ib+8*l:]
				for j := range 4 {
					y[j] = db * signed(g1[j], s, j)
					y[j+4] = db * signed(g2[j], s, j+4)
				}
			}
		}
	}
}

// dotIQ4_NLQ8_0Go is llama.cpp's IQ4_NL product on x86 with AVX2, where ggml
// repacks the weights into 8-row interleaved blocks (iq4_nl_8x8, for any
// matrix whose row count is a multiple of 8): per block the exact integer dot
// product is scaled by d_w·d_x and added to the row's sum with one FMA, as
// for Q4_0.
func dotIQ4_NLQ8_0Go(n int, w, x []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		a := (*[szIQ4NL]byte)(w[i*szIQ4NL:])
		b := (*[szQ80]byte)(x[i*szQ80:])
		var s int32
		for j := range 16 {
			q := a[2+j]
			s += int32(kvaluesIQ4NL[q&15])*int32(int8(b[2+j])) + int32(kvaluesIQ4NL[q>>4])*int32(int8(b[18+j]))
		}
		sum = FMA32(float32(s), f16At(a[0:])*f16At(b[0:]), sum)
	}
	return sum
}

// dotMXFP4Q8_0Go is llama.cpp's MXFP4 product on x86 with AVX2 (repacked as
// mxfp4_8x8, like IQ4_NL): the integer dot product of the doubled E2M1
// values with the activations, scaled by 2^(e-128)·d_x with one FMA per block.
func dotMXFP4Q8_0Go(n int, w, x []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		a := (*[szMXFP4]byte)(w[i*szMXFP4:])
		b := (*[szQ80]byte)(x[i*szQ80:])
		var s int32
		for j := range 16 {
			q := a[1+j]
			s += int32(kvaluesMXFP4[q&15])*int32(int8(b[2+j])) + int32(kvaluesMXFP4[q>>4])*int32(int8(b[18+j]))
		}
		sum = FMA32(float32(s), e8m0Half(a[0])*f16At(b[0:]), sum)
	}
	return sum
}

// The super-block formats below follow ggml's AVX2 kernels like the K-quants
// (see kLanes): the integer products, each times its sub-block scale, go to
// eight int32 lanes by element index mod 32; each super-block's lanes are
// scaled by d_w·d_x into eight float lanes with FMA, summed at the end.

func dotIQ4_XSQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := w[i*szIQ4XS:]
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		isum := isumIQ4_XS(a, b)
		kLanes(&acc, f16At(a[0:])*f32At(b[0:]), &isum)
	}
	return Sum8(&acc)
}

// isumIQ4_XS returns the integer products of one IQ4_XS super-block with a
// Q8_K block, times their sub-block scales, in eight lanes.
func isumIQ4_XS(w []byte, b *[szQ8K]byte) (isum [8]int32) {
	a := (*[szIQ4XS]byte)(w)
	for ib := range 8 {
		ls := iq4xsScale(a, ib)
		q := a[8+16*ib : 8+16*ib+16]
		y := b[4+32*ib : 4+32*ib+32]
		for l := range 16 {
			isum[l>>2] += ls * int32(kvaluesIQ4NL[q[l]&15]) * int32(int8(y[l]))
			isum[4+l>>2] += ls * int32(kvaluesIQ4NL[q[l]>>4]) * int32(int8(y[l+16]))
		}
	}
	return isum
}

// sgn returns g as int32, negated when bit j of signs is set.
func sgn(g uint8, signs uint8, j int) int32 {
	if signs>>j&1 != 0 {
		return -int32(g)
	}
	return int32(g)
}

func dotIQ2_XXSQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := w[i*szIQ2XXS:]
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		isum := isumIQ2_XXS(a, b)
		kLanes(&acc, f16At(a[0:])*f32At(b[0:]), &isum)
	}
	return 0.125 * Sum8(&acc)
}

// isumIQ2_XXS returns the integer products of one IQ2_XXS super-block with a
// Q8_K block, times their sub-block scales, in eight lanes.
func isumIQ2_XXS(w []byte, b *[szQ8K]byte) (isum [8]int32) {
	a := (*[szIQ2XXS]byte)(w)
	for ib := range 8 {
		idx := a[2+8*ib : 2+8*ib+4]
		aux := binary.LittleEndian.Uint32(a[2+8*ib+4:])
		ls := int32(2*(aux>>28) + 1)
		y := b[4+32*ib : 4+32*ib+32]
		for l := range 4 {
			g := &iq2xxsGrid[idx[l]]
			s := ksignsIQ2[aux>>(7*l)&127]
			for j := range 8 {
				isum[2*l+j>>2] += ls * sgn(g[j], s, j) * int32(int8(y[8*l+j]))
			}
		}
	}
	return isum
}

func dotIQ2_XSQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := w[i*szIQ2XS:]
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		isum := isumIQ2_XS(a, b)
		kLanes(&acc, f16At(a[0:])*f32At(b[0:]), &isum)
	}
	return 0.125 * Sum8(&acc)
}

// isumIQ2_XS returns the integer products of one IQ2_XS super-block with a
// Q8_K block, times their sub-block scales, in eight lanes.
func isumIQ2_XS(w []byte, b *[szQ8K]byte) (isum [8]int32) {
	a := (*[szIQ2XS]byte)(w)
	for ib := range 8 {
		sc := a[66+ib]
		ls := [2]int32{2*int32(sc&15) + 1, 2*int32(sc>>4) + 1}
		y := b[4+32*ib : 4+32*ib+32]
		for l := range 4 {
			v := binary.LittleEndian.Uint16(a[2+2*(4*ib+l):])
			g := &iq2xsGrid[v&511]
			s := ksignsIQ2[v>>9]
			for j := range 8 {
				isum[2*l+j>>2] += ls[l/2] * sgn(g[j], s, j) * int32(int8(y[8*l+j]))
			}
		}
	}
	return isum
}

func dotIQ3_XXSQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := w[i*szIQ3XXS:]
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		isum := isumIQ3_XXS(a, b)
		kLanes(&acc, f16At(a[0:])*f32At(b[0:]), &isum)
	}
	return 0.25 * Sum8(&acc)
}

// isumIQ3_XXS returns the integer products of one IQ3_XXS super-block with a
// Q8_K block, times their sub-block scales, in eight lanes.
func isumIQ3_XXS(w []byte, b *[szQ8K]byte) (isum [8]int32) {
	a := (*[szIQ3XXS]byte)(w)
	for ib := range 8 {
		aux := binary.LittleEndian.Uint32(a[2+64+4*ib:])
		ls := int32(2*(aux>>28) + 1)
		q := a[2+8*ib : 2+8*ib+8]
		y := b[4+32*ib : 4+32*ib+32]
		for l := range 4 {
			s := ksignsIQ2[aux>>(7*l)&127]
			g1, g2 := &iq3xxsGrid[q[2*l]], &iq3xxsGrid[q[2*l+1]]
			var p int32
			for j := range 4 {
				p += sgn(g1[j], s, j) * int32(int8(y[8*l+j]))
			}
			isum[2*l] += ls * p
			p = 0
			for j := range 4 {
				p += sgn(g2[j], s, j+4) * int32(int8(y[8*l+4+j]))
			}
			isum[2*l+1] += ls * p
		}
	}
	return isum
}

func dotIQ3_SQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := w[i*szIQ3S:]
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		isum := isumIQ3_S(a, b)
		kLanes(&acc, f16At(a[0:])*f32At(b[0:]), &isum)
	}
	return Sum8(&acc)
}

// isumIQ3_S returns the integer products of one IQ3_S super-block with a
// Q8_K block, times their sub-block scales, in eight lanes.
func isumIQ3_S(w []byte, b *[szQ8K]byte) (isum [8]int32) {
	a := (*[szIQ3S]byte)(w)
	for ib := range 8 {
		ls := 2*int32(a[106+ib/2]>>(4*(ib%2))&15) + 1
		y := b[4+32*ib : 4+32*ib+32]
		for l := range 4 {
			s := a[74+4*ib+l]
			g1, g2 := &iq3sGrid[iq3sIndex(a, 8*ib+2*l)], &iq3sGrid[iq3sIndex(a, 8*ib+2*l+1)]
			var p int32
			for j := range 4 {
				p += sgn(g1[j], s, j) * int32(int8(y[8*l+j]))
			}
			isum[2*l] += ls * p
			p = 0
			for j := range 4 {
				p += sgn(g2[j], s, j+4) * int32(int8(y[8*l+4+j]))
			}
			isum[2*l+1] += ls * p
		}
	}
	return isum
}

// The grid-based IQ types in llama.cpp v0.5.0's "IQ panel" GEMM
// (ggml-cpu/iqp.cpp), which multiplies batches of at least iqpMinBatch
// activation rows when the weights have a multiple of 8 rows: its integer
// sums are vec_dot's, but each super-block is scaled as one
// sumf = fma(float(Σ isum), dfac·d_x, sumf) with dfac = d_w·c (c = 1/8, 1/4
// or 1 as the type's scales are odd integers 2·ls+1 or ls-32), a rounding
// different from vec_dot's eight lanes. A prompt of 8 or more tokens runs
// through it, single tokens through vec_dot.
const iqpMinBatch = 8

// iqPanel describes one type's panel arithmetic: its super-block size, its
// integer sums and dfac's factor.
type iqPanel struct {
	size int
	isum func(w []byte, b *[szQ8K]byte) [8]int32
	c    float32
}

var iqPanels = map[Type]iqPanel{
	IQ2_XXS: {szIQ2XXS, isumIQ2_XXS, 0.125},
	IQ2_XS:  {szIQ2XS, isumIQ2_XS, 0.125},
	IQ3_XXS: {szIQ3XXS, isumIQ3_XXS, 0.25},
	IQ3_S:   {szIQ3S, isumIQ3_S, 1},
	IQ4_XS:  {szIQ4XS, isumIQ4_XS, 1},
}

// iqPanelAsm holds the faster twins of the panel dot products, by type (see
// useAsmIQ); a type without one runs iqPanelDotGo.
var iqPanelAsm = map[Type]dotFunc{}

// iqPanelDotFor returns the panel GEMM's dot product for a batch of n
// activation rows times w, or nil when llama.cpp would not use the panel.
func iqPanelDotFor(w *Matrix, n int) dotFunc {
	pl, ok := iqPanels[w.Type]
	if !ok || n < iqpMinBatch || w.Rows%8 != 0 || w.Cols%qkK != 0 {
		return nil
	}
	if f := iqPanelAsm[w.Type]; f != nil {
		return f
	}
	return iqPanelDotGo(pl)
}

// iqPanelDotGo is the panel dot product of pl's type in pure Go.
func iqPanelDotGo(pl iqPanel) dotFunc {
	return func(n int, w, x []byte) float32 {
		var sumf float32
		for i := 0; i < n/qkK; i++ {
			a := w[i*pl.size:]
			b := (*[szQ8K]byte)(x[i*szQ8K:])
			isum := pl.isum(a, b)
			var s int32
			for _, v := range isum {
				s += v
			}
			dfac := float32(f16At(a[0:]) * pl.c)
			dv := float32(dfac * f32At(b[0:]))
			sumf = FMA32(float32(s), dv, sumf)
		}
		return sumf
	}
}

// quantMXFP4RefGo is ggml's quantize_row_mxfp4_ref: per block of 32, the
// shared exponent e = floor(log2(amax)) - 2 + 127 (0 for an all-zero
// block), so that the largest E2M1 magnitude (6) times 2^(e-127) covers the
// block's absolute maximum, and each value the code whose doubled E2M1
// value times 2^(e-128) is nearest (the first of equals, in code order);
// values j and j+16 share byte j, low nibble first.
func quantMXFP4RefGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := src[i*qk : (i+1)*qk]
		b := (*[szMXFP4]byte)(dst[i*szMXFP4:])
		var amax float32
		for _, v := range x {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		var e byte
		if amax > 0 {
			// log2f is correctly rounded for these inputs, as glibc's
			f := float32(math.Floor(float64(float32(math.Log2(float64(amax)))))) - 2 + 127
			e = byte(min(255, max(0, int(f))))
		}
		d := e8m0Half(e)
		b[0] = e
		for j := range 16 {
			b[1+j] = mxfp4Index(x[j], d) | mxfp4Index(x[j+16], d)<<4
		}
	}
}

// mxfp4Index returns the MXFP4 code nearest to x at scale d (ggml's
// best_index_mxfp4): the first code of least |value·d - x|.
func mxfp4Index(x, d float32) byte {
	best, bestErr := 0, float32(math.Abs(float64(float32(float32(kvaluesMXFP4[0])*d)-x)))
	for i := 1; i < 16; i++ {
		if err := float32(math.Abs(float64(float32(float32(kvaluesMXFP4[i])*d) - x))); err < bestErr {
			best, bestErr = i, err
		}
	}
	return byte(best)
}
