package model

import (
	"math"

	"glassbox/tensor"
)

// attnParallelMin is the number of query·key multiply-adds below which an
// attention step runs on the calling goroutine alone (a variable so that the
// tests can make every step parallel).
var attnParallelMin = 1 << 15

// attnScratch is the scratch of one attention worker.
type attnScratch struct {
	scores []float32 // attention scores of one head (ctx)
	qh     []uint16  // a query head rounded to F16 (F16 cache)
	wh     []uint16  // attention weights rounded to F16 (F16 cache)
	wf     []float32 // attention weights over the nkv cells (F32 cache)
	qq     []byte    // a query head converted to Q8_0 (quantized key cache)
	qr     []float32 // a query head rotated (quantized key cache)
	sink   float32   // the sink's share of the last head's weights (gpt-oss)
	fa     flashScratch
	sink1  [1]float32 // one head's sink logit as a slice (flash attention)
	// raw and capped receive, while tracing a model with attention
	// soft-capping (Config.AttnSoftcap), the last head's scores before and
	// after the capping (without flash attention)
	raw, capped []float32
	// pre holds, for the grouped scoring of one token (scoreGroup), the
	// raw key dots of the group's heads, ctx apart; given is the head's
	// part that attendHead then uses instead of computing them
	pre, given []float32
	// tiled batch attention (attendTile): four queries rounded to F16 (hd
	// apart), their score rows (ctx+tileTokens apart) and their value weights
	// rounded to F16 (nkv apart)
	tq, ts, tw []float32
	tile       tensor.F16Tile
	// a RoPE table of one position (forwardBatch's per-token work)
	cos, sin []float32
}

// tileTokens is how many tokens of a batch step attendTile takes at once.
const tileTokens = 4

// tileAttention switches attendTile on; the tests turn it off to compare
// with attendHead.
var tileAttention = true

// tiledBatch reports whether a step of rows tokens runs its attention
// tileTokens tokens at a time (attendTile): a batch with an F16 cache
// whose dots attendHead would take from tinyBLAS (heads a multiple of 16
// long, values of 4, nkv cells and pages of 16), without flash attention
// or a tracer (which wants each head's weights in turn).
func (s *State) tiledBatch(rows int) bool {
	c := s.cfg
	return tileAttention && rows > 1 && !s.flash && s.Tracer == nil && !s.quantKeys() && s.kvType == tensor.F16 &&
		c.HeadDim%16 == 0 && c.ValueDim%4 == 0 && padKV(s.step.last, s.ctx)%16 == 0 && s.page%16 == 0 &&
		c.KVHeads > 0 && c.Heads%c.KVHeads == 0
}

// scoreGroup returns how many query heads share each KV head when a step of
// rows tokens scores them together (each key read once for the group,
// tensor.DotF16RowsGroup), or 1: one token, no flash attention, F16 keys,
// no tracer (which wants each head's weights in turn), heads a multiple of
// 64 long up to 256.
func (s *State) scoreGroup(rows int) int {
	c := s.cfg
	if rows != 1 || s.flash || s.Tracer != nil || s.quantKeys() || s.kvType == tensor.F32 ||
		c.KVHeads == 0 || c.Heads%c.KVHeads != 0 || c.HeadDim%64 != 0 || c.HeadDim > 256 {
		return 1
	}
	return c.Heads / c.KVHeads
}

// headSink returns a pointer to head h's sink logit, or nil without sinks.
func headSink(sinks []float32, h int) *float32 {
	if sinks == nil {
		return nil
	}
	return &sinks[h]
}

// attnStep holds the arguments of the attention step being computed, read by
// the worker functions built once in newAttn (so a step allocates nothing).
type attnStep struct {
	l, pos, b, last int
	q, att          []float32
	sinks           []float32 // the layer's sink logits (gpt-oss), or nil
	// finite tells that the step's own value cells are all finite (tiled
	// batches only): attendTile then leaves out of a token block's value
	// sums the cells past its last token, whose zero weights add only
	// zeros (a sum that starts at +0 never becomes -0) where llama.cpp's
	// sums over all nkv cells would turn an infinite value into NaN
	finite bool
}

// attnState is the part of State that runs attention: the per-worker scratch,
// the transposed value buffer and the step being computed.
type attnState struct {
	ws     []attnScratch
	step   attnStep
	headFn func(lo, hi, worker int) // attendRange bound to the state
}

// newAttn prepares the attention of s: scratch for the current number of
// threads and the worker function.
func (s *State) newAttn() {
	s.headFn = s.attendRange
	s.growScratch(tensor.Threads())
}

// growScratch makes sure there is scratch for n attention workers.
func (s *State) growScratch(n int) {
	for len(s.ws) < n {
		sc := attnScratch{scores: make([]float32, s.ctx)}
		sc.cos, sc.sin = make([]float32, s.cfg.RopeDim/2), make([]float32, s.cfg.RopeDim/2)
		switch {
		case s.flash:
			if s.kType == tensor.F16 {
				sc.qh = make([]uint16, s.cfg.HeadDim)
			}
		case s.kvType == tensor.F16:
			sc.qh = make([]uint16, s.cfg.HeadDim)
			sc.wh = make([]uint16, padKV(s.ctx-1, 0))
		default:
			sc.wf = make([]float32, padKV(s.ctx-1, 0))
		}
		if s.quantKeys() {
			sc.qq = make([]byte, s.cfg.HeadDim/32*34)
			sc.qr = make([]float32, s.cfg.HeadDim)
		}
		s.ws = append(s.ws, sc)
	}
}

// attention computes the multi-head attention of the b tokens at positions
// pos… of layer l, whose keys and values are already in the cache: q holds
// their queries (b rows of QDim) and att receives the weighted values (b rows
// of QDim); sinks holds the layer's per-head sink logits, or is nil. The
// (token, head) pairs are spread over the tensor worker pool;
// with a tracer they run in order on the caller, which reports each one.
func (s *State) attention(l, pos, b int, q, att, sinks []float32) {
	s.clearStaleValues(l, pos+b)
	s.attend(l, pos, b, q, att, sinks)
}

// attend is attention without clearing the value cells past the step, which
// ForwardBatch has done already (a later step of the same State may have
// stored its value there).
func (s *State) attend(l, pos, b int, q, att, sinks []float32) {
	c := s.cfg
	// llama.cpp attends over nkv cells (the used ones, padded) and sums in
	// another order for a batch of tokens than for one
	s.step = attnStep{l: l, pos: pos, b: b, last: pos + b - 1, q: q, att: att, sinks: sinks}
	s.growScratch(tensor.Threads())
	s.prepareTiled(l, b, pos+b)
	if s.tiledBatch(b) {
		s.step.finite = s.valuesFinite(l, pos, pos+b)
	}
	// small steps (the first positions of a generation) are not worth
	// waking the workers for
	workers := len(s.ws)
	if b*(pos+b)*c.Heads*c.HeadDim < attnParallelMin {
		workers = 1
	}
	if s.Tracer == nil {
		units := b * c.Heads
		if s.tiledBatch(b) {
			units = (b + tileTokens - 1) / tileTokens * c.Heads
		} else if g := s.flashGroup(b); g > 1 {
			units = b * c.KVHeads // the heads of a KV head together
		} else if g := s.scoreGroup(b); g > 1 {
			units = b * c.KVHeads
		}
		tensor.Parallel(units, workers, s.headFn)
		return
	}
	for i := range b {
		p := pos + i
		for h := 0; h < c.Heads; h++ {
			k := i*c.Heads + h
			s.attendRange(k, k+1, 0)
			if s.Tracer.Position(p) {
				s.Tracer.Attention(l, h, p, s.usedWeights(p), att[i*c.QDim()+h*c.ValueDim:i*c.QDim()+(h+1)*c.ValueDim])
				if st, ok := s.Tracer.(SinkTracer); ok && sinks != nil {
					st.AttentionSink(l, h, p, s.ws[0].sink)
				}
				if st, ok := s.Tracer.(ScoreTracer); ok && c.AttnSoftcap != 0 && !s.flash {
					st.AttentionScores(l, h, p, s.ws[0].raw[:p+1], s.ws[0].capped[:p+1])
				}
			}
		}
	}
}

// clearStaleValues zeroes the value cells of layer l from end to the last
// one written before (left by a longer sequence the cache held earlier):
// the attention reads nkv cells with zero weights past the step, and a
// stale infinite value would turn its zero product into NaN. llama.cpp
// keeps the values transposed like this, so that each value component is
// one dot product over the cells.
func (s *State) clearStaleValues(l, end int) {
	top := s.vTop[l]
	if top <= end || s.flash {
		// flash attention never reads the cells past the step
		return
	}
	P := s.page
	for j := end / P; j*P < top; j++ {
		lo, hi := max(end-j*P, 0), min(top-j*P, P)
		for i := range s.cfg.VDim() {
			if s.kvType == tensor.F32 {
				clear(s.vf[l][j][i*P+lo : i*P+hi])
			} else {
				clear(s.vh[l][j][i*P+lo : i*P+hi])
			}
		}
	}
	s.vTop[l] = end
}

// valuesFinite tells whether layer l's F16 value cells [from, to) hold
// finite values only (no exponent of all ones).
func (s *State) valuesFinite(l, from, to int) bool {
	P := s.page
	for j := from / P; j*P < to; j++ {
		lo, hi := max(from-j*P, 0), min(to-j*P, P)
		for i := range s.cfg.VDim() {
			for _, h := range s.vh[l][j][i*P+lo : i*P+hi] {
				if h&0x7c00 == 0x7c00 {
					return false
				}
			}
		}
	}
	return true
}

// attendRange computes the (token, head) pairs [lo, hi) of the current step,
// pair k being token k/Heads and head k%Heads, with the scratch of worker.
func (s *State) attendRange(lo, hi, worker int) {
	c := s.cfg
	st := &s.step
	qDim := c.QDim()
	sc := &s.ws[worker]
	if g := s.flashGroup(st.b); g > 1 {
		// flash attention: units are (token, KV head), each the g query
		// heads that share the KV head
		for k := lo; k < hi; k++ {
			i, kvh := k/c.KVHeads, k%c.KVHeads
			h0 := kvh * g
			q := st.q[i*qDim+h0*c.HeadDim : i*qDim+(h0+g)*c.HeadDim]
			out := st.att[i*qDim+h0*c.ValueDim : i*qDim+(h0+g)*c.ValueDim]
			s.attendFlash(sc, st.l, st.pos+i, kvh, h0, g, st.b, st.last, st.sinks, q, out)
		}
		return
	}
	if s.tiledBatch(st.b) {
		// units are (block of tileTokens tokens, head)
		for k := lo; k < hi; k++ {
			blk, h := k/c.Heads, k%c.Heads
			i0 := blk * tileTokens
			s.attendTile(sc, i0, min(tileTokens, st.b-i0), h)
		}
		return
	}
	if g := s.scoreGroup(st.b); g > 1 {
		// units are (token, KV head): the g heads' key dots at once, then
		// each head's softmax and values
		for k := lo; k < hi; k++ {
			i, kvh := k/c.KVHeads, k%c.KVHeads
			h0, p := kvh*g, st.pos+i
			s.groupScores(sc, st.l, p, kvh, st.q[i*qDim+h0*c.HeadDim:i*qDim+(h0+g)*c.HeadDim])
			for j := range g {
				h := h0 + j
				sc.given = sc.pre[j*s.ctx : j*s.ctx+p+1]
				s.attendHead(sc, st.l, p, kvh, st.b, st.last, headSink(st.sinks, h),
					st.q[i*qDim+h*c.HeadDim:i*qDim+(h+1)*c.HeadDim], st.att[i*qDim+h*c.ValueDim:i*qDim+(h+1)*c.ValueDim])
			}
			sc.given = nil
		}
		return
	}
	for k := lo; k < hi; k++ {
		i, h := k/c.Heads, k%c.Heads
		kvh := h / (c.Heads / c.KVHeads)
		q := st.q[i*qDim+h*c.HeadDim : i*qDim+(h+1)*c.HeadDim]
		out := st.att[i*qDim+h*c.ValueDim : i*qDim+(h+1)*c.ValueDim]
		s.attendHead(sc, st.l, st.pos+i, kvh, st.b, st.last, headSink(st.sinks, h), q, out)
	}
}

// groupScores sets sc.pre[j*ctx+t], for the query heads q (one after the
// other) sharing KV head kvh and the positions t of layer l that position p
// attends to (from the window's start to p), to the F16 dot of head j's query
// rounded to F16 with key t: the dots attendHead would compute one head at a
// time, reading each key once for the group.
func (s *State) groupScores(sc *attnScratch, l, p, kvh int, q []float32) {
	c := s.cfg
	hd, kvDim, P := c.HeadDim, c.KVDim(), s.page
	g := len(q) / hd
	if len(sc.pre) < g*s.ctx {
		sc.pre = make([]float32, g*s.ctx)
	}
	lo := c.windowStart(l, p)
	for t := lo; t <= p; {
		pg, o := s.kh[l][t/P], t%P
		end := min(p+1, t-o+P)
		tensor.DotF16RowsGroup(q, hd, pg[o*kvDim+kvh*hd:], kvDim, end-t, sc.pre[t:], s.ctx)
		t = end
	}
}

// attendHead computes one query head's attention at position p over positions
// 0..p of KV head kvh, writing the weighted sum of values into out. It
// reproduces llama.cpp's arithmetic: rows is the number of tokens of the
// step and last its last position, which decide how many cache cells
// llama.cpp multiplies (positions past p weigh zero) and whether the step is
// a batch (llama.cpp then multiplies with llamafile's tinyBLAS, which sums in
// another order); with flash attention see attendFlash. A non-nil sink is
// the head's sink logit (gpt-oss), which joins the softmax without a value;
// its share of the weight is left in sc.sink.
func (s *State) attendHead(sc *attnScratch, l, p, kvh, rows, last int, sink *float32, q, out []float32) {
	if s.flash {
		var sinks []float32
		h0 := 0
		if sink != nil {
			sc.sink1[0] = *sink
			sinks = sc.sink1[:]
		}
		s.attendFlash(sc, l, p, kvh, h0, 1, rows, last, sinks, q, out)
		return
	}
	nkv, batch := padKV(last, s.ctx), rows > 1
	c := s.cfg
	hd, vd := c.HeadDim, c.ValueDim
	kvDim := c.KVDim()
	P := s.page
	scale := c.scoreScale()
	scores := sc.scores[:p+1]
	// a sliding-window layer sees positions lo..p; the ones before are
	// masked (-inf before the softmax, zero weight after), keeping their
	// places in the row so that the softmax sums in ggml's groups
	lo := c.windowStart(l, p)
	capv := c.AttnSoftcap
	inv := float32(0)
	var raw, capped []float32
	if capv != 0 {
		inv = 1 / capv
		if s.Tracer != nil {
			if len(sc.raw) < p+1 {
				sc.raw, sc.capped = make([]float32, s.ctx), make([]float32, s.ctx)
			}
			raw, capped = sc.raw[:p+1], sc.capped[:p+1]
			clear(raw[:lo])
			clear(capped[:lo])
		}
	}

	// attention scores: q · k_t / sqrt(head size)
	switch {
	case s.quantKeys():
		// a quantized key cache is multiplied by the query (rotated as the
		// keys were) converted to Q8_0 (the keys' vec_dot_type), with ggml_vec_dot of the key type
		// for one token and for a batch alike (tinyBLAS's Q8_0/Q4_0 kernel
		// rounds as the vector one does)
		qr := q
		if s.kRot > 0 {
			qr = sc.qr
			hadamard(qr, q, s.kRot)
		}
		tensor.QuantizeQ8_0Act(qr, sc.qq)
		hb := s.kqHd
		for t := lo; t <= p; {
			pg, o := s.kq[l][t/P], t%P
			for end := min(p+1, t-o+P); t < end; t, o = t+1, o+1 {
				kt := pg[o*s.kqRow+kvh*hb:][:hb]
				d := tensor.DotKVRow(s.kType, hd, kt, sc.qq)
				if capv != 0 {
					if raw != nil {
						raw[t] = d
					}
					d = tanhf(d*inv) * capv
					if capped != nil {
						capped[t] = d
					}
				}
				scores[t] = d * scale
			}
		}
	case s.kvType == tensor.F32:
		// ggml_vec_dot_f32 for one token and for a batch alike: the
		// permuted queries are not contiguous, which rules out tinyBLAS
		for t := lo; t <= p; {
			pg, o := s.kf[l][t/P], t%P
			for end := min(p+1, t-o+P); t < end; t, o = t+1, o+1 {
				kt := pg[o*kvDim+kvh*hd : o*kvDim+(kvh+1)*hd]
				d := tensor.DotGGML(q, kt)
				if capv != 0 {
					if raw != nil {
						raw[t] = d
					}
					d = tanhf(d*inv) * capv
					if capped != nil {
						capped[t] = d
					}
				}
				scores[t] = d * scale
			}
		}
	default:
		// an F16 cache is multiplied by a query rounded to F16, as llama.cpp does
		qh := sc.qh
		if sc.given == nil { // groupScores rounded the query itself
			tensor.F32ToF16Slice(qh[:len(q)], q)
		}
		gemm := batch && nkv%4 == 0
		for t := lo; t <= p; {
			pg, o := s.kh[l][t/P], t%P
			end := min(p+1, t-o+P)
			switch {
			case sc.given != nil:
				// computed with the other heads of the group (groupScores)
				copy(scores[t:end], sc.given[t:end])
			case !gemm:
				// the keys of the page's positions at once, each dot as
				// DotF16's
				tensor.DotF16Rows(qh[:hd], pg[o*kvDim+kvh*hd:], kvDim, scores[t:end])
			}
			for ; t < end; t, o = t+1, o+1 {
				kt := pg[o*kvDim+kvh*hd : o*kvDim+(kvh+1)*hd]
				d, ok := scores[t], !gemm
				if gemm {
					d, ok = tensor.DotF16GEMM(qh, kt)
				}
				if !ok {
					d = tensor.DotF16(qh, kt)
				}
				if capv != 0 {
					if raw != nil {
						raw[t] = d
					}
					d = tanhf(d*inv) * capv
					if capped != nil {
						capped[t] = d
					}
				}
				scores[t] = d * scale
			}
		}
	}
	for t := range scores[:lo] {
		scores[t] = float32(math.Inf(-1))
	}

	// softmax the scores to get attention weights
	if sink != nil {
		sc.sink = tensor.SoftmaxSink(scores, *sink)
	} else {
		tensor.Softmax(scores)
		sc.sink = 0
	}

	// weighted sum of the values into out
	if s.kvType == tensor.F32 {
		// for each value component, the dot product of that component
		// over the nkv cells with the weights (zero past p): tinyBLAS for
		// a batch, ggml_vec_dot_f32 for one token
		vc := s.vf[l]
		wf := sc.wf[:nkv]
		copy(wf, scores)
		clear(wf[p+1:])
		gemm := batch && vd%4 == 0
		for i := range out[:vd] {
			off := (kvh*vd + i) * P
			d, ok := float32(0), false
			if gemm {
				d, ok = tensor.DotGEMMPaged(vc, off, P, wf)
			}
			if !ok {
				d = tensor.DotGGMLPaged(vc, off, P, wf)
			}
			out[i] = d
		}
		return
	}
	// for each value component, the F16 dot product of that component over
	// the nkv cells (the cache keeps them transposed) with the weights
	// rounded to F16; cells past p weigh zero and hold zero or finite values
	vc := s.vh[l]
	wh := sc.wh[:nkv]
	clear(wh[p+1:])
	tensor.F32ToF16Slice(wh[:p+1], scores[:p+1])
	gemm := batch && vd%4 == 0
	for i := range out[:vd] {
		off := (kvh*vd + i) * P
		d, ok := float32(0), false
		if gemm {
			d, ok = tensor.DotF16GEMMPaged(vc, off, P, wh)
		}
		if !ok {
			d = tensor.DotF16Paged(vc, off, P, wh)
		}
		out[i] = d
	}
}

// attendTile is attendHead for the nb tokens i0… (nb ≤ tileTokens) of the
// current batch step and head h, with an F16 cache: the key dots of the four
// queries with four keys at a time and the value sums of four components
// over the four tokens' weights at a time (tensor.F16Tile), each output the
// same tinyBLAS dot as attendHead's (DotF16GEMM, DotF16GEMMPaged), so the
// result is bit for bit attendHead's; each key and value is read once for
// the four tokens rather than once per token. Rows past nb are zero and
// their outputs dropped.
func (s *State) attendTile(sc *attnScratch, i0, nb, h int) {
	c, st := s.cfg, &s.step
	l := st.l
	hd, vd, kvDim, P, qDim := c.HeadDim, c.ValueDim, c.KVDim(), s.page, c.QDim()
	kvh := h / (c.Heads / c.KVHeads)
	nkv := padKV(st.last, s.ctx)
	row := s.ctx + tileTokens // a score row, room for the last group of four
	if len(sc.ts) < tileTokens*row {
		sc.tq = make([]float32, tileTokens*hd)
		sc.ts = make([]float32, tileTokens*row)
		sc.tw = make([]float32, tileTokens*padKV(s.ctx-1, 0))
	}
	scale := c.scoreScale()
	capv := c.AttnSoftcap
	inv := float32(0)
	if capv != 0 {
		inv = 1 / capv
	}
	// the queries rounded to F16, as attendHead rounds each
	tq := sc.tq[:tileTokens*hd]
	clear(tq[nb*hd:])
	for j := range nb {
		i := i0 + j
		tensor.RoundF16Slice(tq[j*hd:(j+1)*hd], st.q[i*qDim+h*hd:i*qDim+(h+1)*hd])
	}
	// the key dots, four positions at a time from the first token's window
	// start to the last token (a page holds a multiple of four positions)
	first, last := st.pos+i0, st.pos+i0+nb-1
	lo := c.windowStart(l, first)
	end := (last + 4) &^ 3
	for t := lo &^ 3; t < end; {
		// the positions of one page in one call (rows of missing tokens
		// get the zero queries' sums, never read)
		pg, o := s.kh[l][t/P], t%P
		g := min(end-t, P-o) / 4
		tensor.F16TileRows(hd, pg[o*kvDim+kvh*hd:], kvDim, g, tq, hd, sc.ts[t:], row)
		t += 4 * g
	}
	// the value sums run over the cells up to the block's last token (see
	// attnStep.finite) or over all nkv
	nv := nkv
	if st.finite {
		nv = min(nkv, (last+16)&^15)
	}
	// each token's scores, softmax and value weights, as attendHead's (the
	// weights up to nv)
	tw := sc.tw[:tileTokens*nkv]
	clear(tw[nb*nkv:])
	for j := range nb {
		p := st.pos + i0 + j
		scores := sc.ts[j*row : j*row+p+1]
		plo := c.windowStart(l, p)
		if capv != 0 {
			for t := plo; t <= p; t++ {
				scores[t] = tanhf(scores[t]*inv) * capv
			}
		}
		tensor.ScaleF32(scores[plo:p+1], scale)
		for t := range scores[:plo] {
			scores[t] = float32(math.Inf(-1))
		}
		if sink := headSink(st.sinks, h); sink != nil {
			tensor.SoftmaxSink(scores, *sink)
		} else {
			tensor.Softmax(scores)
		}
		wj := tw[j*nkv : (j+1)*nkv]
		tensor.RoundF16Slice(wj[:p+1], scores)
		clear(wj[p+1 : nv])
	}
	// the value sums, four components at a time, page by page
	vc := s.vh[l]
	var out [16]float32
	for c4 := 0; c4 < vd; c4 += 4 {
		off := (kvh*vd + c4) * P
		for j, i := 0, 0; i < nv; j, i = j+1, i+P {
			m := min(P, nv-i)
			if i+m == nv {
				sc.tile.Sums(m, vc[j][off:], P, tw[i:], nkv, &out)
			} else {
				sc.tile.Add(m, vc[j][off:], P, tw[i:], nkv)
			}
		}
		for j := range nb {
			o := (i0+j)*qDim + h*vd + c4
			copy(st.att[o:o+4], out[4*j:4*j+4])
		}
	}
}

// usedWeights returns the attention weights of the head attendHead last
// computed with worker 0's scratch, as they multiplied the values: the softmax
// output with an F32 cache, its F16 rounding with an F16 cache; with flash
// attention, each cell's factor expf(s−M) times every later rescaling and
// the final 1/sum (attendFlash records them when tracing).
func (s *State) usedWeights(p int) []float32 {
	sc := &s.ws[0]
	if s.kvType == tensor.F32 || s.flash {
		return sc.scores[:p+1]
	}
	if len(s.tw) < p+1 {
		s.tw = make([]float32, s.ctx)
	}
	for t := 0; t <= p; t++ {
		s.tw[t] = tensor.F16ToF32(sc.wh[t])
	}
	return s.tw[:p+1]
}

// kvPad is the granularity of the number of cache cells llama.cpp attends
// over (its KV-cache padding without flash attention): cells past the current
// position hold zero weight but decide how ggml groups the sums.
const kvPad = 32

// scoreScale returns the factor of the attention scores before the
// softmax: AttnScale when the model sets one, 1/sqrt(head size) otherwise,
// and 1 when the queries are scaled already (QueryScale; llama.cpp's softmax
// scale is then 1).
func (c *Config) scoreScale() float32 {
	switch {
	case c.QueryScale != 0:
		return 1
	case c.AttnScale != 0:
		return c.AttnScale
	}
	return attnScale(c.HeadDim)
}

// windowStart returns the first position that position p attends to in
// layer l: 0, or the start of its sliding window.
func (c *Config) windowStart(l, p int) int {
	if w := c.AttnWindow(l); w > 0 && p-w+1 > 0 {
		return p - w + 1
	}
	return 0
}

// attnScale is llama.cpp's 1.0f/sqrtf(head size), in float32 arithmetic.
func attnScale(hd int) float32 {
	return 1 / float32(math.Sqrt(float64(hd)))
}

// padKV returns the number of cache cells llama.cpp attends over when the
// last one in use is cell p: p+1 rounded up to kvPad, capped by the context.
func padKV(p, ctx int) int {
	n := (p + kvPad) / kvPad * kvPad
	if ctx > 0 && n > ctx {
		n = ctx
	}
	return n
}

// keyRotation returns the size of the Walsh-Hadamard rotation llama.cpp
// (since its attention-rotation change) applies to the queries and keys of a
// quantized key cache, spreading outliers over the blocks before they are
// quantized: the largest power of two ≥ 64 that divides the head size, or 0
// (no rotation) when 64 does not divide it. The rotation is orthonormal, so
// q·k is unchanged but for rounding.
func keyRotation(headDim int) int {
	if headDim%64 != 0 {
		return 0
	}
	n := 64
	for headDim%(2*n) == 0 {
		n *= 2
	}
	return n
}

// hadamard writes into dst the orthonormal Walsh-Hadamard transform of each
// chunk of n values of src (n a power of two dividing len(src)), as ggml's
// CPU backend computes it (ggml_compute_forward_fwht): the values scaled by
// 1/√n in float32, then the butterflies u+v, u−v (exact in any order).
func hadamard(dst, src []float32, n int) {
	scale := 1 / float32(math.Sqrt(float64(n)))
	for c := 0; c+n <= len(src); c += n {
		d := dst[c : c+n]
		for j, f := range src[c : c+n] {
			d[j] = f * scale
		}
		for h := 1; h < n; h <<= 1 {
			for i := 0; i < n; i += 2 * h {
				for j := i; j < i+h; j++ {
					u, v := d[j], d[j+h]
					d[j], d[j+h] = u+v, u-v
				}
			}
		}
	}
}
