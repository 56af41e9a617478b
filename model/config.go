// Package model holds the Llama-family transformer: its hyper-parameters read from
// GGUF metadata or a llama2.c header, its weights bound by tensor name, and the
// forward pass that turns token ids into next-token logits.
//
// Supported architectures: "llama" (Llama 2, Llama 3/3.1/3.2 with RoPE frequency
// factors, Mistral, TinyLlama, SmolLM), "qwen2" (attention biases, NEOX RoPE),
// "qwen3" (per-head Q/K RMS norm, NEOX RoPE), "gemma2" (scaled embeddings,
// GeGLU, post-norms, sliding-window layers, attention and logit soft-capping)
// and "gemma3" (gemma2's without attention soft-capping, with Q/K norms and a
// second RoPE base for the sliding-window layers) and "granite" (embedding,
// residual, attention and logit multipliers), "olmo2" (post-norms instead of
// pre-norms, Q/K norms over all heads) , "smollm3" (every fourth layer
// without RoPE), "phi3" (fused QKV and gate-up tensors, LongRoPE), and the
// mixtures of experts "qwen3moe" and "gpt-oss" (attention sinks and biases,
// sliding windows, softmax_weight gating, biased experts, clamped SwiGLU).
// llama2.c checkpoints load as "llama".
package model

import (
	"fmt"

	"glassbox/tensor"
)

// RopeScaling describes how RoPE frequencies are adjusted for long contexts.
type RopeScaling struct {
	// Type is "", "none", "linear", "llama3" (carried by the rope_freqs
	// tensor in GGUF files), "longrope" (carried by the rope_factors_long
	// and rope_factors_short tensors) or "yarn".
	Type string
	// Factor is the context extension factor: linear scaling, LongRoPE and
	// YaRN multiply the angles by the float32 1/Factor (ggml's freq_scale).
	Factor float32
}

// Config holds the hyper-parameters of a model.
type Config struct {
	Arch          string // architecture name, such as "llama"
	Name          string // general.name, if any
	VocabSize     int    // rows of the embedding table
	Dim           int    // width of the residual stream (embedding length)
	HiddenDim     int    // width of the feed-forward layer
	Layers        int    // number of transformer blocks
	Heads         int    // query heads
	KVHeads       int    // key/value heads (grouped-query attention when < Heads)
	HeadDim       int    // width of one query/key head
	ValueDim      int    // width of one value head
	RopeDim       int    // number of dimensions of each head that RoPE rotates
	ContextLength int    // maximum context the model was trained for
	NormEps       float32
	RopeTheta     float32 // RoPE frequency base
	RopeNeox      bool    // rotate halves (NEOX layout) instead of adjacent pairs
	RopeScaling   RopeScaling
	AttnBias      bool // q/k/v projections carry biases (qwen2)
	QKNorm        bool // per-head RMS norm of queries and keys before RoPE (qwen3)
	TiedOutput    bool // the output projection reuses the token embedding table
	FileType      string

	// Gemma 2 and 3 (all zero for the other architectures).

	// EmbedScale multiplies the token embeddings by sqrtf(Dim) (in float32)
	// before the first layer.
	EmbedScale bool
	// GELU gates the feed-forward layer with GELU (tanh approximation, as
	// ggml's CPU table computes it) instead of SiLU: GeGLU.
	GELU bool
	// PostNorms applies an RMS norm to the attention output and to the
	// feed-forward output before each is added to the residual stream
	// (tensors post_attention_norm and post_ffw_norm).
	PostNorms bool
	// QueryScale, when non-zero, multiplies the queries after RoPE, and the
	// attention scores are then not scaled again (Gemma's
	// 1/sqrt(query_pre_attn_scalar)); zero means the usual 1/sqrt(HeadDim)
	// applied to the scores.
	QueryScale float32
	// AttnSoftcap, when non-zero, caps the attention scores to
	// AttnSoftcap·tanh(score/AttnSoftcap) before the softmax (gemma2).
	AttnSoftcap float32
	// FinalSoftcap, when non-zero, caps the logits the same way.
	FinalSoftcap float32
	// SlidingWindow is the number of positions a sliding-window layer
	// attends to (the current one and SlidingWindow-1 before it); 0 when
	// no layer has a window.
	SlidingWindow int
	// SlidingLayers tells, per layer, whether it is a sliding-window layer
	// (nil when SlidingWindow is 0).
	SlidingLayers []bool
	// RopeThetaLocal and RopeScalingLocal are the RoPE base and scaling of
	// the sliding-window layers (the others use RopeTheta and RopeScaling).
	RopeThetaLocal   float32
	RopeScalingLocal RopeScaling

	// Granite (all zero for the other architectures).

	// EmbedMul, when non-zero, multiplies the token embeddings
	// (granite.embedding_scale).
	EmbedMul float32
	// ResidualMul, when non-zero, multiplies the attention and feed-forward
	// outputs before each is added to the residual stream
	// (granite.residual_scale).
	ResidualMul float32
	// LogitScale, when non-zero, divides the logits: they are multiplied by
	// the float32 1/LogitScale (granite.logit_scale).
	LogitScale float32
	// AttnScale, when non-zero, replaces 1/sqrt(HeadDim) as the scale of the
	// attention scores (granite.attention.scale).
	AttnScale float32
	// NoRopeStep, when non-zero, leaves every NoRopeStep-th layer (layers
	// l with (l+1) % NoRopeStep == 0) without RoPE: 4 for smollm3, 1 for a
	// granite file whose rope.scaling.finetuned is false.
	NoRopeStep int

	// OLMo 2 (false for the other architectures).

	// NoPreNorms leaves out the RMS norms before attention and before the
	// feed-forward layer (attn_norm, ffn_norm): the layers see the residual
	// stream itself, and only the post-norms (PostNorms) normalize.
	NoPreNorms bool
	// QKNormFull applies the query and key RMS norms (QKNorm) over all the
	// heads of a position together (weights of QDim and KVDim values)
	// instead of over each head.
	QKNormFull bool

	// Phi-3 (zero for the other architectures).

	// FusedGateUp tells that files store the gate and up projections as one
	// ffn_up.weight of 2·HiddenDim rows, gate first (phi3).
	FusedGateUp bool
	// RopeAttnFactor, when non-zero, multiplies RoPE's cosines and sines
	// (rope.scaling.attn_factor, as ggml's mscale).
	RopeAttnFactor float32
	// RopeOrigContext is the context the model was trained for before
	// LongRoPE extension (rope.scaling.original_context_length; 0 when the
	// file does not say, meaning ContextLength): a State with a larger
	// context uses the long factors. YaRN's correction range is computed
	// from it too (ggml's n_ctx_orig).
	RopeOrigContext int

	// YaRN (zero unless rope.scaling.type is "yarn"). As in llama.cpp, they
	// apply to every layer (sliding-window layers included), while the
	// factor is the layer's (RopeScaling or RopeScalingLocal).

	// RopeExtFactor is YaRN's extrapolation mix (ggml's ext_factor): the
	// angles of the dimensions whose wavelength is short compared with the
	// original context keep their unscaled values, those whose wavelength
	// is long are interpolated, with a linear ramp between; when non-zero
	// the cosines and sines are also multiplied by 1 + 0.1·ln(Factor).
	// llama.cpp sets it to 1 for YaRN files (it reads no metadata for it
	// in the architectures supported here).
	RopeExtFactor float32
	// RopeBetaFast and RopeBetaSlow bound the ramp: the dimensions that
	// turn more than RopeBetaFast times over the original context are
	// extrapolated, those that turn less than RopeBetaSlow times are
	// interpolated (llama.cpp's defaults, 32 and 1).
	RopeBetaFast, RopeBetaSlow float32
	// Mixture of experts (qwen3moe; zero for dense models).

	// Experts, when non-zero, replaces every layer's feed-forward network
	// by Experts of them (expert_count), each a SwiGLU of HiddenDim
	// (expert_feed_forward_length), their weights in 3-D tensors
	// ffn_gate_exps, ffn_up_exps and ffn_down_exps; a router
	// (ffn_gate_inp) scores them for each token.
	Experts int
	// ExpertsUsed is the number of experts the router picks for each token
	// (expert_used_count): the highest of the softmax of its scores.
	ExpertsUsed int
	// ExpertsNorm divides the picked experts' probabilities by their sum
	// before they weigh the experts' outputs (qwen3moe always does).
	ExpertsNorm bool
	// ExpertsSoftmaxWeight changes the router's gating to llama.cpp's
	// softmax_weight (gpt-oss): the ExpertsUsed experts of highest score
	// are picked from the scores themselves, and their weights are the
	// softmax of their scores alone.
	ExpertsSoftmaxWeight bool
	// ExpertsBias adds biases to the router's scores (ffn_gate_inp.bias)
	// and to each expert's gate, up and down products (ffn_gate_exps.bias,
	// ffn_up_exps.bias, ffn_down_exps.bias: one row per expert), as
	// ggml_add and ggml_add_id (gpt-oss).
	ExpertsBias bool

	// gpt-oss (false for the other architectures).

	// SwiGLUOAI replaces SwiGLU by gpt-oss's clamped variant (ggml's
	// swiglu_oai with alpha 1.702 and limit 7): the gate g clamped above
	// at 7, the up value u to [-7, 7], out = g·σ(1.702·g)·(u + 1).
	SwiGLUOAI bool
	// AttnSinks gives every head a learned sink logit (attn_sinks.weight,
	// one per head) that takes part in the softmax of the attention scores
	// without a value: the weights of the positions sum to less than 1.
	AttnSinks bool
	// AttnOutBias adds a bias to the attention output projection
	// (attn_output.bias).
	AttnOutBias bool
}

// swigluOAIAlpha and swigluOAILimit are gpt-oss's clamped SwiGLU constants
// (fixed in llama.cpp's graph, not read from files; the limit is a
// variable so that the tests can lift it).
const swigluOAIAlpha = 1.702

var swigluOAILimit float32 = 7

// MoE reports whether the feed-forward layers are mixtures of experts.
func (c *Config) MoE() bool { return c.Experts > 0 }

// ffnRows returns the width of the feed-forward activations of one token:
// HiddenDim, or HiddenDim for each of the ExpertsUsed experts.
func (c *Config) ffnRows() int {
	if c.MoE() {
		return c.HiddenDim * c.ExpertsUsed
	}
	return c.HiddenDim
}

// maxExperts is the largest expert count accepted (llama.cpp's
// LLAMA_MAX_EXPERTS).
const maxExperts = 1024

// HasRope reports whether layer l rotates its queries and keys.
func (c *Config) HasRope(l int) bool {
	return c.NoRopeStep <= 0 || (l+1)%c.NoRopeStep != 0
}

// Sliding reports whether layer l attends through a sliding window.
func (c *Config) Sliding(l int) bool {
	return c.SlidingWindow > 0 && l >= 0 && l < len(c.SlidingLayers) && c.SlidingLayers[l]
}

// AttnWindow returns the number of positions layer l attends to (the current
// one included), or 0 when the layer attends to the whole context.
func (c *Config) AttnWindow(l int) int {
	if c.Sliding(l) {
		return c.SlidingWindow
	}
	return 0
}

// layerRope returns the RoPE base and scaling of layer l.
func (c *Config) layerRope(l int) (float32, RopeScaling) {
	if c.Sliding(l) {
		return c.RopeThetaLocal, c.RopeScalingLocal
	}
	return c.RopeTheta, c.RopeScaling
}

// QDim returns the width of all query heads together.
func (c *Config) QDim() int { return c.Heads * c.HeadDim }

// KVDim returns the width of all key heads together.
func (c *Config) KVDim() int { return c.KVHeads * c.HeadDim }

// VDim returns the width of all value heads together.
func (c *Config) VDim() int { return c.KVHeads * c.ValueDim }

// Validate checks that the hyper-parameters are consistent and usable.
func (c *Config) Validate() error {
	switch {
	case c.Dim <= 0:
		return fmt.Errorf("embedding length must be positive, got %d", c.Dim)
	case c.Layers <= 0:
		return fmt.Errorf("block count must be positive, got %d", c.Layers)
	case c.Heads <= 0:
		return fmt.Errorf("head count must be positive, got %d", c.Heads)
	case c.KVHeads <= 0 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("head count %d must be a positive multiple of the key/value head count %d", c.Heads, c.KVHeads)
	case c.HeadDim <= 0 || c.ValueDim <= 0:
		return fmt.Errorf("head width must be positive, got key %d value %d", c.HeadDim, c.ValueDim)
	case c.RopeDim <= 0 || c.RopeDim > c.HeadDim || c.RopeDim%2 != 0:
		return fmt.Errorf("rope dimension count %d must be even and at most the head width %d", c.RopeDim, c.HeadDim)
	case c.HiddenDim <= 0:
		return fmt.Errorf("feed-forward length must be positive, got %d", c.HiddenDim)
	case c.VocabSize <= 0:
		return fmt.Errorf("vocabulary size must be positive, got %d", c.VocabSize)
	case c.ContextLength <= 0:
		return fmt.Errorf("context length must be positive, got %d", c.ContextLength)
	case !(c.NormEps > 0):
		return fmt.Errorf("norm epsilon must be positive, got %g", c.NormEps)
	case !(c.RopeTheta > 0):
		return fmt.Errorf("rope frequency base must be positive, got %g", c.RopeTheta)
	case c.SlidingWindow < 0:
		return fmt.Errorf("sliding window must not be negative, got %d", c.SlidingWindow)
	case c.SlidingWindow > 0 && len(c.SlidingLayers) != c.Layers:
		return fmt.Errorf("sliding-window pattern has %d layers, the model %d", len(c.SlidingLayers), c.Layers)
	case c.SlidingWindow > 0 && !(c.RopeThetaLocal > 0):
		return fmt.Errorf("rope frequency base of the sliding-window layers must be positive, got %g", c.RopeThetaLocal)
	case c.EmbedMul < 0 || c.ResidualMul < 0 || c.LogitScale < 0 || c.AttnScale < 0 || c.NoRopeStep < 0:
		return fmt.Errorf("granite multipliers must not be negative, got embedding %g, residual %g, logit %g, attention %g, no-RoPE step %d",
			c.EmbedMul, c.ResidualMul, c.LogitScale, c.AttnScale, c.NoRopeStep)
	case !(c.RopeScaling.Factor >= 0) || c.RopeScaling.Factor > 1e6 || !(c.RopeScalingLocal.Factor >= 0) || c.RopeScalingLocal.Factor > 1e6:
		return fmt.Errorf("rope scaling factor must be between 0 and 1e6, got %g (sliding-window layers %g)", c.RopeScaling.Factor, c.RopeScalingLocal.Factor)
	case c.RopeExtFactor != 0 && !(c.RopeBetaFast > 0 && c.RopeBetaSlow > 0 && c.RopeExtFactor > 0 && c.RopeExtFactor <= 1):
		return fmt.Errorf("YaRN parameters out of range: extrapolation mix %g (want (0, 1]), ramp %g..%g (want positive)", c.RopeExtFactor, c.RopeBetaFast, c.RopeBetaSlow)
	case c.RopeOrigContext < 0:
		return fmt.Errorf("original context length must not be negative, got %d", c.RopeOrigContext)
	case c.Experts < 0 || c.Experts > maxExperts:
		return fmt.Errorf("expert count must be between 0 and %d, got %d", maxExperts, c.Experts)
	case c.MoE() && (c.ExpertsUsed <= 0 || c.ExpertsUsed > c.Experts):
		return fmt.Errorf("experts used per token must be between 1 and the expert count %d, got %d", c.Experts, c.ExpertsUsed)
	case !c.MoE() && c.ExpertsUsed != 0:
		return fmt.Errorf("experts used per token is %d in a model without experts", c.ExpertsUsed)
	case (c.ExpertsSoftmaxWeight || c.ExpertsBias) && !c.MoE():
		return fmt.Errorf("router gating or expert biases set in a model without experts")
	case c.AttnSoftcap < 0 || c.FinalSoftcap < 0 || c.QueryScale < 0:
		return fmt.Errorf("soft-capping and query scale must not be negative, got %g, %g, %g", c.AttnSoftcap, c.FinalSoftcap, c.QueryScale)
	}
	const maxDim = 1 << 20
	if c.Dim > maxDim || c.HiddenDim > maxDim || c.Heads > 4096 || c.Layers > 4096 || c.VocabSize > 1<<24 {
		return fmt.Errorf("implausible model shape: dim %d, ffn %d, heads %d, layers %d, vocab %d", c.Dim, c.HiddenDim, c.Heads, c.Layers, c.VocabSize)
	}
	return nil
}

// Params counts the parameters of the weights described by the config.
func (c *Config) Params() int64 {
	var n int64
	for _, r := range c.Tensors() {
		n += int64(r.Cols) * int64(r.Rows) // stacked experts' rows included
	}
	return n
}

// KVCacheType is the element type of the key/value cache.
type KVCacheType = tensor.Type
