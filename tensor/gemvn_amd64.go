//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
)

// Products of a packed weight (see pack_amd64.go) with a few activation
// rows at once: the decode step of a handful of sequences decoded together
// (continuous batching). Each output keeps the arithmetic of the one-row
// kernel over the packed copy, so a sequence's results do not depend on
// the batch it is in. Q4_0 has a kernel that reads each block of sixteen
// rows once and accumulates every activation row from it
// (gemvQ4_0x16NVNNI); the other packed types run their one-row kernel over
// a few groups of rows for each activation row in turn, so that the
// weights come from memory once and from the core's cache after that.

//go:noescape
func gemvQ4_0x16NVNNI(nb int, w *byte, groups int, x *byte, xstride, n int, dst *float32, dstride int)

// maxBatchN is the largest number of activation rows the packed products
// take at once (MatMul splits larger small batches into calls of at most
// this many rows).
const maxBatchN = 16

// batchChunkBytes is the size of the run of packed weight rows the
// column-by-column kernels multiply by every activation row before moving
// on: it stays in the core's L2 cache.
const batchChunkBytes = 64 << 10

// gemvNFunc computes rows [lo, hi) (lo and hi-lo multiples of 16 within the
// packed copy) of the product of w with n activation rows packed for the
// one-row kernel, the record of row c at xp[c*xstride:]: row r of
// activation row c goes to dst[c*dstride+r-lo].
type gemvNFunc func(w *Matrix, xp []byte, xstride, n, lo, hi int, dst []float32, dstride int)

// packedGEMVN returns the kernel for n activation rows over w's packed
// copy, or nil when there is none.
func packedGEMVN(w *Matrix) gemvNFunc {
	if !useGEMM || w.packed == nil {
		return nil
	}
	switch w.Type {
	case Q4_0:
		return gemvQ4_0x16N
	case Q8_0, Q4_K, Q6_K:
		return gemvByColumns
	}
	return nil
}

// gemvRecordBytes returns the bytes of the one-row activation record of a
// row of w (the packed kernels' input).
func gemvRecordBytes(w *Matrix) int {
	switch w.Type {
	case Q4_0:
		return w.Cols / qk * 40
	case Q8_0:
		return w.Cols / qk * q80ColBlock
	case Q4_K:
		return w.Cols / qkK * q4kGemvRec
	case Q6_K:
		return w.Cols / qkK * q6kGemvRec
	}
	return 0
}

// packGemvRows packs the n activation rows of xq (converted to the vec-dot
// type, xs bytes each) into records for the packed kernels, one after the
// other, and returns the buffer and the stride.
func packGemvRows(w *Matrix, xq []byte, xs, n int) (*[]byte, int) {
	stride := gemvRecordBytes(w)
	buf := getScratch(n * stride)
	xp := (*buf)[:n*stride]
	for c := range n {
		dst, src := xp[c*stride:(c+1)*stride], xq[c*xs:(c+1)*xs]
		switch w.Type {
		case Q4_0:
			packGemvQ4_0(dst, src, w.Cols/qk)
		case Q8_0:
			packActQ8_0(dst, src, xs, 1, w.Cols/qk, 1, q80ColBlock)
		case Q4_K:
			packGemvQ4_K(dst, src, w.Cols/qkK)
		case Q6_K:
			packGemvQ6_K(dst, src, w.Cols/qkK)
		}
	}
	return buf, stride
}

// gemvQ4_0x16N multiplies each block of sixteen packed Q4_0 rows by all n
// activation rows while it is in registers.
func gemvQ4_0x16N(w *Matrix, xp []byte, xstride, n, lo, hi int, dst []float32, dstride int) {
	nb, rb := w.Cols/qk, w.rowBytes()
	_, _, _ = w.packed[hi*rb-1], xp[(n-1)*xstride+nb*40-1], dst[(n-1)*dstride+hi-lo-1]
	if n < 1 || n > maxBatchN {
		panic("tensor: gemvQ4_0x16N with a batch outside [1, 16]")
	}
	gemvQ4_0x16NVNNI(nb, &w.packed[lo*rb], (hi-lo)/16, &xp[0], xstride, n, &dst[0], dstride)
}

// gemvByColumns runs the one-row packed kernel of w for each activation row
// over runs of groups of rows small enough to stay in cache, so that the
// weights are read from memory once for all the rows.
func gemvByColumns(w *Matrix, xp []byte, xstride, n, lo, hi int, dst []float32, dstride int) {
	one := packedGEMV(w)
	step := max(16, batchChunkBytes/w.rowBytes()&^15)
	for a := lo; a < hi; a += step {
		b := min(hi, a+step)
		for c := range n {
			one(w, xp[c*xstride:(c+1)*xstride], a, b, dst[c*dstride+a-lo:])
		}
	}
}

// gemvQ4_0x16NGo is gemvQ4_0x16NVNNI's pure-Go twin: the same layout, the
// same results bit for bit (tests compare them), for dst[c*dstride+16g+i].
func gemvQ4_0x16NGo(nb int, w []byte, groups int, x []byte, xstride, n int, dst []float32, dstride int) {
	le := binary.LittleEndian
	for g := range groups {
		grp := w[g*nb*q40x16Rec:]
		for c := range n {
			xc := x[c*xstride:]
			for i := range 16 {
				var acc float32
				for b := range nb {
					rec := grp[b*q40x16Rec:][:q40x16Rec]
					y := xc[b*40:][:40]
					s := int32(le.Uint32(y[32:]))
					for k := range 4 {
						q := rec[64*k+4*i:][:4]
						for j := range 4 {
							s += int32(q[j]&15)*int32(int8(y[4*k+j])) + int32(q[j]>>4)*int32(int8(y[16+4*k+j]))
						}
					}
					d := f16At(rec[256+2*i:]) * math.Float32frombits(le.Uint32(y[36:]))
					acc = FMA32(float32(s), d, acc)
				}
				dst[c*dstride+16*g+i] = acc
			}
		}
	}
}
