package model

import (
	"fmt"
	"math"
	"strings"

	"glassbox/gguf"
	"glassbox/tensor"
)

// Architectures lists the GGUF architectures this package runs.
var Architectures = []string{"llama", "qwen2", "qwen3", "qwen3moe", "gemma2", "gemma3", "granite", "olmo2", "smollm3", "phi3", "gpt-oss"}

// family describes how an architecture differs from plain Llama.
type family struct {
	ropeNeox bool
	attnBias bool
	qkNorm   bool
	// gemma: scaled embeddings, GeGLU, post-norms, query scaling, sliding
	// windows (see readGemma).
	gemma bool
	// granite: embedding, residual, attention and logit multipliers (see
	// readGranite).
	granite bool
	// olmo2: post-norms only, Q/K norms over all heads together.
	olmo2 bool
	// noRopeStep: every noRopeStep-th layer has no RoPE (smollm3: 4, fixed
	// in llama.cpp, no metadata key).
	noRopeStep int
	// fusedGateUp: ffn_up holds the gate and up projections (phi3).
	fusedGateUp bool
	// moe: mixture-of-experts feed-forward layers (see readMoE).
	moe bool
	// gptOSS: gpt-oss's attention sinks, biases, sliding windows, gating
	// and clamped SwiGLU (see readGptOSS).
	gptOSS bool
}

var families = map[string]family{
	"llama": {},
	"qwen2": {ropeNeox: true, attnBias: true},
	"qwen3": {ropeNeox: true, qkNorm: true},
	// qwen3's attention, experts instead of the feed-forward network
	"qwen3moe": {ropeNeox: true, qkNorm: true, moe: true},
	"gemma2":   {ropeNeox: true, gemma: true},
	"gemma3":   {ropeNeox: true, qkNorm: true, gemma: true},
	"granite":  {granite: true},
	"olmo2":    {ropeNeox: true, qkNorm: true, olmo2: true},
	"smollm3":  {noRopeStep: 4},
	"phi3":     {ropeNeox: true, fusedGateUp: true},
	"gpt-oss":  {ropeNeox: true, moe: true, gptOSS: true},
}

// LoadGGUF reads the hyper-parameters of an opened GGUF file and binds its
// tensors in place (zero-copy views of the mapped file). The model does not
// own f: closing the model does not close the file.
func LoadGGUF(f *gguf.File) (*Model, error) {
	c, err := ConfigFromGGUF(f)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: *c}
	if err := bind(m, ggufSource{f}); err != nil {
		return nil, err
	}
	if c.Arch == "gemma2" {
		// llama.cpp's gemma2 always projects with the embedding table, even
		// when a file carries output.weight
		m.Output, m.Config.TiedOutput = m.TokenEmbedding, true
	}
	return m, nil
}

// ConfigFromGGUF reads a model's hyper-parameters from GGUF metadata.
func ConfigFromGGUF(f *gguf.File) (*Config, error) {
	arch := f.Architecture()
	if arch == "" {
		return nil, fmt.Errorf("general.architecture is missing: not a model file")
	}
	fam, ok := families[arch]
	if !ok {
		return nil, fmt.Errorf("architecture %q is not supported (supported: %s)", arch, strings.Join(Architectures, ", "))
	}
	u := func(key string, def int) (int, error) {
		v, ok := f.Uint(arch + "." + key)
		if !ok {
			if def >= 0 {
				return def, nil
			}
			return 0, fmt.Errorf("metadata %s.%s is missing", arch, key)
		}
		if v > 1<<31 {
			return 0, fmt.Errorf("metadata %s.%s = %d is out of range", arch, key, v)
		}
		return int(v), nil
	}
	c := &Config{Arch: arch, RopeNeox: fam.ropeNeox, AttnBias: fam.attnBias, QKNorm: fam.qkNorm, NoRopeStep: fam.noRopeStep,
		FusedGateUp: fam.fusedGateUp}
	c.Name, _ = f.String("general.name")
	var err error
	if c.Dim, err = u("embedding_length", -1); err != nil {
		return nil, err
	}
	ffDef := -1
	if fam.moe {
		ffDef = 0 // only the experts' width matters (readMoE)
	}
	if c.HiddenDim, err = u("feed_forward_length", ffDef); err != nil {
		return nil, err
	}
	if c.Layers, err = u("block_count", -1); err != nil {
		return nil, err
	}
	if c.Heads, err = u("attention.head_count", -1); err != nil {
		return nil, err
	}
	if c.KVHeads, err = u("attention.head_count_kv", c.Heads); err != nil {
		return nil, err
	}
	if c.ContextLength, err = u("context_length", 2048); err != nil {
		return nil, err
	}
	headDim := 0
	if c.Heads > 0 {
		headDim = c.Dim / c.Heads
	}
	if c.HeadDim, err = u("attention.key_length", headDim); err != nil {
		return nil, err
	}
	if c.ValueDim, err = u("attention.value_length", c.HeadDim); err != nil {
		return nil, err
	}
	if c.RopeDim, err = u("rope.dimension_count", c.HeadDim); err != nil {
		return nil, err
	}
	eps, ok := f.Float(arch + ".attention.layer_norm_rms_epsilon")
	if !ok {
		return nil, fmt.Errorf("metadata %s.attention.layer_norm_rms_epsilon is missing", arch)
	}
	c.NormEps = float32(eps)
	c.RopeTheta = 10000
	if v, ok := f.Float(arch + ".rope.freq_base"); ok {
		c.RopeTheta = float32(v)
	}
	// As llama.cpp: the factor is rope.scaling.factor, else the older
	// rope.scale_linear, and a missing scaling type means linear.
	factor, ok := f.Float(arch + ".rope.scaling.factor")
	if !ok {
		factor, _ = f.Float(arch + ".rope.scale_linear")
	}
	if t, ok := f.String(arch + ".rope.scaling.type"); ok {
		c.RopeScaling = RopeScaling{Type: t, Factor: float32(factor)}
		switch t {
		case "none", "linear", "llama3", "longrope":
		case "yarn":
			// As llama.cpp's context set-up for the architectures here:
			// the extrapolation mix is 1 and the ramp bounds its defaults;
			// it reads no rope.scaling.yarn_* keys for them (only grok,
			// mistral3 and deepseek2 do), so neither does glassbox.
			c.RopeExtFactor, c.RopeBetaFast, c.RopeBetaSlow = 1, 32, 1
		default:
			return nil, fmt.Errorf("rope scaling %q is not supported (supported: none, linear, llama3, longrope, yarn)", t)
		}
	} else if factor != 0 && factor != 1 {
		c.RopeScaling = RopeScaling{Type: "linear", Factor: float32(factor)}
	}
	// As llama.cpp for every architecture: RoPE's cosines and sines are
	// multiplied by rope.scaling.attn_factor (default 1), and LongRoPE
	// chooses its factors by comparing the context with
	// rope.scaling.original_context_length (default the context length).
	// phi3 files with attention.sliding_window are run without a window, as
	// llama.cpp 0.5.0 does (it warns that Phi's sliding window is disabled).
	if v, ok := f.Float(arch + ".rope.scaling.attn_factor"); ok && v != 1 {
		if !(v > 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("metadata %s.rope.scaling.attn_factor = %g, want a positive number", arch, v)
		}
		c.RopeAttnFactor = float32(v)
	}
	if _, ok := f.Lookup(arch + ".rope.scaling.original_context_length"); ok {
		if c.RopeOrigContext, err = u("rope.scaling.original_context_length", -1); err != nil {
			return nil, err
		}
	}
	if fam.gemma {
		if err := readGemma(f, c); err != nil {
			return nil, err
		}
	}
	if fam.olmo2 {
		// llama.cpp's olmo2 with a sliding window is OLMo 3's layout
		// (windowed layers with their own RoPE), which glassbox refuses with a
		// clear error
		if w, ok := f.Uint(arch + ".attention.sliding_window"); ok && w > 0 {
			return nil, fmt.Errorf("%s with %s.attention.sliding_window (OLMo 3's sliding-window layers) is not supported", arch, arch)
		}
		c.PostNorms, c.NoPreNorms, c.QKNormFull = true, true, true
	}
	if fam.fusedGateUp && c.HeadDim > 0 {
		// phi3 scales the queries by 1/sqrtf(head width) before attention
		c.QueryScale = attnScale(c.HeadDim)
	}
	if fam.moe {
		if err := readMoE(f, c); err != nil {
			return nil, err
		}
	}
	if fam.gptOSS {
		if err := readGptOSS(f, c); err != nil {
			return nil, err
		}
	}
	if fam.granite {
		if err := readGranite(f, c); err != nil {
			return nil, err
		}
	}
	// The vocabulary size is the embedding table's row count.
	emb, ok := f.Tensor(NameTokenEmbd)
	if !ok {
		return nil, fmt.Errorf("tensor %s is missing", NameTokenEmbd)
	}
	if len(emb.Dims) < 2 || emb.Dims[1] > 1<<24 {
		return nil, fmt.Errorf("tensor token_embd.weight has shape %v, want [embedding_length vocab]", emb.Dims)
	}
	c.VocabSize = int(emb.Dims[1])
	if ft, ok := f.Uint("general.file_type"); ok {
		c.FileType = fileTypeName(ft)
	} else {
		c.FileType = dominantType(f)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

type ggufSource struct{ f *gguf.File }

// release drops the mapped pages of data that a packed copy replaced.
func (s ggufSource) release(data []byte) error { return s.f.ReleasePages(data) }

func (s ggufSource) tensor(name string) (rawTensor, bool, error) {
	ti, ok := s.f.Tensor(name)
	if !ok {
		return rawTensor{}, false, nil
	}
	data, err := s.f.TensorData(ti)
	if err != nil {
		return rawTensor{}, true, err
	}
	return rawTensor{Type: tensor.Type(ti.Type), Dims: ti.Dims, Data: data}, true, nil
}

// dominantType names the type holding most matrix weights, for files that do
// not record general.file_type.
func dominantType(f *gguf.File) string {
	count := map[tensor.Type]uint64{}
	for _, t := range f.Tensors {
		if len(t.Dims) >= 2 {
			count[t.Type] += t.Elements()
		}
	}
	best, n := tensor.Type(0), uint64(0)
	for t, c := range count {
		if c > n || (c == n && t < best) {
			best, n = t, c
		}
	}
	if n == 0 {
		return ""
	}
	return best.String()
}

// readGemma reads the Gemma 2 / Gemma 3 hyper-parameters as llama.cpp does
// (src/models/gemma2.cpp, gemma3.cpp, llama-hparams.cpp):
//
//   - embeddings scaled by sqrtf(n_embd), GeGLU, post-attention and post-FFN
//     norms (the converter already stores Gemma's norm weights as 1+w);
//   - queries multiplied by 1/sqrtf(head width) before attention, or by
//     1/sqrtf(n_embd/n_head) for the 27B models, which llama.cpp recognises
//     by their block count (46 for gemma2, 62 for gemma3);
//   - sliding windows: gemma2 always has them (attention.sliding_window,
//     default 4096), gemma3 only when attention.sliding_window is present and
//     positive; the layers follow attention.sliding_window_pattern (a bool per
//     layer, or a period n whose every n-th layer is global), by default
//     every 2nd layer global (gemma2) or every 6th (gemma3);
//   - the sliding-window layers' RoPE base is rope.freq_base_swa, by default
//     10000 (gemma3) or rope.freq_base (gemma2); their RoPE is not scaled
//     (gemma3) or scaled like the global layers' (gemma2);
//   - gemma2 soft-caps the attention scores (attn_logit_softcapping, default
//     50) and the logits (final_logit_softcapping, default 30); gemma3 only
//     the logits, when final_logit_softcapping is present;
//   - gemma2's output is always the token embedding table.
func readGemma(f *gguf.File, c *Config) error {
	arch := c.Arch
	if err := gemmaShape(c); err != nil {
		return err
	}

	getFloat := func(key string, def float32) float32 {
		if v, ok := f.Float(arch + "." + key); ok {
			return float32(v)
		}
		return def
	}
	window, hasWindow := f.Uint(arch + ".attention.sliding_window")
	period := 6
	switch arch {
	case "gemma2":
		if !hasWindow {
			window, hasWindow = 4096, true
		}
		period = 2
		c.AttnSoftcap = getFloat("attn_logit_softcapping", 50)
		c.FinalSoftcap = getFloat("final_logit_softcapping", 30)
		c.RopeThetaLocal = getFloat("rope.freq_base_swa", c.RopeTheta)
		c.RopeScalingLocal = c.RopeScaling
	case "gemma3":
		c.FinalSoftcap = getFloat("final_logit_softcapping", 0)
		c.RopeThetaLocal = getFloat("rope.freq_base_swa", 10000)
	}
	if !hasWindow || window == 0 {
		c.RopeThetaLocal, c.RopeScalingLocal = 0, RopeScaling{}
		return nil
	}
	if window > 1<<31 {
		return fmt.Errorf("metadata %s.attention.sliding_window = %d is out of range", arch, window)
	}
	c.SlidingWindow = int(window)
	return readSlidingPattern(f, c, period)
}

// readSlidingPattern sets c.SlidingLayers from
// attention.sliding_window_pattern as llama.cpp's load_swa_pattern: a bool
// per layer (layers past the end of the array are global), or a period n
// whose every n-th layer is global (0: every layer slides); without the key,
// the architecture's period.
func readSlidingPattern(f *gguf.File, c *Config, period int) error {
	c.SlidingLayers = make([]bool, c.Layers)
	key := c.Arch + ".attention.sliding_window_pattern"
	if kv, ok := f.Lookup(key); ok {
		if a, ok := kv.Value.(gguf.Array); ok {
			b, ok := a.Values.([]bool)
			if !ok {
				return fmt.Errorf("metadata %s must be an array of bools (one per layer) or a number, got an array of %s", key, a.Elem)
			}
			copy(c.SlidingLayers, b)
			return nil
		}
		v, ok := f.Uint(key)
		if !ok || v > 1<<20 {
			return fmt.Errorf("metadata %s must be an array of %d bools or a number", key, c.Layers)
		}
		period = int(v)
	}
	for l := range c.SlidingLayers {
		c.SlidingLayers[l] = period == 0 || l%period < period-1
	}
	return nil
}

// readGptOSS reads gpt-oss's hyper-parameters as llama.cpp 0.5.0 does
// (src/models/openai-moe.cpp, llama-graph.cpp's build_moe_ffn and
// build_attn):
//
//   - attention.sliding_window (required) for the sliding-window layers,
//     which follow attention.sliding_window_pattern, by default every 2nd
//     layer global (layers 0, 2, … slide); their RoPE base is
//     rope.freq_base_swa, by default rope.freq_base, and their RoPE is
//     scaled like the global layers';
//   - head width rope.dimension_count (queries are heads × that wide), the
//     attention scale 1/sqrt of it;
//   - attention biases on q, k and v when the file has them (optional in
//     llama.cpp), on the output always; one sink logit per head;
//   - expert_feed_forward_length (required) for the experts' width, the
//     router's scores biased, gating softmax_weight (the top experts by
//     score, weighted by the softmax of their scores, not normalized
//     again, no expert_weights_scale), biased experts with the clamped
//     SwiGLU (swiglu_oai, alpha 1.702, limit 7);
//   - the pre-FFN norm stored as post_attention_norm.weight.
func readGptOSS(f *gguf.File, c *Config) error {
	arch := c.Arch
	if _, ok := f.Lookup(arch + ".expert_feed_forward_length"); !ok {
		return fmt.Errorf("metadata %s.expert_feed_forward_length is missing", arch)
	}
	if c.RopeDim != c.HeadDim {
		return fmt.Errorf("%s: rope.dimension_count %d differs from the head width %d (llama.cpp sizes gpt-oss's heads by the RoPE width)", arch, c.RopeDim, c.HeadDim)
	}
	window, ok := f.Uint(arch + ".attention.sliding_window")
	if !ok {
		return fmt.Errorf("metadata %s.attention.sliding_window is missing", arch)
	}
	if window > 1<<31 {
		return fmt.Errorf("metadata %s.attention.sliding_window = %d is out of range", arch, window)
	}
	c.RopeThetaLocal = c.RopeTheta
	if v, ok := f.Float(arch + ".rope.freq_base_swa"); ok {
		c.RopeThetaLocal = float32(v)
	}
	c.RopeScalingLocal = c.RopeScaling
	if window > 0 {
		c.SlidingWindow = int(window)
		if err := readSlidingPattern(f, c, 2); err != nil {
			return err
		}
	} else {
		c.RopeThetaLocal, c.RopeScalingLocal = 0, RopeScaling{}
	}
	_, c.AttnBias = f.Tensor(LayerName(0, NameAttnQBias))
	c.AttnOutBias, c.AttnSinks, c.SwiGLUOAI = true, true, true
	c.ExpertsNorm, c.ExpertsSoftmaxWeight, c.ExpertsBias = false, true, true
	return nil
}

// gemmaShape sets what Gemma's architecture and shape imply: scaled
// embeddings, GeGLU, post-norms and the query scale.
func gemmaShape(c *Config) error {
	c.EmbedScale, c.GELU, c.PostNorms = true, true, true
	hd := c.HeadDim
	if (c.Arch == "gemma2" && c.Layers == 46) || (c.Arch == "gemma3" && c.Layers == 62) {
		hd = c.Dim / c.Heads
	}
	if hd <= 0 {
		return fmt.Errorf("%s: head width must be positive, got %d", c.Arch, hd)
	}
	c.QueryScale = attnScale(hd)
	return nil
}

// readGranite reads Granite's multipliers as llama.cpp does
// (src/models/granite.cpp): logit_scale (required) divides the logits,
// residual_scale multiplies the attention and feed-forward outputs before
// the residual additions, embedding_scale the token embeddings,
// attention.scale replaces 1/sqrt(head width) as the softmax scale (each
// optional, absent or 0 meaning none), and rope.scaling.finetuned (default
// true) switches RoPE on or off for every layer.
func readGranite(f *gguf.File, c *Config) error {
	arch := c.Arch
	get := func(key string, required bool) (float32, error) {
		v, ok := f.Float(arch + "." + key)
		if !ok {
			if required {
				return 0, fmt.Errorf("metadata %s.%s is missing", arch, key)
			}
			return 0, nil
		}
		if !(v >= 0) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("metadata %s.%s = %g, want a finite non-negative number", arch, key, v)
		}
		return float32(v), nil
	}
	var err error
	if c.LogitScale, err = get("logit_scale", true); err != nil {
		return err
	}
	if c.LogitScale == 0 {
		return fmt.Errorf("metadata %s.logit_scale is 0, the logits would be divided by it", arch)
	}
	if c.ResidualMul, err = get("residual_scale", false); err != nil {
		return err
	}
	if c.EmbedMul, err = get("embedding_scale", false); err != nil {
		return err
	}
	if c.AttnScale, err = get("attention.scale", false); err != nil {
		return err
	}
	key := arch + ".rope.scaling.finetuned"
	if kv, ok := f.Lookup(key); ok {
		on, ok := kv.Value.(bool)
		if !ok {
			return fmt.Errorf("metadata %s must be a bool, got %T", key, kv.Value)
		}
		if !on {
			c.NoRopeStep = 1
		}
	}
	return nil
}

// readMoE reads the mixture-of-experts hyper-parameters as llama.cpp does
// for qwen3moe (src/models/qwen3moe.cpp, llama-graph.cpp's build_moe_ffn):
// expert_count and expert_used_count (both required and positive), the
// width of one expert from expert_feed_forward_length, or when absent
// feed_forward_length / expert_used_count; the router's softmax
// probabilities of the picked experts are always divided by their sum.
// Per-layer arrays for these keys are refused.
func readMoE(f *gguf.File, c *Config) error {
	arch := c.Arch
	get := func(key string) (int, bool, error) {
		kv, ok := f.Lookup(arch + "." + key)
		if !ok {
			return 0, false, nil
		}
		if _, isArr := kv.Value.(gguf.Array); isArr {
			return 0, true, fmt.Errorf("metadata %s.%s is a per-layer array, which is not supported (want one number)", arch, key)
		}
		v, ok := f.Uint(arch + "." + key)
		if !ok || v > 1<<31 {
			return 0, true, fmt.Errorf("metadata %s.%s must be a non-negative integer, got %v", arch, key, kv.Value)
		}
		return int(v), true, nil
	}
	n, ok, err := get("expert_count")
	if err != nil {
		return err
	}
	if !ok || n == 0 {
		return fmt.Errorf("%s needs %s.expert_count > 0", arch, arch)
	}
	used, ok, err := get("expert_used_count")
	if err != nil {
		return err
	}
	if !ok || used == 0 {
		return fmt.Errorf("%s needs %s.expert_used_count > 0", arch, arch)
	}
	if used > n {
		return fmt.Errorf("metadata %s.expert_used_count = %d exceeds expert_count = %d", arch, used, n)
	}
	ff, ok, err := get("expert_feed_forward_length")
	if err != nil {
		return err
	}
	if !ok || ff == 0 {
		ff = c.HiddenDim / used
	}
	c.Experts, c.ExpertsUsed, c.HiddenDim, c.ExpertsNorm = n, used, ff, true
	return nil
}
