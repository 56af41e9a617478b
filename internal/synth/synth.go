// Package synth writes random-weight Llama-architecture GGUF files of a given
// shape and tensor type, so that glassbox and llama.cpp can be benchmarked on
// the same realistic-size file without downloading a model, and a few small
// random models for tests: WriteHarmony's gpt-oss, WriteChat's qwen2 chat
// model and WriteGemma2's soft-capped gemma2.
package synth

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"glassbox/model"
	"glassbox/tensor"
)

// Shape is the hyper-parameters of a synthetic Llama model, or of a
// qwen3moe mixture of experts when Experts > 0 (Hidden is then the width of
// one expert, ExpertsUsed the experts picked per token).
type Shape struct {
	Dim, Hidden, Layers, Heads, KVHeads, Vocab, Context int
	// RopeTheta is the RoPE base (0: 10000).
	RopeTheta float32
	// Tied leaves out output.weight: the output projection reuses the
	// token embeddings, as Llama 3.2 1B and 3B do.
	Tied bool
	// Experts and ExpertsUsed make a qwen3moe mixture of experts (0: dense).
	Experts, ExpertsUsed int
	// GptOSS makes the mixture of experts gpt-oss instead (head width 64
	// from Dim/Heads as given, attention biases and sinks, every other
	// layer a sliding window of 128, YaRN by 32 over 4096 positions, RoPE
	// base 150000, biased experts with softmax_weight gating and the
	// clamped SwiGLU), its experts in MXFP4 as gpt-oss is published.
	GptOSS bool
}

// Shapes are the named shapes accepted by ParseShape. "400M" is the shape of
// issue 6's benchmark (about 400 million parameters); "1B" is TinyLlama
// 1.1B's, "1B-llama3" Llama 3.2 1B's and "3B" Llama 3.2 3B's (both with tied
// embeddings, vocabulary 128256 and RoPE base 500000; the context is 8192,
// not their 131072, so that a default-context session stays small), where
// the weights no longer fit in any cache.
var Shapes = map[string]Shape{
	"400M":      {Dim: 1536, Hidden: 4096, Layers: 12, Heads: 12, KVHeads: 4, Vocab: 32000, Context: 4096},
	"1B":        {Dim: 2048, Hidden: 5632, Layers: 22, Heads: 32, KVHeads: 4, Vocab: 32000, Context: 2048},
	"1B-llama3": {Dim: 2048, Hidden: 8192, Layers: 16, Heads: 32, KVHeads: 8, Vocab: 128256, Context: 8192, RopeTheta: 500000, Tied: true},
	"3B":        {Dim: 3072, Hidden: 8192, Layers: 28, Heads: 24, KVHeads: 8, Vocab: 128256, Context: 8192, RopeTheta: 500000, Tied: true},
	"moe":       {Dim: 1024, Hidden: 512, Layers: 12, Heads: 16, KVHeads: 4, Vocab: 32000, Context: 4096, Experts: 32, ExpertsUsed: 4},
	"tinymoe":   {Dim: 64, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 300, Context: 256, Experts: 8, ExpertsUsed: 2},
	"tiny":      {Dim: 64, Hidden: 160, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 300, Context: 256},
	// gpt-oss's layout on moe's sizes (gpt-oss-20b is dim 2880, 24 layers,
	// 64/8 heads of 64, 32 experts of 2880, 4 used)
	"gptoss":     {Dim: 1024, Hidden: 512, Layers: 12, Heads: 16, KVHeads: 4, Vocab: 32000, Context: 4096, Experts: 32, ExpertsUsed: 4, GptOSS: true},
	"tinygptoss": {Dim: 64, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 300, Context: 256, Experts: 8, ExpertsUsed: 2, GptOSS: true},
}

// ShapeNames returns the names of Shapes, smallest model first.
func ShapeNames() []string {
	names := make([]string, 0, len(Shapes))
	for k := range Shapes {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(Shapes[a].Params(), Shapes[b].Params()) })
	return names
}

// ParseShape returns the shape of the given name (case-insensitive).
func ParseShape(name string) (Shape, error) {
	for k, s := range Shapes {
		if strings.EqualFold(k, name) {
			return s, nil
		}
	}
	return Shape{}, fmt.Errorf("unknown synthetic model shape %q (known: %s)", name, strings.Join(ShapeNames(), ", "))
}

// Params returns the number of weights of the shape.
func (s Shape) Params() int64 {
	c := s.Config()
	return c.Params()
}

// Arch returns the shape's architecture: "llama", "qwen3moe" for a
// mixture of experts, or "gpt-oss".
func (s Shape) Arch() string {
	if s.GptOSS {
		return "gpt-oss"
	}
	if s.Experts > 0 {
		return "qwen3moe"
	}
	return "llama"
}

// Config returns the engine's configuration of the shape: Llama, the output
// weights untied unless s.Tied, or qwen3moe (qwen3's attention, NEOX RoPE,
// per-head Q/K norms) with experts.
func (s Shape) Config() model.Config {
	hd := s.Dim / max(s.Heads, 1)
	theta := s.RopeTheta
	if theta == 0 {
		theta = 10000
	}
	c := model.Config{
		Arch: s.Arch(), VocabSize: s.Vocab, Dim: s.Dim, HiddenDim: s.Hidden, Layers: s.Layers,
		Heads: s.Heads, KVHeads: s.KVHeads, HeadDim: hd, ValueDim: hd, RopeDim: hd,
		ContextLength: s.Context, NormEps: 1e-5, RopeTheta: theta, TiedOutput: s.Tied,
	}
	if s.Experts > 0 {
		c.RopeNeox, c.QKNorm = true, true
		c.Experts, c.ExpertsUsed, c.ExpertsNorm = s.Experts, s.ExpertsUsed, true
	}
	if s.GptOSS {
		yarn := model.RopeScaling{Type: "yarn", Factor: 32}
		if s.RopeTheta == 0 {
			c.RopeTheta = 150000
		}
		c.QKNorm, c.ExpertsNorm = false, false
		c.AttnBias, c.AttnOutBias, c.AttnSinks, c.SwiGLUOAI = true, true, true, true
		c.ExpertsSoftmaxWeight, c.ExpertsBias = true, true
		c.RopeScaling, c.RopeOrigContext, c.RopeExtFactor, c.RopeBetaFast, c.RopeBetaSlow = yarn, 4096, 1, 32, 1
		c.SlidingWindow, c.SlidingLayers = 128, make([]bool, s.Layers)
		for l := range c.SlidingLayers {
			c.SlidingLayers[l] = l%2 == 0
		}
		c.RopeThetaLocal, c.RopeScalingLocal = c.RopeTheta, yarn
	}
	return c
}

func (s Shape) check() error {
	switch {
	case s.Dim <= 0 || s.Hidden <= 0 || s.Layers <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.Vocab < 259 || s.Context <= 0:
		return fmt.Errorf("synthetic shape %+v: every size must be positive and the vocabulary hold at least 259 tokens", s)
	case s.Dim%s.Heads != 0 || s.Heads%s.KVHeads != 0:
		return fmt.Errorf("synthetic shape %+v: dim must be a multiple of heads and heads of kv heads", s)
	case s.Experts < 0 || s.ExpertsUsed < 0 || s.ExpertsUsed > s.Experts || (s.Experts > 0) != (s.ExpertsUsed > 0):
		return fmt.Errorf("synthetic shape %+v: experts used must be between 1 and the expert count", s)
	case s.GptOSS && s.Experts == 0:
		return fmt.Errorf("synthetic shape %+v: gpt-oss is a mixture of experts", s)
	}
	return nil
}

// Write writes a Llama GGUF of shape s whose matrices are random normal
// weights (σ = 0.02, seeded by seed) converted to typ with tensor.Quantize,
// and whose norms are 1 (gpt-oss's biases and sinks random like the
// matrices, its experts in MXFP4). It carries a placeholder SentencePiece vocabulary
// (<unk>, <s>, </s>, the 256 byte tokens, then made-up pieces) so that
// llama.cpp loads it too. typ must be a type tensor.Quantize writes.
func Write(out io.Writer, s Shape, typ tensor.Type, seed uint64) error {
	tokens, scores, types := vocab(s.Vocab)
	return write(out, s, typ, seed, tokens, scores, types, 2, nil)
}

// HarmonyMarkers are the special tokens of gpt-oss's chat format, harmony,
// as WriteHarmony puts them in the vocabulary.
var HarmonyMarkers = []string{"<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|return|>", "<|call|>"}

// WriteHarmony writes the gpt-oss model Write writes for a GptOSS shape,
// made ready to chat like the published gpt-oss files: the first made-up
// pieces of the vocabulary are the HarmonyMarkers (control tokens), EOS is
// <|return|>, and tokenizer.chat_template holds template.
func WriteHarmony(out io.Writer, s Shape, typ tensor.Type, seed uint64, template string) error {
	if !s.GptOSS {
		return fmt.Errorf("synthetic shape %+v: harmony is gpt-oss's chat format", s)
	}
	if s.Vocab < 259+len(HarmonyMarkers) {
		return fmt.Errorf("synthetic shape %+v: the vocabulary must hold %d tokens", s, 259+len(HarmonyMarkers))
	}
	tokens, scores, types := vocab(s.Vocab)
	var eos uint32
	for i, m := range HarmonyMarkers {
		tokens[259+i], scores[259+i], types[259+i] = m, 0, 3 // control
		if m == "<|return|>" {
			eos = uint32(259 + i)
		}
	}
	return write(out, s, typ, seed, tokens, scores, types, eos, []model.KV{{Key: "tokenizer.chat_template", Value: template}})
}

// Gemma2Words are the words of WriteGemma2's vocabulary, after its byte
// tokens, as SentencePiece pieces ("▁" for a space).
var Gemma2Words = strings.Fields("▁ ▁the ▁cat ▁sat ▁on ▁mat ▁a ▁dog ▁hello ▁world e t a o")

// WriteGemma2 writes a small random gemma2 model in F32, the same every
// time: 2 layers (the first sliding over a window of 4 positions, the
// second global), dim 64, 4 query heads and 2 KV heads of 16, attention
// soft-capping at 4 and final soft-capping at 3 (caps small enough that
// they change the numbers), tied embeddings, and a SentencePiece
// vocabulary of <unk>, <s>, </s>, the 256 byte tokens and Gemma2Words.
func WriteGemma2(out io.Writer) error {
	tokens := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3} // unknown, control, control
	for b := range 256 {
		tokens, types = append(tokens, fmt.Sprintf("<0x%02X>", b)), append(types, 6) // byte
	}
	for _, w := range Gemma2Words {
		tokens, types = append(tokens, w), append(types, 1) // normal
	}
	scores := make([]float32, len(tokens))
	for i := range scores {
		scores[i] = -float32(i)
	}
	c := model.Config{
		Arch: "gemma2", VocabSize: len(tokens), Dim: 64, HiddenDim: 128, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 16, ValueDim: 16, RopeDim: 16, ContextLength: 256, NormEps: 1e-6, RopeTheta: 10000, RopeNeox: true,
		EmbedScale: true, GELU: true, PostNorms: true, QueryScale: 0.25, TiedOutput: true,
		SlidingWindow: 4, SlidingLayers: []bool{true, false}, RopeThetaLocal: 10000,
		AttnSoftcap: 4, FinalSoftcap: 3,
	}
	err := model.WriteGGUF(out, &c, model.WriteOptions{
		Type: tensor.F32, Name: "glassbox synthetic gemma2",
		Metadata: []model.KV{
			{Key: "tokenizer.ggml.model", Value: "llama"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.scores", Value: scores},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
			{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
		},
		// each tensor from its own stream, numbered by its name's length,
		// layer and rows: norms about 1, matrices normal(0, 1/√cols)
		Weights: func(r model.TensorRef) ([]float32, error) {
			rng := rand.New(rand.NewPCG(uint64(len(r.Name)), uint64(r.Layer+1)*977+uint64(r.Rows)))
			v := make([]float32, r.Rows*r.Cols)
			for i := range v {
				if r.Spec.Vector() {
					v[i] = float32(1 + 0.1*rng.NormFloat64())
				} else {
					v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(r.Cols)))
				}
			}
			return v, nil
		},
	})
	if err != nil {
		return fmt.Errorf("synthetic gemma2 model: %w", err)
	}
	return nil
}

// write writes Write's model with the given vocabulary, EOS and further
// metadata.
func write(out io.Writer, s Shape, typ tensor.Type, seed uint64, tokens []string, scores []float32, types []int32, eos uint32, extra []model.KV) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := model.CheckWriteType(typ); err != nil {
		return fmt.Errorf("synthetic model: %w", err)
	}
	if bs := typ.BlockSize(); s.Dim%bs != 0 || s.Hidden%bs != 0 {
		return fmt.Errorf("synthetic model: dim %d and hidden %d must be multiples of %s's block of %d", s.Dim, s.Hidden, typ, bs)
	}
	c := s.Config()
	// Each matrix draws from its own random stream, numbered in file order.
	stream := map[string]uint64{}
	for _, t := range c.Tensors() {
		if !t.Spec.Vector() {
			stream[t.Name] = uint64(len(stream))
		}
	}
	// gpt-oss's biases and sinks are random too, from streams numbered
	// after the matrices'
	for _, t := range c.Tensors() {
		if randomVector(t) {
			stream[t.Name] = uint64(len(stream))
		}
	}
	var expertType tensor.Type
	if s.GptOSS {
		expertType = tensor.MXFP4
	}
	err := model.WriteGGUF(out, &c, model.WriteOptions{
		Type: typ, ExpertType: expertType,
		Name: fmt.Sprintf("glassbox synthetic %dM%s", (s.Params()+500_000)/1_000_000, map[bool]string{true: " MoE"}[s.Experts > 0]),
		Metadata: append([]model.KV{
			{Key: "tokenizer.ggml.model", Value: "llama"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.scores", Value: scores},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
			{Key: "tokenizer.ggml.eos_token_id", Value: eos},
			{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
		}, extra...),
		Weights: func(t model.TensorRef) ([]float32, error) {
			if t.Spec.Vector() && !randomVector(t) {
				return ones(t.Rows * t.Cols), nil
			}
			return randomMatrix(rand.New(rand.NewPCG(seed, stream[t.Name])), t.Rows*t.Cols), nil
		},
	})
	if err != nil {
		return fmt.Errorf("synthetic model: %w", err)
	}
	return nil
}

// randomVector reports whether vector t gets random values rather than
// ones: the biases and attention sinks.
func randomVector(t model.TensorRef) bool {
	return t.Spec.Vector() && (strings.HasSuffix(t.Spec.Name, ".bias") || t.Spec.Name == model.NameAttnSinks)
}

func ones(n int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = 1
	}
	return f
}

// randomMatrix returns n normal(0, 0.02) weights.
func randomMatrix(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 0.02)
	}
	return v
}

// vocab returns a placeholder SentencePiece vocabulary of n tokens: <unk>,
// <s>, </s>, the byte tokens <0x00>…<0xFF>, then "▁t3", "▁t4", ….
func vocab(n int) (tokens []string, scores []float32, types []int32) {
	tokens = make([]string, n)
	scores = make([]float32, n)
	types = make([]int32, n)
	tokens[0], tokens[1], tokens[2] = "<unk>", "<s>", "</s>"
	types[0], types[1], types[2] = 2, 3, 3 // unknown, control, control
	for i := 3; i < n; i++ {
		if i < 259 {
			tokens[i] = fmt.Sprintf("<0x%02X>", i-3)
			types[i] = 6 // byte
			continue
		}
		tokens[i] = fmt.Sprintf("\u2581t%d", i)
		scores[i] = -float32(i)
		types[i] = 1 // normal
	}
	return tokens, scores, types
}
