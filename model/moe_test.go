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
	"slices"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// The mixture-of-experts checks: small random qwen3moe models written by
// WriteGGUF in several weight types, compared with the logits llama.cpp
// computed for them (testdata/archcheck/qwen3moe-<type>.json, made with
// dump_logits.cpp as the other architecture references; see the README
// there).

// moeConfig is the generated qwen3moe model: qwen3's attention (per-head
// Q/K norms, a head width that is not dim/heads), 20 experts of width 64, 4
// used per token. 20 experts exercise both parts of ggml's softmax (a SIMD
// group of 16, then 4 values one by one).
func moeConfig() *Config {
	return &Config{
		Arch: "qwen3moe", VocabSize: 0, Dim: 64, HiddenDim: 64, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 32, ValueDim: 32, RopeDim: 32, ContextLength: 2048, NormEps: 1e-6, RopeTheta: 1e6,
		RopeNeox: true, QKNorm: true, Experts: 20, ExpertsUsed: 4, ExpertsNorm: true,
	}
}

// moeTypes are the weight types of the generated models.
var moeTypes = []tensor.Type{tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_0}

// moeWeights returns seeded random values for tensor r: matrices
// N(0,1)/sqrt(cols) (the router N(0,3²)/sqrt(cols), so that it prefers
// some experts clearly), norms 1+N(0,0.1²), token embeddings N(0,0.25²),
// the output N(0,2²)/sqrt(cols). Each tensor has its own generator (named
// by the tensor), since WriteGGUF asks for them concurrently.
func moeWeights(r TensorRef) ([]float32, error) {
	h := fnv.New64a()
	h.Write([]byte(r.Name))
	rng := rand.New(rand.NewPCG(h.Sum64(), 0x676c617373626f78))
	mean, std := 0.0, 1/math.Sqrt(float64(r.Cols))
	switch {
	case r.Spec.Vector():
		mean, std = 1, 0.1
	case r.Spec.Name == NameTokenEmbd:
		std = 0.25
	case r.Spec.Name == NameOutput:
		std *= 2
	case r.Spec.Router():
		std *= 3
	}
	v := make([]float32, r.Rows*r.Cols)
	for i := range v {
		v[i] = float32(mean + std*rng.NormFloat64())
	}
	return v, nil
}

// genMoEModel writes the qwen3moe model with matrices of type typ.
func genMoEModel(typ tensor.Type) ([]byte, error) {
	tokens, scores, types := archVocab()
	c := moeConfig()
	c.VocabSize = len(tokens)
	var buf bytes.Buffer
	err := WriteGGUF(&buf, c, WriteOptions{
		Type: typ, Name: "glassbox archcheck qwen3moe",
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
		Weights: moeWeights,
	})
	return buf.Bytes(), err
}

// loadMoEModel generates the model of type typ, checks its hash against the
// reference's and loads it.
func loadMoEModel(t *testing.T, typ tensor.Type) (*Model, archReference) {
	t.Helper()
	name := "qwen3moe-" + strings.ToLower(typ.String())
	data, err := genMoEModel(typ)
	if err != nil {
		t.Fatalf("generating %s: %v", name, err)
	}
	sum := sha256.Sum256(data)
	if out := os.Getenv(archOutEnv); out != "" {
		if err := os.WriteFile(filepath.Join(out, name+".gguf"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ref := loadArchReference(t, name)
	if got := hex.EncodeToString(sum[:]); got != ref.GGUFSHA256 {
		t.Fatalf("generated %s.gguf has sha256 %s, the reference was made from %s: the generator changed, regenerate the reference",
			name, got, ref.GGUFSHA256)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadGGUF(f)
	if err != nil {
		t.Fatalf("loading %s: %v", name, err)
	}
	return m, ref
}

// TestQwen3MoEMatchesLlamaCpp compares the logits of the generated qwen3moe
// models (F32, F16, Q8_0 and Q4_0 weights) with llama.cpp's, with the
// tolerances of TestArchitecturesMatchLlamaCpp, and the greedy picks exactly;
// then checks that the router matters (routing every token to the experts of
// lowest probability moves the logits far) and that the weights'
// normalization does.
func TestQwen3MoEMatchesLlamaCpp(t *testing.T) {
	for _, typ := range moeTypes {
		t.Run(typ.String(), func(t *testing.T) {
			m, ref := loadMoEModel(t, typ)
			c := m.Config
			if !c.MoE() || c.Experts != 20 || c.ExpertsUsed != 4 || c.HiddenDim != 64 || !c.ExpertsNorm {
				t.Fatalf("config: %d experts, %d used, width %d, normalized %v", c.Experts, c.ExpertsUsed, c.HiddenDim, c.ExpertsNorm)
			}
			for _, kr := range []struct {
				kv  tensor.Type
				tol float64
				run archRun
			}{{tensor.F32, 1e-4, ref.KVF32}, {tensor.F16, 1e-3, ref.KVF16}} {
				got := runArch(t, m, kr.kv, kr.run.Tokens, ref.NPrompt)
				worst, p, id := maxAbsDiff(got, kr.run.Logits)
				t.Logf("KV %s: max |logit - llama.cpp| over %d positions: %.3g (position %d, token %d)", kr.kv, len(got), worst, p, id)
				if worst > kr.tol {
					t.Errorf("KV %s: position %d token %d: logit %g, llama.cpp %g (max difference %.3g > %g)",
						kr.kv, p, id, got[p][id], kr.run.Logits[p][id], worst, kr.tol)
				}
				for i, want := range kr.run.Picks {
					p := ref.NPrompt - 1 + i
					if g := argmax(got[p]); g != want {
						t.Errorf("KV %s: greedy pick %d (after position %d): %d, llama.cpp %d", kr.kv, i, p, g, want)
					}
				}
			}
			if typ != tensor.F32 {
				return
			}
			for name, disable := range map[string]func(m *Model){
				"normalized expert weights": func(m *Model) { m.Config.ExpertsNorm = false },
				"one expert fewer":          func(m *Model) { m.Config.ExpertsUsed-- },
			} {
				loaded := m.Config
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

// TestQwen3MoEBatchMatchesSingle checks that a prompt processed in batches
// (experts multiplying the rows routed to them together) gives the logits
// of the tokens fed one at a time bit for bit, and that ForwardBatch (which
// runs MoE models through the single-token path) equals Forward.
func TestQwen3MoEBatchMatchesSingle(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F16, tensor.Q4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			data, err := genMoEModel(typ)
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
			vocab := m.Config.VocabSize
			// one at a time: Forward of one token
			single := make([]float32, len(archPrompt)*vocab)
			st, err := m.NewState(StateOptions{Context: 32})
			if err != nil {
				t.Fatal(err)
			}
			for p, id := range archPrompt {
				if err := m.Forward(st, []int{id}, p, single[p*vocab:(p+1)*vocab]); err != nil {
					t.Fatal(err)
				}
			}
			// ForwardBatch of two sequences with the same tokens
			b, err := m.NewBatch(2)
			if err != nil {
				t.Fatal(err)
			}
			s1, _ := m.NewState(StateOptions{Context: 32})
			s2, _ := m.NewState(StateOptions{Context: 32})
			l1, l2 := make([]float32, vocab), make([]float32, vocab)
			for p, id := range archPrompt {
				if err := m.ForwardBatch(b, []SeqStep{{State: s1, Token: id, Pos: p, Logits: l1}, {State: s2, Token: id, Pos: p, Logits: l2}}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(l1, single[p*vocab:(p+1)*vocab]) || !slices.Equal(l2, l1) {
					t.Fatalf("position %d: ForwardBatch logits differ from Forward's", p)
				}
			}
			// a prompt batch with every row's logits: the experts' products
			// of several rows must round as one row's
			st2, err := m.NewState(StateOptions{Context: 32, Batch: 5})
			if err != nil {
				t.Fatal(err)
			}
			all := make([]float32, len(archPrompt)*vocab)
			if err := m.Forward(st2, archPrompt, 0, all); err != nil {
				t.Fatal(err)
			}
			// the attention of a batch rounds like llama.cpp's batch (not
			// bit for bit the single-token order), so compare the greedy
			// picks and closeness; the expert products are checked
			// exactly by TestMoEExpertsBatchExact
			for p := range archPrompt {
				a, s := all[p*vocab:(p+1)*vocab], single[p*vocab:(p+1)*vocab]
				if argmax(a) != argmax(s) {
					t.Errorf("position %d: batch pick %d, single %d", p, argmax(a), argmax(s))
				}
			}
		})
	}
}

// TestMoEExpertsBatchExact checks the experts of a prompt batch (each
// expert multiplying the rows routed to it at once) against each row alone,
// bit for bit, for every weight type. (The router's own product of a batch
// rounds as llama.cpp's batch kernel, so each row is given the batch's
// routing.)
func TestMoEExpertsBatchExact(t *testing.T) {
	for _, typ := range moeTypes {
		data, err := genMoEModel(typ)
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
		dim, k := m.Config.Dim, m.Config.ExpertsUsed
		const n = 7
		rng := rand.New(rand.NewPCG(1, 2))
		x := make([]float32, n*dim)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		st, err := m.NewState(StateOptions{Context: 16, Batch: n})
		if err != nil {
			t.Fatal(err)
		}
		w := &m.Layers[1]
		got := make([]float32, n*dim)
		st.route(w, x, n)
		sel, selW := slices.Clone(st.moe.sel[:n*k]), slices.Clone(st.moe.selW[:n*k])
		st.experts(w, x, got, n)
		used := map[int]bool{}
		for i := range n {
			copy(st.moe.sel, sel[i*k:(i+1)*k])
			copy(st.moe.selW, selW[i*k:(i+1)*k])
			for _, e := range sel[i*k : (i+1)*k] {
				used[e] = true
			}
			one := make([]float32, dim)
			st.experts(w, x[i*dim:(i+1)*dim], one, 1)
			if !slices.Equal(one, got[i*dim:(i+1)*dim]) {
				t.Errorf("%s: row %d of a batch of %d differs from the row alone", typ, i, n)
			}
		}
		if len(used) < 2*k {
			t.Errorf("%s: the batch used only %d experts, the test needs rows routed differently", typ, len(used))
		}
	}
}

// TestTopK checks the router's selection: largest first, ties to the lower
// index.
func TestTopK(t *testing.T) {
	tests := []struct {
		p    []float32
		k    int
		want []int
	}{
		{[]float32{0.1, 0.5, 0.2, 0.2}, 2, []int{1, 2}},
		{[]float32{0.1, 0.5, 0.2, 0.2}, 3, []int{1, 2, 3}},
		{[]float32{1, 1, 1}, 3, []int{0, 1, 2}},
		{[]float32{0.3, 0.1, 0.6}, 1, []int{2}},
	}
	for _, tt := range tests {
		sel := make([]int, tt.k)
		topK(tt.p, make([]int, len(tt.p)), sel)
		if !slices.Equal(sel, tt.want) {
			t.Errorf("topK(%v, %d) = %v, want %v", tt.p, tt.k, sel, tt.want)
		}
	}
}

// TestMoEConfigErrors checks that bad mixture-of-experts metadata is refused
// with an error naming the key.
func TestMoEConfigErrors(t *testing.T) {
	data, err := genMoEModel(tensor.F32)
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(kvs map[string]any)
		want string
	}{
		{"no expert count", func(kv map[string]any) { delete(kv, "qwen3moe.expert_count") }, "expert_count"},
		{"no used count", func(kv map[string]any) { delete(kv, "qwen3moe.expert_used_count") }, "expert_used_count"},
		{"used exceeds count", func(kv map[string]any) { kv["qwen3moe.expert_used_count"] = uint32(21) }, "expert_used_count"},
		{"per-layer array", func(kv map[string]any) { kv["qwen3moe.expert_used_count"] = []uint32{4, 4} }, "per-layer array"},
		{"stacked shape", func(kv map[string]any) { kv["qwen3moe.expert_count"] = uint32(19) }, "ffn_gate_inp.weight"},
	}
	for _, tt := range tests {
		kvs := map[string]any{}
		var keys []string
		for _, kv := range f.KV {
			kvs[kv.Key] = kv.Value
			keys = append(keys, kv.Key)
		}
		tt.edit(kvs)
		w := gguf.NewWriter(32)
		for _, k := range keys {
			if v, ok := kvs[k]; ok {
				if err := w.AddKV(k, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, ti := range f.Tensors {
			raw, err := f.TensorData(&ti)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, raw); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := w.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		g, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		_, err = LoadGGUF(g)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

// expertRecorder records what an ExpertTracer receives.
type expertRecorder struct {
	calls []expertCall
}

type expertCall struct {
	layer, pos int
	x          []float32
	ids        []int
	weights    []float32
	probs      []float32
}

func (r *expertRecorder) Position(int) bool                             { return true }
func (r *expertRecorder) Attention(int, int, int, []float32, []float32) {}
func (r *expertRecorder) Residual(int, int, []float32)                  {}
func (r *expertRecorder) Experts(layer, pos int, x []float32, ids []int, weights, probs []float32) {
	r.calls = append(r.calls, expertCall{layer, pos, slices.Clone(x), slices.Clone(ids), slices.Clone(weights), slices.Clone(probs)})
}

// TestExpertTraceTruthful recomputes each traced router choice
// independently, in float64 from the router's dequantized rows and the
// traced input: the softmax probabilities, the experts of highest
// probability (in order) and their normalized weights must be those the
// engine reports, for a prompt batch and for single-token steps.
func TestExpertTraceTruthful(t *testing.T) {
	t.Run("qwen3moe", func(t *testing.T) {
		m, ref := loadMoEModel(t, tensor.Q8_0)
		checkExpertTraceTruthful(t, m, ref)
	})
	// gpt-oss: the router's scores biased, the experts picked by score and
	// weighted by the softmax of theirs (the same as the probabilities over
	// their sum, up to rounding)
	t.Run("gpt-oss", func(t *testing.T) {
		m, ref := loadGptOSSModel(t, gptOSSCases[len(gptOSSCases)-1])
		checkExpertTraceTruthful(t, m, ref)
	})
}

func checkExpertTraceTruthful(t *testing.T, m *Model, ref archReference) {
	c := m.Config
	rec := &expertRecorder{}
	st, err := m.NewState(StateOptions{Context: 32})
	if err != nil {
		t.Fatal(err)
	}
	st.Tracer = rec
	toks := ref.KVF16.Tokens
	if err := m.Forward(st, toks[:ref.NPrompt], 0, nil); err != nil {
		t.Fatal(err)
	}
	for p := ref.NPrompt; p < len(toks); p++ {
		if err := m.Forward(st, toks[p:p+1], p, make([]float32, c.VocabSize)); err != nil {
			t.Fatal(err)
		}
	}
	// every position of every layer (no logits asked for the prompt: all
	// its rows go through the last layer)
	if want := len(toks) * c.Layers; len(rec.calls) != want {
		t.Fatalf("%d router records, want %d", len(rec.calls), want)
	}
	row := make([]float32, c.Dim)
	checked := 0
	for _, call := range rec.calls {
		w := &m.Layers[call.layer]
		logits := make([]float64, c.Experts)
		for e := range logits {
			w.Router.Row(e, row)
			for i, v := range row {
				logits[e] += float64(v) * float64(call.x[i])
			}
			if c.ExpertsBias {
				logits[e] += float64(w.RouterBias[e])
			}
		}
		mx := slices.Max(logits)
		probs := make([]float64, c.Experts)
		var sum float64
		for e, v := range logits {
			probs[e] = math.Exp(v - mx)
			sum += probs[e]
		}
		for e := range probs {
			probs[e] /= sum
			if d := math.Abs(probs[e] - float64(call.probs[e])); d > 1e-5 {
				t.Fatalf("layer %d position %d: expert %d probability %g, recomputed %g", call.layer, call.pos, e, call.probs[e], probs[e])
			}
		}
		order := make([]int, c.Experts)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmpDesc(probs[a], probs[b]) })
		// a near-tie at the cut could fall either way within rounding
		if probs[order[c.ExpertsUsed-1]]-probs[order[c.ExpertsUsed]] < 1e-5 {
			continue
		}
		checked++
		if !slices.Equal(order[:c.ExpertsUsed], call.ids) {
			t.Fatalf("layer %d position %d: experts %v, recomputed %v", call.layer, call.pos, call.ids, order[:c.ExpertsUsed])
		}
		var top float64
		for _, e := range call.ids {
			top += probs[e]
		}
		for j, e := range call.ids {
			if d := math.Abs(probs[e]/top - float64(call.weights[j])); d > 1e-5 {
				t.Fatalf("layer %d position %d: weight of expert %d %g, recomputed %g", call.layer, call.pos, e, call.weights[j], probs[e]/top)
			}
		}
	}
	if checked < len(rec.calls)*9/10 {
		t.Errorf("only %d of %d choices were clear of a near-tie", checked, len(rec.calls))
	}
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}
