//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
)

// Weight repacking for token generation on CPUs with AVX-512 VNNI: Q4_0
// and Q8_0 matrices get a copy of their rows in groups of sixteen
// interleaved rows. Per group and block, Q4_0 has q40x16Rec bytes: four
// 64-byte registers whose 32-bit lane i holds bytes 4k..4k+3 of row i's
// nibbles, then the sixteen f16 scales; Q8_0 has q80x16Rec bytes: eight
// registers whose lane i holds values 4k..4k+3 of row i, each +128 (the
// unsigned operand of VPDPBUSD), then the sixteen f16 scales. The copy has
// the size of the rows it covers. The one-row kernels keep one row per
// lane and stream a range of groups as two sequences side by side, its
// first half beside its second: two sequential streams far apart keep more
// reads in flight than one (the hardware prefetchers follow each; Q8_0
// generation of the 400M file at 1 thread went from 64.5 to 78.2 tokens/s,
// docs/performance.md), and each row keeps its arithmetic.

//go:noescape
func gemvQ4_0x16VNNI(nb int, w *byte, groups int, x *byte, dst *float32)

//go:noescape
func gemvQ8_0x16VNNI(nb int, w *byte, groups int, x *byte, dst *float32)

//go:noescape
func gemvQ4_0x16x2VNNI(nb int, wa, wb *byte, pairs int, x *byte, da, db *float32)

//go:noescape
func gemvQ8_0x16x2VNNI(nb int, wa, wb *byte, pairs int, x *byte, da, db *float32)

// q40x16Rec and q80x16Rec are the bytes per block of a group of sixteen
// Q4_0 or Q8_0 rows.
const (
	q40x16Rec = 16 * szQ40
	q80x16Rec = 16 * szQ80
)

// packerFor returns the function that interleaves sixteen of m's rows, or
// nil when m's type has no packed copy or this CPU lacks its kernels.
func packerFor(m *Matrix) func(dst, src []byte, nb int) {
	switch {
	case asmOff || !hasVNNI512 || m.Rows < 16 || m.Cols == 0:
		return nil
	case m.Type == Q4_0:
		return packQ4_0x16
	case m.Type == Q8_0:
		return packQ8_0x16
	case m.Type == Q4_K:
		return packQ4_Kx16
	case m.Type == Q6_K:
		return packQ6_Kx16
	}
	return nil
}

// packedSize returns the bytes of m's packed copy (0 when it has none): its
// whole groups of sixteen rows.
func packedSize(m *Matrix) int {
	if packerFor(m) == nil {
		return 0
	}
	return m.Rows / 16 * 16 * m.rowBytes()
}

// packMatrix returns the interleaved copy of m's whole groups of sixteen
// rows, taken from a (a new allocation when a is nil or full), or nil when
// m's type has none or this CPU lacks the kernels. It packs packPart bytes of
// rows at a time and, when release is not nil, calls it with each part of
// m.Data once its rows are in the copy, until it fails: the copy is complete
// whatever release returns, and so is its first error.
func packMatrix(m *Matrix, a *Arena, release func([]byte) error) (dst []byte, err error) {
	pack := packerFor(m)
	if pack == nil {
		return nil, nil
	}
	rb, nb := m.rowBytes(), m.Cols/m.Type.BlockSize()
	groups := m.Rows / 16
	dst = a.alloc(groups * 16 * rb)
	m.packed = dst                   // filled part by part: release may look at the parts done
	step := max(1, packPart/(16*rb)) // groups per part
	for g0 := 0; g0 < groups; g0 += step {
		g1 := min(g0+step, groups)
		Parallel(g1-g0, Threads(), func(lo, hi, _ int) {
			for g := g0 + lo; g < g0+hi; g++ {
				pack(dst[g*16*rb:(g+1)*16*rb], m.Data[g*16*rb:(g+1)*16*rb], nb)
			}
		})
		if release != nil && err == nil {
			err = release(m.Data[g0*16*rb : g1*16*rb])
		}
	}
	return dst, err
}

// packQ4_0x16 interleaves sixteen Q4_0 rows of nb blocks (src, row after
// row) into dst.
func packQ4_0x16(dst, src []byte, nb int) {
	rb := nb * szQ40
	_ = src[16*rb-1]
	for b := range nb {
		rec := (*[q40x16Rec]byte)(dst[b*q40x16Rec:])
		for i := range 16 {
			blk := (*[szQ40]byte)(src[i*rb+b*szQ40:])
			le := binary.LittleEndian
			le.PutUint32(rec[4*i:], le.Uint32(blk[2:]))
			le.PutUint32(rec[64+4*i:], le.Uint32(blk[6:]))
			le.PutUint32(rec[128+4*i:], le.Uint32(blk[10:]))
			le.PutUint32(rec[192+4*i:], le.Uint32(blk[14:]))
			le.PutUint16(rec[256+2*i:], le.Uint16(blk[0:]))
		}
	}
}

// packQ8_0x16 interleaves sixteen Q8_0 rows of nb blocks (src, row after
// row) into dst, the values biased by +128.
func packQ8_0x16(dst, src []byte, nb int) {
	rb := nb * szQ80
	_ = src[16*rb-1]
	for b := range nb {
		rec := (*[q80x16Rec]byte)(dst[b*q80x16Rec:])
		for i := range 16 {
			blk := (*[szQ80]byte)(src[i*rb+b*szQ80:])
			le := binary.LittleEndian
			for k := range 8 {
				le.PutUint32(rec[k*64+4*i:], le.Uint32(blk[2+4*k:])^0x80808080)
			}
			le.PutUint16(rec[512+2*i:], le.Uint16(blk[0:]))
		}
	}
}

// unpackQ8_0x16 is packQ8_0x16's inverse (tests check the round trip).
func unpackQ8_0x16(dst, src []byte, nb int) {
	rb := nb * szQ80
	for i := range 16 {
		for b := range nb {
			blk := dst[i*rb+b*szQ80:][:szQ80]
			rec := src[b*q80x16Rec:][:q80x16Rec]
			for k := range 8 {
				binary.LittleEndian.PutUint32(blk[2+4*k:], binary.LittleEndian.Uint32(rec[k*64+4*i:])^0x80808080)
			}
			copy(blk[0:2], rec[512+2*i:512+2*i+2])
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
// copy, lo and hi-lo multiples of 16 within it, into dst[:hi-lo].
func gemvQ4_0x16(w *Matrix, xp []byte, lo, hi int, dst []float32) {
	nb, rb := w.Cols/qk, w.rowBytes()
	_, _, _ = w.packed[hi*rb-1], xp[nb*40-1], dst[hi-lo-1]
	// the first half of the groups streamed beside the second (see the
	// comment at the top), an odd last group alone
	g, p := (hi-lo)/16, (hi-lo)/32
	if p > 0 {
		gemvQ4_0x16x2VNNI(nb, &w.packed[lo*rb], &w.packed[(lo+16*p)*rb], p, &xp[0], &dst[0], &dst[16*p])
	}
	if g%2 != 0 {
		r := 16 * (g - 1)
		gemvQ4_0x16VNNI(nb, &w.packed[(lo+r)*rb], 1, &xp[0], &dst[r])
	}
}

// gemvQ8_0x16 is gemvQ4_0x16 for Q8_0 weights.
func gemvQ8_0x16(w *Matrix, xp []byte, lo, hi int, dst []float32) {
	nb, rb := w.Cols/qk, w.rowBytes()
	_, _, _ = w.packed[hi*rb-1], xp[nb*q80ColBlock-1], dst[hi-lo-1]
	g, p := (hi-lo)/16, (hi-lo)/32
	if p > 0 {
		gemvQ8_0x16x2VNNI(nb, &w.packed[lo*rb], &w.packed[(lo+16*p)*rb], p, &xp[0], &dst[0], &dst[16*p])
	}
	if g%2 != 0 {
		r := 16 * (g - 1)
		gemvQ8_0x16VNNI(nb, &w.packed[(lo+r)*rb], 1, &xp[0], &dst[r])
	}
}

// packPanelQ8_0Packed is packPanelQ8_0 reading rows [r0, r0+8) (r0 a
// multiple of 8) from the interleaved copy when they lie in it.
func packPanelQ8_0Packed(dst []byte, w *Matrix, r0, nb int) {
	rb := w.rowBytes()
	if (r0+8)*rb > len(w.packed) {
		packPanelQ8_0(dst, w, r0, nb)
		return
	}
	src := w.packed[r0/16*16*rb:]
	i0 := r0 % 16
	for b := range nb {
		rec := src[b*q80x16Rec : (b+1)*q80x16Rec]
		out := dst[b*q80PanelBlock:][:q80PanelBlock]
		le := binary.LittleEndian
		for k := range 8 {
			lane := rec[k*64+4*i0:][:4*q80PanelRows]
			for i := range q80PanelRows {
				// row i is half i%2 of pair i/2: byte 32·i + 4k
				le.PutUint32(out[32*i+4*k:], le.Uint32(lane[4*i:]))
			}
		}
		for i := range q80PanelRows {
			d := uint64(math.Float32bits(f16At(rec[512+2*(i0+i):])))
			s := out[256+32*i:][:32]
			d |= d << 32
			le.PutUint64(s[0:], d)
			le.PutUint64(s[8:], d)
			le.PutUint64(s[16:], d)
			le.PutUint64(s[24:], d)
		}
	}
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
