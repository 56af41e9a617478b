package model

import (
	"glassbox/tensor"
)

// ExpertTracer is a Tracer that also observes the router of a
// mixture-of-experts model (Config.MoE). A State's Tracer that implements
// it receives, for every recorded position and layer, the router's choice.
type ExpertTracer interface {
	Tracer
	// Experts receives the router's input for the token at pos in layer
	// (the normed residual stream, Dim values), the experts it picked,
	// highest probability first (the order their outputs are summed in),
	// the weights that multiplied their outputs, and the router's
	// probabilities over all experts (Config.Experts values, the softmax of
	// its scores). The slices are only valid during the call.
	Experts(layer, pos int, x []float32, ids []int, weights, probs []float32)
}

// moeScratch is a State's scratch for the mixture-of-experts layers,
// allocated by newMoE for a batch of b tokens.
type moeScratch struct {
	probs []float32 // router probabilities, b rows of Experts
	sel   []int     // picked experts, b rows of ExpertsUsed
	selW  []float32 // their weights
	eout  []float32 // every picked expert's output, b·ExpertsUsed rows of Dim
	// prompt batches: the rows routed to one expert, gathered
	slots  []int     // (token·ExpertsUsed + slot) of each gathered row
	xg     []float32 // their inputs (rows of Dim)
	tg, tu []float32 // gate and up activations (rows of HiddenDim)
	td     []float32 // down outputs (rows of Dim)
	order  []int     // argsort scratch (Experts)
}

func (s *State) newMoE(b int) {
	c := s.cfg
	if !c.MoE() {
		return
	}
	k := c.ExpertsUsed
	s.moe = moeScratch{
		probs: make([]float32, b*c.Experts),
		sel:   make([]int, b*k),
		selW:  make([]float32, b*k),
		eout:  make([]float32, b*k*c.Dim),
		order: make([]int, c.Experts),
	}
	if b > 1 {
		s.moe.slots = make([]int, b)
		s.moe.xg = make([]float32, b*c.Dim)
		s.moe.tg, s.moe.tu = make([]float32, b*c.HiddenDim), make([]float32, b*c.HiddenDim)
		s.moe.td = make([]float32, b*c.Dim)
	}
}

// moeBytes returns the bytes of the mixture-of-experts scratch of a batch
// of b tokens (0 for a dense model).
func (c *Config) moeBytes(b int64) int64 {
	if !c.MoE() {
		return 0
	}
	k := int64(c.ExpertsUsed)
	n := b*int64(c.Experts) + 2*b*k + b*k*int64(c.Dim) + int64(c.Experts)
	if b > 1 {
		n += b + 2*b*int64(c.Dim) + 2*b*int64(c.HiddenDim)
	}
	return mulSat(n, 8) // ints are 8 bytes, floats 4: an upper bound
}

// route computes the router of layer w for the n rows of x: the softmax of
// the router's scores (ggml_soft_max), the ExpertsUsed experts of highest
// probability in decreasing order (ggml_argsort_top_k: a sort in
// descending order, ties to the lower index here), their probabilities,
// divided by their sum when the model normalizes them (ggml_sum_rows in
// float64 rounded to float32, clamped below at 2**-14, ggml_div). With
// ExpertsBias the scores are biased first; with ExpertsSoftmaxWeight the
// experts are picked by score and weighted by the softmax of their scores
// (s.moe.probs then keeps the scores).
func (s *State) route(w *Layer, x []float32, n int) {
	c := s.cfg
	ne, k := c.Experts, c.ExpertsUsed
	probs := s.moe.probs[:n*ne]
	matmul(probs, w.Router, x[:n*c.Dim], n)
	for i := range n {
		p := probs[i*ne : (i+1)*ne]
		if c.ExpertsBias {
			addTo(p, w.RouterBias)
		}
		sel, wt := s.moe.sel[i*k:(i+1)*k], s.moe.selW[i*k:(i+1)*k]
		if c.ExpertsSoftmaxWeight {
			// softmax_weight: the top scores, weighted by their softmax
			// (ggml_soft_max of the picked scores' row); p keeps the
			// scores (the tracer's probabilities are made from them)
			topK(p, s.moe.order, sel)
			for j, e := range sel {
				wt[j] = p[e]
			}
			tensor.SoftmaxRow(wt)
			continue
		}
		tensor.SoftmaxRow(p)
		topK(p, s.moe.order, sel)
		for j, e := range sel {
			wt[j] = p[e]
		}
		if c.ExpertsNorm {
			var sum float64
			for _, v := range wt {
				sum += float64(v)
			}
			d := max(float32(sum), 6.103515625e-5)
			for j := range wt {
				wt[j] /= d
			}
		}
	}
}

// topK writes into sel the indices of the len(sel) largest values of p,
// largest first, ties to the lower index; order is scratch of len(p).
func topK(p []float32, order []int, sel []int) {
	// a partial selection sort: len(sel) is small
	for i := range order {
		order[i] = i
	}
	for j := range sel {
		best := j
		for i := j + 1; i < len(order); i++ {
			a, b := order[i], order[best]
			if p[a] > p[b] || (p[a] == p[b] && a < b) {
				best = i
			}
		}
		order[j], order[best] = order[best], order[j]
		sel[j] = order[j]
	}
}

// moeFFN computes the mixture-of-experts feed-forward layer w for the n
// rows of x (normed inputs, Dim each) into out (n rows of Dim), for the
// tokens at positions pos…: each token's router picks its experts, each
// expert's SwiGLU runs on the tokens routed to it, and the token's output is
// the sum, in the router's order, of the experts' outputs each multiplied
// by its weight, in float32 steps as ggml_mul then ggml_add. The products
// round as llama.cpp's ggml_mul_mat_id, which multiplies every row with the
// one-row kernel (MatVec, MatMul: never the tinyBLAS order).
func (s *State) moeFFN(l int, w *Layer, x, out []float32, n, pos int) {
	c := s.cfg
	s.route(w, x, n)
	s.experts(w, x, out, n)
	if et, ok := s.Tracer.(ExpertTracer); ok {
		k := c.ExpertsUsed
		for i := range n {
			if et.Position(pos + i) {
				if c.ExpertsSoftmaxWeight {
					// the probabilities over all the experts, from the
					// scores route kept
					tensor.SoftmaxRow(s.moe.probs[i*c.Experts : (i+1)*c.Experts])
				}
				et.Experts(l, pos+i, x[i*c.Dim:(i+1)*c.Dim], s.moe.sel[i*k:(i+1)*k], s.moe.selW[i*k:(i+1)*k], s.moe.probs[i*c.Experts:(i+1)*c.Experts])
			}
		}
	}
}

// experts runs the experts route picked for the n rows of x and writes
// their weighted sums into out: each expert's gate and up products (plus
// their biases with ExpertsBias), SwiGLU (or the clamped SwiGLUOAI), the
// down product (plus its bias).
func (s *State) experts(w *Layer, x, out []float32, n int) {
	c := s.cfg
	dim, hid, k := c.Dim, c.HiddenDim, c.ExpertsUsed
	eout := s.moe.eout[:n*k*dim]
	if n == 1 {
		// one token: the gate and up products of two experts per hand-out
		// to the worker pool, then the SwiGLUs, then the down products of
		// up to four experts per hand-out
		hb, hb2 := s.hb[:k*hid], s.hb2[:k*hid]
		sel := s.moe.sel[:k]
		xr := x[:dim]
		for j := 0; j < k; j += 2 {
			e := sel[j]
			g0, u0 := hb[j*hid:(j+1)*hid], hb2[j*hid:(j+1)*hid]
			if j+1 < k && w.GateExps[e].Type == w.UpExps[e].Type {
				e1 := sel[j+1]
				g1, u1 := hb[(j+1)*hid:(j+2)*hid], hb2[(j+1)*hid:(j+2)*hid]
				s.mvOuts4 = [4][]float32{g0, u0, g1, u1}
				s.mvWs4 = [4]*tensor.Matrix{w.GateExps[e], w.UpExps[e], w.GateExps[e1], w.UpExps[e1]}
				if sameKind(s.mvWs4[:]) {
					tensor.MatVecMulti(s.mvOuts4[:], s.mvWs4[:], xr)
					s.mvOuts4, s.mvWs4 = [4][]float32{}, [4]*tensor.Matrix{}
					continue
				}
				s.mvOuts4, s.mvWs4 = [4][]float32{}, [4]*tensor.Matrix{}
			}
			for jj := j; jj < min(j+2, k); jj++ {
				e := sel[jj]
				g, u := hb[jj*hid:(jj+1)*hid], hb2[jj*hid:(jj+1)*hid]
				if !s.matvecs(1, xr, g, w.GateExps[e], u, w.UpExps[e], nil, nil) {
					tensor.MatVec(g, w.GateExps[e], xr)
					tensor.MatVec(u, w.UpExps[e], xr)
				}
			}
		}
		if c.ExpertsBias {
			// ggml_add_id: each picked expert's gate and up biases
			for j, e := range sel {
				addTo(hb[j*hid:(j+1)*hid], w.GateExpsBias[e*hid:(e+1)*hid])
				addTo(hb2[j*hid:(j+1)*hid], w.UpExpsBias[e*hid:(e+1)*hid])
			}
		}
		tensor.Parallel(k*siluUnits(hid), tensor.Threads(), s.siluFn)
		// the down products, up to four experts per hand-out
		for j := 0; j < k; j += 4 {
			n := min(4, k-j)
			for i := range n {
				e := sel[j+i]
				s.mvWs4[i], s.mvOuts4[i], s.mvXs4[i] = w.DownExps[e], eout[(j+i)*dim:(j+i+1)*dim], hb[(j+i)*hid:(j+i+1)*hid]
			}
			if sameType(s.mvWs4[:n]) {
				tensor.MatVecEach(s.mvOuts4[:n], s.mvWs4[:n], s.mvXs4[:n])
			} else {
				for i := range n {
					tensor.MatVec(s.mvOuts4[i], s.mvWs4[i], s.mvXs4[i])
				}
			}
			s.mvOuts4, s.mvWs4, s.mvXs4 = [4][]float32{}, [4]*tensor.Matrix{}, [4][]float32{}
		}
		if c.ExpertsBias {
			for j, e := range sel {
				addTo(eout[j*dim:(j+1)*dim], w.DownExpsBias[e*dim:(e+1)*dim])
			}
		}
	} else {
		// a batch: each expert multiplies the rows routed to it at once
		sel := s.moe.sel[:n*k]
		for e := range c.Experts {
			cnt := 0
			for r, se := range sel {
				if se == e {
					s.moe.slots[cnt] = r
					copy(s.moe.xg[cnt*dim:(cnt+1)*dim], x[(r/k)*dim:(r/k+1)*dim])
					cnt++
				}
			}
			if cnt == 0 {
				continue
			}
			xg, tg, tu, td := s.moe.xg[:cnt*dim], s.moe.tg[:cnt*hid], s.moe.tu[:cnt*hid], s.moe.td[:cnt*dim]
			tensor.MatMul(tg, w.GateExps[e], xg, cnt)
			tensor.MatMul(tu, w.UpExps[e], xg, cnt)
			for r := range cnt {
				g, u := tg[r*hid:(r+1)*hid], tu[r*hid:(r+1)*hid]
				if c.ExpertsBias {
					addTo(g, w.GateExpsBias[e*hid:(e+1)*hid])
					addTo(u, w.UpExpsBias[e*hid:(e+1)*hid])
				}
				if c.SwiGLUOAI {
					swigluOAI(g, u)
				} else {
					tensor.SiLUMul(g, u)
				}
			}
			tensor.MatMul(td, w.DownExps[e], tg, cnt)
			if c.ExpertsBias {
				for r := range cnt {
					addTo(td[r*dim:(r+1)*dim], w.DownExpsBias[e*dim:(e+1)*dim])
				}
			}
			for r, slot := range s.moe.slots[:cnt] {
				copy(eout[slot*dim:(slot+1)*dim], td[r*dim:(r+1)*dim])
			}
		}
	}
	// weigh and sum the experts' outputs in the router's order
	for i := range n {
		o := out[i*dim : (i+1)*dim]
		wt := s.moe.selW[i*k : (i+1)*k]
		for d := range o {
			o[d] = float32(eout[(i*k)*dim+d] * wt[0])
		}
		for j := 1; j < k; j++ {
			ej := eout[(i*k+j)*dim : (i*k+j+1)*dim]
			wj := wt[j]
			for d, v := range ej {
				o[d] += float32(v * wj)
			}
		}
	}
}

// sameType reports whether the matrices share a type (MatVecEach's
// condition).
func sameType(ws []*tensor.Matrix) bool {
	for _, w := range ws[1:] {
		if w.Type != ws[0].Type {
			return false
		}
	}
	return true
}

// sameKind reports whether the matrices share a type and a column count
// (MatVecMulti's condition).
func sameKind(ws []*tensor.Matrix) bool {
	for _, w := range ws[1:] {
		if w.Type != ws[0].Type || w.Cols != ws[0].Cols {
			return false
		}
	}
	return true
}

// swigluOAI sets g[i] to gpt-oss's clamped SwiGLU of g[i] and u[i], as
// ggml's swiglu_oai computes it in float32 (the C library's expf): x =
// min(g, 7), y = clamp(u, -7, 7), x/(1 + expf(1.702·(-x)))·(y + 1).
func swigluOAI(g, u []float32) {
	u = u[:len(g)]
	const alpha = float32(swigluOAIAlpha)
	limit := swigluOAILimit
	for i, v := range g {
		x := min(v, limit)
		y := min(max(u[i], -limit), limit)
		glu := x / float32(1+tensor.Expf(float32(alpha*-x)))
		g[i] = glu * float32(y+1)
	}
}
