package tensor

import "fmt"

// MatVecEach computes MatVec(dsts[i], ws[i], xs[i]) for every i (at most 4
// weights of one type, each with its own activation, such as the down
// projections of several experts): every x is converted on its own and the
// rows of all the weights are split over the worker pool in a single
// hand-out. The results are those of the separate calls. It panics on
// weights of different types or on mismatched lengths.
func MatVecEach(dsts [][]float32, ws []*Matrix, xs [][]float32) {
	if len(ws) != len(dsts) || len(ws) != len(xs) || len(ws) > maxMulti {
		panic(fmt.Sprintf("tensor: MatVecEach with %d weights, %d outputs, %d activations (at most %d)", len(ws), len(dsts), len(xs), maxMulti))
	}
	if len(ws) == 0 {
		return
	}
	k, ok := kernelFor(ws[0].Type)
	if !ok {
		panic(fmt.Sprintf("tensor: MatVecEach on unsupported type %s", ws[0].Type))
	}
	var ps [maxMulti]product
	var bufs [2 * maxMulti]*[]byte
	nb := 0
	for i, w := range ws {
		if w.Type != ws[0].Type {
			panic(fmt.Sprintf("tensor: MatVecEach weight %d is %s, weight 0 %s", i, w.Type, ws[0].Type))
		}
		if len(xs[i]) != w.Cols || len(dsts[i]) < w.Rows {
			panic(fmt.Sprintf("tensor: MatVecEach %d: %d activation values and %d outputs for a %d×%d matrix", i, len(xs[i]), len(dsts[i]), w.Rows, w.Cols))
		}
		xsz, _ := k.repr.RowBytes(w.Cols)
		var xq []byte
		if k.act == nil {
			xq = f32Bytes(xs[i])
		} else {
			buf := getScratch(xsz)
			bufs[nb] = buf
			nb++
			xq = (*buf)[:xsz]
			(*k.act)(xs[i], xq)
		}
		p := product{dot: *k.dot, w: w, rb: w.rowBytes(), x: xq, xs: xsz, n: 1, dst: dsts[i], rows: w.Rows}
		if k.act != nil && w.Cols > 0 {
			gemv, gbuf := quantGEMV(w, xq)
			if gbuf != nil {
				bufs[nb] = gbuf
				nb++
				p.gemv, p.xp, p.gemv16 = gemv, *gbuf, packedGEMV(w)
			} else if gemv != nil {
				p.gemv, p.xp = gemv, xq // reads the activation as it is
			}
		}
		ps[i] = p
	}
	runMulti(ps[:len(ws)])
	for _, b := range bufs[:nb] {
		putScratch(b)
	}
}
