package model

import "glassbox/tensor"

// Tracer observes a forward pass without changing what it computes. Set it on
// a State (State.Tracer) to record positions of interest; a nil Tracer costs a
// nil check per layer.
type Tracer interface {
	// Position reports whether position pos is to be recorded.
	Position(pos int) bool
	// Attention receives, for a recorded position, one head's attention
	// weights over positions 0..pos exactly as they multiplied the cached
	// values (rounded to F16 with an F16 cache), and the head's output. In a
	// sliding-window layer (Config.AttnWindow) the positions before the
	// window have weight 0.
	Attention(layer, head, pos int, weights, out []float32)
	// Residual receives the residual stream of a recorded position after a layer.
	Residual(layer, pos int, x []float32)
}

// SinkTracer is a Tracer that also receives, for models with attention
// sinks (Config.AttnSinks, gpt-oss), the share of each recorded head's
// softmax its sink took (the weights Attention received sum to 1 minus it),
// right after that head's Attention call.
type SinkTracer interface {
	Tracer
	AttentionSink(layer, head, pos int, share float32)
}

// ScoreTracer is a Tracer that also receives, for models with attention
// soft-capping (Config.AttnSoftcap, gemma2) and without flash attention, a
// recorded head's attention scores over positions 0..pos, right after its
// Attention call: raw, the query·key products, and capped, AttnSoftcap·
// tanh(raw/AttnSoftcap), which the softmax took (times the softmax scale,
// 1 when the queries are pre-scaled, as gemma2's are). Positions before a
// sliding window hold 0 in both.
type ScoreTracer interface {
	Tracer
	AttentionScores(layer, head, pos int, raw, capped []float32)
}

// LogitTracer is a Tracer that also receives, for models with final logit
// soft-capping (Config.FinalSoftcap, gemma2), a recorded position's
// next-token logits as the output projection computed them, just before the
// engine replaces each by FinalSoftcap·tanh(logit/FinalSoftcap). It is not
// called for models that do not cap.
type LogitTracer interface {
	Tracer
	UncappedLogits(pos int, logits []float32)
}

// capLogits soft-caps the next-token logits of position pos (predicting
// pos+1), first showing them to a LogitTracer that records pos.
func capLogits(tr Tracer, pos int, logits []float32, capv float32) {
	if capv == 0 {
		return
	}
	if lt, ok := tr.(LogitTracer); ok && lt.Position(pos) {
		lt.UncappedLogits(pos, logits)
	}
	softcap(logits, capv)
}

// LogitLens applies the final norm and the output projection to a hidden
// state x, writing VocabSize logits into out: what the model would predict if
// it stopped where x was taken. normed is scratch of Dim values. On the last
// layer's residual stream it reproduces the real logits exactly (final
// soft-capping included).
func (m *Model) LogitLens(out, x, normed []float32) {
	rmsNorm(normed, x, m.OutputNorm, m.Config.NormEps)
	tensor.MatVec(out, m.Output, normed)
	softcap(out, m.Config.FinalSoftcap)
}

// EmbeddingRow writes the embedding table's row for token id into dst (Dim
// values), before the sqrt(Dim) scaling of the models that scale it (gemma).
func (m *Model) EmbeddingRow(id int, dst []float32) { m.TokenEmbedding.Row(id, dst) }

// EmbeddingRows writes the embedding table's rows for tokens [lo, hi) into
// dst, one after the other ((hi-lo)·Dim values): EmbeddingRow for a sweep
// over many tokens, whose pages of a mapped file are released once.
func (m *Model) EmbeddingRows(lo, hi int, dst []float32) { m.TokenEmbedding.RowRange(lo, hi, dst) }

// CachedValue writes the cached value vector of one KV head at a position into
// dst (ValueDim values), as the attention reads it (a quantized value
// dequantized and rotated back: the attention output is rotated back the
// same way).
func (s *State) CachedValue(layer, pos, kvHead int, dst []float32) {
	vd, P := s.cfg.ValueDim, s.page
	switch {
	case s.vq != nil:
		tensor.DequantizeKVRow(s.kvType, s.vq[layer][pos/P][(pos%P)*s.vqRow+kvHead*s.vqHd:][:s.vqHd], dst[:vd])
		s.unrotateOut(dst)
		return
	case s.flash:
		row := s.vh[layer][pos/P][(pos%P)*s.cfg.VDim()+kvHead*vd:][:vd]
		for i, h := range row {
			dst[i] = tensor.F16ToF32(h)
		}
		return
	}
	if s.kvType == tensor.F32 {
		vc := s.vf[layer][pos/P]
		for i := range dst[:vd] {
			dst[i] = vc[(kvHead*vd+i)*P+pos%P]
		}
		return
	}
	vc := s.vh[layer][pos/P]
	for i := range dst[:vd] {
		dst[i] = tensor.F16ToF32(vc[(kvHead*vd+i)*P+pos%P])
	}
}
