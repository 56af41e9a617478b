package model

import (
	"context"
	"fmt"
	"sort"

	"glassbox/tensor"
)

// SeqChunk is one sequence's part of a ForwardMulti pass: Tokens at
// positions Pos, Pos+1, … of the sequence whose cache is State — the next
// token of a sequence being decoded, or a chunk of a prompt.
type SeqChunk struct {
	State  *State
	Tokens []int
	Pos    int
	// Logits receives the next-token logits after the last token
	// (VocabSize values); nil skips them.
	Logits []float32
	// Ctx, when set, is the chunk's request: once the contexts of all the
	// chunks of a pass are done, the pass stops between two layers.
	Ctx context.Context
}

// multiLayout places the rows of a ForwardMulti pass in the batch's
// buffers: first the chunks with more than one row (multiplied as
// ForwardContext multiplies a prompt chunk), in order, then the chunks of
// one row (multiplied as a single token is).
type multiLayout struct {
	off, cnt []int // per chunk: its first row and its number of rows
	first    []int // per chunk: the position of its first row
	g, rows  int   // rows of the first group; all rows
}

// arrange sets the layout for the chunks' current row counts.
func (lay *multiLayout) arrange() {
	r := 0
	for i, c := range lay.cnt {
		if c > 1 {
			lay.off[i] = r
			r += c
		}
	}
	lay.g = r
	for i, c := range lay.cnt {
		if c <= 1 {
			lay.off[i] = r
			r += c
		}
	}
	lay.rows = r
}

// growRows makes the batch's activation buffers hold rows rows.
func (b *Batch) growRows(rows int) {
	c := b.cfg
	if len(b.x) >= rows*c.Dim && len(b.tmp) >= rows*c.Dim {
		return
	}
	b.x, b.xb, b.xb2 = make([]float32, rows*c.Dim), make([]float32, rows*c.Dim), make([]float32, rows*c.Dim)
	b.tmp = make([]float32, rows*c.Dim)
	b.q, b.k, b.v = make([]float32, rows*c.QDim()), make([]float32, rows*c.KVDim()), make([]float32, rows*c.VDim())
	b.att = make([]float32, rows*c.QDim())
	b.hb, b.hb2 = make([]float32, rows*c.HiddenDim), make([]float32, rows*c.HiddenDim)
}

// ForwardMulti runs one forward pass over chunks of several sequences:
// decode tokens and prompt chunks together (llama.cpp's batch of several
// sequences). Each weight multiplies the rows of all the chunks in as few
// products as keep every row's rounding: the prompt chunks' rows as
// ForwardContext multiplies a chunk of several tokens, the single tokens'
// rows as Forward multiplies one token (for most weight types that is one
// product over every row). Each row attends over its own sequence's cache at
// its own position. Each chunk's logits and cache entries are therefore bit
// for bit those ForwardContext computes for it alone, and its Tracer sees
// what it would see. A chunk holds at most its State's batch of tokens (the
// chunk ForwardContext would process); the States must be distinct and of
// this model. A chunk that does not fit is an error before anything runs.
// When the contexts of all the chunks are done, it returns the first one's
// error between two layers; the cache entries from each chunk's Pos on must
// then be computed again.
func (m *Model) ForwardMulti(b *Batch, chunks []SeqChunk) error {
	c := &m.Config
	n := len(chunks)
	switch {
	case b == nil || b.cfg != c:
		return fmt.Errorf("forward multi: the batch scratch is not this model's")
	case n == 0:
		return fmt.Errorf("forward multi: no sequences")
	case n > b.n:
		return fmt.Errorf("forward multi: %d sequences, the batch holds %d", n, b.n)
	}
	rows := 0
	for i, ch := range chunks {
		s := ch.State
		switch {
		case s == nil || s.cfg != c:
			return fmt.Errorf("forward multi: sequence %d has no state of this model", i)
		case len(ch.Tokens) == 0:
			return fmt.Errorf("forward multi: sequence %d has no tokens", i)
		case len(ch.Tokens) > s.batch:
			return fmt.Errorf("forward multi: sequence %d has %d tokens, more than its batch of %d", i, len(ch.Tokens), s.batch)
		case ch.Pos < 0 || ch.Pos+len(ch.Tokens) > s.ctx:
			return fmt.Errorf("forward multi: sequence %d: positions %d..%d do not fit the context of %d", i, ch.Pos, ch.Pos+len(ch.Tokens)-1, s.ctx)
		case ch.Logits != nil && len(ch.Logits) != c.VocabSize:
			return fmt.Errorf("forward multi: sequence %d: logits has %d values, want %d", i, len(ch.Logits), c.VocabSize)
		}
		for _, t := range ch.Tokens {
			if t < 0 || t >= c.VocabSize {
				return fmt.Errorf("forward multi: sequence %d: token id %d outside the vocabulary of %d", i, t, c.VocabSize)
			}
		}
		for j := range i {
			if chunks[j].State == s {
				return fmt.Errorf("forward multi: sequences %d and %d share a state", j, i)
			}
		}
		rows += len(ch.Tokens)
	}
	for i, ch := range chunks {
		ctx := ch.Ctx
		if ctx == nil {
			ctx = context.Background()
		}
		if err := ch.State.grow(ctx, ch.Pos+len(ch.Tokens), false); err != nil {
			return fmt.Errorf("forward multi: sequence %d: %w", i, err)
		}
	}
	if !c.batchable() {
		// mixtures of experts: each chunk through the single-sequence path
		for _, ch := range chunks {
			ctx := ch.Ctx
			if ctx == nil {
				ctx = context.Background()
			}
			if err := m.forwardBatch(ctx, ch.State, ch.Tokens, ch.Pos, ch.Logits); err != nil && ctx.Err() == nil {
				return err
			}
		}
		return nil
	}
	b.growRows(rows)
	lay := &b.lay
	lay.off, lay.cnt, lay.first = lay.off[:0], lay.cnt[:0], lay.first[:0]
	for _, ch := range chunks {
		lay.off, lay.cnt, lay.first = append(lay.off, 0), append(lay.cnt, len(ch.Tokens)), append(lay.first, ch.Pos)
	}
	lay.arrange()
	dim, qDim, kvDim, vDim, hid := c.Dim, c.QDim(), c.KVDim(), c.VDim(), c.HiddenDim
	for i, ch := range chunks {
		for t, tok := range ch.Tokens {
			r := lay.off[i] + t
			m.embedRow(tok, b.x[r*dim:(r+1)*dim])
		}
	}
	b.chunks = chunks
	defer func() { b.chunks = nil }()
	for l := range m.Layers {
		if err := allDone(chunks); err != nil {
			return err
		}
		w := &m.Layers[l]
		nr := lay.rows
		x, xb, xb2 := b.x[:nr*dim], b.xb[:nr*dim], b.xb2[:nr*dim]
		q, k, v, att := b.q[:nr*qDim], b.k[:nr*kvDim], b.v[:nr*vDim], b.att[:nr*qDim]
		for r := range nr {
			preNorm(xb[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], w.AttnNorm, c)
		}
		b.products(xb, [3][]float32{q, k, v}, [3]*tensor.Matrix{w.Wq, w.Wk, w.Wv})
		// each chunk's rows: biases, norms, rotations, into its cache; the
		// chunks (distinct States) over the worker pool
		b.model, b.layer = m, l
		tensor.Parallel(n, tensor.Threads(), b.prepFn)
		// unit counts of the attention: (row, head) pairs of the untraced chunks
		b.units = append(b.units[:0], 0)
		for i, ch := range chunks {
			s := ch.State
			u := 0
			if s.Tracer == nil {
				u = lay.cnt[i] * c.Heads
			}
			b.units = append(b.units, b.units[i]+u)
		}
		// untraced chunks: all their (row, head) pairs over the worker
		// pool; traced ones in order, reporting each head
		tensor.Parallel(b.units[n], tensor.Threads(), b.multiFn)
		for i, ch := range chunks {
			if s := ch.State; s.Tracer != nil {
				o := lay.off[i]
				s.attention(l, ch.Pos, lay.cnt[i], q[o*qDim:(o+lay.cnt[i])*qDim], att[o*qDim:(o+lay.cnt[i])*qDim], nil)
			}
		}
		b.products(att, [3][]float32{xb2}, [3]*tensor.Matrix{w.Wo})

		if l == len(m.Layers)-1 {
			// only the rows whose logits are wanted matter from here on
			// (ForwardContext drops the others at this point too, which
			// decides the products' rounding for the rest)
			b.keepLast(chunks)
			nr = lay.rows
			x, xb, xb2 = b.x[:nr*dim], b.xb[:nr*dim], b.xb2[:nr*dim]
		}
		b.postNorm(xb2, w.AttnPostNorm)
		addTo(x, xb2)
		for r := range nr {
			preNorm(xb[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], w.FFNNorm, c)
		}
		hb, hb2 := b.hb[:nr*hid], b.hb2[:nr*hid]
		b.products(xb, [3][]float32{hb, hb2}, [3]*tensor.Matrix{w.W1, w.W3})
		b.rows = nr
		tensor.Parallel(nr*siluUnits(hid), tensor.Threads(), b.siluFn)
		b.products(hb, [3][]float32{xb2}, [3]*tensor.Matrix{w.W2})
		b.postNorm(xb2, w.FFNPostNorm)
		addTo(x, xb2)
		for i, ch := range chunks {
			tr := ch.State.Tracer
			if tr == nil {
				continue
			}
			for t := range lay.cnt[i] {
				r, p := lay.off[i]+t, lay.first[i]+t
				if tr.Position(p) {
					tr.Residual(l, p, x[r*dim:(r+1)*dim])
				}
			}
		}
	}
	// the last row of each chunk whose logits are wanted, normed, in order
	nl := 0
	for i, ch := range chunks {
		if ch.Logits == nil {
			continue
		}
		r := lay.off[i] + lay.cnt[i] - 1
		rmsNorm(b.xb[nl*dim:(nl+1)*dim], b.x[r*dim:(r+1)*dim], m.OutputNorm, c.NormEps)
		nl++
	}
	if nl == 0 {
		return nil
	}
	out := b.logits[:nl*c.VocabSize]
	tensor.MatMul(out, m.Output, b.xb[:nl*dim], nl)
	nl = 0
	for _, ch := range chunks {
		if ch.Logits == nil {
			continue
		}
		copy(ch.Logits, out[nl*c.VocabSize:(nl+1)*c.VocabSize])
		nl++
		if c.LogitScale != 0 {
			scaleBy(ch.Logits, 1/c.LogitScale)
		}
		capLogits(ch.State.Tracer, ch.Pos+len(ch.Tokens)-1, ch.Logits, c.FinalSoftcap)
	}
	return nil
}

// allDone returns the first chunk's context error when the contexts of all
// the chunks are set and done, else nil.
func allDone(chunks []SeqChunk) error {
	for _, ch := range chunks {
		if ch.Ctx == nil || ch.Ctx.Err() == nil {
			return nil
		}
	}
	return chunks[0].Ctx.Err()
}

// keepLast keeps, before the last layer's feed-forward part, the rows that
// matter: the last one of a chunk whose logits are wanted, every row of a
// traced chunk without logits (its tracer sees their residuals), none of an
// untraced chunk without logits. The residual stream (x) and the attention
// block's output (xb2) move to the new layout.
func (b *Batch) keepLast(chunks []SeqChunk) {
	c := b.cfg
	dim := c.Dim
	lay := &b.lay
	oldOff := append(b.oldOff[:0], lay.off...)
	oldCnt := append(b.oldCnt[:0], lay.cnt...)
	b.oldOff, b.oldCnt = oldOff, oldCnt
	for i, ch := range chunks {
		switch {
		case ch.Logits != nil:
			lay.cnt[i] = 1
		case ch.State.Tracer == nil:
			lay.cnt[i] = 0
		}
		lay.first[i] = ch.Pos + len(ch.Tokens) - lay.cnt[i]
	}
	lay.arrange()
	for _, buf := range [][]float32{b.x, b.xb2} {
		for i := range chunks {
			from := oldOff[i] + oldCnt[i] - lay.cnt[i]
			copy(b.tmp[lay.off[i]*dim:(lay.off[i]+lay.cnt[i])*dim], buf[from*dim:(from+lay.cnt[i])*dim])
		}
		copy(buf[:lay.rows*dim], b.tmp[:lay.rows*dim])
	}
}

// prepRange prepares the chunks [lo, hi) of the current ForwardMulti layer
// for their attention: each row's query and key biased, normed, rotated and
// scaled as ForwardContext does, its key and value stored in its State's
// cache. A chunk touches only its own State, so chunks run concurrently.
func (b *Batch) prepRange(lo, hi, _ int) {
	m, c, l := b.model, b.cfg, b.layer
	w := &m.Layers[l]
	lay := &b.lay
	qDim, kvDim, vDim := c.QDim(), c.KVDim(), c.VDim()
	q, k, v := b.q, b.k, b.v
	for i := lo; i < hi; i++ {
		ch := &b.chunks[i]
		s := ch.State
		for t := range lay.cnt[i] {
			r, p := lay.off[i]+t, ch.Pos+t
			qi, ki, vi := q[r*qDim:(r+1)*qDim], k[r*kvDim:(r+1)*kvDim], v[r*vDim:(r+1)*vDim]
			if c.AttnBias {
				addTo(qi, w.Bq)
				addTo(ki, w.Bk)
				addTo(vi, w.Bv)
			}
			m.positionQK(qi, ki, w, l, p, s.cos, s.sin, s.ropeFreqs)
			s.storeKV(l, p, ki, vi)
		}
		s.growScratch(tensor.Threads())
		s.clearStaleValues(l, ch.Pos+len(ch.Tokens))
		s.prepareTiled(l, len(ch.Tokens), ch.Pos+len(ch.Tokens))
	}
}

// multiRange computes the (row, head) attention pairs [lo, hi) of the
// current ForwardMulti layer, over the untraced chunks: each with its own
// state's scratch of worker, as ForwardContext computes the chunk alone.
func (b *Batch) multiRange(lo, hi, worker int) {
	c := b.cfg
	qDim := c.QDim()
	units := b.units
	i := sort.Search(len(units)-1, func(j int) bool { return units[j+1] > lo })
	for k := lo; k < hi; k++ {
		for k >= units[i+1] {
			i++
		}
		ch := &b.chunks[i]
		s := ch.State
		u := k - units[i]
		t, h := u/c.Heads, u%c.Heads
		r := b.lay.off[i] + t
		kvh := h / (c.Heads / c.KVHeads)
		q := b.q[r*qDim+h*c.HeadDim : r*qDim+(h+1)*c.HeadDim]
		out := b.att[r*qDim+h*c.ValueDim : r*qDim+(h+1)*c.ValueDim]
		nt := len(ch.Tokens)
		s.attendHead(&s.ws[worker], b.layer, ch.Pos+t, kvh, nt, ch.Pos+nt-1, nil, q, out)
	}
}

// products computes the products of the layout's rows x by up to three
// weights (the outputs and weights after the first nil are unused), each
// row rounded as it is alone: the rows of chunks of several tokens as
// MatMulGEMM multiplies them, the single rows as MatMul. Where the two
// agree (most weight types) every row goes into one product.
func (b *Batch) products(x []float32, outs [3][]float32, ws [3]*tensor.Matrix) {
	lay := &b.lay
	n, g := lay.rows, lay.g
	if n == 0 {
		return
	}
	k := 0
	like := true
	for k < 3 && ws[k] != nil {
		like = like && tensor.GEMMRoundingOf(ws[k]) == tensor.GEMMLikeMatMul
		k++
	}
	in := ws[0].Cols
	lo := 0 // first row of the single-row product
	if !like && g > 0 {
		for j := range k {
			w, o := ws[j], outs[j]
			switch tensor.GEMMRoundingOf(w) {
			case tensor.GEMMLikeMatMul:
				tensor.MatMul(o[:g*w.Rows], w, x[:g*in], g)
			case tensor.GEMMPerRow:
				tensor.MatMulGEMM(o[:g*w.Rows], w, x[:g*in], g)
			default:
				for i, c := range lay.cnt {
					if c > 1 {
						a := lay.off[i]
						tensor.MatMulGEMM(o[a*w.Rows:(a+c)*w.Rows], w, x[a*in:(a+c)*in], c)
					}
				}
			}
		}
		lo = g
	}
	if lo == n {
		return
	}
	m := n - lo
	var o [3][]float32
	for j := range k {
		o[j] = outs[j][lo*ws[j].Rows : n*ws[j].Rows]
	}
	xs := x[lo*in : n*in]
	switch k {
	case 1:
		tensor.MatMul(o[0], ws[0], xs, m)
	case 2:
		b.matMuls(m, xs, o[0], ws[0], o[1], ws[1], nil, nil)
	default:
		b.matMuls(m, xs, o[0], ws[0], o[1], ws[1], o[2], ws[2])
	}
}
