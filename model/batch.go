package model

import (
	"context"
	"fmt"

	"glassbox/tensor"
)

// SeqStep is one sequence's part of a batched decode step: the token at
// position Pos of the sequence whose cache is State.
type SeqStep struct {
	State *State
	Token int
	Pos   int
	// Logits receives the next-token logits (VocabSize values); nil skips them.
	Logits []float32
}

// Batch is the scratch of ForwardBatch for up to a fixed number of
// sequences. It is not safe for concurrent use; one Batch serves any number
// of States of its model.
type Batch struct {
	cfg        *Config
	n          int       // sequences it holds at most
	x, xb, xb2 []float32 // residual stream and normed copies (n rows of Dim)
	q, k, v    []float32 // projections
	att        []float32 // attention outputs
	hb, hb2    []float32 // feed-forward hidden
	logits     []float32 // n rows of VocabSize

	steps  []SeqStep // the step being computed, read by attnFn
	layer  int
	attnFn func(lo, hi, worker int)
	siluFn func(lo, hi, worker int)
	rows   int // rows siluFn covers

	mmW   [3]*tensor.Matrix // matMuls' arguments (no allocation per call)
	mmOut [3][]float32

	// ForwardMulti's state (multi.go)
	tmp            []float32 // rows moved in the last layer
	lay            multiLayout
	chunks         []SeqChunk // the pass being computed, read by multiFn
	units          []int      // per chunk, its first attention unit (and the total last)
	multiFn        func(lo, hi, worker int)
	prepFn         func(lo, hi, worker int) // prepRange
	model          *Model                   // the pass's model, read by prepFn
	oldOff, oldCnt []int
}

// NewBatch allocates the scratch of ForwardBatch for up to n sequences.
func (m *Model) NewBatch(n int) (*Batch, error) {
	if n < 1 {
		return nil, fmt.Errorf("batch: %d sequences, want at least 1", n)
	}
	c := &m.Config
	b := &Batch{cfg: c, n: n}
	b.x, b.xb, b.xb2 = make([]float32, n*c.Dim), make([]float32, n*c.Dim), make([]float32, n*c.Dim)
	b.q, b.k, b.v = make([]float32, n*c.QDim()), make([]float32, n*c.KVDim()), make([]float32, n*c.VDim())
	b.att = make([]float32, n*c.QDim())
	b.hb, b.hb2 = make([]float32, n*c.HiddenDim), make([]float32, n*c.HiddenDim)
	b.logits = make([]float32, n*c.VocabSize)
	b.attnFn = b.attendRange
	b.siluFn = b.siluRange
	b.multiFn = b.multiRange
	b.prepFn = b.prepRange
	return b, nil
}

// Size returns the number of sequences the batch holds at most.
func (b *Batch) Size() int { return b.n }

// ForwardBatch runs one token of each of several sequences through the
// model: every weight multiplies the tokens of all the sequences in one
// matrix-matrix product, and each token attends over its own sequence's
// cache, where its key and value are stored at its position. Each
// sequence's logits are bit for bit those Forward computes for the token
// alone (the products give each row exactly the single-row result), and its
// Tracer sees what it would see. The States must be of this model; one State
// may hold several steps at consecutive positions, in order (the draft tokens
// a speculative decoder verifies: each row's logits are then those Forward
// computes for that token after the ones before it). A step that does not
// fit its State is an error before anything runs.
func (m *Model) ForwardBatch(b *Batch, steps []SeqStep) error {
	c := &m.Config
	n := len(steps)
	switch {
	case b == nil || b.cfg != c:
		return fmt.Errorf("forward batch: the batch scratch is not this model's")
	case n == 0:
		return fmt.Errorf("forward batch: no sequences")
	case n > b.n:
		return fmt.Errorf("forward batch: %d sequences, the batch holds %d", n, b.n)
	}
	for i, st := range steps {
		s := st.State
		switch {
		case s == nil || s.cfg != c:
			return fmt.Errorf("forward batch: sequence %d has no state of this model", i)
		case st.Pos < 0 || st.Pos >= s.ctx:
			return fmt.Errorf("forward batch: sequence %d: position %d does not fit the context of %d", i, st.Pos, s.ctx)
		case st.Token < 0 || st.Token >= c.VocabSize:
			return fmt.Errorf("forward batch: sequence %d: token id %d outside the vocabulary of %d", i, st.Token, c.VocabSize)
		case st.Logits != nil && len(st.Logits) != c.VocabSize:
			return fmt.Errorf("forward batch: sequence %d: logits has %d values, want %d", i, len(st.Logits), c.VocabSize)
		}
		for j := i - 1; j >= 0; j-- {
			if steps[j].State == s {
				if steps[j].Pos+1 != st.Pos {
					return fmt.Errorf("forward batch: steps %d and %d share a state at positions %d and %d; a state's steps must hold consecutive positions in order", j, i, steps[j].Pos, st.Pos)
				}
				break
			}
		}
	}
	for i, st := range steps {
		if err := st.State.grow(context.Background(), st.Pos+1, false); err != nil {
			return fmt.Errorf("forward batch: sequence %d: %w", i, err)
		}
	}
	if n == 1 || !c.batchable() {
		// the single-token path itself (its fused products); mixtures of
		// experts run one sequence after the other through it
		for _, st := range steps {
			if err := m.forwardBatch(context.Background(), st.State, []int{st.Token}, st.Pos, st.Logits); err != nil {
				return err
			}
		}
		return nil
	}
	dim, qDim, kvDim, vDim, hid := c.Dim, c.QDim(), c.KVDim(), c.VDim(), c.HiddenDim
	x := b.x[:n*dim]
	for i, st := range steps {
		m.embedRow(st.Token, x[i*dim:(i+1)*dim])
	}
	b.steps = steps
	defer func() { b.steps = nil }()
	xb, xb2 := b.xb[:n*dim], b.xb2[:n*dim]
	q, k, v, att := b.q[:n*qDim], b.k[:n*kvDim], b.v[:n*vDim], b.att[:n*qDim]
	hb, hb2 := b.hb[:n*hid], b.hb2[:n*hid]
	for l := range m.Layers {
		w := &m.Layers[l]
		for i := range n {
			preNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], w.AttnNorm, c)
		}
		b.matMuls(n, xb, q, w.Wq, k, w.Wk, v, w.Wv)
		traced := false
		for i, st := range steps {
			s := st.State
			qi, ki, vi := q[i*qDim:(i+1)*qDim], k[i*kvDim:(i+1)*kvDim], v[i*vDim:(i+1)*vDim]
			if c.AttnBias {
				addTo(qi, w.Bq)
				addTo(ki, w.Bk)
				addTo(vi, w.Bv)
			}
			m.positionQK(qi, ki, w, l, st.Pos, s.cos, s.sin, s.ropeFreqs)
			s.storeKV(l, st.Pos, ki, vi)
			s.growScratch(tensor.Threads())
			if s.kvType == tensor.F16 {
				s.clearStaleValues(l, st.Pos+1)
			}
			traced = traced || s.Tracer != nil
		}
		// untraced sequences: all their (sequence, head) pairs over the
		// worker pool; traced ones in order, reporting each head
		b.layer = l
		tensor.Parallel(n*c.Heads, tensor.Threads(), b.attnFn)
		if traced {
			for i, st := range steps {
				if st.State.Tracer != nil {
					st.State.attend(l, st.Pos, 1, q[i*qDim:(i+1)*qDim], att[i*qDim:(i+1)*qDim], nil)
				}
			}
		}

		tensor.MatMul(xb2, w.Wo, att, n)
		b.postNorm(xb2, w.AttnPostNorm)
		addTo(x, xb2)
		for i := range n {
			preNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], w.FFNNorm, c)
		}
		b.matMuls(n, xb, hb, w.W1, hb2, w.W3, nil, nil)
		b.rows = n
		tensor.Parallel(n*siluUnits(hid), tensor.Threads(), b.siluFn)
		tensor.MatMul(xb2, w.W2, hb, n)
		b.postNorm(xb2, w.FFNPostNorm)
		addTo(x, xb2)
		for i, st := range steps {
			if tr := st.State.Tracer; tr != nil && tr.Position(st.Pos) {
				tr.Residual(l, st.Pos, x[i*dim:(i+1)*dim])
			}
		}
	}
	for i := range n {
		rmsNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], m.OutputNorm, c.NormEps)
	}
	out := b.logits[:n*c.VocabSize]
	tensor.MatMul(out, m.Output, xb, n)
	for i, st := range steps {
		if st.Logits != nil {
			copy(st.Logits, out[i*c.VocabSize:(i+1)*c.VocabSize])
			if c.LogitScale != 0 {
				scaleBy(st.Logits, 1/c.LogitScale)
			}
			capLogits(st.State.Tracer, st.Pos, st.Logits, c.FinalSoftcap)
		}
	}
	return nil
}

// attendRange computes the (sequence, head) pairs [lo, hi) of the current
// layer for the untraced sequences, pair k being sequence k/Heads and head
// k%Heads, each with its own state's scratch of worker.
func (b *Batch) attendRange(lo, hi, worker int) {
	c := b.cfg
	qDim := c.QDim()
	for k := lo; k < hi; k++ {
		i, h := k/c.Heads, k%c.Heads
		st := b.steps[i]
		s := st.State
		if s.Tracer != nil {
			continue
		}
		kvh := h / (c.Heads / c.KVHeads)
		q := b.q[i*qDim+h*c.HeadDim : i*qDim+(h+1)*c.HeadDim]
		out := b.att[i*qDim+h*c.ValueDim : i*qDim+(h+1)*c.ValueDim]
		s.attendHead(&s.ws[worker], b.layer, st.Pos, kvh, 1, st.Pos, nil, q, out)
	}
}

// siluRange is State.siluRange over the batch's feed-forward rows.
func (b *Batch) siluRange(lo, hi, _ int) {
	hid := b.cfg.HiddenDim
	upr := siluUnits(hid)
	for u := lo; u < hi; u++ {
		row, a := u/upr, (u%upr)*siluUnit
		e := min(a+siluUnit, hid)
		if b.cfg.GELU {
			geluMul(b.hb[row*hid+a:row*hid+e], b.hb2[row*hid+a:row*hid+e])
			continue
		}
		tensor.SiLUMul(b.hb[row*hid+a:row*hid+e], b.hb2[row*hid+a:row*hid+e])
	}
}

// matMuls computes the products of the batch's n rows x by two or three
// weights (w3 nil for two): in one hand-out to the worker pool when they
// are of one type (tensor.MatMulMulti), else one after the other.
func (b *Batch) matMuls(n int, x, o1 []float32, w1 *tensor.Matrix, o2 []float32, w2 *tensor.Matrix, o3 []float32, w3 *tensor.Matrix) {
	if w1.Type != w2.Type || (w3 != nil && w3.Type != w1.Type) {
		tensor.MatMul(o1, w1, x, n)
		tensor.MatMul(o2, w2, x, n)
		if w3 != nil {
			tensor.MatMul(o3, w3, x, n)
		}
		return
	}
	b.mmW[0], b.mmW[1], b.mmOut[0], b.mmOut[1] = w1, w2, o1, o2
	k := 2
	if w3 != nil {
		b.mmW[2], b.mmOut[2] = w3, o3
		k = 3
	}
	tensor.MatMulMulti(b.mmOut[:k], b.mmW[:k], x, n)
	b.mmW, b.mmOut = [3]*tensor.Matrix{}, [3][]float32{}
}

// postNorm applies, for models with post-norms (Gemma 2 and 3), the norm
// weight to each of the batch's rows of a sublayer's output o (n rows of
// Dim), then the residual multiplier (Granite), as the single-token path.
func (b *Batch) postNorm(o, weight []float32) {
	c := b.cfg
	if c.PostNorms {
		for i := range len(o) / c.Dim {
			r := o[i*c.Dim : (i+1)*c.Dim]
			rmsNorm(r, r, weight, c.NormEps)
		}
	}
	scaleBy(o, c.ResidualMul)
}

// batchable reports whether ForwardBatch's batched layer loop covers the
// architecture; it does every dense one glassbox runs (the extra steps of Gemma,
// Granite, OLMo 2 and SmolLM3 are taken row by row as the single-token path
// takes them; attention soft-capping and sliding windows live in
// attendHead). An architecture whose steps it lacks decodes each sequence
// through the single-token path instead: mixtures of experts.
func (c *Config) batchable() bool {
	return !c.MoE() && !c.AttnSinks && !c.AttnOutBias && !c.SwiGLUOAI
}
