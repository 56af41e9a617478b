package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// The gpt-oss checks: small random gpt-oss models written by WriteGGUF in
// several weight types, compared with the logits llama.cpp 0.5.0 computed
// for them (testdata/archcheck/gptoss-<type>.json, made with dump_logits.cpp
// as the other architecture references; see the README there).

// gptOSSConfig is the generated gpt-oss model: 2 layers (layer 0 slides over
// 4 positions, layer 1 is global: gpt-oss's default pattern), head width 32,
// grouped-query attention with q/k/v and output biases and a sink per head,
// YaRN (factor 4 over an original context of 8, so that the 16 evaluated
// positions run past it), 20 experts of width 64 of which 4 are used, with
// biases, softmax_weight gating and the clamped SwiGLU.
func gptOSSConfig() *Config {
	yarn := RopeScaling{Type: "yarn", Factor: 4}
	return &Config{
		Arch: "gpt-oss", Dim: 64, HiddenDim: 64, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 32, ValueDim: 32, RopeDim: 32, ContextLength: 2048, NormEps: 1e-5, RopeTheta: 150000,
		RopeNeox: true, RopeScaling: yarn, RopeOrigContext: 8, RopeExtFactor: 1, RopeBetaFast: 32, RopeBetaSlow: 1,
		AttnBias: true, SlidingWindow: 4, SlidingLayers: []bool{true, false}, RopeThetaLocal: 150000, RopeScalingLocal: yarn,
		Experts: 20, ExpertsUsed: 4, ExpertsSoftmaxWeight: true, ExpertsBias: true,
		SwiGLUOAI: true, AttnSinks: true, AttnOutBias: true,
	}
}

// gptOSSCase is one generated gpt-oss model: its matrices' type and its
// experts' (MXFP4 for the files gpt-oss is published in; F32 means the same
// as the other matrices).
type gptOSSCase struct {
	name        string
	typ, expert tensor.Type
}

var gptOSSCases = []gptOSSCase{
	{"gptoss-f32", tensor.F32, tensor.F32},
	{"gptoss-f16", tensor.F16, tensor.F16},
	{"gptoss-q8_0", tensor.Q8_0, tensor.Q8_0},
	{"gptoss-mxfp4", tensor.Q8_0, tensor.MXFP4},
}

// gptOSSWeights returns seeded random values for tensor r: as moeWeights,
// with biases N(0, 0.5²), sinks N(0, 1), and the experts' gate and up
// matrices 3× wider (N(0, 3²)/sqrt(cols)), so that the clamped SwiGLU's
// limits (gate above 7, up beyond ±7) are reached.
func gptOSSWeights(r TensorRef) ([]float32, error) {
	h := fnv.New64a()
	h.Write([]byte(r.Name))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x6770742d6f7373))
	mean, std := 0.0, 1/math.Sqrt(float64(r.Cols))
	switch {
	case r.Spec.Name == NameAttnSinks:
		std = 1
	case strings.HasSuffix(r.Spec.Name, ".bias"):
		std = 0.5
	case r.Spec.Vector():
		mean, std = 1, 0.1
	case r.Spec.Name == NameTokenEmbd:
		std = 0.25
	case r.Spec.Name == NameOutput:
		std *= 2
	case r.Spec.Router():
		std *= 3
	case r.Spec.Name == NameFFNGateExp || r.Spec.Name == NameFFNUpExp:
		std *= 3
	}
	v := make([]float32, r.Rows*r.Cols)
	for i := range v {
		v[i] = float32(mean + std*rng.NormFloat64())
	}
	return v, nil
}

// genGptOSSModel writes the gpt-oss model of case gc.
func genGptOSSModel(gc gptOSSCase) ([]byte, error) {
	tokens, scores, types := archVocab()
	c := gptOSSConfig()
	c.VocabSize = len(tokens)
	var buf bytes.Buffer
	err := WriteGGUF(&buf, c, WriteOptions{
		Type: gc.typ, ExpertType: gc.expert, Name: "glassbox archcheck gpt-oss",
		Metadata: []KV{
			{"tokenizer.ggml.model", "llama"},
			{"tokenizer.ggml.tokens", tokens},
			{"tokenizer.ggml.scores", scores},
			{"tokenizer.ggml.token_type", types},
			{"tokenizer.ggml.unknown_token_id", uint32(0)},
			{"tokenizer.ggml.bos_token_id", uint32(1)},
			{"tokenizer.ggml.eos_token_id", uint32(2)},
			{"tokenizer.ggml.add_bos_token", true},
			{"tokenizer.ggml.add_eos_token", false},
		},
		Weights: gptOSSWeights,
	})
	return buf.Bytes(), err
}

// loadGptOSSModel generates case gc, checks its hash against the reference's
// and loads it.
func loadGptOSSModel(t *testing.T, gc gptOSSCase) (*Model, archReference) {
	t.Helper()
	data, err := genGptOSSModel(gc)
	if err != nil {
		t.Fatalf("generating %s: %v", gc.name, err)
	}
	sum := sha256.Sum256(data)
	if out := os.Getenv(archOutEnv); out != "" {
		if err := os.WriteFile(filepath.Join(out, gc.name+".gguf"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ref := loadArchReference(t, gc.name)
	if got := hex.EncodeToString(sum[:]); got != ref.GGUFSHA256 {
		t.Fatalf("generated %s.gguf has sha256 %s, the reference was made from %s: the generator changed, regenerate the reference",
			gc.name, got, ref.GGUFSHA256)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadGGUF(f)
	if err != nil {
		t.Fatalf("loading %s: %v", gc.name, err)
	}
	return m, ref
}

// gptOSSDisables switch off one gpt-oss feature each on a loaded model.
var gptOSSDisables = map[string]func(m *Model){
	"attention sinks": func(m *Model) { m.Config.AttnSinks = false },
	"sliding window":  func(m *Model) { m.Config.SlidingWindow = 0 },
	"clamped SwiGLU":  func(m *Model) { m.Config.SwiGLUOAI = false },
	// the clamp alone (restored by the test after each run)
	"SwiGLU limit":          func(*Model) { swigluOAILimit = float32(math.Inf(1)) },
	"softmax_weight gating": func(m *Model) { m.Config.ExpertsSoftmaxWeight = false },
	"router and expert biases": func(m *Model) {
		m.Config.ExpertsBias = false
	},
	"attention output bias": func(m *Model) { m.Config.AttnOutBias = false },
	"q/k/v biases":          func(m *Model) { m.Config.AttnBias = false },
	"YaRN": func(m *Model) {
		m.Config.RopeScaling, m.Config.RopeScalingLocal, m.Config.RopeExtFactor = RopeScaling{}, RopeScaling{}, 0
	},
}

// TestGptOSSMatchesLlamaCpp compares the logits of the generated gpt-oss
// models (F32, F16 and Q8_0 weights, and MXFP4 experts with Q8_0 elsewhere)
// with llama.cpp's, with the tolerances of TestArchitecturesMatchLlamaCpp,
// and the greedy picks exactly: the prompt in one batch of 12 and in
// batches of 5 (so that the sliding window spans two batches), then 4
// single-token steps. On the F32 model it then checks that each gpt-oss
// feature matters: switching it off moves the logits far.
func TestGptOSSMatchesLlamaCpp(t *testing.T) {
	for _, gc := range gptOSSCases {
		t.Run(gc.name, func(t *testing.T) {
			m, ref := loadGptOSSModel(t, gc)
			c := m.Config
			switch {
			case !c.MoE() || c.Experts != 20 || c.ExpertsUsed != 4 || c.HiddenDim != 64 || c.ExpertsNorm || !c.ExpertsSoftmaxWeight || !c.ExpertsBias:
				t.Fatalf("config: %d experts, %d used, width %d, normalized %v, softmax_weight %v, biases %v",
					c.Experts, c.ExpertsUsed, c.HiddenDim, c.ExpertsNorm, c.ExpertsSoftmaxWeight, c.ExpertsBias)
			case !c.AttnSinks || !c.AttnOutBias || !c.AttnBias || !c.SwiGLUOAI || c.SlidingWindow != 4 || !c.Sliding(0) || c.Sliding(1):
				t.Fatalf("config: sinks %v, output bias %v, q/k/v biases %v, clamped SwiGLU %v, window %d, sliding layers %v",
					c.AttnSinks, c.AttnOutBias, c.AttnBias, c.SwiGLUOAI, c.SlidingWindow, c.SlidingLayers)
			case c.RopeScaling.Type != "yarn" || c.RopeScalingLocal != c.RopeScaling || c.RopeThetaLocal != c.RopeTheta:
				t.Fatalf("config: RoPE %v, sliding layers %v base %g", c.RopeScaling, c.RopeScalingLocal, c.RopeThetaLocal)
			case m.Layers[0].GateExps[0].Type != gc.expert || m.Layers[0].Wq.Type != gc.typ:
				t.Fatalf("types: experts %s, attention %s; want %s, %s", m.Layers[0].GateExps[0].Type, m.Layers[0].Wq.Type, gc.expert, gc.typ)
			}
			for _, kr := range []struct {
				kv  tensor.Type
				tol float64
				run archRun
			}{{tensor.F32, 1e-4, ref.KVF32}, {tensor.F16, 1e-3, ref.KVF16}} {
				for _, batch := range []int{0, 5} {
					got := runArchBatch(t, m, kr.kv, kr.run.Tokens, ref.NPrompt, batch)
					worst, p, id := maxAbsDiff(got, kr.run.Logits)
					t.Logf("KV %s, prompt batch %d: max |logit - llama.cpp| over %d positions: %.3g (position %d, token %d)",
						kr.kv, cmpOr(batch, ref.NPrompt), len(got), worst, p, id)
					if worst > kr.tol {
						t.Errorf("KV %s, prompt batch %d: position %d token %d: logit %g, llama.cpp %g (max difference %.3g > %g)",
							kr.kv, cmpOr(batch, ref.NPrompt), p, id, got[p][id], kr.run.Logits[p][id], worst, kr.tol)
					}
					for i, want := range kr.run.Picks {
						p := ref.NPrompt - 1 + i
						if g := argmax(got[p]); g != want {
							t.Errorf("KV %s: greedy pick %d (after position %d): %d, llama.cpp %d", kr.kv, i, p, g, want)
						}
					}
				}
			}
			if gc.typ != tensor.F32 {
				return
			}
			for name, disable := range gptOSSDisables {
				loaded := m.Config
				disable(m)
				off, _, _ := maxAbsDiff(runArch(t, m, tensor.F32, ref.KVF32.Tokens, ref.NPrompt), ref.KVF32.Logits)
				m.Config, swigluOAILimit = loaded, 7
				t.Logf("with the %s feature disabled the max difference is %.3g", name, off)
				if off < 5e-3 {
					t.Errorf("disabling the %s feature changes the logits by only %.3g: the case does not test it", name, off)
				}
			}
		})
	}
}

// cmpOr returns a, or b when a is 0.
func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// runArchBatch is runArch with prompt batches of batch tokens (0: the
// state's default, which holds the whole prompt).
func runArchBatch(t *testing.T, m *Model, kv tensor.Type, tokens []int, nPrompt, batch int) [][]float32 {
	t.Helper()
	vocab := m.Config.VocabSize
	st, err := m.NewState(StateOptions{Context: 64, KVType: kv, Batch: batch})
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

// TestGptOSSConfig checks what the loader reads from a gpt-oss file's
// metadata beyond the generated model's: rope.freq_base_swa for the
// sliding-window layers, and clear errors for the keys llama.cpp requires
// and for heads whose width is not the RoPE width.
func TestGptOSSConfig(t *testing.T) {
	data, err := genGptOSSModel(gptOSSCases[0])
	if err != nil {
		t.Fatal(err)
	}
	edit := func(key string, v any) *gguf.File {
		f, err := gguf.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		kvs := f.KV[:0:0]
		for _, kv := range f.KV {
			if kv.Key != key {
				kvs = append(kvs, kv)
			}
		}
		if v != nil {
			kvs = append(kvs, gguf.KV{Key: key, Value: v})
		}
		f.KV = kvs
		return f
	}
	c, err := ConfigFromGGUF(edit("gpt-oss.rope.freq_base_swa", float32(10000)))
	if err != nil {
		t.Fatal(err)
	}
	if c.RopeThetaLocal != 10000 || c.RopeTheta != 150000 || c.RopeScalingLocal != c.RopeScaling {
		t.Errorf("rope.freq_base_swa: local base %g (scaling %v), global %g (scaling %v)", c.RopeThetaLocal, c.RopeScalingLocal, c.RopeTheta, c.RopeScaling)
	}
	for _, tc := range []struct {
		key  string
		v    any
		want string
	}{
		{"gpt-oss.expert_feed_forward_length", nil, "gpt-oss.expert_feed_forward_length is missing"},
		{"gpt-oss.attention.sliding_window", nil, "gpt-oss.attention.sliding_window is missing"},
		{"gpt-oss.rope.dimension_count", uint32(16), "rope.dimension_count 16 differs from the head width 32"},
		{"gpt-oss.expert_count", nil, "gpt-oss needs gpt-oss.expert_count > 0"},
	} {
		_, err := ConfigFromGGUF(edit(tc.key, tc.v))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %v: error %v, want %q", tc.key, tc.v, err, tc.want)
		}
	}
}
