package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/x448/float16"
)

// This file holds a deliberately slow, independent description of each block
// layout: element e of a block is located bit by bit in the block's bytes,
// following the GGML format documentation, without sharing code with the
// package's kernels.

// bitsAt reads n bits starting at bit offset off of b (bit 0 is the least
// significant bit of b[0]).
func bitsAt(b []byte, off, n int) int {
	v := 0
	for i := 0; i < n; i++ {
		bit := off + i
		if b[bit/8]>>(bit%8)&1 == 1 {
			v |= 1 << i
		}
	}
	return v
}

func halfAt(b []byte, off int) float32 {
	return float16.Frombits(uint16(bitsAt(b, 8*off, 16))).Float32()
}

func int8At(b []byte, off int) int { return int(int8(bitsAt(b, 8*off, 8))) }

// nibble returns the 4-bit field at byte off, high half when hi.
func nibble(b []byte, off int, hi bool) int {
	if hi {
		return bitsAt(b, 8*off+4, 4)
	}
	return bitsAt(b, 8*off, 4)
}

// k4ScaleMinSlow returns the 6-bit scale and min of sub-block sb (0..7) from
// the 12 packed bytes s of a Q4_K/Q5_K block: sub-blocks 0-3 use the low 6
// bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 take their low 4
// bits from the nibbles of bytes 8-11 and their top 2 bits from the top 2 bits
// of bytes 0-3 (scales) and 4-7 (mins).
func k4ScaleMinSlow(s []byte, sb int) (sc, mn int) {
	if sb < 4 {
		return bitsAt(s, 8*sb, 6), bitsAt(s, 8*(sb+4), 6)
	}
	sc = bitsAt(s, 8*(sb+4), 4) | bitsAt(s, 8*(sb-4)+6, 2)<<4
	mn = bitsAt(s, 8*(sb+4)+4, 4) | bitsAt(s, 8*sb+6, 2)<<4
	return sc, mn
}

// slowElement returns element e of one block b of type t.
func slowElement(t Type, b []byte, e int) float32 {
	switch t {
	case F32:
		return math.Float32frombits(uint32(bitsAt(b, 0, 32)))
	case F16:
		return halfAt(b, 0)
	case BF16:
		return math.Float32frombits(uint32(bitsAt(b, 0, 16)) << 16)
	case Q4_0: // d | 16 bytes: element e in byte e%16, low nibble for e<16
		return float32(nibble(b, 2+e%16, e >= 16)-8) * halfAt(b, 0)
	case Q4_1: // d m | 16 bytes
		return float32(nibble(b, 4+e%16, e >= 16))*halfAt(b, 0) + halfAt(b, 2)
	case Q5_0: // d | qh (bit e = 5th bit of element e) | 16 bytes of nibbles
		q := nibble(b, 6+e%16, e >= 16) | bitsAt(b, 16+e, 1)<<4
		return float32(q-16) * halfAt(b, 0)
	case Q5_1:
		q := nibble(b, 8+e%16, e >= 16) | bitsAt(b, 32+e, 1)<<4
		return float32(q)*halfAt(b, 0) + halfAt(b, 2)
	case Q8_0:
		return float32(int8At(b, 2+e)) * halfAt(b, 0)
	case Q8_1:
		return float32(int8At(b, 4+e)) * halfAt(b, 0)
	case Q2_K: // scales[16] qs[64] d dmin; each 128 elements use 32 bytes, 2 bits per 32-element group
		n, j, l := e/128, e%128/32, e%32
		q := bitsAt(b, 8*(16+32*n+l)+2*j, 2)
		s := e / 16
		sc, mn := bitsAt(b, 8*s, 4), bitsAt(b, 8*s+4, 4)
		return halfAt(b, 80)*float32(sc)*float32(q) - halfAt(b, 82)*float32(mn)
	case Q3_K: // hmask[32] qs[64] scales[12] d
		n, j, l := e/128, e%128/32, e%32
		q := bitsAt(b, 8*(32+32*n+l)+2*j, 2)
		if bitsAt(b, 8*l+4*n+j, 1) == 0 {
			q -= 4
		}
		s := e / 16
		sc := bitsAt(b, 8*(96+s%8)+4*(s/8), 4) | bitsAt(b, 8*(104+s%4)+2*(s/4), 2)<<4
		return halfAt(b, 108) * float32(sc-32) * float32(q)
	case Q4_K: // d dmin scales[12] qs[128]; 64 elements per 32 bytes, low nibbles first
		g, hi, l := e/64, e%64 >= 32, e%32
		q := nibble(b, 16+32*g+l, hi)
		sc, mn := k4ScaleMinSlow(b[4:16], e/32)
		return halfAt(b, 0)*float32(sc)*float32(q) - halfAt(b, 2)*float32(mn)
	case Q5_K: // d dmin scales[12] qh[32] qs[128]; 5th bit of element e is bit e/32 of qh[e%32]
		g, hi, l := e/64, e%64 >= 32, e%32
		q := nibble(b, 48+32*g+l, hi) | bitsAt(b, 8*(16+l)+e/32, 1)<<4
		sc, mn := k4ScaleMinSlow(b[4:16], e/32)
		return halfAt(b, 0)*float32(sc)*float32(q) - halfAt(b, 2)*float32(mn)
	case Q6_K: // ql[128] qh[64] scales[16] d; per 128 elements: quarter k uses ql nibble k/2 of byte l+32(k%2), qh bits 2k of byte l
		h, k, l := e/128, e%128/32, e%32
		q := nibble(b, 64*h+l+32*(k%2), k >= 2) | bitsAt(b, 8*(128+32*h+l)+2*k, 2)<<4
		return halfAt(b, 208) * float32(int8At(b, 192+e/16)) * float32(q-32)
	case Q8_K: // d (f32) qs[256] bsums[16]
		return math.Float32frombits(uint32(bitsAt(b, 0, 32))) * float32(int8At(b, 4+e))
	}
	return slowElementIQ(t, b, e)
}

// slowDequantize expands whole blocks with slowElement.
func slowDequantize(t Type, src []byte, n int) []float32 {
	out := make([]float32, n)
	bs, ts := t.BlockSize(), t.TypeSize()
	for i := range out {
		blk := src[i/bs*ts : i/bs*ts+ts]
		out[i] = slowElement(t, blk, i%bs)
	}
	return out
}

// halfFields lists the byte offsets of the f16 scale fields of each block type.
var halfFields = map[Type][]int{
	Q4_0: {0}, Q4_1: {0, 2}, Q5_0: {0}, Q5_1: {0, 2}, Q8_0: {0}, Q8_1: {0, 2},
	Q2_K: {80, 82}, Q3_K: {108}, Q4_K: {0, 2}, Q5_K: {0, 2}, Q6_K: {208},
	IQ4_NL: {0}, IQ4_XS: {0}, IQ2_XXS: {0}, IQ2_XS: {0}, IQ3_XXS: {0}, IQ3_S: {0},
}

// testTypes are the types Dequantize supports.
var testTypes = []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K,
	IQ4_NL, IQ4_XS, MXFP4, IQ2_XXS, IQ2_XS, IQ3_XXS, IQ3_S}

// randomBlocks returns n elements of type t made of random bytes whose scale
// fields hold finite random values of magnitude around scale.
func randomBlocks(rng *rand.Rand, t Type, n int, scale float32) []byte {
	nb := n / t.BlockSize()
	ts := t.TypeSize()
	b := make([]byte, nb*ts)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for i := 0; i < nb; i++ {
		blk := b[i*ts : (i+1)*ts]
		switch t {
		case F32:
			binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(rng.NormFloat64())))
		case F16:
			binary.LittleEndian.PutUint16(blk, F32ToF16(float32(rng.NormFloat64())))
		case BF16:
			binary.LittleEndian.PutUint16(blk, F32ToBF16(float32(rng.NormFloat64())))
		case Q8_K:
			binary.LittleEndian.PutUint32(blk, math.Float32bits(scale*float32(rng.NormFloat64())))
		case MXFP4: // an exponent near 2^0 keeps the values finite
			blk[0] = byte(120 + rng.IntN(8))
		}
		for _, off := range halfFields[t] {
			binary.LittleEndian.PutUint16(blk[off:], F32ToF16(scale*float32(rng.NormFloat64())))
		}
	}
	return b
}
