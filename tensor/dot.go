package tensor

import (
	"encoding/binary"
)

// dotFunc returns the dot product of n elements: one weight row w (in the
// weight type) and activations x already converted by the weight type's
// activation kernel (see kernelFor). Callers guarantee the lengths.
type dotFunc func(n int, w, x []byte) float32

// The dot-product kernels, named weight type × activation type; replaceable
// by faster twins.
var (
	dotF32F32   dotFunc = dotF32F32Go
	dotF16F16   dotFunc = dotF16F16Go
	dotBF16BF16 dotFunc = dotBF16BF16Go
	dotQ4_0Q8_0 dotFunc = dotQ4_0Q8_0Go
	dotQ4_1Q8_1 dotFunc = dotQ4_1Q8_1Go
	dotQ5_0Q8_0 dotFunc = dotQ5_0Q8_0Go
	dotQ5_1Q8_1 dotFunc = dotQ5_1Q8_1Go
	dotQ8_0Q8_0 dotFunc = dotQ8_0Q8_0Go
	dotQ2_KQ8_K dotFunc = dotQ2_KQ8_KGo
	dotQ3_KQ8_K dotFunc = dotQ3_KQ8_KGo
	dotQ4_KQ8_K dotFunc = dotQ4_KQ8_KGo
	dotQ5_KQ8_K dotFunc = dotQ5_KQ8_KGo
	dotQ6_KQ8_K dotFunc = dotQ6_KQ8_KGo
	dotQ8_KQ8_K dotFunc = dotQ8_KQ8_KGo
)

// dot4Func computes a dotFunc of one weight row w with four activation rows
// at x, x[xs:], x[2*xs:] and x[3*xs:] into out, each result identical to the
// dotFunc's.
type dot4Func func(n int, w, x []byte, xs int, out *[4]float32)

// dotQ4_0Q8_0x4 is dotQ4_0Q8_0 for four activation rows at once, or nil when
// no such kernel exists on this machine (MatMul then calls dotQ4_0Q8_0 four
// times).
var dotQ4_0Q8_0x4 dot4Func

// dotQ8_0Q8_0x4 is dotQ8_0Q8_0 for four activation rows at once, or nil.
var dotQ8_0Q8_0x4 dot4Func

// dot4For returns the four-row kernel for weights of type t, or nil.
func dot4For(t Type) dot4Func {
	switch t {
	case Q4_0:
		return dotQ4_0Q8_0x4
	case Q8_0:
		return dotQ8_0Q8_0x4
	}
	return nil
}

// The activation kernels for the float weight types: x rounded to F16/BF16,
// kept as float32 (the rounded values are exact in float32, so the products
// equal those of ggml's F16/BF16 dot).
var (
	actF16  quantFunc = actF16Go
	actBF16 quantFunc = actBF16Go
)

// kernel describes how rows of one weight type are multiplied by a vector.
type kernel struct {
	vec  Type       // ggml's vec_dot_type for the weight type
	repr Type       // layout of the converted activations (F32 for F16/BF16)
	act  *quantFunc // converts activations; nil when x is used as is (F32)
	dot  *dotFunc
}

// kernelFor returns the kernel of weight type t and whether t is supported.
func kernelFor(t Type) (kernel, bool) {
	switch t {
	case F32:
		return kernel{F32, F32, nil, &dotF32F32}, true
	case F16:
		return kernel{F16, F32, &actF16, &dotF16F16}, true
	case BF16:
		return kernel{BF16, F32, &actBF16, &dotBF16BF16}, true
	case Q4_0:
		return kernel{Q8_0, Q8_0, &quantActQ8_0, &dotQ4_0Q8_0}, true
	case Q4_1:
		return kernel{Q8_1, Q8_1, &quantActQ8_1, &dotQ4_1Q8_1}, true
	case Q5_0:
		return kernel{Q8_0, Q8_0, &quantActQ8_0, &dotQ5_0Q8_0}, true
	case Q5_1:
		return kernel{Q8_1, Q8_1, &quantActQ8_1, &dotQ5_1Q8_1}, true
	case Q8_0:
		return kernel{Q8_0, Q8_0, &quantActQ8_0, &dotQ8_0Q8_0}, true
	case Q2_K:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotQ2_KQ8_K}, true
	case Q3_K:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotQ3_KQ8_K}, true
	case Q4_K:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotQ4_KQ8_K}, true
	case Q5_K:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotQ5_KQ8_K}, true
	case Q6_K:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotQ6_KQ8_K}, true
	case Q8_K:
		return kernel{Q8_K, Q8_K, &quantActQ8_K, &dotQ8_KQ8_K}, true
	}
	return iqKernel(t)
}

// Supported reports whether matrices of type t can be used with MatVec,
// MatMul and Row: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K,
// Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS, MXFP4, IQ2_XXS, IQ2_XS, IQ3_XXS and
// IQ3_S.
func Supported(t Type) bool { _, ok := kernelFor(t); return ok }

// VecDotType returns the type the activations are converted to before they
// are multiplied with weights of type t (ggml's vec_dot_type), and false when
// t is not supported.
func VecDotType(t Type) (Type, bool) {
	k, ok := kernelFor(t)
	return k.vec, ok
}

// dotF32 sums a[i]·b[i] in eight float32 lanes (element i in lane i%8), then
// adds the lanes pairwise, like a SIMD reduction.
func dotF32(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x := (*[8]float32)(a[i:])
		y := (*[8]float32)(b[i:])
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
	}
	s := ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
	for ; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

func dotF32F32Go(n int, w, x []byte) float32 {
	return ggmlDotF32(f32View(w[:4*n]), f32View(x[:4*n]))
}

// dotF16F16Go is ggml_vec_dot_f16 (AVX-512) with the activations already
// rounded to F16 (held as float32): four 16-lane FMA accumulators over blocks
// of 64, reduced to one float, then the remaining products added in float64.
func dotF16F16Go(n int, w, x []byte) float32 {
	w = w[:2*n]
	y := f32View(x[:4*n])
	np := n &^ 63
	var sum float64
	if np > 0 {
		var acc [4][16]float32
		for i := 0; i < np; i += 64 {
			for j := range 4 {
				v := (*[32]byte)(w[2*(i+16*j):])
				u := (*[16]float32)(y[i+16*j:])
				s := &acc[j]
				for l := range 16 {
					// the product of two F16 values is exact in float32, so
					// multiply-then-add rounds like the fused multiply-add
					s[l] += f16Table[uint16(v[2*l])|uint16(v[2*l+1])<<8] * u[l]
				}
			}
		}
		sum = float64(sum4x16(&acc))
	}
	for i := np; i < n; i++ {
		sum += float64(f16Table[binary.LittleEndian.Uint16(w[2*i:])] * y[i])
	}
	return float32(sum)
}

func dotBF16BF16Go(n int, w, x []byte) float32 {
	w = w[:2*n]
	y := f32View(x[:4*n])
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= n; i += 4 {
		v := (*[8]byte)(w[2*i:])
		u := (*[4]float32)(y[i:])
		s0 += BF16ToF32(uint16(v[0])|uint16(v[1])<<8) * u[0]
		s1 += BF16ToF32(uint16(v[2])|uint16(v[3])<<8) * u[1]
		s2 += BF16ToF32(uint16(v[4])|uint16(v[5])<<8) * u[2]
		s3 += BF16ToF32(uint16(v[6])|uint16(v[7])<<8) * u[3]
	}
	s := (s0 + s2) + (s1 + s3)
	for ; i < n; i++ {
		s += BF16ToF32(binary.LittleEndian.Uint16(w[2*i:])) * y[i]
	}
	return s
}

func actF16Go(src []float32, dst []byte) {
	y := f32View(dst[:4*len(src)])
	for i, v := range src {
		y[i] = roundF16(v)
	}
}

func actBF16Go(src []float32, dst []byte) {
	y := f32View(dst[:4*len(src)])
	for i, v := range src {
		y[i] = roundBF16(v)
	}
}

// dotQ4_0Q8_0Go is llama.cpp's Q4_0 product on x86 with AVX2, where ggml
// repacks Q4_0 weights into 8-row interleaved blocks (q4_0_8x8, used for any
// matrix whose row count is a multiple of 8, for one token and for batches):
// per block, the exact integer dot product is scaled by d_w·d_x and added to
// the row's float accumulator with one FMA.
func dotQ4_0Q8_0Go(n int, w, x []byte) float32 {
	var sum float32
	for i := 0; i < n/qk; i++ {
		a := (*[szQ40]byte)(w[i*szQ40:])
		b := (*[szQ80]byte)(x[i*szQ80:])
		var s int32
		for j := 0; j < 16; j++ {
			q := a[2+j]
			s += (int32(q&15)-8)*int32(int8(b[2+j])) + (int32(q>>4)-8)*int32(int8(b[18+j]))
		}
		sum = FMA32(float32(s), f16At(a[0:])*f16At(b[0:]), sum)
	}
	return sum
}

func dotQ4_1Q8_1Go(n int, w, x []byte) float32 {
	var sum, summs float32
	for i := 0; i < n/qk; i++ {
		a := (*[szQ41]byte)(w[i*szQ41:])
		b := (*[szQ81]byte)(x[i*szQ81:])
		var s int32
		for j := 0; j < 16; j++ {
			q := a[4+j]
			s += int32(q&15)*int32(int8(b[4+j])) + int32(q>>4)*int32(int8(b[20+j]))
		}
		summs += f16At(a[2:]) * f16At(b[2:])
		sum += float32(s) * (f16At(a[0:]) * f16At(b[0:]))
	}
	return sum + summs
}

// dotQ5_0Q8_0Go is ggml_vec_dot_q5_0_q8_0 (AVX2): per block, eight lanes
// of four integer products each, scaled by d_w·d_x and accumulated with FMA;
// the lanes are summed at the end.
func dotQ5_0Q8_0Go(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qk; i++ {
		a := (*[szQ50]byte)(w[i*szQ50:])
		b := (*[szQ80]byte)(x[i*szQ80:])
		qh := binary.LittleEndian.Uint32(a[2:])
		var isum [8]int32
		lo, hi := qh, qh>>16
		for j := 0; j < 16; j++ {
			q := a[6+j]
			v0 := int32(q&15|byte(lo<<4)&16) - 16
			v1 := int32(q>>4|byte(hi<<4)&16) - 16
			lo >>= 1
			hi >>= 1
			isum[j/4] += v0 * int32(int8(b[2+j]))
			isum[4+j/4] += v1 * int32(int8(b[18+j]))
		}
		kLanes(&acc, f16At(a[0:])*f16At(b[0:]), &isum)
	}
	return Sum8(&acc)
}

func dotQ5_1Q8_1Go(n int, w, x []byte) float32 {
	var sum, summs float32
	for i := 0; i < n/qk; i++ {
		a := (*[szQ51]byte)(w[i*szQ51:])
		b := (*[szQ81]byte)(x[i*szQ81:])
		qh := binary.LittleEndian.Uint32(a[4:])
		var s int32
		lo, hi := qh, qh>>16
		for j := 0; j < 16; j++ {
			q := a[8+j]
			v0 := int32(q&15 | byte(lo<<4)&16)
			v1 := int32(q>>4 | byte(hi<<4)&16)
			lo >>= 1
			hi >>= 1
			s += v0*int32(int8(b[4+j])) + v1*int32(int8(b[20+j]))
		}
		summs += f16At(a[2:]) * f16At(b[2:])
		sum += float32(s) * (f16At(a[0:]) * f16At(b[0:]))
	}
	return sum + summs
}

// dotQ8_0Q8_0Go is ggml_vec_dot_q8_0_q8_0 (AVX2), which llamafile's tinyBLAS
// matches for batches: per block, eight lanes of four integer products each,
// scaled by d_w·d_x and accumulated with FMA; the lanes are summed at the end.
func dotQ8_0Q8_0Go(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qk; i++ {
		a := (*[szQ80]byte)(w[i*szQ80:])
		b := (*[szQ80]byte)(x[i*szQ80:])
		d := f16At(a[0:]) * f16At(b[0:])
		for l := range 8 {
			j := 2 + 4*l
			s := int32(int8(a[j]))*int32(int8(b[j])) + int32(int8(a[j+1]))*int32(int8(b[j+1])) +
				int32(int8(a[j+2]))*int32(int8(b[j+2])) + int32(int8(a[j+3]))*int32(int8(b[j+3]))
			acc[l] = FMA32(d, float32(s), acc[l])
		}
	}
	return Sum8(&acc)
}

// q8kBsum returns bsums[j] of a Q8_K block.
func q8kBsum(b *[szQ8K]byte, j int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(b[260+2*j:])))
}

// dotQ2_KQ8_KGo and dotQ3_KQ8_KGo follow ggml's AVX2 kernels like the
// K-quants below (eight integer lanes per super-block, scaled by d with FMA,
// summed at the end); Q2_K's mins term goes to the same lanes first, lane L
// holding the mins of sub-blocks 2L and 2L+1 times their bsums, scaled by
// -dmin.
func dotQ2_KQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := (*[szQ2K]byte)(w[i*szQ2K:])
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		y := b[4 : 4+qkK]
		yd := f32At(b[0:])
		d := yd * f16At(a[80:])
		dmin := -yd * f16At(a[82:])
		for l := range acc {
			p := int32(a[2*l]>>4)*q8kBsum(b, 2*l) + int32(a[2*l+1]>>4)*q8kBsum(b, 2*l+1)
			acc[l] = FMA32(dmin, float32(p), acc[l])
		}
		var isum [8]int32
		is := 0
		for k := 0; k < 2; k++ {
			q := a[16+32*k : 16+32*k+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				yy := y[128*k+32*j : 128*k+32*j+32]
				s0, s1 := int32(a[is]&15), int32(a[is+1]&15)
				for l := 0; l < 16; l++ {
					isum[l/4] += s0 * int32(int8(yy[l])) * int32(q[l]>>shift&3)
					isum[4+l/4] += s1 * int32(int8(yy[l+16])) * int32(q[l+16]>>shift&3)
				}
				is += 2
			}
		}
		kLanes(&acc, d, &isum)
	}
	return Sum8(&acc)
}

func dotQ3_KQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := (*[szQ3K]byte)(w[i*szQ3K:])
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		y := b[4 : 4+qkK]
		sc := q3kScales(a[96:108])
		hm := a[0:32]
		var isum [8]int32
		is := 0
		m := byte(1)
		for k := 0; k < 2; k++ {
			q := a[32+32*k : 32+32*k+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				yy := y[128*k+32*j : 128*k+32*j+32]
				s0, s1 := int32(sc[is])-32, int32(sc[is+1])-32
				for l := 0; l < 16; l++ {
					v0 := int32(q[l] >> shift & 3)
					if hm[l]&m == 0 {
						v0 -= 4
					}
					v1 := int32(q[l+16] >> shift & 3)
					if hm[l+16]&m == 0 {
						v1 -= 4
					}
					isum[l/4] += s0 * v0 * int32(int8(yy[l]))
					isum[4+l/4] += s1 * v1 * int32(int8(yy[l+16]))
				}
				is += 2
				m <<= 1
			}
		}
		kLanes(&acc, f32At(b[0:])*f16At(a[108:]), &isum)
	}
	return Sum8(&acc)
}

// The K-quant kernels below follow ggml's AVX2 ones: within a super-block the
// integer products go to eight int32 lanes (lane L holds the elements whose
// index mod 32 is in [4L, 4L+4), each times its sub-block scale); each lane
// is then scaled by d and accumulated with FMA, and the lanes are summed at
// the end (Sum8).

// kLanes scales the eight integer lanes of one super-block by d into acc.
func kLanes(acc *[8]float32, d float32, isum *[8]int32) {
	for l := range acc {
		acc[l] = FMA32(d, float32(isum[l]), acc[l])
	}
}

func dotQ4_KQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	var accm [4]float32 // the mins term, in four lanes of sub-block pairs
	for i := 0; i < n/qkK; i++ {
		a := (*[szQ4K]byte)(w[i*szQ4K:])
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		y := b[4 : 4+qkK]
		sc, mn := k4Scales(a[4:16])
		yd := f32At(b[0:])
		d := yd * f16At(a[0:])
		dmin := -yd * f16At(a[2:])
		for k := range 4 {
			p := int32(mn[2*k])*(q8kBsum(b, 4*k)+q8kBsum(b, 4*k+1)) +
				int32(mn[2*k+1])*(q8kBsum(b, 4*k+2)+q8kBsum(b, 4*k+3))
			accm[k] = FMA32(dmin, float32(p), accm[k])
		}
		var isum [8]int32
		for g := 0; g < 4; g++ {
			q := a[16+32*g : 16+32*g+32]
			yy := y[64*g : 64*g+64]
			s0, s1 := int32(sc[2*g]), int32(sc[2*g+1])
			for l := 0; l < 32; l++ {
				isum[l>>2] += s0*int32(q[l]&15)*int32(int8(yy[l])) + s1*int32(q[l]>>4)*int32(int8(yy[l+32]))
			}
		}
		kLanes(&acc, d, &isum)
	}
	return Sum8(&acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]))
}

func dotQ5_KQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	var summs float32
	for i := 0; i < n/qkK; i++ {
		a := (*[szQ5K]byte)(w[i*szQ5K:])
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		y := b[4 : 4+qkK]
		sc, mn := k4Scales(a[4:16])
		qh := a[16:48]
		yd := f32At(b[0:])
		d := yd * f16At(a[0:])
		dmin := -yd * f16At(a[2:])
		var mins int32
		for j := 0; j < 8; j++ {
			mins += int32(mn[j]) * (q8kBsum(b, 2*j) + q8kBsum(b, 2*j+1))
		}
		summs = FMA32(dmin, float32(mins), summs)
		var isum [8]int32
		for g := 0; g < 4; g++ {
			q := a[48+32*g : 48+32*g+32]
			yy := y[64*g : 64*g+64]
			b1, b2 := uint(2*g), uint(2*g+1)
			s0, s1 := int32(sc[2*g]), int32(sc[2*g+1])
			for l := 0; l < 32; l++ {
				isum[l>>2] += s0*int32(q[l]&15|(qh[l]>>b1&1)<<4)*int32(int8(yy[l])) +
					s1*int32(q[l]>>4|(qh[l]>>b2&1)<<4)*int32(int8(yy[l+32]))
			}
		}
		kLanes(&acc, d, &isum)
	}
	return Sum8(&acc) + summs
}

func dotQ6_KQ8_KGo(n int, w, x []byte) float32 {
	var acc [8]float32
	for i := 0; i < n/qkK; i++ {
		a := (*[szQ6K]byte)(w[i*szQ6K:])
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		var isum [8]int32
		for h := 0; h < 2; h++ {
			ql := a[64*h : 64*h+64]
			qh := a[128+32*h : 128+32*h+32]
			sc := a[192+8*h : 192+8*h+8]
			y := b[4+128*h : 4+128*h+128]
			for l := 0; l < 32; l++ {
				q1 := int32(ql[l]&15|(qh[l]>>0&3)<<4) - 32
				q2 := int32(ql[l+32]&15|(qh[l]>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				hf := l >> 4
				isum[l>>2] += int32(int8(sc[hf]))*q1*int32(int8(y[l])) + int32(int8(sc[hf+2]))*q2*int32(int8(y[l+32])) +
					int32(int8(sc[hf+4]))*q3*int32(int8(y[l+64])) + int32(int8(sc[hf+6]))*q4*int32(int8(y[l+96]))
			}
		}
		kLanes(&acc, f32At(b[0:])*f16At(a[208:]), &isum)
	}
	return Sum8(&acc)
}

func dotQ8_KQ8_KGo(n int, w, x []byte) float32 {
	var sum float32
	for i := 0; i < n/qkK; i++ {
		a := (*[szQ8K]byte)(w[i*szQ8K:])
		b := (*[szQ8K]byte)(x[i*szQ8K:])
		var s int32
		for j := 4; j < 4+qkK; j++ {
			s += int32(int8(a[j])) * int32(int8(b[j]))
		}
		sum += f32At(a[0:]) * f32At(b[0:]) * float32(s)
	}
	return sum
}
