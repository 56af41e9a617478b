//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
)

// Panel GEMM for Q4_K and Q6_K weights against Q8_K activations on CPUs
// with AVX-512 VNNI (see gemmk_amd64.s): a tile of sixteen weight rows by
// eight activation columns. Each output keeps the arithmetic of its vec-dot
// twin (dotQ4_KQ8_KGo, dotQ6_KQ8_KGo): per super-block the eight exact
// integer lane sums (lane L: the elements whose index mod 32 is in
// [4L, 4L+4), each times its sub-block scale), then acc[L] =
// fma(d, float(isum[L]), acc[L]), Sum8 at the end (plus the four mins lanes
// of Q4_K). One zmm register holds one lane L of the sixteen rows (32-bit
// lane r: row r). Sub-blocks go by pairs (2p, 2p+1): two VPDPBUSD of the
// unsigned weight bytes by the pair's eight activation bytes (four of each
// sub-block, broadcast) give the unscaled sums of eight rows each, VPACKSSDW
// puts each row's two sums side by side as int16, and one VPDPWSSD by the
// row's two sub-block scales adds them to the lane.
//
// Panel, per super-block (q4kPanelBlock or q6kPanelBlock bytes):
//
//	[0, 4096)      registers 2(8p+L) and 2(8p+L)+1 (A and B): 32-bit lane
//	               4t+2u+s of A holds the quants of row 4t+u, of B those of
//	               row 4t+2+u, for elements 32(2p+s)+4L..+3, one unsigned
//	               byte each (so that VPACKSSDW of A and B gives row r in
//	               lane r)
//	Q4_K [4096, 4352) register p: lane r holds (scale 2p, scale 2p+1) of
//	                  row r as int16
//	     [4352, 4416) d of the sixteen rows, float32
//	     [4416, 4480) -dmin of the sixteen rows, float32
//	     [4480, 4736) register k: lane r holds (min 2k, min 2k+1) of row r
//	Q6_K [4096, 4608) register 2p+e: lane r holds the scales of row r for
//	                  elements 16e..16e+15 of sub-blocks 2p and 2p+1, int16
//	     [4608, 4672) d of the sixteen rows, float32
//
// Activations, per group of eight columns and super-block:
//
//	[0, 2048)      eight bytes at 8(8(8p+L)+c): values 32·2p+4L..+3 and
//	               32(2p+1)+4L..+3 of column c
//	[2048, 2080)   d of the eight columns, float32
//	Q4_K [2080, 2208) word 4c+k: (bs[4k]+bs[4k+1], bs[4k+2]+bs[4k+3]) of
//	                  column c as int16 (bs: the sixteen bsums)
//	Q6_K [2080, 4128) eight bytes at 2080+8(8(8p+L)+c): -32·Σ of the four
//	                  values of each half of the eight value bytes, two
//	                  int32 (the quants' offset of 32)

//go:noescape
func gemmQ4_Kx8VNNI(nsb int, w, x *byte, acc *[q4kAccLen]float32, out *[128]float32)

//go:noescape
func gemmQ6_Kx8VNNI(nsb int, w, x *byte, acc *[q4kAccLen]float32, out *[128]float32)

// Tile shapes and record sizes of the K-quant panel kernels.
const (
	q4kPanelRows  = 16
	q4kCols       = 8
	q4kPanelBlock = 4736
	q6kPanelBlock = 4672
	q4kActRec     = 2208
	q6kActRec     = 4128
	// q4kAccLen is the kernels' float scratch: eight lanes and four mins
	// lanes of sixteen rows for each of the eight columns.
	q4kAccLen = (8 + 4) * 8 * 16
)

// packActQ4_K packs the n Q8_K activation rows of xq (xs bytes apart) for
// the Q4_K kernel (layout above); missing columns of the last group are
// zero.
func packActQ4_K(dst, xq []byte, xs, n, nsb, cols, cblock int) {
	packActK(dst, xq, xs, n, nsb, q4kActRec, false)
}

// packActQ6_K packs the activation rows for the Q6_K kernel.
func packActQ6_K(dst, xq []byte, xs, n, nsb, cols, cblock int) {
	packActK(dst, xq, xs, n, nsb, q6kActRec, true)
}

// packActK packs groups of eight columns on the worker pool.
func packActK(dst, xq []byte, xs, n, nsb, rec int, q6 bool) {
	groups := (n + q4kCols - 1) / q4kCols
	clear(dst[(groups-1)*nsb*rec : groups*nsb*rec])
	Parallel(groups, Threads(), func(lo, hi, _ int) {
		packActKCols(dst, xq, xs, lo*q4kCols, min(n, hi*q4kCols), nsb, rec, q6)
	})
}

// packActKCols packs columns [c0, c1) (whole groups but the last).
func packActKCols(dst, xq []byte, xs, c0, c1, nsb, rec int, q6 bool) {
	le := binary.LittleEndian
	for c := c0; c < c1; c++ {
		g, cc := c/q4kCols, c%q4kCols
		row := xq[c*xs : c*xs+nsb*szQ8K]
		for b := range nsb {
			blk := (*[szQ8K]byte)(row[b*szQ8K:])
			r := dst[(g*nsb+b)*rec:][:rec]
			for w := range 64 { // w = 8j+L
				j, L := w/8, w%8
				o := 8*(8*(8*(j/2)+L)+cc) + 4*(j%2)
				v := le.Uint32(blk[4+4*w:])
				le.PutUint32(r[o:], v)
				if q6 {
					s := int32(int8(v)) + int32(int8(v>>8)) + int32(int8(v>>16)) + int32(int8(v>>24))
					le.PutUint32(r[2080+o:], uint32(-32*s))
				}
			}
			copy(r[2048+4*cc:2052+4*cc], blk[0:4])
			if !q6 {
				for k := range 4 {
					p0 := q8kBsum(blk, 4*k) + q8kBsum(blk, 4*k+1)
					p1 := q8kBsum(blk, 4*k+2) + q8kBsum(blk, 4*k+3)
					le.PutUint16(r[2080+4*(4*cc+k):], uint16(int16(p0)))
					le.PutUint16(r[2082+4*(4*cc+k):], uint16(int16(p1)))
				}
			}
		}
	}
}

// packPanelQ4_K packs rows [r0, r0+16) of w (layout above): first
// interleaved as in the packed copy, then as packPanelQ4_KPacked does.
func packPanelQ4_K(dst []byte, w *Matrix, r0, nsb int) {
	rb := w.rowBytes()
	buf := getScratch(nsb * q4kx16Rec)
	packQ4_Kx16(*buf, w.Data[r0*rb:(r0+16)*rb], nsb)
	panelFromQ4_Kx16(dst, *buf, nsb)
	putScratch(buf)
}

// packPanelQ4_KPacked packs rows [r0, r0+16) (r0 a multiple of 16) from
// the interleaved copy.
func packPanelQ4_KPacked(dst []byte, w *Matrix, r0, nsb int) {
	panelFromQ4_Kx16(dst, w.packed[r0*w.rowBytes():], nsb)
}

// panelFromQ4_Kx16 writes the panel of nsb super-blocks of sixteen rows
// interleaved as in the packed copy (src, see packQ4_Kx16): the copy's
// register 8p+L holds in lane r the nibbles of row r for sub-blocks 2p
// (low) and 2p+1 (high), which go to lanes 4t+2u and 4t+2u+1 of the
// panel's registers A (r = 4t+u) or B (r = 4t+2+u) of 8p+L.
func panelFromQ4_Kx16(dst, src []byte, nsb int) {
	le := binary.LittleEndian
	const m = 0x0f0f0f0f
	for b := range nsb {
		rec := (*[q4kx16Rec]byte)(src[b*q4kx16Rec:])
		p := (*[q4kPanelBlock]byte)(dst[b*q4kPanelBlock:])
		for w := range 32 { // w = 8p+L
			r := (*[64]byte)(rec[64*w:])
			a := (*[128]byte)(p[128*w:])
			for t := range 4 {
				for h := range 2 { // rows 4t+2h, 4t+2h+1: register A or B
					v := le.Uint64(r[16*t+8*h:])
					lo, hi := v&0xffffffff, v>>32
					o := 64*h + 16*t
					le.PutUint64(a[o:], lo&m|(lo>>4&m)<<32)
					le.PutUint64(a[o+8:], hi&m|(hi>>4&m)<<32)
				}
			}
		}
		var s [12]byte
		for i := range 16 {
			for k := range 3 {
				copy(s[4*k:4*k+4], rec[2112+64*k+4*i:])
			}
			sc, mn := k4Scales(s[:])
			for q := range 4 {
				le.PutUint32(p[4096+64*q+4*i:], uint32(sc[2*q])|uint32(sc[2*q+1])<<16)
				le.PutUint32(p[4480+64*q+4*i:], uint32(mn[2*q])|uint32(mn[2*q+1])<<16)
			}
			le.PutUint32(p[4352+4*i:], math.Float32bits(f16At(rec[2048+2*i:])))
			le.PutUint32(p[4416+4*i:], math.Float32bits(-f16At(rec[2080+2*i:])))
		}
	}
}

// packPanelQ6_K packs rows [r0, r0+16) of w (layout above): first
// interleaved as in the packed copy, then as packPanelQ6_KPacked does.
func packPanelQ6_K(dst []byte, w *Matrix, r0, nsb int) {
	rb := w.rowBytes()
	buf := getScratch(nsb * q6kx16Rec)
	packQ6_Kx16(*buf, w.Data[r0*rb:(r0+16)*rb], nsb)
	panelFromQ6_Kx16(dst, *buf, nsb)
	putScratch(buf)
}

// packPanelQ6_KPacked packs rows [r0, r0+16) (r0 a multiple of 16) from
// the interleaved copy.
func packPanelQ6_KPacked(dst []byte, w *Matrix, r0, nsb int) {
	panelFromQ6_Kx16(dst, w.packed[r0*w.rowBytes():], nsb)
}

// panelFromQ6_Kx16 writes the panel of nsb super-blocks of sixteen rows
// interleaved as in the packed copy (src, see packQ6_Kx16): the copy's
// registers of ql, ql+32 and qh for half h and lane L hold the quants of
// sub-blocks 4h+t, t = 0..3; its scale byte 8h+2t+e of a row goes to
// scale register 2(2h+t/2)+e, half t%2.
func panelFromQ6_Kx16(dst, src []byte, nsb int) {
	le := binary.LittleEndian
	for b := range nsb {
		rec := (*[q6kx16Rec]byte)(src[b*q6kx16Rec:])
		p := (*[q6kPanelBlock]byte)(dst[b*q6kPanelBlock:])
		for h := range 2 {
			for L := range 8 {
				g := (*[192]byte)(rec[192*(8*h+L):])
				for m := range 8 { // rows 2m, 2m+1
					const m4, m2 = 0x0f0f0f0f0f0f0f0f, 0x3030303030303030
					ql, ql2, qh := le.Uint64(g[8*m:]), le.Uint64(g[64+8*m:]), le.Uint64(g[128+8*m:])
					t0, t1 := ql&m4|qh<<4&m2, ql2&m4|qh<<2&m2
					t2, t3 := ql>>4&m4|qh&m2, ql2>>4&m4|qh>>2&m2
					for q, pr := range [2][2]uint64{{t0, t1}, {t2, t3}} { // sub-blocks 4h+2q, 4h+2q+1
						o := 64*(2*(8*(2*h+q)+L)+m%2) + 16*(m/2)
						le.PutUint64(p[o:], pr[0]&0xffffffff|pr[1]<<32)
						le.PutUint64(p[o+8:], pr[0]>>32|pr[1]&^0xffffffff)
					}
				}
			}
		}
		for i := range 16 {
			for s := range 16 { // s = 8h+2t+e
				h, t, e := s/8, s/2%4, s%2
				v := uint16(int16(int8(rec[3072+64*(s/4)+4*i+s%4])))
				binary.LittleEndian.PutUint16(p[4096+64*(2*(2*h+t/2)+e)+4*i+2*(t%2):], v)
			}
			le.PutUint32(p[4608+4*i:], math.Float32bits(f16At(rec[3328+2*i:])))
		}
	}
}

// kernelQ4_K multiplies a packed Q4_K panel (rows r0..r0+15) by one group
// of eight packed columns and stores the nc valid columns into dst.
func kernelQ4_K(nsb int, panel, act []byte, dst []float32, rows, r0, c0, nc int) {
	_, _ = panel[nsb*q4kPanelBlock-1], act[nsb*q4kActRec-1]
	var acc [q4kAccLen]float32
	var out [128]float32
	gemmQ4_Kx8VNNI(nsb, &panel[0], &act[0], &acc, &out)
	for c := range nc {
		copy(dst[(c0+c)*rows+r0:][:q4kPanelRows], out[c*16:(c+1)*16])
	}
}

// kernelQ6_K multiplies a packed Q6_K panel by one group of eight packed
// columns and stores the nc valid columns into dst.
func kernelQ6_K(nsb int, panel, act []byte, dst []float32, rows, r0, c0, nc int) {
	_, _ = panel[nsb*q6kPanelBlock-1], act[nsb*q6kActRec-1]
	var acc [q4kAccLen]float32
	var out [128]float32
	gemmQ6_Kx8VNNI(nsb, &panel[0], &act[0], &acc, &out)
	for c := range nc {
		copy(dst[(c0+c)*rows+r0:][:q4kPanelRows], out[c*16:(c+1)*16])
	}
}
