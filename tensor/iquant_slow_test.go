package tensor

import (
	"math"
	"math/bits"
)

// Slow, independent decoders of the codebook formats (see slow_test.go): each
// element is located bit by bit in its block following the format's layout
// and computed in float64; only the codebooks (format data) are shared with
// the package, read from their compact form in iqgrids.go.

// iq4nlCodebook and e2m1 describe the values of a 4-bit code: IQ4_NL's
// non-linear table, and the OCP Microscaling FP4 (E2M1) encoding.
var iq4nlCodebook = []float64{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// e2m1 decodes a 4-bit E2M1 value: sign bit 3, exponent bits 2-1 (bias 1),
// mantissa bit 0; exponent 0 is subnormal (0 or 0.5).
func e2m1(c int) float64 {
	sign := 1.0
	if c&8 != 0 {
		sign = -1
	}
	exp, man := c>>1&3, c&1
	if exp == 0 {
		return sign * 0.5 * float64(man)
	}
	return sign * (1 + 0.5*float64(man)) * math.Ldexp(1, exp-1)
}

// gridCoord returns coordinate j of grid point i of a compact grid whose
// coordinates are w-bit indices into levels.
func gridCoord(grid []uint32, levels []float64, w, i, j int) float64 {
	return levels[int(grid[i])>>(w*j)&(1<<w-1)]
}

var (
	iq2Mags    = []float64{8, 25, 43}
	iq3xxsMags = []float64{4, 12, 20, 28, 36, 44, 52, 62}
	iq3sMags   = []float64{1, 3, 5, 7, 9, 11, 13, 15}
)

// signBit returns -1 or 1 for element j (0…7) of a group whose seven sign
// bits are s: the eighth sign makes the number of minus signs even.
func signBit(s, j int) float64 {
	bit := s >> j & 1
	if j == 7 {
		bit = bits.OnesCount(uint(s)) & 1
	}
	if bit == 1 {
		return -1
	}
	return 1
}

// slowElementIQ returns element e of one block b of a codebook type.
func slowElementIQ(t Type, b []byte, e int) float32 {
	d := float64(halfAt(b, 0))
	var v float64
	switch t {
	case IQ4_NL: // d | 16 bytes: element e in byte e%16, low nibble for e<16
		v = d * iq4nlCodebook[nibble(b, 2+e%16, e >= 16)]
	case MXFP4: // E8M0 exponent byte | 16 bytes as IQ4_NL; value E2M1 × 2^(E-127)
		v = e2m1(nibble(b, 1+e%16, e >= 16)) * math.Ldexp(1, bitsAt(b, 0, 8)-127)
		if v == 0 {
			v = 0 // ggml decodes E2M1's negative zero (code 8) as +0
		}
	case IQ4_XS: // d | scales_h (2 bits per sub-block) | scales_l (4 bits) | 32-element sub-blocks as IQ4_NL
		sb, l := e/32, e%32
		ls := bitsAt(b, 8*4+4*sb, 4) | bitsAt(b, 8*2+2*sb, 2)<<4
		v = d * float64(ls-32) * iq4nlCodebook[nibble(b, 8+16*sb+l%16, l >= 16)]
	case IQ2_XXS: // d | per 32 elements: 4 grid bytes, then 4×7 sign bits and a 4-bit scale
		sb, g, j := e/32, e%32/8, e%8
		base := 8 * (2 + 8*sb)
		idx := bitsAt(b, base+8*g, 8)
		ls := bitsAt(b, base+32+28, 4)
		s := bitsAt(b, base+32+7*g, 7)
		v = d * (0.5 + float64(ls)) / 4 * gridCoord(iq2xxsIdx[:], iq2Mags, 2, idx, j) * signBit(s, j)
	case IQ2_XS: // d | 32 uint16 (9-bit grid index, 7 sign bits) | 8 bytes of two 4-bit scales
		g, j := e/8, e%8
		word := 8 * (2 + 2*g)
		idx, s := bitsAt(b, word, 9), bitsAt(b, word+9, 7)
		ls := bitsAt(b, 8*66+4*(e/16), 4)
		v = d * (0.5 + float64(ls)) / 4 * gridCoord(iq2xsIdx[:], iq2Mags, 2, idx, j) * signBit(s, j)
	case IQ3_XXS: // d | 64 grid bytes (4 elements each) | per 32 elements: 4×7 sign bits, 4-bit scale
		sb, g8, j := e/32, e%32/8, e%8
		idx := bitsAt(b, 8*(2+e/4), 8)
		word := 8 * (2 + 64 + 4*sb)
		ls := bitsAt(b, word+28, 4)
		s := bitsAt(b, word+7*g8, 7)
		v = d * (0.5 + float64(ls)) / 2 * gridCoord(iq3xxsIdx[:], iq3xxsMags, 3, idx, e%4) * signBit(s, j)
	case IQ3_S: // d | 64 grid bytes | 8 bytes of 9th index bits | 32 bytes of signs | 4 bytes of two 4-bit scales
		p := e / 4
		idx := bitsAt(b, 8*(2+p), 8) | bitsAt(b, 8*66+p, 1)<<8
		sign := 1.0
		if bitsAt(b, 8*74+e, 1) == 1 {
			sign = -1
		}
		ls := bitsAt(b, 8*106+4*(e/32), 4)
		v = d * float64(1+2*ls) * gridCoord(iq3sIdx[:], iq3sMags, 3, idx, e%4) * sign
	default:
		panic("slowElementIQ: unhandled type " + t.String())
	}
	return float32(v)
}
