package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// quantFunc converts len(src) floats (whole blocks) into dst, which callers
// guarantee is large enough.
type quantFunc func(src []float32, dst []byte)

// The reference quantizers used by Quantize (ggml's quantize_row_*_ref).
var (
	quantRefF32   quantFunc = quantF32Go
	quantRefF16   quantFunc = quantF16Go
	quantRefBF16  quantFunc = quantBF16Go
	quantRefQ4_0  quantFunc = quantQ4_0RefGo
	quantRefQ4_1  quantFunc = quantQ4_1RefGo
	quantRefQ5_0  quantFunc = quantQ5_0RefGo
	quantRefQ5_1  quantFunc = quantQ5_1RefGo
	quantRefQ8_0  quantFunc = quantQ8_0RefGo
	quantRefQ8_1  quantFunc = quantQ8_1RefGo
	quantRefQ8_K  quantFunc = quantQ8_KGo
	quantRefMXFP4 quantFunc = quantMXFP4RefGo
)

// The activation quantizers used by MatVec/MatMul (ggml's CPU-backend
// quantize_row_q8_0 / q8_1 / q8_K as compiled for x86 with AVX2).
var (
	quantActQ8_0 quantFunc = quantQ8_0ActGo
	quantActQ8_1 quantFunc = quantQ8_1ActGo
	quantActQ8_K quantFunc = quantQ8_KGo
)

func quantizer(t Type) *quantFunc {
	switch t {
	case F32:
		return &quantRefF32
	case F16:
		return &quantRefF16
	case BF16:
		return &quantRefBF16
	case Q4_0:
		return &quantRefQ4_0
	case Q4_1:
		return &quantRefQ4_1
	case Q5_0:
		return &quantRefQ5_0
	case Q5_1:
		return &quantRefQ5_1
	case Q8_0:
		return &quantRefQ8_0
	case Q8_1:
		return &quantRefQ8_1
	case Q8_K:
		return &quantRefQ8_K
	case MXFP4:
		return &quantRefMXFP4
	}
	return nil
}

// Quantize converts src into type t, writing RowBytes(len(src)) bytes to dst.
// Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q8_K and MXFP4, with
// the rounding of ggml's reference quantizers (quantize_row_*_ref), so that
// the bytes match files written by llama.cpp for the same input.
func Quantize(t Type, src []float32, dst []byte) error {
	f := quantizer(t)
	if f == nil {
		return fmt.Errorf("quantize: converting to %s is not supported", t)
	}
	need, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if len(dst) < need {
		return fmt.Errorf("quantize: %d %s elements need %d bytes, dst has %d", len(src), t, need, len(dst))
	}
	(*f)(src, dst[:need])
	return nil
}

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

// truncInt converts like a C float→int cast (toward zero), saturating instead
// of being undefined outside the int32 range or for NaN (NaN gives 0).
func truncInt(f float32) int {
	switch {
	case f != f:
		return 0
	case f >= 2147483647:
		return math.MaxInt32
	case f <= -2147483648:
		return math.MinInt32
	}
	return int(f)
}

// nearestInt rounds half to even, as ggml's nearest_int (valid for |f| < 2^22,
// saturating beyond).
func nearestInt(f float32) int {
	if !(f > -4194303 && f < 4194303) {
		if f > 0 {
			return 4194303
		}
		if f < 0 {
			return -4194303
		}
		return 0 // NaN
	}
	v := f + 12582912
	return int(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// roundAway rounds half away from zero (C roundf), saturated to int8 range
// by the caller.
func roundAway(f float32) int {
	return truncInt(float32(math.Round(float64(f))))
}

func clampI8(v int) byte {
	if v > 127 {
		v = 127
	} else if v < -128 {
		v = -128
	}
	return byte(int8(v))
}

func quantF32Go(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func quantF16Go(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
	}
}

func quantBF16Go(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
	}
}

// absMaxSigned returns the element of largest magnitude (the first one on
// ties) and its magnitude.
func absMaxSigned(x []float32) (maxv, amax float32) {
	for _, v := range x {
		if a := abs32(v); amax < a {
			amax, maxv = a, v
		}
	}
	return maxv, amax
}

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

func inv(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

func quantQ4_0RefGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := src[i*qk : i*qk+qk]
		b := (*[szQ40]byte)(dst[i*szQ40:])
		maxv, _ := absMaxSigned(x)
		d := maxv / -8
		id := inv(d)
		putF16(b[0:], d)
		for j := 0; j < 16; j++ {
			x0 := min(15, truncInt(float32(x[j]*id)+8.5))
			x1 := min(15, truncInt(float32(x[j+16]*id)+8.5))
			b[2+j] = byte(x0)&15 | byte(x1)<<4
		}
	}
}

func quantQ4_1RefGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := src[i*qk : i*qk+qk]
		b := (*[szQ41]byte)(dst[i*szQ41:])
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		id := inv(d)
		putF16(b[0:], d)
		putF16(b[2:], lo)
		for j := 0; j < 16; j++ {
			x0 := min(15, truncInt(float32((x[j]-lo)*id)+0.5))
			x1 := min(15, truncInt(float32((x[j+16]-lo)*id)+0.5))
			b[4+j] = byte(x0)&15 | byte(x1)<<4
		}
	}
}

func quantQ5_0RefGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := src[i*qk : i*qk+qk]
		b := (*[szQ50]byte)(dst[i*szQ50:])
		maxv, _ := absMaxSigned(x)
		d := maxv / -16
		id := inv(d)
		putF16(b[0:], d)
		var qh uint32
		for j := 0; j < 16; j++ {
			x0 := byte(min(31, truncInt(float32(x[j]*id)+16.5)))
			x1 := byte(min(31, truncInt(float32(x[j+16]*id)+16.5)))
			b[6+j] = x0&15 | (x1&15)<<4
			qh |= uint32(x0>>4&1) << j
			qh |= uint32(x1>>4&1) << (j + 16)
		}
		binary.LittleEndian.PutUint32(b[2:], qh)
	}
}

func quantQ5_1RefGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := src[i*qk : i*qk+qk]
		b := (*[szQ51]byte)(dst[i*szQ51:])
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		id := inv(d)
		putF16(b[0:], d)
		putF16(b[2:], lo)
		var qh uint32
		for j := 0; j < 16; j++ {
			// ggml casts to uint8_t without clamping; the value is ≤ 31.5.
			x0 := byte(min(31, truncInt(float32((x[j]-lo)*id)+0.5)))
			x1 := byte(min(31, truncInt(float32((x[j+16]-lo)*id)+0.5)))
			b[8+j] = x0&15 | (x1&15)<<4
			qh |= uint32(x0>>4&1) << j
			qh |= uint32(x1>>4&1) << (j + 16)
		}
		binary.LittleEndian.PutUint32(b[4:], qh)
	}
}

func quantQ8_0RefGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := src[i*qk : i*qk+qk]
		b := (*[szQ80]byte)(dst[i*szQ80:])
		_, amax := absMaxSigned(x)
		d := amax / 127
		id := inv(d)
		putF16(b[0:], d)
		for j := 0; j < qk; j++ {
			b[2+j] = clampI8(roundAway(x[j] * id))
		}
	}
}

func quantQ8_1RefGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := src[i*qk : i*qk+qk]
		b := (*[szQ81]byte)(dst[i*szQ81:])
		_, amax := absMaxSigned(x)
		d := amax / 127
		id := inv(d)
		putF16(b[0:], d)
		sum := 0
		for j := 0; j < qk; j++ {
			q := clampI8(roundAway(x[j] * id))
			b[4+j] = q
			sum += int(int8(q))
		}
		putF16(b[2:], float32(sum)*d)
	}
}

// quantQ8_0ActGo is ggml's AVX2 quantize_row_q8_0: id = 127/amax and
// round-half-even, which differs from the reference in the last bit of id and
// on ties.
func quantQ8_0ActGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := (*[qk]float32)(src[i*qk:])
		b := (*[szQ80]byte)(dst[i*szQ80:])
		_, amax := absMaxSigned(x[:])
		putF16(b[0:], amax/127)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		for j := 0; j < qk; j++ {
			b[2+j] = clampI8(nearestInt(x[j] * id))
		}
	}
}

// quantQ8_1ActGo is ggml's AVX2 quantize_row_q8_1 (see quantQ8_0ActGo), with
// s = d·Σq.
func quantQ8_1ActGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qk; i++ {
		x := (*[qk]float32)(src[i*qk:])
		b := (*[szQ81]byte)(dst[i*szQ81:])
		_, amax := absMaxSigned(x[:])
		d := amax / 127
		putF16(b[0:], d)
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		sum := 0
		for j := 0; j < qk; j++ {
			q := clampI8(nearestInt(x[j] * id))
			b[4+j] = q
			sum += int(int8(q))
		}
		putF16(b[2:], d*float32(sum))
	}
}

// quantQ8_KGo is ggml's quantize_row_q8_K_ref (also what its x86 backend
// uses for activations): iscale = -127/max where max is the signed element of
// largest magnitude, q = min(127, nearest_int(iscale·x)), d = 1/iscale, and
// bsums holds the sums of each 16 quants.
func quantQ8_KGo(src []float32, dst []byte) {
	for i := 0; i < len(src)/qkK; i++ {
		x := (*[qkK]float32)(src[i*qkK:])
		b := (*[szQ8K]byte)(dst[i*szQ8K:])
		var maxv, amax float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax, maxv = a, v
			}
		}
		if amax == 0 {
			clear(b[:])
			continue
		}
		iscale := -127 / maxv
		for j := 0; j < qkK; j++ {
			b[4+j] = clampI8(min(127, nearestInt(iscale*x[j])))
		}
		for j := 0; j < 16; j++ {
			s := 0
			for l := 0; l < 16; l++ {
				s += int(int8(b[4+16*j+l]))
			}
			binary.LittleEndian.PutUint16(b[260+2*j:], uint16(int16(s)))
		}
		binary.LittleEndian.PutUint32(b[0:], math.Float32bits(1/iscale))
	}
}
