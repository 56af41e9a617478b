//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
)

// Weight repacking for token generation on CPUs with AVX-512 VNNI: Q4_0
// matrices get a copy of their rows in groups of sixteen interleaved rows
// (q40x16Rec bytes per group and block: four 64-byte registers whose
// 32-bit lane i holds bytes 4k..4k+3 of row i's nibbles, then the sixteen
// f16 scales). The copy has the size of the rows it covers; the one-row
// kernel streams it as one sequence and keeps one row per lane.

//go:noescape
func gemvQ4_0x16VNNI(nb int, w *byte, groups int, x *byte, dst *float32)

// q40x16Rec is the bytes per block of a group of sixteen Q4_0 rows.
const q40x16Rec = 16 * szQ40

// packMatrix returns the interleaved copy of m's whole groups of sixteen
// rows, or nil when m's type has none or this CPU lacks the kernels.
func packMatrix(m *Matrix) []byte {
	if asmOff || !hasVNNI512 || m.Type != Q4_0 || m.Rows < 16 || m.Cols == 0 {
		return nil
	}
	rb := m.rowBytes()
	groups := m.Rows / 16
	dst := make([]byte, groups*16*rb)
	Parallel(groups, Threads(), func(lo, hi, _ int) {
		for g := lo; g < hi; g++ {
			packQ4_0x16(dst[g*16*rb:(g+1)*16*rb], m.Data[g*16*rb:(g+1)*16*rb], rb/szQ40)
		}
	})
	return dst
}

// packQ4_0x16 interleaves sixteen Q4_0 rows of nb blocks (src, row after
// row) into dst.
func packQ4_0x16(dst, src []byte, nb int) {
	rb := nb * szQ40
	for i := range 16 {
		row := src[i*rb : (i+1)*rb]
		for b := range nb {
			blk := row[b*szQ40 : (b+1)*szQ40]
			rec := dst[b*q40x16Rec : (b+1)*q40x16Rec]
			for k := range 4 {
				copy(rec[k*64+4*i:k*64+4*i+4], blk[2+4*k:6+4*k])
			}
			copy(rec[256+2*i:256+2*i+2], blk[0:2])
		}
	}
}

// unpackQ4_0x16 is packQ4_0x16's inverse (tests check the round trip).
func unpackQ4_0x16(dst, src []byte, nb int) {
	rb := nb * szQ40
	for i := range 16 {
		row := dst[i*rb : (i+1)*rb]
		for b := range nb {
			blk := row[b*szQ40 : (b+1)*szQ40]
			rec := src[b*q40x16Rec : (b+1)*q40x16Rec]
			for k := range 4 {
				copy(blk[2+4*k:6+4*k], rec[k*64+4*i:k*64+4*i+4])
			}
			copy(blk[0:2], rec[256+2*i:256+2*i+2])
		}
	}
}

// gemvQ4_0x16 computes rows [lo, hi) of a one-row product from the packed
// copy, lo and hi-lo multiples of 16 within it.
func gemvQ4_0x16(w *Matrix, xp []byte, lo, hi int, dst []float32) {
	nb, rb := w.Cols/qk, w.rowBytes()
	_, _, _ = w.packed[hi*rb-1], xp[nb*40-1], dst[hi-1]
	gemvQ4_0x16VNNI(nb, &w.packed[lo*rb], (hi-lo)/16, &xp[0], &dst[lo])
}

// packPanelQ4_0Packed is packPanelQ4_0 reading rows [r0, r0+16) (r0 a
// multiple of 16) from the interleaved copy: the nibbles widened to bytes,
// the scales to float32.
func packPanelQ4_0Packed(dst []byte, w *Matrix, r0, nb int) {
	src := w.packed[r0*w.rowBytes():]
	for b := range nb {
		rec := src[b*q40x16Rec : (b+1)*q40x16Rec]
		out := dst[b*q40PanelBlock:][:q40PanelBlock]
		for k := range 4 {
			for j := 0; j < 64; j += 8 {
				v := binary.LittleEndian.Uint64(rec[k*64+j:])
				binary.LittleEndian.PutUint64(out[k*64+j:], v&0x0f0f0f0f0f0f0f0f)
				binary.LittleEndian.PutUint64(out[(k+4)*64+j:], v>>4&0x0f0f0f0f0f0f0f0f)
			}
		}
		for i := range 16 {
			binary.LittleEndian.PutUint32(out[512+4*i:], math.Float32bits(f16At(rec[256+2*i:])))
		}
	}
}
