package model

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"glassbox/tensor"
)

// State is the mutable side of a generation: the key/value cache of every layer
// and the scratch buffers of the forward pass. A State belongs to one sequence
// and is not safe for concurrent use; several States can share one Model.
type State struct {
	// Tracer, when set, observes the forward passes run with this state.
	Tracer Tracer

	cfg    *Config
	ctx    int // positions the cache holds
	batch  int // tokens processed per forward step
	kvType tensor.Type

	// Key and value cache in pages of page positions (kvpool.go), per layer
	// a list of pages: keys in page rows of KVDim values, values transposed
	// (VDim rows of page cells, as llama.cpp keeps them); kf/vf hold F32
	// caches, kh/vh F16 ones (as bits).
	kf, vf [][][]float32
	kh, vh [][][]uint16
	// kq holds a quantized key cache (Q8_0 or Q4_0, kType), one row of
	// kqRow bytes per position; kh/kf are then unused.
	kq    [][][]byte
	kType tensor.Type
	kqRow int // bytes of one position's keys
	kqHd  int // bytes of one head's key
	// kRot is the size of the Walsh-Hadamard rotation llama.cpp applies to
	// the queries and keys before a quantized key cache (0: none), kr the
	// rotated keys of one position.
	kRot int
	kr   []float32
	page int // positions per page

	// the pool the pages come from (nil: none), and the state's standing
	// in it, guarded by the pool's lock (held is also read without it)
	pool    *KVPool
	pins    int          // Pin calls not yet ended by Unpin
	lastUse uint64       // the pool's clock at the last Unpin
	held    atomic.Int64 // bytes of the pages held
	waiting bool         // waiting in Grow for memory
	evicted atomic.Bool  // the cache was evicted since the last Pin
	vTop    []int        // per layer, one past the last value cell written

	// flash is set when attention runs as flash attention (flash.go): the
	// values are then kept as rows, one per position (vh for F16), or
	// quantized in vq (Q8_0 or Q4_0, kvType), vqRow bytes per position and
	// vqHd per head, rotated by a Walsh-Hadamard transform of size vRot
	// (64, or 0: none) before they are quantized; vr holds one position's
	// rotated values.
	flash bool
	vq    [][][]byte
	vqRow int
	vqHd  int
	vRot  int
	vr    []float32
	// vt holds one position's values converted to F16 before they are
	// spread over the transposed F16 value rows
	vt []uint16
	// kt holds one layer's keys (layer ktL, cells [0, ktN)) as float32,
	// transposed, ktCap cells a row, for flash attention's tiled kernel.
	kt       []float32
	ktL, ktN int
	ktCap    int

	mvW   [3]*tensor.Matrix // matvecs' arguments, kept here so that it allocates nothing
	mvOut [3][]float32
	// moeFFN's MatVecMulti arguments, likewise
	mvWs4   [4]*tensor.Matrix
	mvOuts4 [4][]float32
	mvXs4   [4][]float32
	moe     moeScratch // mixture-of-experts scratch (moe.go)

	// Activations for a batch of tokens, row-major (batch rows).
	x, xb, xb2 []float32 // residual stream and normed copies (Dim)
	q, k, v    []float32 // projections (QDim, KVDim, VDim)
	att        []float32 // attention output before the output projection (QDim)
	hb, hb2    []float32 // feed-forward hidden (HiddenDim)
	tw         []float32 // traced attention weights (allocated when tracing)
	cos, sin   []float32 // RoPE table for one position (RopeDim/2)
	ropeFreqs  []float32 // RoPE frequency factors (llama3, or LongRoPE's for this context), or nil

	attnState // per-worker attention scratch (attention.go)

	siluFn func(lo, hi, worker int) // siluRange bound to the state
	tok    tokenStep                // forwardBatch's per-token work
	tokFn  func(lo, hi, worker int) // tokenRange bound to the state
}

// StateOptions sets the size and precision of a State.
type StateOptions struct {
	// Context is the number of positions the KV cache holds (default: the
	// model's context length).
	Context int
	// Batch is the number of prompt tokens processed per forward step (default 64).
	Batch int
	// KVType is F32 (the zero value) or F16 (as llama.cpp's default, which halves
	// the cache and rounds keys, values, queries and attention weights to F16),
	// or, with FlashAttn, Q8_0 or Q4_0 (llama.cpp's --cache-type-v): each value
	// row is then rotated as llama.cpp does (a Walsh-Hadamard transform of 64
	// when the head's value size is a multiple of 64) and quantized.
	KVType tensor.Type
	// PageSize is the number of positions of a page of the KV cache, a
	// multiple of 64 (default DefaultPageSize): the cache grows a page of
	// every layer at a time as the sequence does. Results never depend on it.
	PageSize int
	// Pool, when set, is the memory budget the cache's pages are taken from
	// (see KVPool); the state must then be pinned while it runs (Pin).
	Pool *KVPool
	// KeyType, when Q8_0 or Q4_0, stores the keys in that type instead of
	// KVType (llama.cpp's --cache-type-k): each key row is quantized as
	// ggml's CPU backend writes it, and the queries are converted to Q8_0
	// before the dot products, as llama.cpp without flash attention does.
	// The zero value (or KVType itself) keeps the keys in KVType; F16 keys
	// beside quantized values are KeyType F16.
	KeyType tensor.Type
	// FlashAttn runs attention as llama.cpp's flash attention (-fa on): an
	// online softmax over the cache, with its numbers (see flash.go). It is
	// needed for a quantized value cache, and refuses an F32 one (llama.cpp
	// rounds an F32 cache to F16 for it).
	FlashAttn bool
}

// validate reports whether the cache types of opt are supported for c.
func (opt StateOptions) validate(c *Config) error {
	if tensor.KVQuantSupported(opt.KVType) {
		if !opt.FlashAttn {
			return fmt.Errorf("V cache type %s needs flash attention (as in llama.cpp, which refuses a quantized V cache without -fa): turn it on, or keep the values in F16 or F32", opt.KVType)
		}
		if c.VDim()%32 != 0 || c.ValueDim%32 != 0 {
			return fmt.Errorf("V cache type %s needs a value head size that is a multiple of its block of 32, this model's is %d", opt.KVType, c.ValueDim)
		}
	} else if opt.KVType != tensor.F32 && opt.KVType != tensor.F16 {
		return fmt.Errorf("KV cache type %s is not supported (want F32 or F16, or Q8_0 or Q4_0 values with flash attention)", opt.KVType)
	}
	if opt.FlashAttn && (opt.KVType == tensor.F32 || opt.keyType() == tensor.F32) {
		return fmt.Errorf("flash attention with an F32 KV cache is not supported (llama.cpp rounds an F32 cache to F16 for it): use an F16 or quantized cache, or turn flash attention off")
	}
	if opt.KeyType == opt.KVType || opt.KeyType == tensor.F32 {
		return nil
	}
	if opt.KeyType == tensor.F16 && tensor.KVQuantSupported(opt.KVType) {
		return nil
	}
	if !tensor.KVQuantSupported(opt.KeyType) {
		return fmt.Errorf("K cache type %s is not supported (want F32, F16, Q8_0 or Q4_0)", opt.KeyType)
	}
	if c.HeadDim%32 != 0 {
		return fmt.Errorf("K cache type %s needs a head size that is a multiple of its block of 32, this model's is %d", opt.KeyType, c.HeadDim)
	}
	return nil
}

// CheckStateOptions reports, without allocating, whether NewState would
// refuse the cache types of opt for this model.
func (m *Model) CheckStateOptions(opt StateOptions) error { return opt.validate(&m.Config) }

// keyType returns the type the keys are stored in.
func (opt StateOptions) keyType() tensor.Type {
	if tensor.KVQuantSupported(opt.KeyType) || opt.KeyType == tensor.F16 && tensor.KVQuantSupported(opt.KVType) {
		return opt.KeyType
	}
	return opt.KVType
}

// NewState allocates a KV cache and buffers for one sequence. It returns an
// error wrapping ErrMemory, without allocating, when they would need more
// memory than the system has available (see StateBytes).
func (m *Model) NewState(opt StateOptions) (*State, error) {
	c := &m.Config
	opt = opt.withDefaults(c)
	if err := opt.validate(c); err != nil {
		return nil, err
	}
	const maxCtx = 1 << 22
	if opt.PageSize%tensor.PageAlign != 0 || opt.PageSize < 0 {
		return nil, fmt.Errorf("KV cache pages of %d positions: want a positive multiple of %d", opt.PageSize, tensor.PageAlign)
	}
	if opt.Context > maxCtx {
		return nil, fmt.Errorf("context %d is larger than the supported %d", opt.Context, maxCtx)
	}
	// refuse what would not fit rather than die in the allocator
	if err := m.CheckStateMemory(opt); err != nil {
		return nil, err
	}
	s := &State{cfg: c, ctx: opt.Context, batch: opt.Batch, kvType: opt.KVType, kType: opt.keyType(), pool: opt.Pool}
	s.flash = opt.FlashAttn
	// flash attention reads its cache as one block: one page of the whole
	// context, taken when the sequence first needs it
	s.page = opt.pageSize()
	switch {
	case opt.KVType == tensor.F32:
		s.vf = make([][][]float32, c.Layers)
		if s.kType == tensor.F32 {
			s.kf = make([][][]float32, c.Layers)
		}
	case tensor.KVQuantSupported(opt.KVType):
		s.vqRow, _ = opt.KVType.RowBytes(c.VDim())
		s.vqHd, _ = opt.KVType.RowBytes(c.ValueDim)
		s.vRot = vRotation(c.ValueDim)
		s.vr = make([]float32, c.VDim())
		s.vq = make([][][]byte, c.Layers)
		if s.kType == tensor.F16 {
			s.kh = make([][][]uint16, c.Layers)
		}
	default:
		s.vh = make([][][]uint16, c.Layers)
		if s.kType == tensor.F16 {
			s.kh = make([][][]uint16, c.Layers)
		}
	}
	if tensor.KVQuantSupported(s.kType) {
		s.kqRow, _ = s.kType.RowBytes(c.KVDim())
		s.kqHd, _ = s.kType.RowBytes(c.HeadDim)
		s.kRot = keyRotation(c.HeadDim)
		s.kr = make([]float32, c.KVDim())
		s.kq = make([][][]byte, c.Layers)
	}
	s.vTop = make([]int, c.Layers)
	b := opt.Batch
	s.x, s.xb, s.xb2 = make([]float32, b*c.Dim), make([]float32, b*c.Dim), make([]float32, b*c.Dim)
	s.q, s.k, s.v = make([]float32, b*c.QDim()), make([]float32, b*c.KVDim()), make([]float32, b*c.VDim())
	s.att = make([]float32, b*c.QDim())
	s.hb, s.hb2 = make([]float32, b*c.ffnRows()), make([]float32, b*c.ffnRows())
	s.newMoE(b)
	s.newAttn()
	s.siluFn = s.siluRange
	s.tokFn = s.tokenRange
	s.cos, s.sin = make([]float32, c.RopeDim/2), make([]float32, c.RopeDim/2)
	s.ropeFreqs = m.ropeFactors(opt.Context)
	return s, nil
}

// ropeFactors returns the RoPE frequency factors of a State holding ctx
// positions, as llama.cpp's get_rope_factors: the file's rope_freqs when it
// has them, else LongRoPE's long factors when ctx exceeds the original
// context, the short ones otherwise (nil when the file has none).
func (m *Model) ropeFactors(ctx int) []float32 {
	orig := m.Config.RopeOrigContext
	if orig == 0 {
		orig = m.Config.ContextLength
	}
	switch {
	case m.RopeFreqs != nil:
		return m.RopeFreqs
	case ctx > orig && m.RopeLong != nil:
		return m.RopeLong
	case ctx <= orig && m.RopeShort != nil:
		return m.RopeShort
	}
	return nil
}

// Context returns the number of positions the state's KV cache holds.
func (s *State) Context() int { return s.ctx }

// Batch returns the number of prompt tokens processed per forward step.
func (s *State) Batch() int { return s.batch }

// KVType returns the element type of the value cache, and of the key cache
// unless KeyType says otherwise.
func (s *State) KVType() tensor.Type { return s.kvType }

// KeyType returns the type of the key cache (KVType, F16, Q8_0 or Q4_0).
func (s *State) KeyType() tensor.Type { return s.kType }

// FlashAttn reports whether the state runs flash attention.
func (s *State) FlashAttn() bool { return s.flash }

// quantKeys reports whether the keys are stored quantized.
func (s *State) quantKeys() bool { return s.kq != nil }

// Forward runs tokens (at positions pos, pos+1, …) through the model, appending
// their keys and values to the cache. logits receives the next-token logits: for
// the last token when len(logits) == VocabSize, or for every token when
// len(logits) == len(tokens)*VocabSize. A nil logits skips the output layer.
func (m *Model) Forward(s *State, tokens []int, pos int, logits []float32) error {
	return m.ForwardContext(context.Background(), s, tokens, pos, logits)
}

// ForwardContext is Forward that stops between two layers once ctx is done
// and returns ctx's error: the cache entries of positions pos… are then
// incomplete and must be computed again, and logits are not set. Entries
// before pos are untouched.
func (m *Model) ForwardContext(ctx context.Context, s *State, tokens []int, pos int, logits []float32) error {
	c := &m.Config
	n := len(tokens)
	switch {
	case n == 0:
		return fmt.Errorf("forward: no tokens")
	case pos < 0 || pos+n > s.ctx:
		return fmt.Errorf("forward: positions %d..%d do not fit the context of %d", pos, pos+n-1, s.ctx)
	case logits != nil && len(logits) != c.VocabSize && len(logits) != n*c.VocabSize:
		return fmt.Errorf("forward: logits has %d values, want %d or %d", len(logits), c.VocabSize, n*c.VocabSize)
	}
	for _, t := range tokens {
		if t < 0 || t >= c.VocabSize {
			return fmt.Errorf("forward: token id %d outside the vocabulary of %d", t, c.VocabSize)
		}
	}
	if err := s.Grow(ctx, pos+n); err != nil {
		return err
	}
	all := len(logits) == n*c.VocabSize && n > 1
	for start := 0; start < n; start += s.batch {
		end := min(start+s.batch, n)
		var out []float32
		switch {
		case logits == nil:
		case all:
			out = logits[start*c.VocabSize : end*c.VocabSize]
		case end == n:
			out = logits
		}
		if err := m.forwardBatch(ctx, s, tokens[start:end], pos+start, out); err != nil {
			return err
		}
	}
	return nil
}

// forwardBatch processes up to s.batch tokens. out holds the logits of every
// token (len = b*VocabSize), of the last one (len = VocabSize), or is nil. It
// returns ctx's error, before a layer, once ctx is done.
func (m *Model) forwardBatch(ctx context.Context, s *State, tokens []int, pos int, out []float32) error {
	c := &m.Config
	b := len(tokens)
	dim, qDim, kvDim, vDim, hid := c.Dim, c.QDim(), c.KVDim(), c.VDim(), c.HiddenDim
	x := s.x[:b*dim]

	// token embeddings (the table's pages released once for the batch)
	m.embedRows(tokens, x)

	for l := range m.Layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		w := &m.Layers[l]

		// attention rmsnorm (none in olmo2)
		xb := s.xb[:b*dim]
		s.tok = tokenStep{norm: true, in: x, out: xb, weight: w.AttnNorm}
		s.eachToken(b)

		// qkv matmuls for these positions
		q, k, v := s.q[:b*qDim], s.k[:b*kvDim], s.v[:b*vDim]
		if !s.matvecs(b, xb, q, w.Wq, k, w.Wk, v, w.Wv) {
			matmul(q, w.Wq, xb, b)
			matmul(k, w.Wk, xb, b)
			matmul(v, w.Wv, xb, b)
		}
		if c.AttnBias {
			for i := range b {
				addTo(q[i*qDim:(i+1)*qDim], w.Bq)
				addTo(k[i*kvDim:(i+1)*kvDim], w.Bk)
				addTo(v[i*vDim:(i+1)*vDim], w.Bv)
			}
		}

		// each token's query and key norms, RoPE and query scale
		s.tok = tokenStep{m: m, w: w, l: l, pos: pos, q: q, k: k}
		s.eachToken(b)
		// save keys and values into the cache
		for i := range b {
			s.storeKV(l, pos+i, k[i*kvDim:(i+1)*kvDim], v[i*vDim:(i+1)*vDim])
		}

		// multihead attention over all cached positions, causally masked
		att := s.att[:b*qDim]
		var sinks []float32
		if c.AttnSinks {
			sinks = w.Sinks
		}
		s.attention(l, pos, b, q, att, sinks)

		// output projection (and its bias, gpt-oss), then residual
		// connection back into x
		xb2 := s.xb2[:b*dim]
		matmul(xb2, w.Wo, att, b)
		if c.AttnOutBias {
			for i := range b {
				addTo(xb2[i*dim:(i+1)*dim], w.Bo)
			}
		}

		// In the last layer only the rows whose logits are wanted matter
		// from here on; llama.cpp drops the others at this point, which also
		// decides which matmul kernel (and rounding) the rest uses.
		r0 := 0
		if l == len(m.Layers)-1 && len(out) == c.VocabSize {
			r0 = b - 1
		}
		nr := b - r0
		xr := x[r0*dim:]
		if c.PostNorms {
			for i := r0; i < b; i++ {
				o := xb2[i*dim : (i+1)*dim]
				rmsNorm(o, o, w.AttnPostNorm, c.NormEps)
			}
		}
		scaleBy(xb2[r0*dim:b*dim], c.ResidualMul)
		addTo(xr, xb2[r0*dim:b*dim])

		// ffn rmsnorm
		s.tok = tokenStep{norm: true, in: xr, out: xb, weight: w.FFNNorm}
		s.eachToken(nr)

		if c.MoE() {
			// mixture of experts (moe.go)
			s.moeFFN(l, w, xb[:nr*dim], xb2[:nr*dim], nr, pos+r0)
		} else {
			// SwiGLU feed-forward: w2(silu(w1(x)) * w3(x)), or GeGLU with gelu
			hb, hb2 := s.hb[:nr*hid], s.hb2[:nr*hid]
			if !s.matvecs(nr, xb[:nr*dim], hb, w.W1, hb2, w.W3, nil, nil) {
				matmul(hb, w.W1, xb[:nr*dim], nr)
				matmul(hb2, w.W3, xb[:nr*dim], nr)
			}
			tensor.Parallel(nr*siluUnits(hid), tensor.Threads(), s.siluFn)
			matmul(xb2[:nr*dim], w.W2, hb, nr)
		}
		if c.PostNorms {
			for i := range nr {
				o := xb2[i*dim : (i+1)*dim]
				rmsNorm(o, o, w.FFNPostNorm, c.NormEps)
			}
		}
		scaleBy(xb2[:nr*dim], c.ResidualMul)

		// residual connection
		addTo(xr, xb2[:nr*dim])

		if s.Tracer != nil {
			for i := r0; i < b; i++ {
				if s.Tracer.Position(pos + i) {
					s.Tracer.Residual(l, pos+i, x[i*dim:(i+1)*dim])
				}
			}
		}
	}

	if out == nil {
		return nil
	}
	// final rmsnorm and classifier into logits
	first := 0
	if len(out) == c.VocabSize {
		first = b - 1
	}
	xb := s.xb[:(b-first)*dim]
	for i := first; i < b; i++ {
		rmsNorm(xb[(i-first)*dim:(i-first+1)*dim], x[i*dim:(i+1)*dim], m.OutputNorm, c.NormEps)
	}
	matmul(out, m.Output, xb, b-first)
	if c.LogitScale != 0 {
		scaleBy(out, 1/c.LogitScale)
	}
	for j := range b - first {
		capLogits(s.Tracer, pos+first+j, out[j*c.VocabSize:(j+1)*c.VocabSize], c.FinalSoftcap)
	}
	return nil
}

// embedRow writes the input of the first layer for token t into dst: its
// embedding, multiplied by sqrtf(Dim) in float32 when the model scales
// embeddings (gemma), as llama.cpp's ggml_scale does, and by EmbedMul
// (granite).
func (m *Model) embedRow(t int, dst []float32) {
	m.TokenEmbedding.Row(t, dst)
	m.embedScale(dst)
}

// embedScale applies the architecture's scaling to a looked-up embedding.
func (m *Model) embedScale(row []float32) {
	if m.Config.EmbedScale {
		sc := float32(math.Sqrt(float64(float32(m.Config.Dim))))
		for i := range row {
			row[i] *= sc
		}
	}
	scaleBy(row, m.Config.EmbedMul)
}

// embedRows is embedRow for the tokens of a batch, into consecutive rows
// of dst.
func (m *Model) embedRows(tokens []int, dst []float32) {
	dim := m.Config.Dim
	m.TokenEmbedding.Gather(tokens, dst[:len(tokens)*dim])
	for i := range tokens {
		m.embedScale(dst[i*dim : (i+1)*dim])
	}
}

// scaleBy multiplies x by f in float32, as ggml_scale (nothing when f is 0).
func scaleBy(x []float32, f float32) {
	if f == 0 {
		return
	}
	for i := range x {
		x[i] *= f
	}
}

// softcap replaces every x by capv·tanh(x/capv) (nothing when capv is 0), in
// ggml's steps: a multiplication by the float32 1/capv, tanhf, a
// multiplication by capv.
func softcap(x []float32, capv float32) {
	if capv == 0 {
		return
	}
	inv := 1 / capv
	for i, v := range x {
		x[i] = tanhf(v*inv) * capv
	}
}

// tanhf is the C library's tanhf (correctly rounded here).
func tanhf(x float32) float32 { return float32(math.Tanh(float64(x))) }

// siluUnit is the number of feed-forward values one siluRange unit covers: a
// multiple of 16, so that splitting a row leaves tensor.SiLUMul's lanes unchanged.
const siluUnit = 256

// siluUnits returns the number of siluRange units in one row of hid values.
func siluUnits(hid int) int { return (hid + siluUnit - 1) / siluUnit }

// siluRange applies tensor.SiLUMul to units [lo, hi) of s.hb and s.hb2 (row
// u/siluUnits, values siluUnit·(u%siluUnits)… of it); the rows may be split
// over threads since each value depends only on its own inputs.
func (s *State) siluRange(lo, hi, _ int) {
	hid := s.cfg.HiddenDim
	upr := siluUnits(hid)
	for u := lo; u < hi; u++ {
		row, a := u/upr, (u%upr)*siluUnit
		b := min(a+siluUnit, hid)
		if s.cfg.GELU {
			geluMul(s.hb[row*hid+a:row*hid+b], s.hb2[row*hid+a:row*hid+b])
			continue
		}
		if s.cfg.SwiGLUOAI {
			swigluOAI(s.hb[row*hid+a:row*hid+b], s.hb2[row*hid+a:row*hid+b])
			continue
		}
		tensor.SiLUMul(s.hb[row*hid+a:row*hid+b], s.hb2[row*hid+a:row*hid+b])
	}
}

// matmul computes out[i] = w · x[i] for n rows of x, with llama.cpp's
// rounding: its batch kernel for several rows, its vector kernel for one.
// matvecs computes the products of one token's x (n must be 1) by two or
// three weights of one type (w3 nil for two) in a single hand-out to the
// worker pool, and reports false, doing nothing, when it does not apply.
func (s *State) matvecs(n int, x, o1 []float32, w1 *tensor.Matrix, o2 []float32, w2 *tensor.Matrix, o3 []float32, w3 *tensor.Matrix) bool {
	if n != 1 || w1.Type != w2.Type || (w3 != nil && w3.Type != w1.Type) {
		return false
	}
	s.mvW[0], s.mvW[1], s.mvOut[0], s.mvOut[1] = w1, w2, o1[:w1.Rows], o2[:w2.Rows]
	k := 2
	if w3 != nil {
		s.mvW[2], s.mvOut[2] = w3, o3[:w3.Rows]
		k = 3
	}
	tensor.MatVecMulti(s.mvOut[:k], s.mvW[:k], x[:w1.Cols])
	s.mvW, s.mvOut = [3]*tensor.Matrix{}, [3][]float32{}
	return true
}

func matmul(out []float32, w *tensor.Matrix, x []float32, n int) {
	if n == 1 {
		tensor.MatVec(out[:w.Rows], w, x[:w.Cols])
		return
	}
	tensor.MatMulGEMM(out[:n*w.Rows], w, x[:n*w.Cols], n)
}

// rmsNorm writes x / rms(x) * weight into out (out may alias x). The sum of
// squares is accumulated in float64, as the reference engines do; the scale
// is 1.0f/sqrtf(mean+eps) in float32 steps, as ggml computes it.
func rmsNorm(out, x, weight []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v * v)
	}
	mean := float32(ss / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	for i, v := range x {
		out[i] = v * scale * weight[i]
	}
}

// eachTokenMin is the smallest batch whose per-token work (norms, RoPE)
// forwardBatch splits over the worker pool.
const eachTokenMin = 8

// tokenStep is the per-token work of a batch that forwardBatch hands to
// eachToken: a pre-norm of the rows of in into out, or (norm false) the
// query and key norms, RoPE and query scale of layer l's queries q and keys
// k at positions pos….
type tokenStep struct {
	norm            bool
	in, out, weight []float32
	m               *Model
	w               *Layer
	l, pos          int
	q, k            []float32
}

// eachToken does s.tok for the tokens [0, n) of a batch, over the worker
// pool when n is at least eachTokenMin: each token's work is the same on
// any goroutine.
func (s *State) eachToken(n int) {
	t := tensor.Threads()
	if n < eachTokenMin {
		t = 1
	}
	s.growScratch(t) // the workers' RoPE tables
	if t == 1 {
		s.tokenRange(0, n, 0)
	} else {
		tensor.Parallel(n, t, s.tokFn)
	}
	s.tok = tokenStep{} // keep no rows alive
}

// tokenRange does s.tok for tokens [lo, hi) with worker's scratch.
func (s *State) tokenRange(lo, hi, worker int) {
	tk := &s.tok
	c := s.cfg
	if tk.norm {
		dim := c.Dim
		for i := lo; i < hi; i++ {
			preNorm(tk.out[i*dim:(i+1)*dim], tk.in[i*dim:(i+1)*dim], tk.weight, c)
		}
		return
	}
	qDim, kvDim := c.QDim(), c.KVDim()
	sc := &s.ws[worker]
	for i := lo; i < hi; i++ {
		tk.m.positionQK(tk.q[i*qDim:(i+1)*qDim], tk.k[i*kvDim:(i+1)*kvDim], tk.w, tk.l, tk.pos+i, sc.cos, sc.sin, s.ropeFreqs)
	}
}

// positionQK readies the query qi and key ki of position p in layer l (with
// weights w) for attention: their norms (Config.qkNorm), RoPE with the
// angles of p written into cos and sin (freqs: the per-frequency factors,
// or nil), and the query scale.
func (m *Model) positionQK(qi, ki []float32, w *Layer, l, p int, cos, sin, freqs []float32) {
	c := &m.Config
	c.qkNorm(qi, ki, w)
	// RoPE relative positional encoding (not in smollm3's every fourth
	// layer)
	if c.HasRope(l) {
		m.ropeAngles(cos, sin, freqs, p, l)
		for h := 0; h < c.Heads; h++ {
			rope(qi[h*c.HeadDim:(h+1)*c.HeadDim], cos, sin, c.RopeNeox)
		}
		for h := 0; h < c.KVHeads; h++ {
			rope(ki[h*c.HeadDim:(h+1)*c.HeadDim], cos, sin, c.RopeNeox)
		}
	}
	// queries scaled before attention (gemma), as ggml_scale
	if c.QueryScale != 0 {
		for j := range qi {
			qi[j] *= c.QueryScale
		}
	}
}

// preNorm writes the input of an attention or feed-forward layer: x RMS
// normed with weight, or x itself when the model has no pre-norms (olmo2).
func preNorm(out, x, weight []float32, c *Config) {
	if c.NoPreNorms {
		copy(out, x)
		return
	}
	rmsNorm(out, x, weight, c.NormEps)
}

func addTo(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// ropeAngles fills cos and sin (RopeDim/2 values each) with the rotation
// angles of position p in layer l as ggml's CPU rope computes them (rope_yarn): theta_i = p·base^(-2i/d),
// divided by the per-frequency factors freqs when the model has them (Llama
// 3.1 scaling, LongRoPE; nil otherwise), then multiplied by the layer's freq_scale (1/Factor
// of linear, LongRoPE and YaRN scaling). With YaRN (RopeExtFactor non-zero)
// the dimensions below the correction range keep their unscaled angle and
// those within it mix both along a linear ramp, and the cosines and sines
// are multiplied by ropeMscale's factor. The base and scaling are the
// layer's (sliding-window layers may have their own).
func (m *Model) ropeAngles(cos, sin, freqs []float32, p, l int) {
	c := &m.Config
	base, scaling := c.layerRope(l)
	thetaScale := float32(math.Pow(float64(base), -2.0/float64(c.RopeDim)))
	freqScale := ropeFreqScale(scaling)
	ext := c.RopeExtFactor
	mscale := c.ropeAttnFactor()
	var corr [2]float32
	if ext != 0 {
		corr = ropeYarnCorrDims(c.RopeDim, c.ropeOrigContext(), base, c.RopeBetaFast, c.RopeBetaSlow)
		// ggml: mscale *= 1 + 0.1·logf(1/freq_scale), the sum fused
		mscale *= tensor.FMA32(0.1, tensor.Logf(1/freqScale), 1)
	}
	theta := float32(p)
	for i := range cos {
		extrap := theta
		if freqs != nil {
			extrap /= freqs[i]
		}
		t := freqScale * extrap
		if ext != 0 {
			// the ramp is 1 below the correction range, 0 above it
			y := (float32(i) - corr[0]) / max(0.001, corr[1]-corr[0])
			mix := (1 - min(1, max(0, y))) * ext
			// GCC fuses theta_interp*(1-mix) + theta_extrap*mix
			t = tensor.FMA32(t, 1-mix, extrap*mix)
		}
		// ggml takes them from the C library's sincosf
		sin[i], cos[i] = tensor.Sincosf(t)
		// cosf(theta)*mscale, sinf(theta)*mscale (mscale 1 without
		// scaling, an exact product)
		sin[i] *= mscale
		cos[i] *= mscale
		theta *= thetaScale
	}
}

// ropeFreqScale returns ggml's freq_scale of a layer's scaling: the float32
// 1/Factor for linear, LongRoPE and YaRN scaling, else 1.
func ropeFreqScale(scaling RopeScaling) float32 {
	switch scaling.Type {
	case "linear", "longrope", "yarn":
		if scaling.Factor > 0 {
			return 1 / scaling.Factor
		}
	}
	return 1
}

// ropeOrigContext returns the original context of YaRN and LongRoPE
// (llama.cpp's n_ctx_orig_yarn).
func (c *Config) ropeOrigContext() int {
	if c.RopeOrigContext > 0 {
		return c.RopeOrigContext
	}
	return c.ContextLength
}

// ropeAttnFactor returns the attn_factor llama.cpp passes to every layer's
// rope (cparams.yarn_attn_factor), computed in float32 as its context
// set-up does (without fused operations): with YaRN, get_mscale(f) =
// 1 + 0.1·logf(f) (1 when f <= 1) times 1/(1 + 0.1·logf(f)), which cancels
// the factor ggml's rope applies again up to rounding, for f the global
// 1/freq_scale; then times rope.scaling.attn_factor (RopeAttnFactor).
func (c *Config) ropeAttnFactor() float32 {
	attn := float32(1)
	if c.RopeExtFactor != 0 {
		f := 1 / ropeFreqScale(c.RopeScaling)
		if f > 1 {
			attn = float32(float32(0.1)*tensor.Logf(f)) + 1
		}
		d := float32(float32(0.1)*tensor.Logf(f)) + 1
		attn *= 1 / d
	}
	if c.RopeAttnFactor != 0 {
		attn *= c.RopeAttnFactor
	}
	return attn
}

// ropeYarnCorrDims returns YaRN's correction range in dimension pairs, as
// ggml_rope_yarn_corr_dims: the pairs whose angle turns betaFast and
// betaSlow times over the original context, floor and ceiling, clamped to
// [0, nDims-1]. Each bound is nDims·logf(ctx/(beta·2π)) / (2·logf(base)) in
// float32.
func ropeYarnCorrDims(nDims, ctx int, base, betaFast, betaSlow float32) [2]float32 {
	dim := func(beta float32) float32 {
		return float32(float32(nDims)*tensor.Logf(float32(ctx)/(beta*2*float32(math.Pi)))) / (2 * tensor.Logf(base))
	}
	start := float32(math.Floor(float64(dim(betaFast))))
	end := float32(math.Ceil(float64(dim(betaSlow))))
	return [2]float32{max(0, start), min(float32(nDims-1), end)}
}

// rope rotates the first 2*len(cos) values of one head: adjacent pairs (x[2i],
// x[2i+1]) in the normal layout, or (x[i], x[i+d/2]) in the NEOX layout. It
// rounds like ggml's CPU backend as GCC 12 builds it for x86-64 with FMA,
// where the compiler contracts x0*cos - x1*sin and x0*sin + x1*cos into
// x0·cos - (x1·sin) and x0·sin + (x1·cos), fused with the parenthesized
// products rounded: in the NEOX layout for every pair, in the normal layout
// for the pairs of its vector blocks of four; the last pairs%4 pairs of the
// normal layout get plain rounded products.
func rope(x, cos, sin []float32, neox bool) {
	half := len(cos)
	if neox {
		for i := range half {
			x0, x1 := x[i], x[i+half]
			x[i] = tensor.FMA32(x0, cos[i], -float32(x1*sin[i]))
			x[i+half] = tensor.FMA32(x0, sin[i], float32(x1*cos[i]))
		}
		return
	}
	fused := half &^ 3
	for i := range fused {
		x0, x1 := x[2*i], x[2*i+1]
		x[2*i] = tensor.FMA32(x0, cos[i], -float32(x1*sin[i]))
		x[2*i+1] = tensor.FMA32(x0, sin[i], float32(x1*cos[i]))
	}
	for i := fused; i < half; i++ {
		x0, x1 := x[2*i], x[2*i+1]
		x[2*i] = float32(x0*cos[i]) - float32(x1*sin[i])
		x[2*i+1] = float32(x0*sin[i]) + float32(x1*cos[i])
	}
}

func (s *State) storeKV(l, p int, k, v []float32) {
	kvDim, vDim := len(k), len(v)
	P := s.page
	j, o := p/P, p%P
	if s.quantKeys() {
		kq := k
		if s.kRot > 0 {
			kq = s.kr[:kvDim]
			hadamard(kq, k, s.kRot)
		}
		// the key length is a multiple of 32 (validate)
		_ = tensor.QuantizeKVRow(s.kType, kq, s.kq[l][j][o*s.kqRow:(o+1)*s.kqRow])
	}
	switch {
	case s.vq != nil:
		// flash attention: the values' row rotated, then quantized (the
		// value length is a multiple of 32, validate)
		vq := v
		if s.vRot > 0 {
			vq = s.vr[:vDim]
			hadamard(vq, v, s.vRot)
		}
		_ = tensor.QuantizeKVRow(s.kvType, vq, s.vq[l][j][o*s.vqRow:(o+1)*s.vqRow])
		if s.kType == tensor.F16 {
			tensor.F32ToF16Slice(s.kh[l][j][o*kvDim:(o+1)*kvDim], k)
		}
	case s.flash:
		// flash attention over an F16 cache: values as rows
		if !s.quantKeys() {
			tensor.F32ToF16Slice(s.kh[l][j][o*kvDim:(o+1)*kvDim], k)
		}
		tensor.F32ToF16Slice(s.vh[l][j][o*vDim:(o+1)*vDim], v)
	case s.kvType == tensor.F32:
		// the values are kept transposed, one row of page cells per component
		if !s.quantKeys() {
			copy(s.kf[l][j][o*kvDim:(o+1)*kvDim], k)
		}
		vc := s.vf[l][j]
		_ = vc[(vDim-1)*P+o]
		for i, f := range v {
			vc[i*P+o] = f
		}
	default:
		if !s.quantKeys() {
			kd := s.kh[l][j][o*kvDim : (o+1)*kvDim]
			tensor.F32ToF16Slice(kd, k)
		}
		// converted as a row (the vector kernel), then spread over the
		// components' rows
		if cap(s.vt) < vDim {
			s.vt = make([]uint16, vDim)
		}
		vt := s.vt[:vDim]
		tensor.F32ToF16Slice(vt, v)
		vc := s.vh[l][j]
		_ = vc[(vDim-1)*P+o]
		for i, h := range vt {
			vc[i*P+o] = h
		}
	}
	s.vTop[l] = max(s.vTop[l], p+1)
}

// pages returns the number of pages the cache holds (the same in every
// layer).
func (s *State) pages() int {
	switch {
	case s.vf != nil:
		return len(s.vf[0])
	case s.vq != nil:
		return len(s.vq[0])
	}
	return len(s.vh[0])
}

// addPages appends k zeroed pages to every layer's keys and values.
func (s *State) addPages(k int) {
	c, P := s.cfg, s.page
	for l := range c.Layers {
		for range k {
			switch {
			case s.kq != nil:
				s.kq[l] = append(s.kq[l], make([]byte, P*s.kqRow))
			case s.kf != nil:
				s.kf[l] = append(s.kf[l], make([]float32, P*c.KVDim()))
			default:
				s.kh[l] = append(s.kh[l], make([]uint16, P*c.KVDim()))
			}
			switch {
			case s.vf != nil:
				s.vf[l] = append(s.vf[l], make([]float32, P*c.VDim()))
			case s.vq != nil:
				s.vq[l] = append(s.vq[l], make([]byte, P*s.vqRow))
			default:
				s.vh[l] = append(s.vh[l], make([]uint16, P*c.VDim()))
			}
		}
	}
}

// dropPages forgets every page: the cache holds no position.
func (s *State) dropPages() {
	for l := range s.cfg.Layers {
		for _, pl := range []*[][]float32{at(s.kf, l), at(s.vf, l)} {
			if pl != nil {
				clear(*pl)
				*pl = (*pl)[:0]
			}
		}
		for _, pl := range []*[][]uint16{at(s.kh, l), at(s.vh, l)} {
			if pl != nil {
				clear(*pl)
				*pl = (*pl)[:0]
			}
		}
		for _, pl := range []*[][]byte{at(s.kq, l), at(s.vq, l)} {
			if pl != nil {
				clear(*pl)
				*pl = (*pl)[:0]
			}
		}
		s.vTop[l] = 0
	}
}

// at returns &x[l], or nil when x is nil.
func at[T any](x [][]T, l int) *[]T {
	if x == nil {
		return nil
	}
	return &x[l]
}

// qkNorm applies the query/key norms of one token in place: over all heads
// together (olmo2) or per head (qwen3); nothing without QKNorm.
func (c *Config) qkNorm(q, k []float32, w *Layer) {
	switch {
	case !c.QKNorm:
	case c.QKNormFull:
		rmsNorm(q, q, w.QNorm, c.NormEps)
		rmsNorm(k, k, w.KNorm, c.NormEps)
	default:
		for h := 0; h < c.Heads; h++ {
			hq := q[h*c.HeadDim : (h+1)*c.HeadDim]
			rmsNorm(hq, hq, w.QNorm, c.NormEps)
		}
		for h := 0; h < c.KVHeads; h++ {
			hk := k[h*c.HeadDim : (h+1)*c.HeadDim]
			rmsNorm(hk, hk, w.KNorm, c.NormEps)
		}
	}
}
