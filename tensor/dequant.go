package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Block sizes in elements and in bytes of the supported block formats.
const (
	qk    = 32  // elements per block of the Q4_0 … Q8_1 formats
	qkK   = 256 // elements per super-block of the K-quants
	szQ40 = 18
	szQ41 = 20
	szQ50 = 22
	szQ51 = 24
	szQ80 = 34
	szQ81 = 36
	szQ2K = 84
	szQ3K = 110
	szQ4K = 144
	szQ5K = 176
	szQ6K = 210
	szQ8K = 292
)

// dequantFunc expands len(dst)/BlockSize whole blocks of src into dst. Callers
// guarantee that src holds them.
type dequantFunc func(src []byte, dst []float32)

// The dequantization kernels, one per type; replaceable by faster twins.
var (
	dequantF32  dequantFunc = dequantF32Go
	dequantF16  dequantFunc = dequantF16Go
	dequantBF16 dequantFunc = dequantBF16Go
	dequantQ4_0 dequantFunc = dequantQ4_0Go
	dequantQ4_1 dequantFunc = dequantQ4_1Go
	dequantQ5_0 dequantFunc = dequantQ5_0Go
	dequantQ5_1 dequantFunc = dequantQ5_1Go
	dequantQ8_0 dequantFunc = dequantQ8_0Go
	dequantQ8_1 dequantFunc = dequantQ8_1Go
	dequantQ2_K dequantFunc = dequantQ2_KGo
	dequantQ3_K dequantFunc = dequantQ3_KGo
	dequantQ4_K dequantFunc = dequantQ4_KGo
	dequantQ5_K dequantFunc = dequantQ5_KGo
	dequantQ6_K dequantFunc = dequantQ6_KGo
	dequantQ8_K dequantFunc = dequantQ8_KGo
)

// dequantizer returns the kernel variable for t, or nil.
func dequantizer(t Type) *dequantFunc {
	switch t {
	case F32:
		return &dequantF32
	case F16:
		return &dequantF16
	case BF16:
		return &dequantBF16
	case Q4_0:
		return &dequantQ4_0
	case Q4_1:
		return &dequantQ4_1
	case Q5_0:
		return &dequantQ5_0
	case Q5_1:
		return &dequantQ5_1
	case Q8_0:
		return &dequantQ8_0
	case Q8_1:
		return &dequantQ8_1
	case Q2_K:
		return &dequantQ2_K
	case Q3_K:
		return &dequantQ3_K
	case Q4_K:
		return &dequantQ4_K
	case Q5_K:
		return &dequantQ5_K
	case Q6_K:
		return &dequantQ6_K
	case Q8_K:
		return &dequantQ8_K
	}
	return iqDequantizer(t)
}

// Dequantize expands the first len(dst) elements stored in src (type t) into
// dst. len(dst) must be a whole number of blocks and src must hold at least
// that many bytes. Arbitrary bytes never make it panic (they may decode to
// Inf or NaN).
func Dequantize(t Type, src []byte, dst []float32) error {
	f := dequantizer(t)
	if f == nil {
		return fmt.Errorf("dequantize: tensor type %s is not supported", t)
	}
	need, err := t.RowBytes(len(dst))
	if err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	if len(src) < need {
		return fmt.Errorf("dequantize: %d %s elements need %d bytes, got %d", len(dst), t, need, len(src))
	}
	(*f)(src[:need], dst)
	return nil
}

// le16 reads a little-endian uint16 at b[0:2].
func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// f16At reads a little-endian half at b[0:2] as float32.
func f16At(b []byte) float32 { return f16Table[binary.LittleEndian.Uint16(b)] }

// f32At reads a little-endian float32 at b[0:4].
func f32At(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

// f32View reinterprets b (little-endian float32 data) as []float32 without
// copying. b's length must be a multiple of 4.
func f32View(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// f32Bytes reinterprets f as its little-endian bytes without copying.
func f32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*4)
}

func dequantF32Go(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = f32At(src[4*i:])
	}
}

func dequantF16Go(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = f16Table[binary.LittleEndian.Uint16(src[2*i:])]
	}
}

func dequantBF16Go(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func dequantQ4_0Go(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szQ40]byte)(src[i*szQ40:])
		y := (*[qk]float32)(dst[i*qk:])
		d := f16At(b[0:])
		for j := 0; j < 16; j++ {
			q := b[2+j]
			y[j] = float32(int(q&15)-8) * d
			y[j+16] = float32(int(q>>4)-8) * d
		}
	}
}

func dequantQ4_1Go(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szQ41]byte)(src[i*szQ41:])
		y := (*[qk]float32)(dst[i*qk:])
		d, m := f16At(b[0:]), f16At(b[2:])
		for j := 0; j < 16; j++ {
			q := b[4+j]
			y[j] = float32(q&15)*d + m
			y[j+16] = float32(q>>4)*d + m
		}
	}
}

func dequantQ5_0Go(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szQ50]byte)(src[i*szQ50:])
		y := (*[qk]float32)(dst[i*qk:])
		d := f16At(b[0:])
		qh := binary.LittleEndian.Uint32(b[2:])
		for j := 0; j < 16; j++ {
			q := b[6+j]
			h0 := byte(qh>>j) & 1 << 4
			h1 := byte(qh>>(j+16)) & 1 << 4
			y[j] = float32(int(q&15|h0)-16) * d
			y[j+16] = float32(int(q>>4|h1)-16) * d
		}
	}
}

func dequantQ5_1Go(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szQ51]byte)(src[i*szQ51:])
		y := (*[qk]float32)(dst[i*qk:])
		d, m := f16At(b[0:]), f16At(b[2:])
		qh := binary.LittleEndian.Uint32(b[4:])
		for j := 0; j < 16; j++ {
			q := b[8+j]
			h0 := byte(qh>>j) & 1 << 4
			h1 := byte(qh>>(j+16)) & 1 << 4
			y[j] = float32(q&15|h0)*d + m
			y[j+16] = float32(q>>4|h1)*d + m
		}
	}
}

func dequantQ8_0Go(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szQ80]byte)(src[i*szQ80:])
		y := (*[qk]float32)(dst[i*qk:])
		d := f16At(b[0:])
		for j := 0; j < qk; j++ {
			y[j] = float32(int8(b[2+j])) * d
		}
	}
}

func dequantQ8_1Go(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qk; i++ {
		b := (*[szQ81]byte)(src[i*szQ81:])
		y := (*[qk]float32)(dst[i*qk:])
		d := f16At(b[0:])
		for j := 0; j < qk; j++ {
			y[j] = float32(int8(b[4+j])) * d
		}
	}
}

// Q2_K super-block: scales[16] (low nibble scale, high nibble min), qs[64]
// (2-bit quants), d, dmin (f16).
func dequantQ2_KGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szQ2K]byte)(src[i*szQ2K:])
		y := (*[qkK]float32)(dst[i*qkK:])
		d, dmin := f16At(b[80:]), f16At(b[82:])
		sc := b[0:16]
		is := 0
		for n := 0; n < 2; n++ {
			q := b[16+32*n : 16+32*n+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				for h := 0; h < 2; h++ {
					s := sc[is]
					is++
					dl, ml := d*float32(s&15), dmin*float32(s>>4)
					out := y[n*128+j*32+h*16:]
					for l := 0; l < 16; l++ {
						out[l] = dl*float32(q[h*16+l]>>shift&3) - ml
					}
				}
			}
		}
	}
}

// q3kScales unpacks the sixteen 6-bit scales of a Q3_K block (still biased by 32).
func q3kScales(s []byte) [16]int8 {
	const m1, m2 = 0x03030303, 0x0f0f0f0f
	a0 := binary.LittleEndian.Uint32(s[0:])
	a1 := binary.LittleEndian.Uint32(s[4:])
	t := binary.LittleEndian.Uint32(s[8:])
	w := [4]uint32{
		a0&m2 | (t>>0&m1)<<4,
		a1&m2 | (t>>2&m1)<<4,
		a0>>4&m2 | (t>>4&m1)<<4,
		a1>>4&m2 | (t>>6&m1)<<4,
	}
	var out [16]int8
	for k := 0; k < 4; k++ {
		for j := 0; j < 4; j++ {
			out[4*k+j] = int8(byte(w[k] >> (8 * j)))
		}
	}
	return out
}

// Q3_K super-block: hmask[32] (high bits), qs[64] (low 2 bits), scales[12]
// (sixteen 6-bit scales), d (f16).
func dequantQ3_KGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szQ3K]byte)(src[i*szQ3K:])
		y := (*[qkK]float32)(dst[i*qkK:])
		d := f16At(b[108:])
		sc := q3kScales(b[96:108])
		hm := b[0:32]
		is := 0
		m := byte(1)
		for n := 0; n < 2; n++ {
			q := b[32+32*n : 32+32*n+32]
			for j := 0; j < 4; j++ {
				shift := uint(2 * j)
				for h := 0; h < 2; h++ {
					dl := d * float32(int(sc[is])-32)
					is++
					out := y[n*128+j*32+h*16:]
					for l := 0; l < 16; l++ {
						v := int(q[h*16+l] >> shift & 3)
						if hm[h*16+l]&m == 0 {
							v -= 4
						}
						out[l] = dl * float32(v)
					}
				}
				m <<= 1
			}
		}
	}
}

// k4Scales unpacks the eight 6-bit scales and mins of a Q4_K / Q5_K block.
func k4Scales(s []byte) (sc, mn [8]uint8) {
	s = s[:12]
	for j := 0; j < 4; j++ {
		sc[j] = s[j] & 63
		mn[j] = s[j+4] & 63
	}
	for j := 4; j < 8; j++ {
		sc[j] = s[j+4]&15 | s[j-4]>>6<<4
		mn[j] = s[j+4]>>4 | s[j]>>6<<4
	}
	return sc, mn
}

// Q4_K super-block: d, dmin (f16), scales[12], qs[128].
func dequantQ4_KGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szQ4K]byte)(src[i*szQ4K:])
		y := (*[qkK]float32)(dst[i*qkK:])
		d, dmin := f16At(b[0:]), f16At(b[2:])
		sc, mn := k4Scales(b[4:16])
		for g := 0; g < 4; g++ {
			q := b[16+32*g : 16+32*g+32]
			d1, m1 := d*float32(sc[2*g]), dmin*float32(mn[2*g])
			d2, m2 := d*float32(sc[2*g+1]), dmin*float32(mn[2*g+1])
			out := y[64*g : 64*g+64]
			for l := 0; l < 32; l++ {
				out[l] = d1*float32(q[l]&15) - m1
				out[l+32] = d2*float32(q[l]>>4) - m2
			}
		}
	}
}

// Q5_K super-block: d, dmin (f16), scales[12], qh[32], qs[128].
func dequantQ5_KGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szQ5K]byte)(src[i*szQ5K:])
		y := (*[qkK]float32)(dst[i*qkK:])
		d, dmin := f16At(b[0:]), f16At(b[2:])
		sc, mn := k4Scales(b[4:16])
		qh := b[16:48]
		for g := 0; g < 4; g++ {
			q := b[48+32*g : 48+32*g+32]
			d1, m1 := d*float32(sc[2*g]), dmin*float32(mn[2*g])
			d2, m2 := d*float32(sc[2*g+1]), dmin*float32(mn[2*g+1])
			s1, s2 := uint(2*g), uint(2*g+1)
			out := y[64*g : 64*g+64]
			for l := 0; l < 32; l++ {
				out[l] = d1*float32(q[l]&15|(qh[l]>>s1&1)<<4) - m1
				out[l+32] = d2*float32(q[l]>>4|(qh[l]>>s2&1)<<4) - m2
			}
		}
	}
}

// Q6_K super-block: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16]
// (int8), d (f16).
func dequantQ6_KGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szQ6K]byte)(src[i*szQ6K:])
		y := (*[qkK]float32)(dst[i*qkK:])
		d := f16At(b[208:])
		for n := 0; n < 2; n++ {
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			sc := b[192+8*n : 192+8*n+8]
			out := y[128*n : 128*n+128]
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int(ql[l]&15|(qh[l]>>0&3)<<4) - 32
				q2 := int(ql[l+32]&15|(qh[l]>>2&3)<<4) - 32
				q3 := int(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				out[l] = d * float32(int8(sc[is])) * float32(q1)
				out[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				out[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				out[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
	}
}

// Q8_K super-block: d (float32), qs[256] (int8), bsums[16] (int16).
func dequantQ8_KGo(src []byte, dst []float32) {
	for i := 0; i < len(dst)/qkK; i++ {
		b := (*[szQ8K]byte)(src[i*szQ8K:])
		y := (*[qkK]float32)(dst[i*qkK:])
		d := f32At(b[0:])
		for j := 0; j < qkK; j++ {
			y[j] = d * float32(int8(b[4+j]))
		}
	}
}
