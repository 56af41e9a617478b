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
// the step's attention; it touches only s, so the States of a batch may
// prepare concurrently.
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
	kc := s.kh[l][0] // one page: the whole context
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

// flashScratch is the per-worker scratch of flash attention, for a group
// of query heads sharing one KV head (their cells are read once for all).
type flashScratch struct {
	g     int       // heads the scratch holds
	vkq16 []uint16  // F16 value accumulators (g × ValueDim)
	vkq32 []float32 // F32 value accumulators (g × ValueDim)
	fin   []float32 // the split path's merged accumulators (g × ValueDim)
	v32   []float32 // one value row dequantized (ValueDim)
	k32   []float32 // one tile's scores (faTileKV)
	qh    []uint16  // the queries in F16 (g × HeadDim)
	qq    []byte    // the queries in Q8_0 (g × HeadDim/32 blocks)
	m, s  []float32 // per head: running maximum and sum
	mf    []float32 // per head: the split path's merged maximum and sum
	sf    []float32
	sv    []float32 // the scores of a chunk's cells, cell by cell (cells × g)
}

// growFlash sizes the flash scratch of sc for groups of g heads.
func (s *State) growFlash(sc *attnScratch, g int) {
	if sc.fa.g >= g {
		return
	}
	c := s.cfg
	vd, hd := c.ValueDim, c.HeadDim
	sc.fa = flashScratch{g: g, vkq16: make([]uint16, g*vd), vkq32: make([]float32, g*vd), fin: make([]float32, g*vd),
		v32: make([]float32, vd), k32: make([]float32, faTileKV), qh: make([]uint16, g*hd), qq: make([]byte, g*(hd/32)*34),
		m: make([]float32, g), s: make([]float32, g), mf: make([]float32, g), sf: make([]float32, g), sv: make([]float32, g*s.ctx)}
}

// flashGroup is the number of query heads attendFlash may take at once: the
// heads sharing a KV head (not when tracing, which reports head by head, or
// on the tiled path, which runs head by head).
func (s *State) flashGroup(rows int) int {
	c := s.cfg
	if !s.flash || s.Tracer != nil || c.KVHeads == 0 || c.Heads%c.KVHeads != 0 {
		return 1
	}
	if s.kType == tensor.F16 && s.kvType == tensor.F16 && rows >= faTileQ && c.ValueDim%16 == 0 {
		return 1
	}
	return c.Heads / c.KVHeads
}

// attendFlash is attendHead with flash attention for g consecutive query
// heads h0… sharing KV head kvh (q holds their g queries, out receives their
// g outputs), at position p of layer l; rows is the number of tokens the
// step holds and last its last position (they choose llama.cpp's kernel);
// sinks is the layer's sink logits or nil. Every head's numbers are what it
// would get alone. With a tracer (g = 1), sc.scores[:p+1] receives the
// weights each cell's value was multiplied by in the end.
func (s *State) attendFlash(sc *attnScratch, l, p, kvh, h0, g, rows, last int, sinks []float32, q, out []float32) {
	c := s.cfg
	vd, hd := c.ValueDim, c.HeadDim
	s.growFlash(sc, g)
	scale := c.scoreScale()
	capv := c.AttnSoftcap
	if capv != 0 {
		scale /= capv
	}
	lo := c.windowStart(l, p)
	trace := s.Tracer != nil
	if trace {
		clear(sc.scores[:p+1])
	}
	fp := flashParams{l: l, kvh: kvh, g: g, lo: lo, hi: p + 1, scale: scale, capv: capv, trace: trace}
	nkv := padFA(last, s.ctx)
	acc := sc.fa.vkq32[:g*vd]
	f16 := s.kType == tensor.F16 && s.kvType == tensor.F16
	switch {
	case f16 && rows >= faTileQ && vd%16 == 0:
		for j := range g {
			sc.fa.m[j], sc.fa.s[j] = s.flashTiled(sc, &fp, nkv, q[j*hd:(j+1)*hd], acc[j*vd:(j+1)*vd])
		}
	case f16 && rows == 1 && nkv >= splitMin:
		s.flashSplit(sc, &fp, nkv, q, h0, sinks, out)
		for j := range g {
			s.unrotateOut(out[j*vd : (j+1)*vd])
		}
		return
	default:
		s.flashQuery(sc, &fp, q)
		s.flashChunk(sc, &fp, fp.lo, fp.hi, acc)
	}
	for j := range g {
		a := acc[j*vd : (j+1)*vd]
		m, sum := sc.fa.m[j], sc.fa.s[j]
		sc.sink = 0
		if sinks != nil {
			// the sink joins the sum without a value; the maximum is not
			// updated (llama.cpp's order)
			sink := sinks[h0+j]
			ms, vs := float32(1), float32(1)
			if sink > m {
				ms = tensor.Expf(m - sink)
				tensor.ScaleF32(a, ms)
				if trace {
					tensor.ScaleF32(sc.scores[:p+1], ms)
				}
			} else {
				vs = tensor.Expf(sink - m)
			}
			sum = tensor.FMA32(sum, ms, vs)
			sc.sink = vs
		}
		inv := float32(0)
		if sum != 0 {
			inv = 1 / sum
		}
		o := out[j*vd : (j+1)*vd]
		for i := range o {
			o[i] = a[i] * inv
		}
		if trace {
			tensor.ScaleF32(sc.scores[:p+1], inv)
		}
		sc.sink *= inv
		s.unrotateOut(o)
	}
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

// flashParams are the arguments of one head group's flash attention shared
// by its kernels.
type flashParams struct {
	l, kvh, g int
	lo, hi    int // the cells the queries see: [lo, hi)
	scale     float32
	capv      float32
	trace     bool
}

// flashQuery converts the group's query heads to the key cache's vec_dot
// type: F16, or Q8_0 after the keys' Hadamard rotation.
func (s *State) flashQuery(sc *attnScratch, fp *flashParams, q []float32) {
	hd := s.cfg.HeadDim
	if s.quantKeys() {
		qb := hd / 32 * 34
		for j := range fp.g {
			qr := q[j*hd : (j+1)*hd]
			if s.kRot > 0 {
				hadamard(sc.qr, qr, s.kRot)
				qr = sc.qr
			}
			tensor.QuantizeQ8_0Act(qr, sc.fa.qq[j*qb:(j+1)*qb])
		}
		return
	}
	tensor.F32ToF16Slice(sc.fa.qh[:fp.g*hd], q[:fp.g*hd])
}

// flashChunk runs the one-chunk kernel of each head of the group over the
// cells [a, b) ∩ [lo, hi), leaving the float32 accumulators in acc (g ×
// ValueDim) and the running maxima and sums in sc.fa.m and sc.fa.s. The
// queries are already converted (flashQuery). Each cell's key and value are
// read once for the group.
func (s *State) flashChunk(sc *attnScratch, fp *flashParams, a, b int, acc []float32) {
	c := s.cfg
	vd, hd, g := c.ValueDim, c.HeadDim, fp.g
	a, b = max(a, fp.lo), min(b, fp.hi)
	ms, ss := sc.fa.m[:g], sc.fa.s[:g]
	for j := range ms {
		ms[j], ss[j] = float32(math.Inf(-1)), 0
	}
	w := sc.scores
	qb := hd / 32 * 34
	kvDim, vDim := c.KVDim(), c.VDim()
	// every cell's scores first (the keys read in one sweep), then the
	// online softmax over them: the same numbers as interleaving the two
	all := sc.fa.sv[:max(b-a, 0)*g]
	for t := a; t < b; t++ {
		sv := all[(t-a)*g : (t-a+1)*g]
		if s.quantKeys() {
			kt := s.kq[fp.l][0][t*s.kqRow+fp.kvh*s.kqHd:][:s.kqHd]
			for j := range sv {
				sv[j] = tensor.DotKVRow(s.kType, hd, kt, sc.fa.qq[j*qb:(j+1)*qb])
			}
		} else {
			kt := s.kh[fp.l][0][t*kvDim+fp.kvh*hd:][:hd]
			for j := range sv {
				sv[j] = tensor.DotF16(kt, sc.fa.qh[j*hd:(j+1)*hd])
			}
		}
		for j, d := range sv {
			d *= fp.scale
			if fp.capv != 0 {
				d = fp.capv * tanhf(d)
			}
			sv[j] = d
		}
	}
	if s.kvType == tensor.F16 {
		acc16 := sc.fa.vkq16[:g*vd]
		clear(acc16)
		vc := s.vh[fp.l][0]
		for t := a; t < b; t++ {
			vt := vc[t*vDim+fp.kvh*vd:][:vd]
			for j, d := range all[(t-a)*g : (t-a+1)*g] {
				f, v := float32(1), float32(1)
				if d > ms[j] {
					f = tensor.Expf(ms[j] - d)
					ms[j] = d
					tensor.ScaleF16(acc16[j*vd:(j+1)*vd], f)
					if fp.trace {
						tensor.ScaleF32(w[a:t], f)
					}
				} else {
					v = tensor.Expf(d - ms[j])
				}
				tensor.MadF16(acc16[j*vd:(j+1)*vd], vt, v)
				if fp.trace {
					w[t] = v
				}
				ss[j] = tensor.FMA32(ss[j], f, v)
			}
		}
		for i, h := range acc16 {
			acc[i] = tensor.F16ToF32(h)
		}
		return
	}
	clear(acc[:g*vd])
	v32 := sc.fa.v32[:vd]
	vc := s.vq[fp.l][0]
	for t := a; t < b; t++ {
		vt := vc[t*s.vqRow+fp.kvh*s.vqHd:][:s.vqHd]
		for j, d := range all[(t-a)*g : (t-a+1)*g] {
			f, v := float32(1), float32(1)
			aj := acc[j*vd : (j+1)*vd]
			if d > ms[j] {
				f = tensor.Expf(ms[j] - d)
				ms[j] = d
				tensor.ScaleF32(aj, f)
				if fp.trace {
					tensor.ScaleF32(w[a:t], f)
				}
			} else {
				v = tensor.Expf(d - ms[j])
			}
			tensor.MadKVRow(s.kvType, aj, vt, v, v32)
			if fp.trace {
				w[t] = v
			}
			ss[j] = tensor.FMA32(ss[j], f, v)
		}
	}
}

// flashSplit is llama.cpp's split-KV path for one decode token over an F16
// cache of nkv ≥ faSplitMin cells, for each head of the group: the cells cut
// into one chunk per thread (ceil(nkv/threads) each), each run by the
// one-chunk kernel (the first one taking the sink), then merged in chunk
// order with expf rescaling, and the result divided by the total. It writes
// the heads' outputs into out.
func (s *State) flashSplit(sc *attnScratch, fp *flashParams, nkv int, q []float32, h0 int, sinks []float32, out []float32) {
	vd, g := s.cfg.ValueDim, fp.g
	nth := max(1, tensor.Threads())
	cs := (nkv + nth - 1) / nth
	acc := sc.fa.vkq32[:g*vd]
	s.flashQuery(sc, fp, q)
	fin := sc.fa.fin[:g*vd]
	clear(fin)
	mf, sf := sc.fa.mf[:g], sc.fa.sf[:g]
	for j := range mf {
		mf[j], sf[j] = float32(math.Inf(-1)), 0
	}
	sc.sink = 0
	for ith := range nth {
		a := ith * cs
		if a >= nkv {
			continue
		}
		b := min(a+cs, nkv)
		s.flashChunk(sc, fp, a, b, acc)
		for j := range g {
			aj, fj := acc[j*vd:(j+1)*vd], fin[j*vd:(j+1)*vd]
			m, sum := sc.fa.m[j], sc.fa.s[j]
			if sinks != nil && ith == 0 {
				sink := sinks[h0+j]
				ms, vs := float32(1), float32(1)
				if sink > m {
					ms = tensor.Expf(m - sink)
					tensor.ScaleF32(aj, ms)
					if fp.trace {
						tensor.ScaleF32(sc.scores[max(a, fp.lo):min(b, fp.hi)], ms)
					}
				} else {
					vs = tensor.Expf(sink - m)
				}
				sum = tensor.FMA32(sum, ms, vs)
				sc.sink = vs
			}
			if sum == 0 {
				continue
			}
			mn := max(mf[j], m)
			so, sn := tensor.Expf(mf[j]-mn), tensor.Expf(m-mn)
			for i := range fj {
				fj[i] = tensor.FMA32(fj[i], so, aj[i]*sn)
			}
			sf[j] = tensor.FMA32(sf[j], so, sum*sn)
			if fp.trace {
				tensor.ScaleF32(sc.scores[fp.lo:max(a, fp.lo)], so)
				tensor.ScaleF32(sc.scores[max(a, fp.lo):min(b, fp.hi)], sn)
			}
			if ith == 0 {
				sc.sink *= sn
			} else {
				sc.sink *= so
			}
			mf[j] = mn
		}
	}
	for j := range g {
		inv := float32(1)
		if sf[j] != 0 {
			inv = 1 / sf[j]
		}
		o, fj := out[j*vd:(j+1)*vd], fin[j*vd:(j+1)*vd]
		for i := range o {
			o[i] = fj[i] * inv
		}
		if fp.trace {
			tensor.ScaleF32(sc.scores[fp.lo:fp.hi], inv)
		}
		sc.sink *= inv
	}
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
	kc, vc := s.kh[fp.l][0], s.vh[fp.l][0]
	kq := (*[faTileKV]float32)(sc.fa.k32[:faTileKV])
	q = q[:hd]
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
