package tensor

import (
	"fmt"
	"math"
)

// This file reproduces the floating-point summation order of llama.cpp's CPU
// backend (ggml built for x86-64 with AVX-512, FMA and llamafile's tinyBLAS),
// so that glassbox rounds exactly like the reference engine. A SIMD lane is an
// element of a small float32 array; a fused multiply-add rounds once.

// FMA32 returns a*b + c rounded once to float32, like a hardware fused
// multiply-add (vfmadd). The product of two float32 is exact in float64, so
// the float64 sum has one rounding; rounding that to float32 is then correct
// unless it landed exactly halfway between two float32 values. In that case
// the sum is made round-to-odd from its exact error (Knuth's TwoSum): its last
// bit, zero in a tie, then records on which side the exact sum lies. Written
// without calls so that it inlines into the kernels that use it.
func FMA32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	// the 29 bits float32 drops from float64's mantissa: 100…0 is a tie
	// (infinities never match; for a NaN the step below changes only bits
	// that the conversion to float32 drops)
	if bits := math.Float64bits(s); bits&(1<<29-1) == 1<<28 {
		bb := s - p
		if e := (p - (s - bb)) + (float64(c) - bb); e != 0 {
			// step to the odd neighbour on the side of the exact sum (e·s
			// cannot underflow: both are multiples of 2^-298, far above
			// float64's smallest normal)
			if e*s < 0 {
				bits -= 2
			}
			s = math.Float64frombits(bits + 1)
		}
	}
	return float32(s)
}

// Sum8 adds eight lanes as ggml's hsum_float_8 (and tinyBLAS's hsum of an
// __m256) does: upper half onto lower half, then pairs, then the last two.
func Sum8(v *[8]float32) float32 {
	return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
}

// Sum16 adds sixteen lanes as _mm512_reduce_add_ps does (GCC's expansion):
// halves of 8, then of 4, then lanes two apart, then the last two.
func Sum16(v *[16]float32) float32 {
	var a [8]float32
	for i := range a {
		a[i] = v[i+8] + v[i]
	}
	b0, b1, b2, b3 := a[4]+a[0], a[5]+a[1], a[6]+a[2], a[7]+a[3]
	return (b0 + b2) + (b1 + b3)
}

// sum4x16 reduces ggml's four 16-lane accumulators (GGML_F32x16_REDUCE):
// acc0+acc2 and acc1+acc3, then those two, then the 16 lanes.
func sum4x16(acc *[4][16]float32) float32 {
	var v [16]float32
	for l := range v {
		v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l])
	}
	return Sum16(&v)
}

// DotF16 returns the dot product of two F16 vectors as ggml_vec_dot_f16 (the
// single-token path, AVX-512) computes it: blocks of 64 elements go to four
// 16-lane FMA accumulators, which are reduced to one float; the remaining
// n%64 products are added in float64. a and b must have the same length.
func DotF16(a, b []uint16) float32 {
	return dotF16(a, b[:len(a)])
}

// DotF16Rows sets out[r] = DotF16(a, rows[r*stride:r*stride+len(a)]) for
// r < len(out): the dots of one F16 vector with rows of an F16 matrix stride
// elements apart (a query with the keys of consecutive cache positions),
// each exactly as DotF16 computes it, with the vector converted once.
func DotF16Rows(a, rows []uint16, stride int, out []float32) {
	if len(out) == 0 {
		return
	}
	if stride < len(a) || (len(out)-1)*stride+len(a) > len(rows) {
		panic(fmt.Sprintf("tensor: DotF16Rows of %d rows of %d elements %d apart over %d elements", len(out), len(a), stride, len(rows)))
	}
	dotF16Rows(a, rows, stride, out)
}

// maxRowsDot is the longest vector the assembly DotF16Rows takes (a head of
// 256); longer ones go row by row.
const maxRowsDot = 256

// dotF16 and dotF16GEMM compute DotF16 and DotF16GEMM (the latter for a
// length that is a multiple of 16), dotF16Rows DotF16Rows; replaceable by
// faster twins.
var (
	dotF16     = dotF16Go
	dotF16GEMM = dotF16GEMMGo
	dotF16Rows = dotF16RowsGo
	// dotF16RowsGroup computes DotF16RowsGroup.
	dotF16RowsGroup = dotF16RowsGroupGo
)

// DotF16RowsGroup sets out[j*ostride+r] = DotF16(qh_j, rows[r*stride:r*stride+n])
// for every query j of q (len(q)/n queries of n values, one after the other)
// and r < nrows, where qh_j is query j rounded to F16 as F32ToF16Slice
// rounds it: the query heads that share a KV head against its keys, each
// dot exactly as DotF16 computes it, each key row read once for the group.
func DotF16RowsGroup(q []float32, n int, rows []uint16, stride, nrows int, out []float32, ostride int) {
	if nrows == 0 || len(q) == 0 {
		return
	}
	g := len(q) / n
	if n <= 0 || len(q)%n != 0 || stride < n || (nrows-1)*stride+n > len(rows) || ostride < nrows || (g-1)*ostride+nrows > len(out) {
		panic(fmt.Sprintf("tensor: DotF16RowsGroup of %d values in queries of %d, %d rows %d apart over %d elements, into %d values %d apart", len(q), n, nrows, stride, len(rows), len(out), ostride))
	}
	dotF16RowsGroup(q, n, rows, stride, nrows, out, ostride)
}

// dotF16RowsGroupGo is DotF16RowsGroup one query and one row at a time.
func dotF16RowsGroupGo(q []float32, n int, rows []uint16, stride, nrows int, out []float32, ostride int) {
	var buf [maxRowsDot]uint16
	qh := buf[:]
	if n > len(qh) {
		qh = make([]uint16, n)
	}
	qh = qh[:n]
	for j := range len(q) / n {
		f32ToF16Slice(qh, q[j*n:(j+1)*n])
		dotF16Rows(qh, rows, stride, out[j*ostride:j*ostride+nrows])
	}
}

// dotF16RowsGo is DotF16Rows one row at a time.
func dotF16RowsGo(a, rows []uint16, stride int, out []float32) {
	for r := range out {
		out[r] = dotF16(a, rows[r*stride:r*stride+len(a)])
	}
}

func dotF16Go(a, b []uint16) float32 {
	b = b[:len(a)]
	n := len(a)
	np := n &^ 63
	var sum float64
	if np > 0 {
		var acc [4][16]float32
		for i := 0; i < np; i += 64 {
			for j := range 4 {
				x := (*[16]uint16)(a[i+16*j:])
				y := (*[16]uint16)(b[i+16*j:])
				s := &acc[j]
				for l := range 16 {
					// F16·F16 is exact in float32: this rounds like the FMA
					s[l] += f16Table[x[l]] * f16Table[y[l]]
				}
			}
		}
		sum = float64(sum4x16(&acc))
	}
	for i := np; i < n; i++ {
		sum += float64(f16Table[a[i]] * f16Table[b[i]])
	}
	return float32(sum)
}

// DotGGML returns the dot product of two float32 vectors as
// ggml_vec_dot_f32 computes it (see ggmlDotF32). b must be at least as long
// as a.
func DotGGML(a, b []float32) float32 {
	b = b[:len(a)]
	if len(a) == 0 {
		return 0
	}
	return dotF32F32(len(a), f32Bytes(a), f32Bytes(b))
}

// DotGEMM returns the dot product of two float32 vectors as llamafile's
// tinyBLAS computes one output for a batch (see gemmDotF32). It reports
// false when the length is not a multiple of 16 (tinyBLAS then declines
// and ggml uses DotGGML).
func DotGEMM(a, b []float32) (float32, bool) {
	n := len(a)
	if n%16 != 0 {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	return gemmF32F32(n, f32Bytes(a), f32Bytes(b[:n])), true
}

// DotF16GEMM returns the dot product of two F16 vectors as llamafile's
// tinyBLAS (llama.cpp's multi-token path) computes one output: a single
// 16-lane FMA accumulator over the whole length, then a 16-lane reduction.
// It reports false when the length is not a multiple of 16 (tinyBLAS then
// declines and ggml uses DotF16).
func DotF16GEMM(a, b []uint16) (float32, bool) {
	n := len(a)
	if n%16 != 0 {
		return 0, false
	}
	return dotF16GEMM(a, b[:n]), true
}

func dotF16GEMMGo(a, b []uint16) float32 {
	n := len(a)
	b = b[:n]
	var acc [16]float32
	for i := 0; i < n; i += 16 {
		x := (*[16]uint16)(a[i:])
		y := (*[16]uint16)(b[i:])
		for l := range 16 {
			acc[l] += f16Table[x[l]] * f16Table[y[l]] // exact product: as FMA
		}
	}
	return Sum16(&acc)
}

// ggmlDotF32 is ggml_vec_dot_f32 (AVX-512) as GCC 12 compiles it: four
// 16-lane FMA accumulators over blocks of 64, reduced to a float, then the
// remaining products added one by one, rounded for all but the last n%8
// (GCC vectorizes the leftover loop in steps of 16 and 8, multiplying then
// adding in order) and fused for those.
func ggmlDotF32(a, b []float32) float32 {
	b = b[:len(a)]
	n := len(a)
	np := n &^ 63
	var sum float32
	if np > 0 {
		var acc [4][16]float32
		for i := 0; i < np; i += 64 {
			for j := range 4 {
				x := (*[16]float32)(a[i+16*j:])
				y := (*[16]float32)(b[i+16*j:])
				s := &acc[j]
				for l := range 16 {
					// FMA32, inlined by hand for speed
					f := float64(x[l])*float64(y[l]) + float64(s[l])
					if math.Float64bits(f)&(1<<29-1) == 1<<28 {
						s[l] = FMA32(x[l], y[l], s[l])
					} else {
						s[l] = float32(f)
					}
				}
			}
		}
		sum = sum4x16(&acc)
	}
	// GCC vectorizes the leftover loop sumf += x[i]*y[i] by eights: those
	// products are rounded, then added in order; the last n%8 are fused
	nm := np + (n-np)&^7
	for i := np; i < nm; i++ {
		sum += float32(a[i] * b[i]) // rounded: no fusion, whatever GOAMD64
	}
	for i := nm; i < n; i++ {
		sum = FMA32(a[i], b[i], sum)
	}
	return sum
}

// gemmDotF32 is one output of tinyBLAS for float32 inputs (F32 weights with
// F32 activations, or F16 weights with activations rounded to F16, both held
// here as float32): one 16-lane FMA accumulator, then a 16-lane reduction.
// n must be a multiple of 16.
func gemmDotF32(a, b []float32) float32 {
	b = b[:len(a)]
	var acc [16]float32
	for i := 0; i < len(a); i += 16 {
		x := (*[16]float32)(a[i:])
		y := (*[16]float32)(b[i:])
		for l := range 16 {
			// FMA32, inlined by hand for speed
			f := float64(x[l])*float64(y[l]) + float64(acc[l])
			if math.Float64bits(f)&(1<<29-1) == 1<<28 {
				acc[l] = FMA32(x[l], y[l], acc[l])
			} else {
				acc[l] = float32(f)
			}
		}
	}
	return Sum16(&acc)
}

// MatMulGEMM is MatMul as llama.cpp computes a batch of n ≥ 2 tokens: F32 and
// F16 weights whose row length is a multiple of 16 and row count a multiple
// of 4 go through llamafile's tinyBLAS, which keeps one 16-lane FMA
// accumulator per output (not ggml_vec_dot's four). Q8_0 and Q4_0 batches
// round like their single-token kernels, and other types have no batch
// kernel, so for them (and for n < 2) MatMulGEMM equals MatMul.
func MatMulGEMM(dst []float32, w *Matrix, x []float32, n int) {
	matMul(dst, w, x, n, n >= 2)
	applyUpdates(dst, w, x, n)
}

// gemmDotFor returns tinyBLAS's dot product for w, or nil when llama.cpp
// would not use tinyBLAS for it.
func gemmDotFor(w *Matrix) dotFunc {
	if w.Cols%16 != 0 || w.Rows%4 != 0 {
		return nil
	}
	switch w.Type {
	case F32:
		return gemmF32F32
	case F16:
		return gemmF16F16
	}
	return nil
}

// gemmF32F32 and gemmF16F16 are tinyBLAS's dot products for F32 and F16
// weights; replaceable by faster twins.
var (
	gemmF32F32 dotFunc = gemmDotF32F32Go
	gemmF16F16 dotFunc = gemmDotF16F16Go
)

func gemmDotF32F32Go(n int, w, x []byte) float32 {
	return gemmDotF32(f32View(w[:4*n]), f32View(x[:4*n]))
}

// gemmDotF16F16Go is tinyBLAS's F16 output with the activations already rounded
// to F16 (held as float32); the products are exact, so no FMA is needed.
func gemmDotF16F16Go(n int, w, x []byte) float32 {
	w = w[:2*n]
	y := f32View(x[:4*n])
	var acc [16]float32
	for i := 0; i < n; i += 16 {
		v := (*[32]byte)(w[2*i:])
		u := (*[16]float32)(y[i:])
		for l := range 16 {
			acc[l] += f16Table[uint16(v[2*l])|uint16(v[2*l+1])<<8] * u[l]
		}
	}
	return Sum16(&acc)
}

// GEMMRounding tells how MatMulGEMM rounds the rows of a product, so that
// callers stacking the rows of several sequences into one product know
// whether each row keeps the result it has alone.
type GEMMRounding int

const (
	// GEMMLikeMatMul: MatMulGEMM computes every row as MatMul (and MatVec)
	// does, whatever the number of rows.
	GEMMLikeMatMul GEMMRounding = iota
	// GEMMPerRow: every row of MatMulGEMM has one result for any number of
	// rows from 2 on, which differs from MatMul's (tinyBLAS for F32 and F16
	// weights).
	GEMMPerRow
	// GEMMByBatch: the rows' results depend on the number of rows (the IQ
	// panel kernels from a batch size on); a sequence's rows must be
	// multiplied on their own.
	GEMMByBatch
)

// GEMMRoundingOf returns how MatMulGEMM rounds the rows of products by w.
func GEMMRoundingOf(w *Matrix) GEMMRounding {
	switch {
	case gemmDotFor(w) != nil:
		return GEMMPerRow
	case iqPanelDotFor(w, iqpMinBatch) != nil:
		return GEMMByBatch
	}
	return GEMMLikeMatMul
}
