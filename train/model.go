package train

import (
	"fmt"
	"math"

	"glassbox/model"
)

// ModelConfig is the shape of a Llama-architecture model.
type ModelConfig struct {
	Vocab     int     `json:"vocab_size"`
	Dim       int     `json:"dim"`
	Layers    int     `json:"layers"`
	Heads     int     `json:"heads"`
	KVHeads   int     `json:"kv_heads"`
	Hidden    int     `json:"ffn_hidden"`
	Context   int     `json:"context"`
	RopeTheta float64 `json:"rope_theta"`
	NormEps   float64 `json:"norm_eps"`
	// UntiedOutput gives the model its own output projection (output.weight)
	// instead of reusing the token embeddings, as most published Llama
	// models have; trained-from-scratch models keep them tied.
	UntiedOutput bool `json:"untied_output,omitempty"`
}

// Validate reports whether the shape is usable.
func (c ModelConfig) Validate() error {
	switch {
	case c.Vocab < 2 || c.Dim < 2 || c.Layers < 1 || c.Hidden < 1 || c.Context < 2:
		return fmt.Errorf("train: model shape must have vocab ≥ 2, dim ≥ 2, layers ≥ 1, hidden ≥ 1, context ≥ 2; got %+v", c)
	case c.Heads < 1 || c.KVHeads < 1 || c.Dim%c.Heads != 0 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("train: heads %d must divide dim %d and be a multiple of kv_heads %d", c.Heads, c.Dim, c.KVHeads)
	case (c.Dim/c.Heads)%2 != 0:
		return fmt.Errorf("train: head width %d must be even for RoPE", c.Dim/c.Heads)
	case !(c.RopeTheta > 0) || !(c.NormEps > 0):
		return fmt.Errorf("train: rope_theta and norm_eps must be positive, got %g and %g", c.RopeTheta, c.NormEps)
	}
	return nil
}

// HeadDim is the width of one attention head.
func (c ModelConfig) HeadDim() int { return c.Dim / c.Heads }

// Param is one named weight tensor; names are the GGUF tensor names.
type Param[F Float] struct {
	Name string
	T    *Tensor[F]
	// Decay tells whether AdamW's weight decay applies (matrices yes, norms no).
	Decay bool
}

// Model holds the weights of a Llama model (with tied input and output
// embeddings unless Config.UntiedOutput), in a fixed order (the order of
// Params). A reward model (AddRewardHead) has one more parameter, the
// scalar head.
type Model[F Float] struct {
	Config ModelConfig
	Params []Param[F]

	embed  *Tensor[F]
	layers []layerParams[F]
	norm   *Tensor[F]
	output *Tensor[F] // nil when tied to embed
	head   *Tensor[F] // reward head (1×dim), nil for a language model
	rope   *ropeTable[F]

	// LoRA (NewLoRA): the frozen base and its per-block weights; nil for
	// a fully trained model. The norms of layers and norm then hold the
	// base's values without gradients, and Params holds the adapters.
	base   *frozenBase[F]
	frozen []frozenLayer[F]
}

type layerParams[F Float] struct {
	attnNorm, wq, wk, wv, wo, ffnNorm, gate, up, down *Tensor[F]
}

// NewModel allocates a model of shape c with weights initialised from rng:
// matrices N(0, 0.02²), output projections (attn_output, ffn_down) scaled
// by 1/√(2·layers), norms 1.
func NewModel[F Float](c ModelConfig, rng *RNG) (*Model[F], error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := &Model[F]{Config: c}
	ec := c.EngineConfig()
	m.layers = make([]layerParams[F], c.Layers)
	scaled := map[*Tensor[F]]bool{} // output projections, initialised with a smaller σ
	for _, r := range ec.Tensors() {
		t := newTensor[F](r.Rows, r.Cols)
		m.Params = append(m.Params, Param[F]{Name: r.Name, T: t, Decay: !r.Spec.Vector()})
		l := new(layerParams[F])
		if r.Layer >= 0 {
			l = &m.layers[r.Layer]
		}
		field, ok := m.slots(l)[r.Spec.Name]
		if !ok {
			return nil, fmt.Errorf("train: tensor %s of the layout is not trained", r.Name)
		}
		*field = t
		scaled[t] = r.Spec.Name == model.NameAttnOutput || r.Spec.Name == model.NameFFNDown
	}
	resid := 0.02 / math.Sqrt(2*float64(c.Layers))
	for _, p := range m.Params {
		switch {
		case !p.Decay:
			for i := range p.T.Data {
				p.T.Data[i] = 1
			}
		default:
			std := 0.02
			if scaled[p.T] {
				std = resid
			}
			for i := range p.T.Data {
				p.T.Data[i] = F(rng.Normal() * std)
			}
		}
	}
	m.rope = newRopeTable[F](c.Context, c.HeadDim(), c.RopeTheta)
	return m, nil
}

// slots maps the layout's tensor names to the model's fields, those of a
// block to l's.
func (m *Model[F]) slots(l *layerParams[F]) map[string]**Tensor[F] {
	return map[string]**Tensor[F]{
		model.NameTokenEmbd: &m.embed, model.NameOutputNorm: &m.norm, model.NameOutput: &m.output,
		model.NameAttnNorm: &l.attnNorm, model.NameAttnQ: &l.wq, model.NameAttnK: &l.wk, model.NameAttnV: &l.wv,
		model.NameAttnOutput: &l.wo, model.NameFFNNorm: &l.ffnNorm,
		model.NameFFNGate: &l.gate, model.NameFFNUp: &l.up, model.NameFFNDown: &l.down,
	}
}

// EngineConfig returns the inference engine's configuration of the shape: a
// Llama model (with tied output weights unless UntiedOutput), as ExportGGUF
// writes it.
func (c ModelConfig) EngineConfig() model.Config {
	hd := c.HeadDim()
	return model.Config{
		Arch: "llama", VocabSize: c.Vocab, Dim: c.Dim, HiddenDim: c.Hidden, Layers: c.Layers,
		Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: hd, ValueDim: hd, RopeDim: hd,
		ContextLength: c.Context, NormEps: float32(c.NormEps), RopeTheta: float32(c.RopeTheta), TiedOutput: !c.UntiedOutput,
	}
}

// NumParams counts the weights.
func (m *Model[F]) NumParams() int {
	n := 0
	for _, p := range m.Params {
		n += len(p.T.Data)
	}
	return n
}

// ZeroGrad clears every gradient.
func (m *Model[F]) ZeroGrad() {
	for _, p := range m.Params {
		clear(p.T.Grad)
	}
}

// Loss runs the forward pass over one sequence of token ids (at most
// Context long) and returns the summed cross-entropy of predicting
// targets[i] after ids[:i+1] (negative targets are skipped). The ops are
// recorded on tape; tape.Backward then adds scale·∂loss/∂w to the gradients.
func (m *Model[F]) Loss(tape *Tape[F], ids, targets []int, scale F) (float64, error) {
	c := m.Config
	if len(ids) == 0 || len(ids) > c.Context || len(targets) != len(ids) {
		return 0, fmt.Errorf("train: sequence of %d tokens with %d targets (context %d)", len(ids), len(targets), c.Context)
	}
	for _, id := range ids {
		if id < 0 || id >= c.Vocab {
			return 0, fmt.Errorf("train: token id %d out of vocabulary [0, %d)", id, c.Vocab)
		}
	}
	logits := m.forward(tape, ids)
	return tape.CrossEntropy(logits, targets, scale), nil
}

// Logits runs the forward pass and returns the len(ids)×vocab logits.
func (m *Model[F]) Logits(ids []int) []F {
	tape := &Tape[F]{Threads: 1}
	out := m.forward(tape, ids)
	return out.Data
}

func (m *Model[F]) forward(tape *Tape[F], ids []int) *Tensor[F] {
	if m.base != nil {
		return tape.Frozen(m.hidden(tape, ids), m.base.output)
	}
	out := m.embed
	if m.output != nil {
		out = m.output
	}
	return tape.Linear(m.hidden(tape, ids), out)
}

// hidden runs the blocks and the final norm: the len(ids)×dim hidden states
// the output projection (or a reward head) reads.
func (m *Model[F]) hidden(tape *Tape[F], ids []int) *Tensor[F] {
	c := m.Config
	var x *Tensor[F]
	if m.base != nil {
		x = m.frozenEmbedding(ids)
	} else {
		x = tape.Embedding(m.embed, ids)
	}
	for li, l := range m.layers {
		h := tape.RMSNorm(x, l.attnNorm, c.NormEps)
		q := tape.RoPE(m.linear(tape, h, li, slotQ, l.wq), m.rope)
		k := tape.RoPE(m.linear(tape, h, li, slotK, l.wk), m.rope)
		v := m.linear(tape, h, li, slotV, l.wv)
		a := tape.Attention(q, k, v, c.Heads, c.KVHeads)
		x = tape.Add(x, m.linear(tape, a, li, slotO, l.wo))
		h = tape.RMSNorm(x, l.ffnNorm, c.NormEps)
		f := tape.SwiGLU(m.linear(tape, h, li, slotGate, l.gate), m.linear(tape, h, li, slotUp, l.up))
		x = tape.Add(x, m.linear(tape, f, li, slotDown, l.down))
	}
	return tape.RMSNorm(x, m.norm, c.NormEps)
}

// RewardHeadName is the name of the reward model's scalar head (1×dim),
// the last parameter of a reward model.
const RewardHeadName = "reward_head.weight"

// AddRewardHead turns the model into a reward model: a linear head reading
// the last token's final hidden state gives a scalar score. The head is
// initialised N(0, 0.02²) from rng.
func (m *Model[F]) AddRewardHead(rng *RNG) {
	if m.head != nil {
		return
	}
	m.head = newTensor[F](1, m.Config.Dim)
	for i := range m.head.Data {
		m.head.Data[i] = F(rng.Normal() * 0.02)
	}
	m.Params = append(m.Params, Param[F]{Name: RewardHeadName, T: m.head, Decay: true})
}

// reward records the reward model's score of ids (a 1×1 tensor) on tape.
func (m *Model[F]) reward(tape *Tape[F], ids []int) *Tensor[F] {
	return tape.Linear(tape.LastRow(m.hidden(tape, ids)), m.head)
}

// Reward returns the reward model's score of the token ids.
func (m *Model[F]) Reward(ids []int) (float64, error) {
	if m.head == nil {
		return 0, fmt.Errorf("train: the model has no reward head")
	}
	if err := m.checkIDs(ids); err != nil {
		return 0, err
	}
	return float64(m.reward(&Tape[F]{Threads: 1}, ids).Data[0]), nil
}

// checkIDs reports ids that the model cannot read.
func (m *Model[F]) checkIDs(ids []int) error {
	c := m.Config
	if len(ids) == 0 || len(ids) > c.Context {
		return fmt.Errorf("train: sequence of %d tokens (context %d)", len(ids), c.Context)
	}
	for _, id := range ids {
		if id < 0 || id >= c.Vocab {
			return fmt.Errorf("train: token id %d out of vocabulary [0, %d)", id, c.Vocab)
		}
	}
	return nil
}
