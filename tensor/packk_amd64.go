//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
)

// Weight repacking of Q4_K matrices for token generation on CPUs with
// AVX-512 VNNI (see pack_amd64.go for Q4_0 and Q8_0). Per group of sixteen
// rows and super-block, q4kx16Rec bytes: 32 registers of 64 bytes, register
// 8g+L holding in its 32-bit lane i the nibble bytes 32g+4L..32g+4L+3 of
// row i (elements 64g+4L.. in the low nibbles, 64g+32+4L.. in the high
// ones), then the sixteen f16 d, the sixteen f16 dmin, then three
// registers whose lane i holds scale bytes 4k..4k+3 of row i. The copy has
// the size of the rows it covers.

//go:noescape
func gemvQ4_Kx16VNNI(nsb int, w *byte, groups int, x *byte, dst *float32)

//go:noescape
func gemvQ4_Kx16x2VNNI(nsb int, wa, wb *byte, pairs int, x *byte, da, db *float32, acc *float32)

// q4kx16Rec is the bytes per super-block of a group of sixteen Q4_K rows;
// q4kGemvRec those of the activation record of the Q4_K one-row kernel.
const (
	q4kx16Rec  = 16 * szQ4K
	q4kGemvRec = 288
)

// packQ4_Kx16 interleaves sixteen Q4_K rows of nsb super-blocks (src, row
// after row) into dst.
func packQ4_Kx16(dst, src []byte, nsb int) {
	rb := nsb * szQ4K
	_ = src[16*rb-1]
	le := binary.LittleEndian
	for b := range nsb {
		rec := (*[q4kx16Rec]byte)(dst[b*q4kx16Rec:])
		for i := range 16 {
			blk := (*[szQ4K]byte)(src[i*rb+b*szQ4K:])
			for r := range 32 {
				le.PutUint32(rec[64*r+4*i:], le.Uint32(blk[16+4*r:]))
			}
			le.PutUint16(rec[2048+2*i:], le.Uint16(blk[0:]))
			le.PutUint16(rec[2080+2*i:], le.Uint16(blk[2:]))
			for k := range 3 {
				le.PutUint32(rec[2112+64*k+4*i:], le.Uint32(blk[4+4*k:]))
			}
		}
	}
}

// unpackQ4_Kx16Block writes row i's super-block b of the packed group src
// into blk.
func unpackQ4_Kx16Block(blk *[szQ4K]byte, src []byte, i, b int) {
	rec := (*[q4kx16Rec]byte)(src[b*q4kx16Rec:])
	le := binary.LittleEndian
	for r := range 32 {
		le.PutUint32(blk[16+4*r:], le.Uint32(rec[64*r+4*i:]))
	}
	le.PutUint16(blk[0:], le.Uint16(rec[2048+2*i:]))
	le.PutUint16(blk[2:], le.Uint16(rec[2080+2*i:]))
	for k := range 3 {
		le.PutUint32(blk[4+4*k:], le.Uint32(rec[2112+64*k+4*i:]))
	}
}

// unpackQ4_Kx16 is packQ4_Kx16's inverse (tests check the round trip).
func unpackQ4_Kx16(dst, src []byte, nsb int) {
	rb := nsb * szQ4K
	for i := range 16 {
		for b := range nsb {
			unpackQ4_Kx16Block((*[szQ4K]byte)(dst[i*rb+b*szQ4K:]), src, i, b)
		}
	}
}

// packGemvQ4_K writes a q4kGemvRec-byte record per super-block of the Q8_K
// activation xq: the 256 values, d and -d as float32, the eight sums of
// pairs of bsums (bs[2j]+bs[2j+1]) as int16, zero padding.
func packGemvQ4_K(dst, xq []byte, nsb int) {
	le := binary.LittleEndian
	for b := range nsb {
		blk := (*[szQ8K]byte)(xq[b*szQ8K:])
		rec := dst[b*q4kGemvRec:][:q4kGemvRec]
		copy(rec[:qkK], blk[4:4+qkK])
		d := f32At(blk[0:])
		le.PutUint32(rec[256:], math.Float32bits(d))
		le.PutUint32(rec[260:], math.Float32bits(-d))
		for j := range 8 {
			le.PutUint16(rec[264+2*j:], uint16(int16(q8kBsum(blk, 2*j)+q8kBsum(blk, 2*j+1))))
		}
		clear(rec[280:])
	}
}

// gemvQ4_Kx16 computes rows [lo, hi) of a one-row product from the packed
// copy, lo and hi-lo multiples of 16 within it, into dst[:hi-lo].
func gemvQ4_Kx16(w *Matrix, xp []byte, lo, hi int, dst []float32) {
	nsb, rb := w.Cols/qkK, w.rowBytes()
	_, _, _ = w.packed[hi*rb-1], xp[nsb*q4kGemvRec-1], dst[hi-lo-1]
	// two streams side by side, as gemvQ8_0x16 (pack_amd64.go)
	g, p := (hi-lo)/16, (hi-lo)/32
	if p > 0 {
		var acc [2 * 12 * 16]float32
		gemvQ4_Kx16x2VNNI(nsb, &w.packed[lo*rb], &w.packed[(lo+16*p)*rb], p, &xp[0], &dst[0], &dst[16*p], &acc[0])
	}
	if g%2 != 0 {
		r := 16 * (g - 1)
		gemvQ4_Kx16VNNI(nsb, &w.packed[(lo+r)*rb], 1, &xp[0], &dst[r])
	}
}

// Q6_K: per group of sixteen rows and super-block, q6kx16Rec bytes: for
// each half h and lane L three registers at 192·(8h+L), their 32-bit lane i
// holding bytes 4L..4L+3 of row i's ql of the half, of its ql+32 and of its
// qh; then four registers whose lane i holds scale bytes 4k..4k+3 of row
// i; then the sixteen f16 d.

//go:noescape
func gemvQ6_Kx16VNNI(nsb int, w *byte, groups int, x *byte, dst *float32)

// q6kx16Rec is the bytes per super-block of a group of sixteen Q6_K rows;
// q6kGemvRec those of the activation record of the Q6_K one-row kernel.
const (
	q6kx16Rec  = 16 * szQ6K
	q6kGemvRec = 576
)

// packQ6_Kx16 interleaves sixteen Q6_K rows of nsb super-blocks (src, row
// after row) into dst.
func packQ6_Kx16(dst, src []byte, nsb int) {
	rb := nsb * szQ6K
	_ = src[16*rb-1]
	le := binary.LittleEndian
	for b := range nsb {
		rec := (*[q6kx16Rec]byte)(dst[b*q6kx16Rec:])
		for i := range 16 {
			blk := (*[szQ6K]byte)(src[i*rb+b*szQ6K:])
			for h := range 2 {
				for l := range 8 {
					r := rec[192*(8*h+l)+4*i:]
					le.PutUint32(r[0:], le.Uint32(blk[64*h+4*l:]))
					le.PutUint32(r[64:], le.Uint32(blk[64*h+32+4*l:]))
					le.PutUint32(r[128:], le.Uint32(blk[128+32*h+4*l:]))
				}
			}
			for k := range 4 {
				le.PutUint32(rec[3072+64*k+4*i:], le.Uint32(blk[192+4*k:]))
			}
			le.PutUint16(rec[3328+2*i:], le.Uint16(blk[208:]))
		}
	}
}

// unpackQ6_Kx16Block writes row i's super-block b of the packed group src
// into blk.
func unpackQ6_Kx16Block(blk *[szQ6K]byte, src []byte, i, b int) {
	rec := (*[q6kx16Rec]byte)(src[b*q6kx16Rec:])
	le := binary.LittleEndian
	for h := range 2 {
		for l := range 8 {
			r := rec[192*(8*h+l)+4*i:]
			le.PutUint32(blk[64*h+4*l:], le.Uint32(r[0:]))
			le.PutUint32(blk[64*h+32+4*l:], le.Uint32(r[64:]))
			le.PutUint32(blk[128+32*h+4*l:], le.Uint32(r[128:]))
		}
	}
	for k := range 4 {
		le.PutUint32(blk[192+4*k:], le.Uint32(rec[3072+64*k+4*i:]))
	}
	le.PutUint16(blk[208:], le.Uint16(rec[3328+2*i:]))
}

// unpackQ6_Kx16 is packQ6_Kx16's inverse (tests check the round trip).
func unpackQ6_Kx16(dst, src []byte, nsb int) {
	rb := nsb * szQ6K
	for i := range 16 {
		for b := range nsb {
			unpackQ6_Kx16Block((*[szQ6K]byte)(dst[i*rb+b*szQ6K:]), src, i, b)
		}
	}
}

// packGemvQ6_K writes a q6kGemvRec-byte record per super-block of the Q8_K
// activation xq: the 256 values, then per group of four values y0..y3 the
// int16 pair -32·(y0+y1), -32·(y2+y3) (the Q6_K offset of 32, folded into
// the kernel's sums), then d as float32, zero padding.
func packGemvQ6_K(dst, xq []byte, nsb int) {
	le := binary.LittleEndian
	for b := range nsb {
		blk := (*[szQ8K]byte)(xq[b*szQ8K:])
		rec := dst[b*q6kGemvRec:][:q6kGemvRec]
		y := blk[4 : 4+qkK]
		copy(rec[:qkK], y)
		for t := range qkK / 2 {
			s := int16(int8(y[2*t])) + int16(int8(y[2*t+1]))
			le.PutUint16(rec[256+2*t:], uint16(-32*s))
		}
		copy(rec[512:516], blk[0:4])
		clear(rec[516:])
	}
}

// gemvQ6_Kx16 is gemvQ4_Kx16 for Q6_K weights.
func gemvQ6_Kx16(w *Matrix, xp []byte, lo, hi int, dst []float32) {
	nsb, rb := w.Cols/qkK, w.rowBytes()
	_, _, _ = w.packed[hi*rb-1], xp[nsb*q6kGemvRec-1], dst[hi-lo-1]
	gemvQ6_Kx16VNNI(nsb, &w.packed[lo*rb], (hi-lo)/16, &xp[0], &dst[0])
}
