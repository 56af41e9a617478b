//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Panel GEMM for Q4_0 and Q8_0 weights on CPUs with AVX-512 VNNI (see
// gemm_amd64.s). A batch of activation rows is first repacked per block
// (values, the integer correction of the unsigned×signed byte products, the
// scale as float32); then each worker repacks a panel of weight rows at a
// time (Q4_0: 16 rows with nibbles widened to bytes, Q8_0: 8 rows as pairs
// biased by 128) and multiplies it by every group of activation columns
// while the panel sits in its cache. Every output gets exactly the integer
// sums, products and fused multiply-adds of its vec-dot twin, so MatMul
// still equals n MatVec calls bit for bit.

//go:noescape
func gemmQ4_0VNNI(nb int, w, x *byte, out *[128]float32)

//go:noescape
func gemmQ8_0VNNI(nb int, w, x *byte, out *[256]float32)

//go:noescape
func gemvQ4_0VNNI(nb int, w *byte, rb, rows int, x *byte, dst *float32)

//go:noescape
func gemvQ8_0VNNI(nb int, w *byte, rb, rows int, x *byte, dst *float32)

// hasVNNI512 tells whether the panel kernels run on this CPU.
var hasVNNI512 = hasAVX512 && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// useGEMM switches the panel kernels on and off (tests compare both paths).
var useGEMM = hasVNNI512

// gemmMinBatch is the smallest batch the panel kernels take: below it the
// per-row kernels win (the weight panel is repacked for few columns).
const gemmMinBatch = 8

// Panel shapes: weight rows per panel, activation columns per kernel call,
// and the bytes per block of the packed panel and of one packed column.
const (
	q40PanelRows, q40Cols, q40PanelBlock, q40ColBlock = 16, 8, 576, 40
	q80PanelRows, q80Cols, q80PanelBlock, q80ColBlock = 8, 4, 512, 68
)

// quantGEMM computes dst for the rows of w that fill whole panels when the
// panel kernels apply (w is Q4_0 or Q8_0, n ≥ gemmMinBatch, the CPU has
// AVX-512 VNNI) and returns how many rows it did; the caller computes the
// rest. xq holds the n activation rows converted to Q8_0, xs bytes each.
func quantGEMM(dst []float32, w *Matrix, xq []byte, xs, n int) int {
	if !useGEMM || n < gemmMinBatch {
		return 0
	}
	switch w.Type {
	case Q4_0:
		pack := packPanelQ4_0
		if w.packed != nil {
			pack = packPanelQ4_0Packed // the copy covers every whole panel
		}
		return panelGEMM(dst, w, xq, xs, n, w.Cols/qk, q40PanelRows, q40Cols, q40PanelBlock, q40ColBlock, packActQ4_0, pack, kernelQ4_0)
	case Q8_0:
		pack := packPanelQ8_0
		if w.packed != nil {
			pack = packPanelQ8_0Packed
		}
		return panelGEMM(dst, w, xq, xs, n, w.Cols/qk, q80PanelRows, q80Cols, q80PanelBlock, q80ColBlock, packActQ8_0, pack, kernelQ8_0)
	case Q4_K:
		pack := packPanelQ4_K
		if w.packed != nil {
			pack = packPanelQ4_KPacked
		}
		return panelGEMM(dst, w, xq, xs, n, w.Cols/qkK, q4kPanelRows, q4kCols, q4kPanelBlock, q4kActRec/q4kCols, packActQ4_K, pack, kernelQ4_K)
	case Q6_K:
		pack := packPanelQ6_K
		if w.packed != nil {
			pack = packPanelQ6_KPacked
		}
		return panelGEMM(dst, w, xq, xs, n, w.Cols/qkK, q4kPanelRows, q4kCols, q6kPanelBlock, q6kActRec/q4kCols, packActQ6_K, pack, kernelQ6_K)
	}
	return 0
}

// panelGEMM runs one panel GEMM: pack the activations, then split the
// panels over the worker pool.
func panelGEMM(dst []float32, w *Matrix, xq []byte, xs, n, nb, prows, cols, pblock, cblock int,
	packAct func(dst, xq []byte, xs, n, nb, cols, cblock int),
	packPanel func(dst []byte, w *Matrix, r0, nb int),
	kernel func(nb int, panel, act []byte, dst []float32, rows, r0, c0, nc int)) int {
	panels := w.Rows / prows
	if panels == 0 {
		return 0
	}
	groups := (n + cols - 1) / cols
	abuf := getScratch(groups * nb * cols * cblock)
	act := (*abuf)[:groups*nb*cols*cblock]
	packActGroups(packAct, act, xq, xs, n, nb, cols, cblock)
	Parallel(panels, Threads(), func(lo, hi, _ int) {
		pbuf := getScratch(nb * pblock)
		panel := (*pbuf)[:nb*pblock]
		for p := lo; p < hi; p++ {
			packPanel(panel, w, p*prows, nb)
			for g := range groups {
				c0 := g * cols
				kernel(nb, panel, act[g*nb*cols*cblock:(g+1)*nb*cols*cblock], dst, w.Rows, p*prows, c0, min(cols, n-c0))
			}
		}
		putScratch(pbuf)
	})
	putScratch(abuf)
	return panels * prows
}

// packActGroups runs packAct over the groups of cols columns on the worker
// pool: each goroutine packs whole groups, into the same bytes as one call
// over all n columns would.
func packActGroups(packAct func(dst, xq []byte, xs, n, nb, cols, cblock int), dst, xq []byte, xs, n, nb, cols, cblock int) {
	groups := (n + cols - 1) / cols
	gb := nb * cols * cblock
	Parallel(groups, Threads(), func(lo, hi, _ int) {
		c0, c1 := lo*cols, min(n, hi*cols)
		packAct(dst[lo*gb:hi*gb], xq[c0*xs:], xs, c1-c0, nb, cols, cblock)
	})
}

// packActQ4_0 writes, for each group of cols columns, each block and each
// column, a record of cblock (40) bytes: the 32 int8 values, -8·Σy as int32
// and the scale as float32. Missing columns of the last group are zero.
func packActQ4_0(dst, xq []byte, xs, n, nb, cols, cblock int) {
	clear(dst[len(dst)-nb*cols*cblock:])
	for c := range n {
		g, cc := c/cols, c%cols
		row := xq[c*xs : c*xs+nb*szQ80]
		for b := range nb {
			blk := row[b*szQ80 : (b+1)*szQ80]
			rec := dst[((g*nb+b)*cols+cc)*cblock:][:cblock]
			copy(rec[:32], blk[2:34])
			var s int32
			for _, v := range blk[2:34] {
				s += int32(int8(v))
			}
			binary.LittleEndian.PutUint32(rec[32:], uint32(-8*s))
			binary.LittleEndian.PutUint32(rec[36:], math.Float32bits(f16At(blk)))
		}
	}
}

// packActQ8_0 writes records of cblock (68) bytes: the 32 int8 values, then
// for each group l of four values -128·Σ of the group as int32 (it cancels
// the +128 bias of the packed weights), then the scale as float32.
func packActQ8_0(dst, xq []byte, xs, n, nb, cols, cblock int) {
	clear(dst[len(dst)-nb*cols*cblock:])
	for c := range n {
		g, cc := c/cols, c%cols
		row := xq[c*xs : c*xs+nb*szQ80]
		for b := range nb {
			blk := row[b*szQ80 : (b+1)*szQ80]
			rec := dst[((g*nb+b)*cols+cc)*cblock:][:cblock]
			copy(rec[:32], blk[2:34])
			for l := range 8 {
				q := blk[2+4*l : 6+4*l]
				s := int32(int8(q[0])) + int32(int8(q[1])) + int32(int8(q[2])) + int32(int8(q[3]))
				binary.LittleEndian.PutUint32(rec[32+4*l:], uint32(-128*s))
			}
			binary.LittleEndian.PutUint32(rec[64:], math.Float32bits(f16At(blk)))
		}
	}
}

// packPanelQ4_0 packs rows [r0, r0+16) of w: per block, eight registers of
// 64 bytes (register k holds values 4k..4k+3 of each row, low nibbles being
// values 0..15 and high nibbles 16..31), then the 16 row scales as float32.
func packPanelQ4_0(dst []byte, w *Matrix, r0, nb int) {
	rb := w.rowBytes()
	for i := range q40PanelRows {
		row := w.Data[(r0+i)*rb : (r0+i+1)*rb]
		for b := range nb {
			blk := row[b*szQ40 : (b+1)*szQ40]
			out := dst[b*q40PanelBlock:][:q40PanelBlock]
			for k := range 4 {
				v := binary.LittleEndian.Uint32(blk[2+4*k:])
				binary.LittleEndian.PutUint32(out[k*64+4*i:], v&0x0f0f0f0f)
				binary.LittleEndian.PutUint32(out[(k+4)*64+4*i:], v>>4&0x0f0f0f0f)
			}
			binary.LittleEndian.PutUint32(out[512+4*i:], math.Float32bits(f16At(blk)))
		}
	}
}

// packPanelQ8_0 packs rows [r0, r0+8) of w as four pairs: per block, four
// registers of 64 bytes (the 32 values of rows 2p and 2p+1, each +128 so
// that they are unsigned), then four registers of their scales (eight
// copies of each row's scale as float32).
func packPanelQ8_0(dst []byte, w *Matrix, r0, nb int) {
	rb := w.rowBytes()
	for i := range q80PanelRows {
		row := w.Data[(r0+i)*rb : (r0+i+1)*rb]
		p, h := i/2, i%2
		for b := range nb {
			blk := row[b*szQ80 : (b+1)*szQ80]
			out := dst[b*q80PanelBlock:][:q80PanelBlock]
			q := out[p*64+h*32:][:32]
			for j := 0; j < 32; j += 8 {
				binary.LittleEndian.PutUint64(q[j:], binary.LittleEndian.Uint64(blk[2+j:])^0x8080808080808080)
			}
			d := math.Float32bits(f16At(blk))
			s := out[256+p*64+h*32:][:32]
			for j := 0; j < 32; j += 4 {
				binary.LittleEndian.PutUint32(s[j:], d)
			}
		}
	}
}

// kernelQ4_0 multiplies a packed Q4_0 panel (rows r0..r0+15) by one group
// of packed columns and stores the nc valid columns into dst.
func kernelQ4_0(nb int, panel, act []byte, dst []float32, rows, r0, c0, nc int) {
	_, _ = panel[nb*q40PanelBlock-1], act[nb*q40Cols*q40ColBlock-1]
	var out [128]float32
	gemmQ4_0VNNI(nb, &panel[0], &act[0], &out)
	for c := range nc {
		copy(dst[(c0+c)*rows+r0:][:q40PanelRows], out[c*16:(c+1)*16])
	}
}

// kernelQ8_0 multiplies a packed Q8_0 panel (rows r0..r0+7) by one group of
// packed columns, reduces each eight-lane accumulator as the vec-dot does
// and stores the nc valid columns into dst.
func kernelQ8_0(nb int, panel, act []byte, dst []float32, rows, r0, c0, nc int) {
	_, _ = panel[nb*q80PanelBlock-1], act[nb*q80Cols*q80ColBlock-1]
	var out [256]float32
	gemmQ8_0VNNI(nb, &panel[0], &act[0], &out)
	for c := range nc {
		d := dst[(c0+c)*rows+r0:][:q80PanelRows]
		for p := range 4 {
			acc := out[(c*4+p)*16:][:16]
			d[2*p] = Sum8((*[8]float32)(acc[:8]))
			d[2*p+1] = Sum8((*[8]float32)(acc[8:]))
		}
	}
}

// gemvRecord is the bytes per block of the activation packed for the
// one-row kernels.
func gemvRecord(t Type) int {
	switch t {
	case Q4_0:
		return 40
	case Q8_0:
		return q80ColBlock
	}
	return 0
}

// quantGEMV returns the one-row kernel for w and packs the Q8_0 activation
// xq into *buf for it, or returns nil when there is none (or the CPU lacks
// AVX-512 VNNI).
func quantGEMV(w *Matrix, xq []byte) (gemvFunc, *[]byte) {
	if !useGEMM || w.Rows < 8 {
		return nil, nil
	}
	switch w.Type {
	case Q4_K:
		// no eight-row kernel: the record serves the packed one
		nsb := w.Cols / qkK
		buf := getScratch(nsb * q4kGemvRec)
		packGemvQ4_K((*buf)[:nsb*q4kGemvRec], xq, nsb)
		return nil, buf
	case Q6_K:
		nsb := w.Cols / qkK
		buf := getScratch(nsb * q6kGemvRec)
		packGemvQ6_K((*buf)[:nsb*q6kGemvRec], xq, nsb)
		return nil, buf
	case Q4_0, Q8_0:
	default:
		return nil, nil
	}
	nb := w.Cols / qk
	rec := gemvRecord(w.Type)
	buf := getScratch(nb * rec)
	xp := (*buf)[:nb*rec]
	if w.Type == Q4_0 {
		packGemvQ4_0(xp, xq[:nb*szQ80], nb)
		return gemvQ4_0, buf
	}
	packActQ8_0(xp, xq, len(xq), 1, nb, 1, q80ColBlock)
	return gemvQ8_0, buf
}

func gemvQ8_0(w *Matrix, xp []byte, lo, hi int, dst []float32) {
	nb, rb := w.Cols/qk, w.rowBytes()
	_, _, _ = w.Data[hi*rb-1], xp[nb*q80ColBlock-1], dst[hi-1]
	gemvQ8_0VNNI(nb, &w.Data[lo*rb], rb, hi-lo, &xp[0], &dst[lo])
}

// packGemvQ4_0 writes a 40-byte record per block: the 32 values, -8·Σy as
// int32 and the scale as float32.
func packGemvQ4_0(dst, xq []byte, nb int) {
	for b := range nb {
		blk := xq[b*szQ80 : (b+1)*szQ80]
		rec := dst[b*40 : (b+1)*40]
		copy(rec[0:32], blk[2:34])
		var s int32
		for _, v := range blk[2:34] {
			s += int32(int8(v))
		}
		binary.LittleEndian.PutUint32(rec[32:], uint32(-8*s))
		binary.LittleEndian.PutUint32(rec[36:], math.Float32bits(f16At(blk)))
	}
}

// packedGEMV returns the one-row kernel over w's packed copy, or nil when
// there is none or the kernels are off.
func packedGEMV(w *Matrix) gemvFunc {
	if !useGEMM || w.packed == nil {
		return nil
	}
	switch w.Type {
	case Q4_0:
		return gemvQ4_0x16
	case Q8_0:
		return gemvQ8_0x16
	case Q4_K:
		return gemvQ4_Kx16
	case Q6_K:
		return gemvQ6_Kx16
	}
	return nil
}

// floatRowsBlock is how many weight rows the row kernels take at a time
// for every group of activation rows in turn, so that the block is read
// from memory once and from cache by the other groups.
const floatRowsBlock = 32

// floatRowsFor returns the row kernel of MatMul's products of F32 and F16
// weights whose rows are a multiple of 64 values, or nil: the row kernels
// give each output the per-row dot's value (dotF32AVX512's,
// dotF16F32AVX512's: for F16 the activation as it is, float32 values
// rounded to F16) from one call per block of rows rather than one per row
// and activation row.
func floatRowsFor(w *Matrix) floatRowsFunc {
	if !asmOn || !hasAVX512 || w.Cols == 0 || w.Cols%64 != 0 || (w.Type != F32 && w.Type != F16) {
		return nil
	}
	return floatRowsAVX512
}

// floatRowsAVX512 is the floatRowsFunc of the AVX-512 row kernels: blocks
// of floatRowsBlock weight rows, each taking the activation rows four at a
// time (each weight row loaded once for the four) and then one at a time.
func floatRowsAVX512(w *Matrix, x []byte, xs, n, lo, hi int, dst []float32, rows int) {
	if lo >= hi || n == 0 {
		return
	}
	k, rb := w.Cols, w.rowBytes()
	_, _, _ = w.Data[hi*rb-1], x[(n-1)*xs+4*k-1], dst[(n-1)*rows+hi-1]
	one := func(q, r0, nr int) {
		xp := (*float32)(unsafe.Pointer(&x[q*xs]))
		if w.Type == F32 {
			dotF32RowsAVX512(k, xp, (*float32)(unsafe.Pointer(&w.Data[r0*rb])), rb, nr, &dst[q*rows+r0])
		} else {
			dotF16RowsAVX512(k, xp, (*uint16)(unsafe.Pointer(&w.Data[r0*rb])), rb, nr, &dst[q*rows+r0])
		}
	}
	if n == 1 {
		one(0, lo, hi-lo)
		return
	}
	o := 4 * rows // bytes between the outputs of two activation rows
	for r0 := lo; r0 < hi; r0 += floatRowsBlock {
		nr := min(floatRowsBlock, hi-r0)
		q := 0
		for ; q+4 <= n; q += 4 { // four consecutive rows: xs is 4·k for both types
			xp := (*float32)(unsafe.Pointer(&x[q*xs]))
			if w.Type == F32 {
				dotF32Rows4AVX512(k, xp, (*float32)(unsafe.Pointer(&w.Data[r0*rb])), rb, nr, &dst[q*rows+r0], o, 2*o, 3*o)
			} else {
				dotF16Rows4AVX512(k, xp, (*uint16)(unsafe.Pointer(&w.Data[r0*rb])), rb, nr, &dst[q*rows+r0], o, 2*o, 3*o)
			}
		}
		for ; q < n; q++ {
			one(q, r0, nr)
		}
	}
}

// gemvQ4_0 and gemvQ8_0 compute rows [lo, hi) of a one-row product, hi-lo
// being a multiple of 8.
func gemvQ4_0(w *Matrix, xp []byte, lo, hi int, dst []float32) {
	nb, rb := w.Cols/qk, w.rowBytes()
	_, _, _ = w.Data[hi*rb-1], xp[nb*40-1], dst[hi-1]
	gemvQ4_0VNNI(nb, &w.Data[lo*rb], rb, hi-lo, &xp[0], &dst[lo])
}

//go:noescape
func gemmF32TileRows(n int, w *float32, ws int, x *float32, xs int, out *float32, os int, groups int)

//go:noescape
func gemmF16TileRows(n int, w *uint16, ws int, x *float32, xs int, out *float32, os int, groups int)

//go:noescape
func gemmF32TileRows6(n int, w *float32, ws int, x *float32, xs int, out *float32, os int, groups int)

//go:noescape
func gemmF16TileRows6(n int, w *uint16, ws int, x *float32, xs int, out *float32, os int, groups int)

//go:noescape
func gemmF16TileAcc(n int, w *uint16, ws int, x *float32, xs int, acc *[16][16]float32, out *[16]float32, flags int)

// gemmTileCols is how many activation rows a tile sweep keeps in cache;
// gemmTileRows how many tiles of four weight rows take each group of four
// activation rows in turn (so that the group is read from L1, the weight
// rows of the tiles from L2).
const (
	gemmTileCols = 64
	gemmTileRows = 8
)

// floatGEMM computes the tinyBLAS-order product of F32 or F16 weights (rows
// a multiple of 4, cols of 16) with the first n&^3 activation rows (float32
// rows of xs bytes in xq), four weight rows by four activation rows at a
// time, and returns how many activation rows it did.
func floatGEMM(dst []float32, w *Matrix, xq []byte, xs, n int) int {
	n4 := n &^ 3
	if !useGEMM || !hasAVX512 || n4 == 0 || w.Rows%4 != 0 || w.Cols%16 != 0 || w.Cols == 0 {
		return 0
	}
	if w.Type != F32 && w.Type != F16 {
		return 0
	}
	rb, k, rows := w.rowBytes(), w.Cols, w.Rows
	// the tiles write dst directly: output row c+j of the tile at weight
	// row r is dst[(c+j)·rows+r:][:4], all within n4·rows
	_, _, _ = w.Data[rows*rb-1], xq[(n4-1)*xs+4*k-1], dst[n4*rows-1]
	Parallel(rows/4, Threads(), func(lo, hi, _ int) {
		for c0 := 0; c0 < n4; c0 += gemmTileCols {
			c1 := min(c0+gemmTileCols, n4)
			for t0 := lo; t0 < hi; t0 += gemmTileRows {
				for c := c0; c < c1; {
					// the block's tiles in one call, over six activation
					// rows while what is left is not 2, 4 or 8 (an even
					// count: sixes and fours cover it)
					x := (*float32)(unsafe.Pointer(&xq[c*xs]))
					r, g := 4*t0, min(t0+gemmTileRows, hi)-t0
					six := gemm6 && (c1-c == 6 || c1-c >= 10)
					switch {
					case w.Type == F32 && six:
						gemmF32TileRows6(k, (*float32)(unsafe.Pointer(&w.Data[r*rb])), rb, x, xs, &dst[c*rows+r], 4*rows, g)
					case w.Type == F32:
						gemmF32TileRows(k, (*float32)(unsafe.Pointer(&w.Data[r*rb])), rb, x, xs, &dst[c*rows+r], 4*rows, g)
					case six:
						gemmF16TileRows6(k, (*uint16)(unsafe.Pointer(&w.Data[r*rb])), rb, x, xs, &dst[c*rows+r], 4*rows, g)
					default:
						gemmF16TileRows(k, (*uint16)(unsafe.Pointer(&w.Data[r*rb])), rb, x, xs, &dst[c*rows+r], 4*rows, g)
					}
					if six {
						c += 6
					} else {
						c += 4
					}
				}
			}
		}
	})
	return n4
}

//go:noescape
func quantQ8_0AVX512(src *float32, dst *byte, nb int)

// quantQ8_0ActAVX512 is quantQ8_0ActGo with the AVX-512 kernel.
func quantQ8_0ActAVX512(src []float32, dst []byte) {
	nb := len(src) / qk
	if nb == 0 {
		return
	}
	_, _ = src[nb*qk-1], dst[nb*szQ80-1]
	quantQ8_0AVX512(&src[0], &dst[0], nb)
}

// panelShape returns the panel rows, the panel bytes per block and the
// panel packer quantGEMM uses for w (from its packed copy when it has one),
// or a nil packer.
func panelShape(w *Matrix) (rows, block int, pack func(dst []byte, w *Matrix, r0, nb int)) {
	switch w.Type {
	case Q4_0:
		if w.packed != nil {
			return q40PanelRows, q40PanelBlock, packPanelQ4_0Packed
		}
		return q40PanelRows, q40PanelBlock, packPanelQ4_0
	case Q8_0:
		if w.packed != nil {
			return q80PanelRows, q80PanelBlock, packPanelQ8_0Packed
		}
		return q80PanelRows, q80PanelBlock, packPanelQ8_0
	case Q4_K:
		if w.packed != nil {
			return q4kPanelRows, q4kPanelBlock, packPanelQ4_KPacked
		}
		return q4kPanelRows, q4kPanelBlock, packPanelQ4_K
	case Q6_K:
		if w.packed != nil {
			return q4kPanelRows, q6kPanelBlock, packPanelQ6_KPacked
		}
		return q4kPanelRows, q6kPanelBlock, packPanelQ6_K
	}
	return 0, 0, nil
}

// gemm6 makes floatGEMM run the six-activation-row tiles where they fit
// (false in tests and benchmarks of the four-row tiles alone).
var gemm6 = true
