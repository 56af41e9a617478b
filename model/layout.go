package model

import (
	"fmt"
	"strconv"

	"glassbox/tensor"
)

// The GGUF names of the Llama-family weights. Per-layer names are prefixed with
// "blk.N." in files (see LayerName).
const (
	NameTokenEmbd  = "token_embd.weight"
	NameOutputNorm = "output_norm.weight"
	NameOutput     = "output.weight"
	NameRopeFreqs  = "rope_freqs.weight"
	NameRopeLong   = "rope_factors_long.weight"  // phi3 LongRoPE factors beyond the original context
	NameRopeShort  = "rope_factors_short.weight" // and within it
	NameAttnQKV    = "attn_qkv.weight"           // phi3: attn_q, attn_k, attn_v fused (rows in that order)
	NameAttnNorm   = "attn_norm.weight"
	NameAttnQ      = "attn_q.weight"
	NameAttnK      = "attn_k.weight"
	NameAttnV      = "attn_v.weight"
	NameAttnQBias  = "attn_q.bias"
	NameAttnKBias  = "attn_k.bias"
	NameAttnVBias  = "attn_v.bias"
	NameAttnQNorm  = "attn_q_norm.weight"
	NameAttnKNorm  = "attn_k_norm.weight"
	NameAttnOutput = "attn_output.weight"
	NameAttnPost   = "post_attention_norm.weight" // gemma2/gemma3
	NameFFNNorm    = "ffn_norm.weight"
	NameFFNGate    = "ffn_gate.weight"
	NameFFNUp      = "ffn_up.weight"
	NameFFNDown    = "ffn_down.weight"
	NameFFNPost    = "post_ffw_norm.weight" // gemma2/gemma3
	NameFFNGateInp = "ffn_gate_inp.weight"  // MoE router
	NameFFNGateExp = "ffn_gate_exps.weight" // MoE: the experts' gate projections, stacked
	NameFFNUpExp   = "ffn_up_exps.weight"
	NameFFNDownExp = "ffn_down_exps.weight"
	// gpt-oss
	NameAttnOutBias = "attn_output.bias"
	NameAttnSinks   = "attn_sinks.weight"  // one sink logit per head
	NameFFNGateInpB = "ffn_gate_inp.bias"  // router bias
	NameFFNGateExpB = "ffn_gate_exps.bias" // experts' biases, one row per expert
	NameFFNUpExpB   = "ffn_up_exps.bias"
	NameFFNDownExpB = "ffn_down_exps.bias"
)

// LayerName returns the file name of per-layer tensor name in layer l.
func LayerName(l int, name string) string { return "blk." + strconv.Itoa(l) + "." + name }

// TensorSpec describes one weight tensor of the layout: its name, shape, when
// a model carries it, and the Model field it is bound to. It is the one
// description of the Llama-family GGUF layout: loading (GGUF and llama2.c),
// writing (WriteGGUF), parameter counts and the training model all derive
// from it.
type TensorSpec struct {
	// Name is the GGUF name, without the "blk.N." prefix of per-layer tensors.
	Name string
	// HFName is the Hugging Face transformers name; %d stands for the layer.
	HFName string
	// PerLayer tells whether every transformer block has its own copy.
	PerLayer bool
	// Shape gives the row length (cols) and the number of rows the config
	// implies; rows is 1 for a vector (a norm weight or a bias), the
	// expert count for the experts' biases (one row per expert).
	Shape func(c *Config) (cols, rows int)
	// In reports whether a model of config c carries the tensor (nil:
	// always). Writers write exactly those tensors, and the loader requires
	// them (unless Alt stands in); others are bound when a file has them.
	In func(c *Config) bool
	// Alt names the tensor bound in this one's place when a file lacks it
	// (tied output weights).
	Alt string
	// Stacked marks a 3-D tensor holding one matrix per expert (GGML dims
	// [cols rows Experts]); Shape gives one expert's matrix.
	Stacked bool
	// Extra marks a tensor a file may carry beyond the weights the config
	// implies (llama3's RoPE frequency factors): bound when present, never
	// counted or written.
	Extra bool

	mat func(m *Model, l *Layer) **tensor.Matrix // the field of a matrix
	vec func(m *Model, l *Layer) *[]float32      // the field of a vector
	// mats is the field of a stacked tensor's matrices, one per expert.
	mats func(l *Layer) *[]*tensor.Matrix
}

// Vector tells whether the tensor is a vector (stored as F32 by the
// writers and dequantized to []float32 when loaded): one-dimensional, or,
// for the experts' biases, one row per expert.
func (s *TensorSpec) Vector() bool { return s.vec != nil }

// Router tells whether the tensor is a mixture-of-experts router
// (ffn_gate_inp), which llama.cpp's converter and quantizer keep in F32.
func (s *TensorSpec) Router() bool { return s.Name == NameFFNGateInp }

// carried reports whether a model of config c carries the tensor.
func (s *TensorSpec) carried(c *Config) bool { return !s.Extra && (s.In == nil || s.In(c)) }

// layout is the Llama-family layout in file order: the global tensors before
// the blocks, the block's tensors, then the global tensors after them. The
// architectures of families switch tensors on and off through Config.
var layout = []TensorSpec{
	{Name: NameTokenEmbd, HFName: "model.embed_tokens.weight",
		Shape: func(c *Config) (int, int) { return c.Dim, c.VocabSize },
		mat:   func(m *Model, _ *Layer) **tensor.Matrix { return &m.TokenEmbedding }},

	{Name: NameAttnNorm, HFName: "model.layers.%d.input_layernorm.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, 1 }, In: hasPreNorms,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.AttnNorm }},
	{Name: NameAttnQ, HFName: "model.layers.%d.self_attn.q_proj.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.QDim() },
		mat:   func(_ *Model, l *Layer) **tensor.Matrix { return &l.Wq }},
	{Name: NameAttnK, HFName: "model.layers.%d.self_attn.k_proj.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.KVDim() },
		mat:   func(_ *Model, l *Layer) **tensor.Matrix { return &l.Wk }},
	{Name: NameAttnV, HFName: "model.layers.%d.self_attn.v_proj.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.VDim() },
		mat:   func(_ *Model, l *Layer) **tensor.Matrix { return &l.Wv }},
	{Name: NameAttnQBias, HFName: "model.layers.%d.self_attn.q_proj.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.QDim(), 1 }, In: hasAttnBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.Bq }},
	{Name: NameAttnKBias, HFName: "model.layers.%d.self_attn.k_proj.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.KVDim(), 1 }, In: hasAttnBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.Bk }},
	{Name: NameAttnVBias, HFName: "model.layers.%d.self_attn.v_proj.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.VDim(), 1 }, In: hasAttnBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.Bv }},
	{Name: NameAttnQNorm, HFName: "model.layers.%d.self_attn.q_norm.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return qkNormWidth(c, c.QDim()), 1 }, In: hasQKNorm,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.QNorm }},
	{Name: NameAttnKNorm, HFName: "model.layers.%d.self_attn.k_norm.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return qkNormWidth(c, c.KVDim()), 1 }, In: hasQKNorm,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.KNorm }},
	{Name: NameAttnOutput, HFName: "model.layers.%d.self_attn.o_proj.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.QDim(), c.Dim },
		mat:   func(_ *Model, l *Layer) **tensor.Matrix { return &l.Wo }},
	{Name: NameAttnOutBias, HFName: "model.layers.%d.self_attn.o_proj.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, 1 }, In: hasAttnOutBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.Bo }},
	{Name: NameAttnSinks, HFName: "model.layers.%d.self_attn.sinks", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Heads, 1 }, In: hasAttnSinks,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.Sinks }},
	// Gemma's HF names: its pre-FFN norm (ffn_norm) is pre_feedforward_layernorm
	// there, a name this table does not give.
	{Name: NameAttnPost, HFName: "model.layers.%d.post_attention_layernorm.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, 1 }, In: hasPostNorms,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.AttnPostNorm }},
	{Name: NameFFNNorm, HFName: "model.layers.%d.post_attention_layernorm.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, 1 }, In: hasPreNorms,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.FFNNorm }},
	{Name: NameFFNGate, HFName: "model.layers.%d.mlp.gate_proj.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.HiddenDim }, In: isDense,
		mat: func(_ *Model, l *Layer) **tensor.Matrix { return &l.W1 }},
	{Name: NameFFNUp, HFName: "model.layers.%d.mlp.up_proj.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.HiddenDim }, In: isDense,
		mat: func(_ *Model, l *Layer) **tensor.Matrix { return &l.W3 }},
	{Name: NameFFNDown, HFName: "model.layers.%d.mlp.down_proj.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.HiddenDim, c.Dim }, In: isDense,
		mat: func(_ *Model, l *Layer) **tensor.Matrix { return &l.W2 }},
	// Mixture of experts: the router, then each expert's SwiGLU (Hugging
	// Face stores the experts one by one: experts.N.gate_proj etc.).
	{Name: NameFFNGateInp, HFName: "model.layers.%d.mlp.gate.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.Experts }, In: isMoE,
		mat: func(_ *Model, l *Layer) **tensor.Matrix { return &l.Router }},
	{Name: NameFFNGateExp, HFName: "model.layers.%d.mlp.experts.gate_proj.weight", PerLayer: true, Stacked: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.HiddenDim }, In: isMoE,
		mats: func(l *Layer) *[]*tensor.Matrix { return &l.GateExps }},
	{Name: NameFFNUpExp, HFName: "model.layers.%d.mlp.experts.up_proj.weight", PerLayer: true, Stacked: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.HiddenDim }, In: isMoE,
		mats: func(l *Layer) *[]*tensor.Matrix { return &l.UpExps }},
	{Name: NameFFNDownExp, HFName: "model.layers.%d.mlp.experts.down_proj.weight", PerLayer: true, Stacked: true,
		Shape: func(c *Config) (int, int) { return c.HiddenDim, c.Dim }, In: isMoE,
		mats: func(l *Layer) *[]*tensor.Matrix { return &l.DownExps }},
	// gpt-oss's router and expert biases; the experts' are 2-D, one row
	// per expert
	{Name: NameFFNGateInpB, HFName: "model.layers.%d.mlp.router.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Experts, 1 }, In: hasExpertsBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.RouterBias }},
	{Name: NameFFNGateExpB, HFName: "model.layers.%d.mlp.experts.gate_proj.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.HiddenDim, c.Experts }, In: hasExpertsBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.GateExpsBias }},
	{Name: NameFFNUpExpB, HFName: "model.layers.%d.mlp.experts.up_proj.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.HiddenDim, c.Experts }, In: hasExpertsBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.UpExpsBias }},
	{Name: NameFFNDownExpB, HFName: "model.layers.%d.mlp.experts.down_proj.bias", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, c.Experts }, In: hasExpertsBias,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.DownExpsBias }},
	{Name: NameFFNPost, HFName: "model.layers.%d.post_feedforward_layernorm.weight", PerLayer: true,
		Shape: func(c *Config) (int, int) { return c.Dim, 1 }, In: hasPostNorms,
		vec: func(_ *Model, l *Layer) *[]float32 { return &l.FFNPostNorm }},

	{Name: NameOutputNorm, HFName: "model.norm.weight",
		Shape: func(c *Config) (int, int) { return c.Dim, 1 },
		vec:   func(m *Model, _ *Layer) *[]float32 { return &m.OutputNorm }},
	{Name: NameOutput, HFName: "lm_head.weight", Alt: NameTokenEmbd,
		Shape: func(c *Config) (int, int) { return c.Dim, c.VocabSize },
		In:    func(c *Config) bool { return !c.TiedOutput },
		mat:   func(m *Model, _ *Layer) **tensor.Matrix { return &m.Output }},
	{Name: NameRopeFreqs, Extra: true,
		Shape: func(c *Config) (int, int) { return c.RopeDim / 2, 1 },
		vec:   func(m *Model, _ *Layer) *[]float32 { return &m.RopeFreqs }},
	{Name: NameRopeLong, Extra: true,
		Shape: func(c *Config) (int, int) { return c.RopeDim / 2, 1 },
		vec:   func(m *Model, _ *Layer) *[]float32 { return &m.RopeLong }},
	{Name: NameRopeShort, Extra: true,
		Shape: func(c *Config) (int, int) { return c.RopeDim / 2, 1 },
		vec:   func(m *Model, _ *Layer) *[]float32 { return &m.RopeShort }},
}

func hasAttnBias(c *Config) bool    { return c.AttnBias }
func hasQKNorm(c *Config) bool      { return c.QKNorm }
func hasPostNorms(c *Config) bool   { return c.PostNorms }
func hasPreNorms(c *Config) bool    { return !c.NoPreNorms }
func isMoE(c *Config) bool          { return c.MoE() }
func hasAttnOutBias(c *Config) bool { return c.AttnOutBias }
func hasAttnSinks(c *Config) bool   { return c.AttnSinks }
func hasExpertsBias(c *Config) bool { return c.ExpertsBias }
func isDense(c *Config) bool        { return !c.MoE() }

// qkNormWidth returns the width of the query or key norm weights: one head
// (HeadDim), or all heads together (full) when c.QKNormFull.
func qkNormWidth(c *Config, full int) int {
	if c.QKNormFull {
		return full
	}
	return c.HeadDim
}

// Spec returns the layout entry of the tensor called name (without the
// "blk.N." prefix of per-layer tensors). The entry is shared: callers must not
// modify it.
func Spec(name string) (*TensorSpec, bool) {
	for i := range layout {
		if layout[i].Name == name {
			return &layout[i], true
		}
	}
	return nil, false
}

// TensorRef is one tensor of a model of a given config: a layout entry
// resolved for one layer, with its shape.
type TensorRef struct {
	Spec  *TensorSpec // shared layout entry: not to be modified
	Name  string      // file name ("blk.N."-prefixed for per-layer tensors)
	Layer int         // block index, or -1 for a global tensor
	Cols  int         // row length
	Rows  int         // 1 for a vector; all the experts' rows of a stacked tensor
	// Experts is the number of matrices of a stacked tensor (Rows/Experts
	// rows each), 0 for the others.
	Experts int
}

// Dims returns the tensor's GGML dimensions: [Cols] for a vector, [Cols
// Rows] for a matrix, [Cols Rows/Experts Experts] for a stacked tensor.
func (r TensorRef) Dims() []uint64 {
	switch {
	case r.Spec.Vector() && r.Rows == 1:
		return []uint64{uint64(r.Cols)}
	case r.Experts > 0:
		return []uint64{uint64(r.Cols), uint64(r.Rows / r.Experts), uint64(r.Experts)}
	}
	return []uint64{uint64(r.Cols), uint64(r.Rows)}
}

// HFName returns the tensor's Hugging Face transformers name.
func (r TensorRef) HFName() string {
	if r.Spec.PerLayer {
		return fmt.Sprintf(r.Spec.HFName, r.Layer)
	}
	return r.Spec.HFName
}

// Tensors lists the weights a model of config c carries, in file order: the
// global tensors before the blocks, every block's tensors, then the global
// tensors after them.
func (c *Config) Tensors() []TensorRef {
	return c.tensors(func(s *TensorSpec) bool { return s.carried(c) })
}

// tensors lists the layout entries keep selects, resolved for every layer.
func (c *Config) tensors(keep func(*TensorSpec) bool) []TensorRef {
	var refs []TensorRef
	ref := func(s *TensorSpec, l int) TensorRef {
		cols, rows := s.Shape(c)
		name := s.Name
		if l >= 0 {
			name = LayerName(l, s.Name)
		}
		if s.Stacked {
			return TensorRef{Spec: s, Name: name, Layer: l, Cols: cols, Rows: rows * c.Experts, Experts: c.Experts}
		}
		return TensorRef{Spec: s, Name: name, Layer: l, Cols: cols, Rows: rows}
	}
	for i := 0; i < len(layout); {
		if !layout[i].PerLayer {
			if s := &layout[i]; keep(s) {
				refs = append(refs, ref(s, -1))
			}
			i++
			continue
		}
		end := i
		for end < len(layout) && layout[end].PerLayer {
			end++
		}
		for l := 0; l < c.Layers; l++ {
			for j := i; j < end; j++ {
				if s := &layout[j]; keep(s) {
					refs = append(refs, ref(s, l))
				}
			}
		}
		i = end
	}
	return refs
}
