package model

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// This file checks the architecture-specific paths of the forward pass (qwen2
// attention biases and NEOX RoPE, qwen3 per-head Q/K norms with a head width
// that is not dim/heads, Llama 3.1 RoPE frequency factors, linear and YaRN RoPE scaling)
// against llama.cpp. Small random-weight GGUF models are generated here,
// deterministically; testdata/archcheck/<case>.json holds the logits llama.cpp
// computed for them (see testdata/archcheck/README.md for how they were made)
// and the sha256 of the generated file, so a change in the generator is caught
// before the logits are compared.

// archOutEnv names a directory the test copies the generated models into, to
// feed them to testdata/archcheck/dump_logits.cpp.
const archOutEnv = "GLASSBOX_ARCHCHECK_OUT"

// archCase describes one generated model.
type archCase struct {
	name     string
	arch     string
	seed     uint64
	dim      int
	heads    int
	kvHeads  int
	headDim  int // 0: dim/heads, not written to the file
	ffn      int
	layers   int
	ropeBase float32
	// llama3 writes rope_freqs.weight computed as llama.cpp's converter does for
	// Llama 3.1 (factor 8, low 1, high 4, original context 8192).
	llama3 bool
	// linear writes rope.scaling.type = linear with this factor when > 0.
	linear float32
	// factorOnly writes the linear factor without rope.scaling.type, which
	// llama.cpp reads as linear scaling.
	factorOnly bool
	// tied omits output.weight (the output reuses token_embd.weight).
	tied bool
	// Gemma: window writes attention.sliding_window when > 0; attnCap and
	// finalCap the soft-capping values when > 0; noRopeBase leaves
	// rope.freq_base out (as the gemma2 converter does).
	window            int
	attnCap, finalCap float32
	noRopeBase        bool
	// generalName replaces the case name in general.name.
	generalName string
	// longRope, when > 0, writes LongRoPE factors for this RoPE width.
	longRope int
	// kv holds further metadata, keys without the architecture prefix.
	kv map[string]any
	// f32Tol, when set, replaces the F32-cache tolerance (see gemma2).
	f32Tol float64
	// disable undoes the feature under test on a loaded model; the test checks
	// that doing so moves the logits far beyond the tolerance, so that the
	// comparison with llama.cpp really exercises the feature.
	disable func(m *Model)
	// disables holds further features to check the same way, by name.
	disables map[string]func(m *Model)
}

var archCases = []archCase{
	{
		name: "qwen2", arch: "qwen2", seed: 2, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 1e6, tied: true,
		disable: func(m *Model) { m.Config.RopeNeox = false },
	},
	{
		name: "qwen3", arch: "qwen3", seed: 3, dim: 64, heads: 4, kvHeads: 2, headDim: 32, ffn: 128, layers: 2,
		ropeBase: 1e6, tied: true,
		disable: func(m *Model) { m.Config.QKNorm = false },
	},
	{
		name: "llama3", arch: "llama", seed: 4, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		// The factors only touch frequencies whose wavelength exceeds 2048, so
		// at distances up to 15 they move the angles by at most 0.04 radian:
		// the logits move by about 0.02 without them.
		ropeBase: 10000, llama3: true,
		disable: func(m *Model) { m.RopeFreqs = nil },
	},
	{
		name: "llama-linear", arch: "llama", seed: 5, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 10000, linear: 4, tied: true,
		disable: func(m *Model) { m.Config.RopeScaling = RopeScaling{} },
	},
	{
		name: "llama-linear-notype", arch: "llama", seed: 5, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 10000, linear: 4, factorOnly: true, tied: true,
		disable: func(m *Model) { m.Config.RopeScaling = RopeScaling{} },
	},
	{
		// layer 0 slides over 4 positions, layer 1 is global (gemma2's
		// default pattern); both RoPE bases default to 10000
		name: "gemma2", arch: "gemma2", seed: 6, dim: 64, heads: 4, kvHeads: 2, headDim: 32, ffn: 128, layers: 2,
		ropeBase: 10000, noRopeBase: true, tied: true, window: 4, attnCap: 4, finalCap: 3,
		// Gemma's GELU reads ggml's table at the F16 rounding of its input,
		// so a one-ulp difference upstream that moves an input across an F16
		// rounding boundary moves that GELU output by one F16 step. The F32
		// cache's attention sums are not in ggml's order (only the default
		// F16 cache path is), and at the last step one GELU input of this
		// model lies within an ulp of such a boundary: 1.6e-4 there, 5e-6
		// everywhere else.
		f32Tol:  1e-3,
		disable: func(m *Model) { m.Config.SlidingWindow = 0 },
		disables: map[string]func(m *Model){
			"attention soft-capping": func(m *Model) { m.Config.AttnSoftcap = 0 },
			"final soft-capping":     func(m *Model) { m.Config.FinalSoftcap = 0 },
			"post-norms":             func(m *Model) { m.Config.PostNorms = false },
			"embedding scale":        func(m *Model) { m.Config.EmbedScale = false },
			"GeGLU":                  func(m *Model) { m.Config.GELU = false },
		},
	},
	{
		// layers 0-4 slide over 5 positions with RoPE base 10000 unscaled,
		// layer 5 is global (gemma3's default pattern) with base 1e6 and
		// linear scaling by 8, as Gemma 3 4B
		name: "gemma3", arch: "gemma3", seed: 7, dim: 64, heads: 4, kvHeads: 2, headDim: 32, ffn: 128, layers: 6,
		ropeBase: 1e6, linear: 8, tied: true, window: 5,
		disable: func(m *Model) { m.Config.SlidingWindow = 0 },
		disables: map[string]func(m *Model){
			"Q/K norm":            func(m *Model) { m.Config.QKNorm = false },
			"local RoPE base":     func(m *Model) { m.Config.RopeThetaLocal = m.Config.RopeTheta },
			"global RoPE scaling": func(m *Model) { m.Config.RopeScaling = RopeScaling{} },
			"query scale":         func(m *Model) { m.Config.QueryScale = attnScale(m.Config.Dim / m.Config.Heads) },
			"post-norms":          func(m *Model) { m.Config.PostNorms = false },
		},
	},
	{
		// Granite 3 multipliers (the 2B model's embedding 12, residual
		// 0.22, attention 1/64 for its head width of 64, logits /8); here logits /4 and
		// an attention scale of 0.1 against the default 1/4
		name: "granite", arch: "granite", seed: 8, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 10000, tied: true,
		kv: map[string]any{
			"embedding_scale": float32(12), "residual_scale": float32(0.22),
			"attention.scale": float32(0.1), "logit_scale": float32(4),
		},
		disable: func(m *Model) { m.Config.AttnScale = 0 },
		disables: map[string]func(m *Model){
			"embedding multiplier": func(m *Model) { m.Config.EmbedMul = 0 },
			"residual multiplier":  func(m *Model) { m.Config.ResidualMul = 0 },
			"logit scale":          func(m *Model) { m.Config.LogitScale = 0 },
		},
	},
	{
		// no pre-norms, post-norms after attention and the feed-forward
		// layer, Q/K norms over all heads together; output not tied
		// (llama.cpp's olmo2 requires output.weight)
		name: "olmo2", arch: "olmo2", seed: 9, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 500000,
		disable:  func(m *Model) { m.Config.QKNormFull = false; m.Config.QKNorm = false },
		disables: map[string]func(m *Model){
			"post-norms": func(m *Model) { m.Config.PostNorms = false },
			"pre-norms (their absence)": func(m *Model) {
				m.Config.NoPreNorms = false
				for l := range m.Layers {
					m.Layers[l].AttnNorm, m.Layers[l].FFNNorm = m.OutputNorm, m.OutputNorm
				}
			},
		},
	},
	{
		// layer 3 (every fourth) without RoPE
		name: "smollm3", arch: "smollm3", seed: 10, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 4,
		ropeBase: 2e6, tied: true,
		disable: func(m *Model) { m.Config.NoRopeStep = 0 },
	},
	{
		// Phi-3 / Phi-4-mini: fused QKV and gate-up tensors, LongRoPE
		// factors (the long ones, since llama.cpp's context of 512 and the
		// test's of 64 exceed the original 32), attention factor 1.19 (the
		// 128k models'), partial RoPE (12 of 16 dimensions, as Phi-4-mini's
		// 0.75), and a sliding window that llama.cpp 0.5.0 ignores
		name: "phi3", arch: "phi3", seed: 11, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 10000, longRope: 12,
		// llama.cpp gives tokens of models named "phi3" Phi-3's attributes,
		// looking up <|endoftext|>, which this vocabulary lacks
		generalName: "longrope",
		kv: map[string]any{
			"rope.dimension_count": uint32(12), "rope.scaling.attn_factor": float32(1.19),
			"rope.scaling.original_context_length": uint32(32), "attention.sliding_window": uint32(4),
		},
		disable: func(m *Model) { m.RopeLong = m.RopeShort },
		disables: map[string]func(m *Model){
			"RoPE attention factor": func(m *Model) { m.Config.RopeAttnFactor = 0 },
		},
	},
	{
		// YaRN with the original context at 8 positions (the test runs 16),
		// factor 4: the correction range is pairs 0..1, so pair 0 keeps its
		// unscaled angle and the others are interpolated; cosines and sines
		// grow by 1 + 0.1·ln 4
		name: "llama-yarn", arch: "llama", seed: 12, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 10000, tied: true,
		kv: map[string]any{
			"rope.scaling.type": "yarn", "rope.scaling.factor": float32(4),
			"rope.scaling.original_context_length": uint32(8),
		},
		disable:  yarnOff,
		disables: yarnDisables(4),
	},
	{
		// YaRN factor 8 over an original context of 8, with
		// rope.scaling.attn_factor (which llama.cpp multiplies in for YaRN
		// as for any scaling), NEOX RoPE
		name: "qwen2-yarn", arch: "qwen2", seed: 13, dim: 64, heads: 4, kvHeads: 2, ffn: 128, layers: 2,
		ropeBase: 1e6, tied: true,
		kv: map[string]any{
			"rope.scaling.type": "yarn", "rope.scaling.factor": float32(8),
			"rope.scaling.original_context_length": uint32(8), "rope.scaling.attn_factor": float32(0.9),
		},
		disable: yarnOff,
		disables: func() map[string]func(*Model) {
			d := yarnDisables(8)
			d["RoPE attention factor"] = func(m *Model) { m.Config.RopeAttnFactor = 0 }
			return d
		}(),
	},
	{
		// YaRN factor 4, original context 12, RoPE base 1000, head width
		// 32: the correction range is pairs 0..2, pair 1 half extrapolated,
		// half interpolated. rope.scaling.yarn_log_multiplier, which
		// llama.cpp reads only for deepseek2, mistral3 and deepseek32, is
		// present and ignored by both.
		name: "qwen3-yarn", arch: "qwen3", seed: 14, dim: 64, heads: 4, kvHeads: 2, headDim: 32, ffn: 128, layers: 2,
		ropeBase: 1000, tied: true,
		kv: map[string]any{
			"rope.scaling.type": "yarn", "rope.scaling.factor": float32(4),
			"rope.scaling.original_context_length": uint32(12), "rope.scaling.yarn_log_multiplier": float32(0.1),
		},
		disable: yarnOff,
		disables: func() map[string]func(*Model) {
			d := yarnDisables(4)
			d["YaRN original context"] = func(m *Model) { m.Config.RopeOrigContext = 2048 }
			return d
		}(),
	},
}

// yarnOff removes YaRN scaling altogether.
func yarnOff(m *Model) {
	m.Config.RopeScaling, m.Config.RopeExtFactor = RopeScaling{}, 0
}

// yarnDisables switches off YaRN's parts one at a time for a model with
// factor f: the ramp (all pairs interpolated, the magnitude kept) and the
// magnitude factor 1 + 0.1·ln f (cancelled through RopeAttnFactor).
func yarnDisables(f float64) map[string]func(*Model) {
	mag := float32(1 + 0.1*math.Log(f))
	return map[string]func(*Model){
		"YaRN ramp": func(m *Model) {
			m.Config.RopeExtFactor = 0
			m.Config.RopeAttnFactor = mag * cmp.Or(m.Config.RopeAttnFactor, 1)
		},
		"YaRN attention factor": func(m *Model) {
			m.Config.RopeAttnFactor = cmp.Or(m.Config.RopeAttnFactor, 1) / mag
		},
	}
}

// archPrompt is the prompt evaluated in one batch (with the logits of every
// position) before archDecodeSteps greedy single-token steps.
var archPrompt = []int{1, 280, 300, 265, 317, 290, 271, 330, 259, 302, 284, 311}

const archDecodeSteps = 4

// archVocab builds a SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256
// byte tokens, then letters and words with decreasing scores.
func archVocab() (tokens []string, scores []float32, types []int32) {
	add := func(s string, score float32, typ int32) {
		tokens = append(tokens, s)
		scores = append(scores, score)
		types = append(types, typ)
	}
	add("<unk>", 0, 2)
	add("<s>", 0, 3)
	add("</s>", 0, 3)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), 0, 6)
	}
	var pieces []string
	pieces = append(pieces, "▁")
	for c := 'a'; c <= 'z'; c++ {
		pieces = append(pieces, string(c))
	}
	for c := 'a'; c <= 'z'; c++ {
		pieces = append(pieces, "▁"+string(c))
	}
	for _, w := range strings.Fields("the and to of was he she it in they that his her said day with had you for on " +
		"one big little time were then there very so but not all saw play happy mom friend could went up what") {
		pieces = append(pieces, "▁"+w)
	}
	for _, s := range strings.Fields("er in th an re ed ing nd on at en ou") {
		pieces = append(pieces, s)
	}
	for i, p := range pieces {
		add(p, -float32(i), 1)
	}
	return tokens, scores, types
}

// llama3RopeFactors computes the rope_freqs tensor llama.cpp's converter writes
// for a Llama 3.1 rope_scaling block (rope_type llama3).
func llama3RopeFactors(base float64, headDim int, factor, lowFreqFactor, highFreqFactor, oldContext float64) []float32 {
	lowWavelen := oldContext / lowFreqFactor
	highWavelen := oldContext / highFreqFactor
	out := make([]float32, 0, headDim/2)
	for i := 0; i < headDim; i += 2 {
		// the converter computes the frequencies in float32
		freq := float64(float32(1 / math.Pow(base, float64(float32(i)/float32(headDim)))))
		wavelen := 2 * math.Pi / freq
		switch {
		case wavelen < highWavelen:
			out = append(out, 1)
		case wavelen > lowWavelen:
			out = append(out, float32(factor))
		default:
			smooth := (oldContext/wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
			out = append(out, float32(1/((1-smooth)/factor+smooth)))
		}
	}
	return out
}

// genArchModel writes the GGUF file of case c. The weights are seeded random
// F32 values: matrices N(0,1)/sqrt(fan_in), norms 1+N(0,0.1²), biases N(0,0.1²);
// the token embeddings are N(0,0.25²) and the output matrix N(0,2²)/sqrt(dim), so
// that the logits spread over a few units whether the output is tied or not.
func genArchModel(c archCase) ([]byte, error) {
	rng := rand.New(rand.NewPCG(c.seed, 0x676c617373626f78))
	tokens, scores, types := archVocab()
	vocab := len(tokens)
	headDim := c.headDim
	if headDim == 0 {
		headDim = c.dim / c.heads
	}
	qDim, kvDim := c.heads*headDim, c.kvHeads*headDim

	w := gguf.NewWriter(32)
	kv := []struct {
		key   string
		value any
	}{
		{"general.architecture", c.arch},
		{"general.name", "glassbox archcheck " + cmp.Or(c.generalName, c.name)},
		{"general.file_type", uint32(0)},
		{c.arch + ".context_length", uint32(2048)},
		{c.arch + ".embedding_length", uint32(c.dim)},
		{c.arch + ".block_count", uint32(c.layers)},
		{c.arch + ".feed_forward_length", uint32(c.ffn)},
		{c.arch + ".attention.head_count", uint32(c.heads)},
		{c.arch + ".attention.head_count_kv", uint32(c.kvHeads)},
		{c.arch + ".attention.layer_norm_rms_epsilon", float32(1e-6)},
	}
	if !c.noRopeBase {
		kv = append(kv, struct {
			key   string
			value any
		}{c.arch + ".rope.freq_base", c.ropeBase})
	}
	for _, g := range []struct {
		key string
		on  bool
		v   any
	}{
		{"attention.sliding_window", c.window > 0, uint32(c.window)},
		{"attn_logit_softcapping", c.attnCap > 0, c.attnCap},
		{"final_logit_softcapping", c.finalCap > 0, c.finalCap},
	} {
		if g.on {
			kv = append(kv, struct {
				key   string
				value any
			}{c.arch + "." + g.key, g.v})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.kv)) {
		kv = append(kv, struct {
			key   string
			value any
		}{c.arch + "." + k, c.kv[k]})
	}
	if c.arch == "llama" {
		// as llama.cpp's converter: qwen2/qwen3 files leave the rope width to
		// default to the head width (attention.key_length)
		kv = append(kv, struct {
			key   string
			value any
		}{c.arch + ".rope.dimension_count", uint32(headDim)})
	}
	if c.headDim != 0 {
		kv = append(kv, []struct {
			key   string
			value any
		}{
			{c.arch + ".attention.key_length", uint32(headDim)},
			{c.arch + ".attention.value_length", uint32(headDim)},
		}...)
	}
	if c.linear > 0 && !c.factorOnly {
		kv = append(kv, struct {
			key   string
			value any
		}{c.arch + ".rope.scaling.type", "linear"})
	}
	if c.linear > 0 {
		kv = append(kv, struct {
			key   string
			value any
		}{c.arch + ".rope.scaling.factor", c.linear})
	}
	kv = append(kv, []struct {
		key   string
		value any
	}{
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.unknown_token_id", uint32(0)},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(2)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
	}...)
	if strings.HasPrefix(c.arch, "gemma") {
		// as the Gemma converters
		kv = append(kv, struct {
			key   string
			value any
		}{"tokenizer.ggml.add_space_prefix", false})
	}
	for _, e := range kv {
		if err := w.AddKV(e.key, e.value); err != nil {
			return nil, err
		}
	}

	var werr error
	add := func(name string, vals []float32, dims ...uint64) {
		if werr != nil {
			return
		}
		data := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
		werr = w.AddTensor(name, tensor.F32, dims, data)
	}
	normal := func(n int, mean, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(mean + std*rng.NormFloat64())
		}
		return v
	}
	// matrix adds a rows × cols matrix (GGML dims [cols rows]).
	matrix := func(name string, cols, rows int) {
		add(name, normal(rows*cols, 0, 1/math.Sqrt(float64(cols))), uint64(cols), uint64(rows))
	}
	norm := func(name string, n int) { add(name, normal(n, 1, 0.1), uint64(n)) }
	bias := func(name string, n int) { add(name, normal(n, 0, 0.1), uint64(n)) }

	add("token_embd.weight", normal(vocab*c.dim, 0, 0.25), uint64(c.dim), uint64(vocab))
	if c.llama3 {
		f := llama3RopeFactors(float64(c.ropeBase), headDim, 8, 1, 4, 8192)
		add("rope_freqs.weight", f, uint64(len(f)))
	}
	if c.longRope > 0 {
		// LongRoPE factors as Phi-3's: short ones near 1, long ones
		// growing with the wavelength
		n := c.longRope / 2
		long, short := make([]float32, n), make([]float32, n)
		for i := range n {
			long[i] = float32(1 + 20*math.Pow(float64(i)/float64(n-1), 2) + 0.1*rng.Float64())
			short[i] = float32(1 + 0.3*float64(i)/float64(n-1) + 0.05*rng.Float64())
		}
		add("rope_factors_long.weight", long, uint64(n))
		add("rope_factors_short.weight", short, uint64(n))
	}
	for l := range c.layers {
		p := fmt.Sprintf("blk.%d.", l)
		olmo2, phi3 := c.arch == "olmo2", c.arch == "phi3"
		if !olmo2 {
			norm(p+"attn_norm.weight", c.dim)
		}
		if phi3 {
			matrix(p+"attn_qkv.weight", c.dim, qDim+2*kvDim)
		} else {
			matrix(p+"attn_q.weight", c.dim, qDim)
			matrix(p+"attn_k.weight", c.dim, kvDim)
			matrix(p+"attn_v.weight", c.dim, kvDim)
		}
		if c.arch == "qwen2" {
			bias(p+"attn_q.bias", qDim)
			bias(p+"attn_k.bias", kvDim)
			bias(p+"attn_v.bias", kvDim)
		}
		if c.arch == "qwen3" || c.arch == "gemma3" {
			norm(p+"attn_q_norm.weight", headDim)
			norm(p+"attn_k_norm.weight", headDim)
		}
		if olmo2 {
			norm(p+"attn_q_norm.weight", qDim)
			norm(p+"attn_k_norm.weight", kvDim)
		}
		matrix(p+"attn_output.weight", qDim, c.dim)
		gemma := strings.HasPrefix(c.arch, "gemma")
		if gemma || olmo2 {
			norm(p+"post_attention_norm.weight", c.dim)
		}
		if !olmo2 {
			norm(p+"ffn_norm.weight", c.dim)
		}
		if phi3 {
			matrix(p+"ffn_up.weight", c.dim, 2*c.ffn)
		} else {
			matrix(p+"ffn_gate.weight", c.dim, c.ffn)
			matrix(p+"ffn_up.weight", c.dim, c.ffn)
		}
		matrix(p+"ffn_down.weight", c.ffn, c.dim)
		if gemma || olmo2 {
			norm(p+"post_ffw_norm.weight", c.dim)
		}
	}
	norm("output_norm.weight", c.dim)
	if !c.tied {
		add("output.weight", normal(vocab*c.dim, 0, 2/math.Sqrt(float64(c.dim))), uint64(c.dim), uint64(vocab))
	}
	if werr != nil {
		return nil, werr
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// archReference is the output of testdata/archcheck/dump_logits.cpp.
type archReference struct {
	GGUFSHA256 string  `json:"gguf_sha256"`
	NPrompt    int     `json:"n_prompt"`
	KVF16      archRun `json:"kv_f16"` // llama.cpp's default F16 KV cache
	KVF32      archRun `json:"kv_f32"`
}

// archRun is one llama.cpp evaluation of the prompt and the greedy steps.
type archRun struct {
	// Tokens holds the prompt then the greedy picks fed back one at a time.
	Tokens []int `json:"tokens"`
	// Picks holds the greedy (argmax) choice after the prompt and after each
	// decode step.
	Picks []int `json:"picks"`
	// Logits holds the next-token logits after each of Tokens.
	Logits [][]float32 `json:"logits"`
}

func loadArchReference(t *testing.T, name string) archReference {
	t.Helper()
	path := filepath.Join("testdata", "archcheck", name+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reference logits: %v (make them with testdata/archcheck/dump_logits.cpp, see README.md there)", err)
	}
	var ref archReference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, r := range []archRun{ref.KVF16, ref.KVF32} {
		if ref.NPrompt != len(archPrompt) || len(r.Tokens) != len(r.Logits) || len(r.Picks) != archDecodeSteps+1 ||
			len(r.Tokens) != ref.NPrompt+archDecodeSteps {
			t.Fatalf("%s: %d prompt tokens, %d tokens, %d logit rows, %d picks; want %d prompt tokens and %d steps",
				path, ref.NPrompt, len(r.Tokens), len(r.Logits), len(r.Picks), len(archPrompt), archDecodeSteps)
		}
		for i, id := range r.Tokens[:ref.NPrompt] {
			if id != archPrompt[i] {
				t.Fatalf("%s: prompt %v, the test's is %v", path, r.Tokens[:ref.NPrompt], archPrompt)
			}
		}
	}
	return ref
}

// writeArchModel generates case c into dir and returns the file's path and
// sha256.
func writeArchModel(t *testing.T, c archCase, dir string) (string, string) {
	t.Helper()
	data, err := genArchModel(c)
	if err != nil {
		t.Fatalf("generating %s: %v", c.name, err)
	}
	sum := sha256.Sum256(data)
	path := filepath.Join(dir, c.name+".gguf")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv(archOutEnv); out != "" {
		if err := os.WriteFile(filepath.Join(out, c.name+".gguf"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path, hex.EncodeToString(sum[:])
}

// runArch feeds tokens through m (the first nPrompt in one batch with all
// logits, then one at a time) with a KV cache of type kv and returns the logits
// after every token.
func runArch(t *testing.T, m *Model, kv tensor.Type, tokens []int, nPrompt int) [][]float32 {
	t.Helper()
	vocab := m.Config.VocabSize
	st, err := m.NewState(StateOptions{Context: 64, KVType: kv})
	if err != nil {
		t.Fatal(err)
	}
	all := make([]float32, nPrompt*vocab)
	if err := m.Forward(st, tokens[:nPrompt], 0, all); err != nil {
		t.Fatal(err)
	}
	rows := make([][]float32, 0, len(tokens))
	for p := range nPrompt {
		rows = append(rows, all[p*vocab:(p+1)*vocab])
	}
	for p := nPrompt; p < len(tokens); p++ {
		logits := make([]float32, vocab)
		if err := m.Forward(st, tokens[p:p+1], p, logits); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, logits)
	}
	return rows
}

// maxAbsDiff returns the largest |a-b| and where it is.
func maxAbsDiff(a, b [][]float32) (d float64, pos, id int) {
	for p := range a {
		for j := range a[p] {
			if e := math.Abs(float64(a[p][j] - b[p][j])); e > d {
				d, pos, id = e, p, j
			}
		}
	}
	return d, pos, id
}

// TestArchitecturesMatchLlamaCpp compares the logits of every generated model
// with llama.cpp's, with an F32 KV cache (within 1e-4: everything but the
// rounding of the cache is computed the same way) and with llama.cpp's default
// F16 cache (within 1e-3), and the greedy picks exactly.
//
// The F16 tolerance is wider because rounding to F16 (the cached keys and
// values, the query and the attention weights) turns a float32 difference of
// one ulp into an F16 ulp whenever a value lies next to an F16 rounding
// boundary: before the forward pass reproduced ggml's summation order, one
// query element of qwen3's layer 0 at position 3 (-0.453735352 here,
// -0.453735411 in llama.cpp) rounded to neighbouring F16 values, which moved
// the logits of positions 3-15 by up to 1.1e-3 through layer 1's cache.
func TestArchitecturesMatchLlamaCpp(t *testing.T) {
	kvRuns := []struct {
		kv  tensor.Type
		tol float64
		ref func(*archReference) archRun
	}{
		{tensor.F32, 1e-4, func(r *archReference) archRun { return r.KVF32 }},
		{tensor.F16, 1e-3, func(r *archReference) archRun { return r.KVF16 }},
	}
	for _, c := range archCases {
		t.Run(c.name, func(t *testing.T) {
			path, sum := writeArchModel(t, c, t.TempDir())
			ref := loadArchReference(t, c.name)
			if sum != ref.GGUFSHA256 {
				t.Fatalf("generated %s.gguf has sha256 %s, the reference was made from %s: the generator changed, regenerate the reference",
					c.name, sum, ref.GGUFSHA256)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := LoadGGUF(f)
			if err != nil {
				t.Fatalf("loading %s: %v", c.name, err)
			}
			if m.Config.Arch != c.arch {
				t.Fatalf("architecture %q, want %q", m.Config.Arch, c.arch)
			}
			vocab := m.Config.VocabSize
			for _, kr := range kvRuns {
				if kr.kv == tensor.F32 && c.f32Tol > 0 {
					kr.tol = c.f32Tol
				}
				r := kr.ref(&ref)
				for i, row := range r.Logits {
					if len(row) != vocab {
						t.Fatalf("reference row %d has %d logits, model vocabulary %d", i, len(row), vocab)
					}
				}
				got := runArch(t, m, kr.kv, r.Tokens, ref.NPrompt)
				worst, p, id := maxAbsDiff(got, r.Logits)
				t.Logf("KV %s: max |logit - llama.cpp| over %d positions × %d: %.3g (position %d, token %d)", kr.kv, len(got), vocab, worst, p, id)
				if worst > kr.tol {
					t.Errorf("KV %s: position %d token %d: logit %g, llama.cpp %g (max difference %.3g > %g)",
						kr.kv, p, id, got[p][id], r.Logits[p][id], worst, kr.tol)
				}
				for i, want := range r.Picks {
					p := ref.NPrompt - 1 + i
					if g := argmax(got[p]); g != want {
						t.Errorf("KV %s: greedy pick %d (after position %d): %d, llama.cpp %d", kr.kv, i, p, g, want)
					}
					if i+1 < len(r.Picks) && r.Tokens[p+1] != want {
						t.Errorf("KV %s: reference feeds token %d at position %d, but its greedy pick was %d", kr.kv, r.Tokens[p+1], p+1, want)
					}
				}
			}

			// The features under test must matter: without each one the logits
			// move far beyond the tolerance.
			features := map[string]func(*Model){c.name: c.disable}
			for name, f := range c.disables {
				features[name] = f
			}
			for name, disable := range features {
				loaded := m.Config
				loaded.SlidingLayers = slices.Clone(loaded.SlidingLayers)
				disable(m)
				off, _, _ := maxAbsDiff(runArch(t, m, tensor.F32, ref.KVF32.Tokens, ref.NPrompt), ref.KVF32.Logits)
				m.Config = loaded
				t.Logf("with the %s feature disabled the max difference is %.3g", name, off)
				if off < 5e-3 {
					t.Errorf("disabling the %s feature changes the logits by only %.3g: the case does not test it", name, off)
				}
			}
		})
	}
}

// TestLlama3RopeFactors checks the generator's Llama 3.1 factors against the
// values of the converter's formula for base 10000, head width 16.
func TestLlama3RopeFactors(t *testing.T) {
	got := llama3RopeFactors(10000, 16, 8, 1, 4, 8192)
	// wavelengths 2π·10000^(i/8): i <= 5 are below 8192/4 (factor 1), i = 7 is
	// above 8192 (factor 8), i = 6 is in between (smoothed).
	smooth := (8192/(2*math.Pi*1000) - 1) / 3
	want := []float64{1, 1, 1, 1, 1, 1, 1 / ((1-smooth)/8 + smooth), 8}
	if len(got) != len(want) {
		t.Fatalf("%d factors, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-4*want[i] {
			t.Errorf("factor %d = %g, want %g", i, got[i], want[i])
		}
	}
}

// TestUnknownArchitecture checks that an unsupported architecture is refused
// with an error naming it.
func TestUnknownArchitecture(t *testing.T) {
	tests := []struct {
		arch string
		want string
	}{
		{"mamba", `"mamba"`},
		{"gpt2", `"gpt2"`},
		{"", "general.architecture"},
	}
	for _, tt := range tests {
		w := gguf.NewWriter(32)
		if tt.arch != "" {
			if err := w.AddKV("general.architecture", tt.arch); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.AddKV(tt.arch+".embedding_length", uint32(8)); err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor("token_embd.weight", tensor.F32, []uint64{8, 4}, make([]byte, 4*8*4)); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		_, err = LoadGGUF(f)
		if err == nil {
			t.Errorf("architecture %q: loaded without error", tt.arch)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("architecture %q: error %q does not mention %s", tt.arch, err, tt.want)
		}
	}
}

// TestLongRopeFactorChoice checks that a State uses LongRoPE's short factors
// up to the original context (rope.scaling.original_context_length, 32 in
// the phi3 case) and the long ones beyond, as llama.cpp chooses by its
// context size; that the query, key and value matrices are the fused
// attn_qkv's rows; and that a fused tensor of the wrong shape is refused
// with its name.
func TestLongRopeFactorChoice(t *testing.T) {
	var c archCase
	for _, ac := range archCases {
		if ac.name == "phi3" {
			c = ac
		}
	}
	data, err := genArchModel(c)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.RopeOrigContext != 32 || m.RopeLong == nil || m.RopeShort == nil {
		t.Fatalf("original context %d, long factors %v, short %v", m.Config.RopeOrigContext, m.RopeLong, m.RopeShort)
	}
	for _, tt := range []struct {
		ctx  int
		want []float32
	}{{16, m.RopeShort}, {32, m.RopeShort}, {33, m.RopeLong}, {64, m.RopeLong}} {
		st, err := m.NewState(StateOptions{Context: tt.ctx})
		if err != nil {
			t.Fatal(err)
		}
		if &st.ropeFreqs[0] != &tt.want[0] {
			t.Errorf("context %d: factors %v, want %v", tt.ctx, st.ropeFreqs, tt.want)
		}
	}

	// the fused query/key/value rows of layer 0, and a shape error
	var w bytes.Buffer
	gw := gguf.NewWriter(32)
	for _, kv := range f.KV {
		if err := gw.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		raw, err := f.TensorData(&ti)
		if err != nil {
			t.Fatal(err)
		}
		dims := ti.Dims
		if ti.Name == "blk.1.attn_qkv.weight" {
			dims = []uint64{dims[0], dims[1] - 1}
			raw = raw[:len(raw)-4*int(dims[0])]
		}
		if err := gw.AddTensor(ti.Name, ti.Type, dims, raw); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gw.WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	bad, err := gguf.Parse(w.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGGUF(bad); err == nil || !strings.Contains(err.Error(), "blk.1.attn_qkv.weight") {
		t.Errorf("attn_qkv with a row missing: error %v, want one naming blk.1.attn_qkv.weight", err)
	}
	qkv, _ := f.Tensor("blk.0.attn_qkv.weight")
	raw, err := f.TensorData(qkv)
	if err != nil {
		t.Fatal(err)
	}
	q := m.Config.QDim()
	for _, chk := range []struct {
		mat *tensor.Matrix
		row int
	}{{m.Layers[0].Wq, 0}, {m.Layers[0].Wk, q}, {m.Layers[0].Wv, q + m.Config.KVDim()}} {
		got := make([]float32, m.Config.Dim)
		chk.mat.Row(0, got)
		for i, v := range got {
			if want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*(chk.row*m.Config.Dim+i):])); v != want {
				t.Fatalf("fused row %d, value %d: %g, want %g", chk.row, i, v, want)
			}
		}
	}
}
