package tensor

import "math"

// f16Table maps every IEEE half-precision bit pattern to its float32 value.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = f16ToF32Slow(uint16(i))
	}
	return &t
}()

// F16ToF32 converts an IEEE 754 half-precision value (given by its bits) to
// float32. The conversion is exact; NaN payloads are kept.
func F16ToF32(h uint16) float32 { return f16Table[h] }

// f16ToF32Slow converts a half to float32 bit by bit (used to fill the table).
func f16ToF32Slow(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: normalise the mantissa into a float32 normal.
	e := uint32(113)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// F32ToF16 converts a float32 to IEEE 754 half precision, rounding to the
// nearest value with ties to even (as the F16C instruction does). Values too
// large become ±Inf; NaNs stay NaN (quiet, payload truncated).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	if exp == 0 { // zero or float32 subnormal: far below half's smallest subnormal
		return sign
	}
	e := exp - 112 // biased half exponent
	if e >= 31 {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Half subnormal: value = m·2^(exp-150) in units of 2^-24.
		s := uint(126 - exp)
		if s > 24 {
			return sign
		}
		m := mant | 0x800000
		q := m >> s
		rem := m & (1<<s - 1)
		half := uint32(1) << (s - 1)
		if rem > half || (rem == half && q&1 == 1) {
			q++
		}
		return sign | uint16(q)
	}
	q := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && q&1 == 1) {
		q++ // may carry into the exponent, up to Inf: still correct
	}
	return sign | uint16(q)
}

// BF16ToF32 converts a bfloat16 value (given by its bits) to float32 exactly.
func BF16ToF32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// F32ToBF16 converts a float32 to bfloat16, rounding to nearest with ties to
// even, as ggml does; NaNs are made quiet.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// roundF16 returns f rounded to the nearest half-precision value.
func roundF16(f float32) float32 { return f16Table[F32ToF16(f)] }

// roundBF16 returns f rounded to the nearest bfloat16 value.
func roundBF16(f float32) float32 { return BF16ToF32(F32ToBF16(f)) }

// F32ToF16Slice converts src to half precision into dst, which must hold
// len(src) values: dst[i] = F32ToF16(src[i]), with the AVX-512 kernel where
// the CPU has one.
func F32ToF16Slice(dst []uint16, src []float32) { f32ToF16Slice(dst, src) }

// f32ToF16Slice is F32ToF16Slice's kernel, chosen by CPU features.
var f32ToF16Slice = f32ToF16Go

func f32ToF16Go(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, f := range src {
		dst[i] = F32ToF16(f)
	}
}
