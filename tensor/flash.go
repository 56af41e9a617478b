package tensor

// The element-wise steps of llama.cpp's CPU flash attention
// (ggml_compute_forward_flash_attn_ext_f16): the value accumulator updates of
// its online softmax, in the float steps of ggml's AVX-512 vector code. Each
// is a pure-Go kernel that a faster twin may replace bit for bit.

// MadF16 sets y[i] += x[i]·v in half precision as ggml_vec_mad_f16 does: both
// halves widened to float32, one fused multiply-add, the result rounded to
// F16 (ties to even). x must be at least as long as y.
func MadF16(y, x []uint16, v float32) { madF16(y, x[:len(y)], v) }

// ScaleF16 sets y[i] *= v in half precision as ggml_vec_scale_f16 does: the
// half widened to float32, multiplied, rounded back to F16.
func ScaleF16(y []uint16, v float32) { scaleF16(y, v) }

// MadF32 sets y[i] += x[i]·v with one fused multiply-add per element, as
// ggml_vec_mad_f32 does. x must be at least as long as y.
func MadF32(y, x []float32, v float32) { madF32(y, x[:len(y)], v) }

// ScaleF32 sets y[i] *= v, as ggml_vec_scale_f32 does.
func ScaleF32(y []float32, v float32) {
	full := len(y) &^ 15
	scale16(y[:full], v)
	scale16Go(y[full:], v)
}

// RoundF16Slice sets dst[i] to src[i] rounded to half precision and back,
// F16ToF32(F32ToF16(src[i])), as ggml converts a product's float32 operand
// to its F16 vector type. dst must be at least as long as src.
func RoundF16Slice(dst, src []float32) { actF16(src, f32Bytes(dst[:len(src)])) }

// DequantizeKVRow writes the len(dst) values of a Q8_0 or Q4_0 row into dst
// as ggml's to_float of the type does (dequantize_row_q8_0 / _q4_0, the
// reference code: each quant times the block's scale, one rounding). It does
// nothing for other types; callers guarantee the lengths (a multiple of 32).
func DequantizeKVRow(t Type, src []byte, dst []float32) {
	switch t {
	case Q8_0:
		for i := 0; i < len(dst)/qk; i++ {
			b := (*[szQ80]byte)(src[i*szQ80:])
			d := f16At(b[0:])
			o := dst[i*qk : i*qk+qk]
			for j := range o {
				o[j] = float32(int8(b[2+j])) * d
			}
		}
	case Q4_0:
		for i := 0; i < len(dst)/qk; i++ {
			b := (*[szQ40]byte)(src[i*szQ40:])
			d := f16At(b[0:])
			o := dst[i*qk : i*qk+qk]
			for j := range 16 {
				o[j] = float32(int32(b[2+j]&15)-8) * d
				o[j+16] = float32(int32(b[2+j]>>4)-8) * d
			}
		}
	}
}

// MadKVRow sets y[i] += x[i]·v where x is the row w of type t (Q8_0 or
// Q4_0) dequantized as DequantizeKVRow does, tmp scratch of len(y) values:
// each element's product q·d rounded, then one fused multiply-add, as
// llama.cpp's flash attention (v_to_float, then ggml_vec_mad_f32). It does
// nothing for other types; callers guarantee the lengths (a multiple of 32).
func MadKVRow(t Type, y []float32, w []byte, v float32, tmp []float32) {
	if t == Q8_0 {
		madKVQ8_0(y, w, v)
		return
	}
	DequantizeKVRow(t, w, tmp[:len(y)])
	madF32(y, tmp[:len(y)], v)
}

// TileScores sets acc[j], for the 64 cells j of a flash-attention tile, to
// the fused multiply-add chain over d = 0 … len(q)−1 of kt[d·stride+j]·q[d]
// from zero, in order: the scores of llama.cpp's tiled kernel (its
// simd_gemm of the query row by the tile's keys, transposed to float32).
// kt must hold (len(q)−1)·stride+64 values.
func TileScores(acc *[64]float32, kt, q []float32, stride int) { tileScores(acc, kt, q, stride) }

// MadF16F32 sets y[i] = fma(x[i], v, y[i]) with x in half precision widened
// to float32: the tiled kernel's value accumulation, one cell at a time (its
// simd_gemm sums the cells of a tile in order for each component). x must be
// at least as long as y.
func MadF16F32(y []float32, x []uint16, v float32) { madF16F32(y, x[:len(y)], v) }

// SoftmaxExp replaces every x[i] by e**(x[i]−m) and returns their sum as
// ggml_vec_soft_max_f32 does on AVX-512 (flash attention's tiles): groups of
// 16 through ggml's SIMD exp polynomial, each group reduced as
// _mm512_reduce_add_ps and added to a float64 total; the len(x)%16 rest by
// the C library's expf (Expf), added one by one.
func SoftmaxExp(x []float32, m float32) float64 {
	full := len(x) &^ 15
	expSub16(x[:full], m)
	var sum float64
	var lanes [16]float32
	for g := 0; g < full; g += 16 {
		copy(lanes[:], x[g:g+16])
		sum += float64(Sum16(&lanes))
	}
	for i := full; i < len(x); i++ {
		x[i] = Expf(x[i] - m)
		sum += float64(x[i])
	}
	return sum
}

// The kernels above, replaceable by faster twins (see useAsm).
var (
	madF16   = madF16Go
	scaleF16 = scaleF16Go
	madF32   = madF32Go
	// madKVQ8_0 is MadKVRow for Q8_0
	madKVQ8_0  = madKVQ8_0Go
	tileScores = tileScoresGo
	madF16F32  = madF16F32Go
)

func tileScoresGo(acc *[64]float32, kt, q []float32, stride int) {
	*acc = [64]float32{}
	for d, qd := range q {
		row := kt[d*stride : d*stride+64]
		for j, k := range row {
			acc[j] = FMA32(k, qd, acc[j])
		}
	}
}

func madF16F32Go(y []float32, x []uint16, v float32) {
	x = x[:len(y)]
	for i, h := range x {
		y[i] = FMA32(f16Table[h], v, y[i])
	}
}

func madKVQ8_0Go(y []float32, w []byte, v float32) {
	for i := 0; i < len(y)/qk; i++ {
		b := (*[szQ80]byte)(w[i*szQ80:])
		d := f16At(b[0:])
		o := y[i*qk : i*qk+qk]
		for j := range o {
			o[j] = FMA32(float32(int8(b[2+j]))*d, v, o[j])
		}
	}
}

func madF16Go(y, x []uint16, v float32) {
	x = x[:len(y)]
	for i, h := range y {
		y[i] = F32ToF16(FMA32(f16Table[x[i]], v, f16Table[h]))
	}
}

func scaleF16Go(y []uint16, v float32) {
	for i, h := range y {
		y[i] = F32ToF16(f16Table[h] * v)
	}
}

func madF32Go(y, x []float32, v float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] = FMA32(x[i], v, y[i])
	}
}
