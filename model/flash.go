package model

import (
	"math"

	"glassbox/tensor"
)

// Flash attention: one pass over the cache cells with a running maximum and
// a running sum (online softmax), the weighted values accumulated as it goes,
// never materialising the row of weights. glassbox follows llama.cpp v0.5.0's
// CPU kernels (ggml_compute_forward_flash_attn_ext_f16) step by step, so that
// its numbers are llama.cpp's with -fa on:
//
//   - one chunk (every step with a quantized K or V cache, and F16 steps of
//     fewer than faTileQ tokens): the query converted to the K type's
//     vec_dot type (F16, or Q8_0 after the Hadamard rotation for quantized
//     keys), each cell's score one ggml_vec_dot, the accumulator rescaled by
//     the C library's expf(Mold−M) when a new maximum appears; F16 values
//     accumulate in an F16 vector (ggml_vec_mad_f16, rounded each step),
//     quantized values are dequantized and accumulate in float32;
//   - split (one decode token over an F16 cache of faSplitMin or more
//     cells): the cells cut into one chunk per thread, each chunk's maximum,
//     sum and F32 accumulator merged in order at the end;
//   - tiled (F16 cache, faTileQ or more tokens in the step): float32 scores
//     (the query is not rounded) in tiles of faTileKV cells, each tile's
//     weights from ggml's SIMD exp with a float64 sum, the values multiplied
//     in float32.
//
// Cells past the step's last position, and before a sliding window, are
// masked: flash attention skips them (they weigh nothing, whatever they hold).

// The tile sizes and the split threshold of llama.cpp's CPU flash attention
// (GGML_FA_TILE_Q, GGML_FA_TILE_KV, and the nek1 >= 512 of its split-KV path).
const (
	faTileQ    = 64
	faTileKV   = 64
	faSplitMin = 512
	// faPad is the granularity of the number of cells llama.cpp's graph
	// attends over (its n_kv, padded to 256 since v0.5.0).
	faPad = 256
)

// splitMin is faSplitMin, a variable so that the tests can turn the split
// kernel off.
var splitMin = faSplitMin

// noPackedKeys makes the tiled kernel compute each score from the F16 keys
// instead of the transposed float32 copy (a variable for the tests, which
// compare the two).
var noPackedKeys = false

// prepareTiled packs layer l's keys of cells [0, end) for the tiled kernel
// when a step of rows tokens will use it (see packKeys). Call it before
// the step's attention, outside the worker pool.
func (s *State) prepareTiled(l, rows, end int) {
	if s.flash && s.kType == tensor.F16 && s.kvType == tensor.F16 && rows >= faTileQ && s.cfg.ValueDim%16 == 0 {
		s.packKeys(l, end)
	}
}

// packKeys writes layer l's F16 keys of cells [0, n) into s.kt as float32,
// transposed: the cells of each component of each KV head in a row of
// ktCap values, so that the tiled kernel multiplies a tile's keys as
// contiguous vectors, as llama.cpp packs its K tile.
func (s *State) packKeys(l, n int) {
	c := s.cfg
	if s.kt == nil {
		s.ktCap = (s.ctx + faTileKV - 1) / faTileKV * faTileKV
		s.kt = make([]float32, c.KVDim()*s.ktCap)
	}
	kvDim := c.KVDim()
	kc := s.kh[l]
	for t := range n {
		for j, h := range kc[t*kvDim : (t+1)*kvDim] {
			s.kt[j*s.ktCap+t] = tensor.F16ToF32(h)
		}
	}
	s.ktL, s.ktN = l, n
}

// vRotation is the size of the Walsh-Hadamard rotation llama.cpp applies to
// the values of a quantized V cache (and to the attention output, undoing it):
// 64 when the head's value size is a multiple of 64, else 0 (none).
func vRotation(valueDim int) int {
	if valueDim%64 != 0 {
		return 0
	}
	return 64
}

// padFA returns the number of cells llama.cpp's flash attention runs over
// when the last one in use is cell p: p+1 rounded up to faPad, at least
// faPad, capped by the context.
func padFA(p, ctx int) int {
	n := max(faPad, (p+faPad)/faPad*faPad)
	return min(n, ctx)
}

// flashScratch is the per-worker scratch of flash attention.
type flashScratch struct {
	vkq16 []uint16  // F16 value accumulator (ValueDim)
	vkq32 []float32 // F32 value accumulator (ValueDim)
	v32   []float32 // one value row dequantized (ValueDim)
	k32   []float32 // one tile's scores (faTileKV)
	part  []float32 // the split path's partials: per chunk M, S, ValueDim values
}

// growFlash sizes the flash scratch of sc for the state.
func (s *State) growFlash(sc *attnScratch) {
	vd := s.cfg.ValueDim
	if len(sc.fa.vkq32) < vd {
		sc.fa = flashScratch{vkq16: make([]uint16, vd), vkq32: make([]float32, vd), v32: make([]float32, vd), k32: make([]float32, faTileKV)}
	}
}

// attendFlash is attendHead with flash attention: query head q at position p
// over KV head kvh of layer l; rows is the number of tokens the step holds
// and last its last position (they choose llama.cpp's kernel); sink is the
// head's sink logit or nil. With a tracer, sc.scores[:p+1] receives the
// weights each cell's value was multiplied by in the end (see flashWeights).
func (s *State) attendFlash(sc *attnScratch, l, p, kvh, rows, last int, sink *float32, q, out []float32) {
	c := s.cfg
	vd := c.ValueDim
	s.growFlash(sc)
	scale := attnScale(c.HeadDim)
	if c.AttnScale != 0 {
		scale = c.AttnScale
	}
	if c.QueryScale != 0 {
		scale = 1
	}
	capv := c.AttnSoftcap
	if capv != 0 {
		scale /= capv
	}
	lo := 0
	if w := c.AttnWindow(l); w > 0 && p-w+1 > 0 {
		lo = p - w + 1
	}
	trace := s.Tracer != nil
	if trace {
		clear(sc.scores[:p+1])
	}
	fp := flashParams{l: l, kvh: kvh, lo: lo, hi: p + 1, scale: scale, capv: capv, trace: trace}
	nkv := padFA(last, s.ctx)
	acc := sc.fa.vkq32[:vd]
	var m, sum float32
	f16 := s.kType == tensor.F16 && s.kvType == tensor.F16
	switch {
	case f16 && rows >= faTileQ && vd%16 == 0:
		m, sum = s.flashTiled(sc, &fp, nkv, q, acc)
	case f16 && rows == 1 && nkv >= splitMin:
		s.flashSplit(sc, &fp, nkv, q, sink, out)
		s.unrotateOut(out)
		return
	default:
		s.flashQuery(sc, q)
		m, sum = s.flashChunk(sc, &fp, fp.lo, fp.hi, acc)
	}
	if sink != nil {
		// the sink joins the sum without a value; the maximum is not updated
		// (llama.cpp's order)
		ms, vs := float32(1), float32(1)
		if *sink > m {
			ms = tensor.Expf(m - *sink)
			tensor.ScaleF32(acc, ms)
			if trace {
				tensor.ScaleF32(sc.scores[:p+1], ms)
			}
		} else {
			vs = tensor.Expf(*sink - m)
		}
		sum = tensor.FMA32(sum, ms, vs)
		sc.sink = vs
	} else {
		sc.sink = 0
	}
	inv := float32(0)
	if sum != 0 {
		inv = 1 / sum
	}
	for i := range out[:vd] {
		out[i] = acc[i] * inv
	}
	if trace {
		tensor.ScaleF32(sc.scores[:p+1], inv)
	}
	sc.sink *= inv
	s.unrotateOut(out)
}

// unrotateOut undoes the rotation of a quantized V cache on one head's
// attention output (llama.cpp rotates the output by the same orthonormal
// Hadamard matrix, its own inverse).
func (s *State) unrotateOut(out []float32) {
	if s.vRot == 0 {
		return
	}
	vd := s.cfg.ValueDim
	tmp := out[:vd]
	var buf [64]float32
	for c := 0; c < vd; c += s.vRot {
		copy(buf[:], tmp[c:c+s.vRot])
		hadamard(tmp[c:c+s.vRot], buf[:s.vRot], s.vRot)
	}
}

// flashParams are the arguments of one head's flash attention shared by its
// kernels.
type flashParams struct {
	l, kvh int
	lo, hi int // the cells the query sees: [lo, hi)
	scale  float32
	capv   float32
	trace  bool
}

// flashQuery converts the query head to the key cache's vec_dot type: F16,
// or Q8_0 after the keys' Hadamard rotation.
func (s *State) flashQuery(sc *attnScratch, q []float32) {
	if s.quantKeys() {
		qr := q
		if s.kRot > 0 {
			qr = sc.qr
			hadamard(qr, q, s.kRot)
		}
		tensor.QuantizeQ8_0Act(qr, sc.qq)
		return
	}
	tensor.F32ToF16Slice(sc.qh[:len(q)], q)
}

// flashScore returns the score of cell t as the one-chunk kernel computes
// it: ggml_vec_dot of the key with the converted query, times the scale
// (already divided by the soft-cap), then capv·tanhf of it with a soft-cap.
func (s *State) flashScore(sc *attnScratch, fp *flashParams, t int) float32 {
	c := s.cfg
	hd := c.HeadDim
	var d float32
	if s.quantKeys() {
		d = tensor.DotKVRow(s.kType, hd, s.kq[fp.l][t*s.kqRow+fp.kvh*s.kqHd:][:s.kqHd], sc.qq)
	} else {
		kvDim := c.KVDim()
		d = tensor.DotF16(s.kh[fp.l][t*kvDim+fp.kvh*hd:][:hd], sc.qh[:hd])
	}
	d *= fp.scale
	if fp.capv != 0 {
		d = fp.capv * tanhf(d)
	}
	return d
}

// flashChunk runs the one-chunk kernel over the cells [a, b) ∩ [lo, hi),
// leaving the float32 accumulator in acc and returning the running maximum
// and sum. The query is already converted (flashQuery).
func (s *State) flashChunk(sc *attnScratch, fp *flashParams, a, b int, acc []float32) (m, sum float32) {
	c := s.cfg
	vd := c.ValueDim
	a, b = max(a, fp.lo), min(b, fp.hi)
	m = float32(math.Inf(-1))
	w := sc.scores
	if s.kvType == tensor.F16 {
		acc16 := sc.fa.vkq16[:vd]
		clear(acc16)
		vDim := c.VDim()
		vc := s.vh[fp.l]
		for t := a; t < b; t++ {
			sv := s.flashScore(sc, fp, t)
			ms, vs := float32(1), float32(1)
			if sv > m {
				ms = tensor.Expf(m - sv)
				m = sv
				tensor.ScaleF16(acc16, ms)
				if fp.trace {
					tensor.ScaleF32(w[a:t], ms)
				}
			} else {
				vs = tensor.Expf(sv - m)
			}
			tensor.MadF16(acc16, vc[t*vDim+fp.kvh*vd:][:vd], vs)
			if fp.trace {
				w[t] = vs
			}
			sum = tensor.FMA32(sum, ms, vs)
		}
		for i, h := range acc16 {
			acc[i] = tensor.F16ToF32(h)
		}
		return m, sum
	}
	clear(acc)
	v32 := sc.fa.v32[:vd]
	vc := s.vq[fp.l]
	for t := a; t < b; t++ {
		sv := s.flashScore(sc, fp, t)
		ms, vs := float32(1), float32(1)
		if sv > m {
			ms = tensor.Expf(m - sv)
			m = sv
			tensor.ScaleF32(acc, ms)
			if fp.trace {
				tensor.ScaleF32(w[a:t], ms)
			}
		} else {
			vs = tensor.Expf(sv - m)
		}
		tensor.MadKVRow(s.kvType, acc, vc[t*s.vqRow+fp.kvh*s.vqHd:][:s.vqHd], vs, v32)
		if fp.trace {
			w[t] = vs
		}
		sum = tensor.FMA32(sum, ms, vs)
	}
	return m, sum
}

// flashSplit is llama.cpp's split-KV path for one decode token over an F16
// cache of nkv ≥ faSplitMin cells: the cells cut into one chunk per thread
// (ceil(nkv/threads) each), each run by the one-chunk kernel (the first one
// taking the sink), then merged in chunk order with expf rescaling, and the
// result divided by the total. It writes the head's output into out.
func (s *State) flashSplit(sc *attnScratch, fp *flashParams, nkv int, q []float32, sink *float32, out []float32) {
	vd := s.cfg.ValueDim
	nth := max(1, tensor.Threads())
	cs := (nkv + nth - 1) / nth
	acc := sc.fa.vkq32[:vd]
	s.flashQuery(sc, q)
	if len(sc.fa.part) < vd {
		sc.fa.part = make([]float32, vd)
	}
	fin := sc.fa.part[:vd]
	clear(fin)
	mf, sf := float32(math.Inf(-1)), float32(0)
	sc.sink = 0
	for ith := range nth {
		a := ith * cs
		if a >= nkv {
			continue
		}
		b := min(a+cs, nkv)
		m, sum := s.flashChunk(sc, fp, a, b, acc)
		if sink != nil && ith == 0 {
			ms, vs := float32(1), float32(1)
			if *sink > m {
				ms = tensor.Expf(m - *sink)
				tensor.ScaleF32(acc, ms)
				if fp.trace {
					tensor.ScaleF32(sc.scores[max(a, fp.lo):min(b, fp.hi)], ms)
				}
			} else {
				vs = tensor.Expf(*sink - m)
			}
			sum = tensor.FMA32(sum, ms, vs)
			sc.sink = vs
		}
		if sum == 0 {
			continue
		}
		mn := max(mf, m)
		so, sn := tensor.Expf(mf-mn), tensor.Expf(m-mn)
		for i := range fin {
			fin[i] = tensor.FMA32(fin[i], so, acc[i]*sn)
		}
		sf = tensor.FMA32(sf, so, sum*sn)
		if fp.trace {
			tensor.ScaleF32(sc.scores[fp.lo:max(a, fp.lo)], so)
			tensor.ScaleF32(sc.scores[max(a, fp.lo):min(b, fp.hi)], sn)
		}
		if ith == 0 {
			sc.sink *= sn
		} else {
			sc.sink *= so
		}
		mf = mn
	}
	inv := float32(1)
	if sf != 0 {
		inv = 1 / sf
	}
	for i := range out[:vd] {
		out[i] = fin[i] * inv
	}
	if fp.trace {
		tensor.ScaleF32(sc.scores[fp.lo:fp.hi], inv)
	}
	sc.sink *= inv
}

// flashTiled is llama.cpp's tiled kernel for one query row of a step of
// faTileQ or more tokens over an F16 cache: per tile of faTileKV cells
// (aligned on cell 0) the float32 scores (a fused multiply-add chain over
// the head with the unrounded query), the tile's maximum, the accumulator
// and sum rescaled when it grows, ggml's softmax of the tile (its float64
// sum added to the float32 one) and the values added with a fused chain
// over the tile's cells. It returns the maximum and the sum.
func (s *State) flashTiled(sc *attnScratch, fp *flashParams, nkv int, q []float32, acc []float32) (m, sum float32) {
	c := s.cfg
	hd, vd := c.HeadDim, c.ValueDim
	kvDim, vDim := c.KVDim(), c.VDim()
	kc, vc := s.kh[fp.l], s.vh[fp.l]
	kq := (*[faTileKV]float32)(sc.fa.k32[:faTileKV])
	packed := s.kt != nil && s.ktL == fp.l && s.ktN >= fp.hi && !noPackedKeys
	clear(acc)
	m = float32(math.Inf(-1))
	ninf := float32(math.Inf(-1))
	for ic := 0; ic < nkv; ic += faTileKV {
		a, b := max(ic, fp.lo), min(ic+faTileKV, fp.hi)
		if a >= b {
			continue
		}
		if packed {
			// the scores of the whole tile from the transposed keys
			tensor.TileScores(kq, s.kt[fp.kvh*hd*s.ktCap+ic:], q[:hd], s.ktCap)
		}
		tmax := ninf
		for tk := range kq {
			t := ic + tk
			if t < a || t >= b {
				kq[tk] = ninf
				continue
			}
			d := kq[tk]
			if !packed {
				d = 0
				for i, h := range kc[t*kvDim+fp.kvh*hd:][:hd] {
					d = tensor.FMA32(tensor.F16ToF32(h), q[i], d)
				}
			}
			d *= fp.scale
			if fp.capv != 0 {
				d = tanhf(d) * fp.capv
			}
			kq[tk] = d
			tmax = max(tmax, d)
		}
		mn := max(m, tmax)
		if mn > m {
			ms := tensor.Expf(m - mn)
			tensor.ScaleF32(acc, ms)
			sum *= ms
			if fp.trace {
				tensor.ScaleF32(sc.scores[fp.lo:a], ms)
			}
		}
		m = mn
		sum = float32(float64(sum) + tensor.SoftmaxExp(kq[:], mn))
		for t := a; t < b; t++ {
			wt := kq[t-ic]
			tensor.MadF16F32(acc, vc[t*vDim+fp.kvh*vd:][:vd], wt)
			if fp.trace {
				sc.scores[t] = wt
			}
		}
	}
	return m, sum
}
