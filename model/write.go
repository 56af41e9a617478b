package model

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"glassbox/gguf"
	"glassbox/tensor"
)

// fileTypes names llama.cpp's general.file_type values (LLAMA_FTYPE).
var fileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16", 38: "MXFP4_MOE",
}

// fileTypeName names a general.file_type value.
func fileTypeName(ft uint64) string {
	if n, ok := fileTypes[ft]; ok {
		return n
	}
	return fmt.Sprintf("file type %d", ft)
}

// CheckWriteType reports whether WriteGGUF writes matrices of type t.
func CheckWriteType(t tensor.Type) error {
	_, err := writeFileType(t)
	return err
}

// writeFileType returns the general.file_type of a file whose matrices are
// all of type t, a type tensor.Quantize writes.
func writeFileType(t tensor.Type) (uint32, error) {
	for ft, n := range fileTypes {
		bs := t.BlockSize()
		if n == t.String() && bs > 0 && tensor.Quantize(t, make([]float32, bs), make([]byte, 4*bs)) == nil {
			return uint32(ft), nil
		}
	}
	return 0, fmt.Errorf("weight type %s is not supported (use F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0)", t)
}

// KV is one metadata entry to write; Value is of a Go type gguf.Writer.AddKV
// accepts.
type KV struct {
	Key   string
	Value any
}

// WriteOptions says what WriteGGUF writes besides the config.
type WriteOptions struct {
	// Type is the type of the matrices; vectors (norms, biases) and
	// mixture-of-experts routers are written as F32. It must be a type tensor.Quantize writes and that has a
	// general.file_type (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0).
	Type tensor.Type
	// ExpertType, when not F32 (the zero value), is the type of the
	// mixture-of-experts matrices (ffn_gate_exps, ffn_up_exps,
	// ffn_down_exps), as llama.cpp's gpt-oss files keep the experts in
	// MXFP4 and the rest in another type; it may also be MXFP4, which
	// has no general.file_type of its own. F32 experts take Type.
	ExpertType tensor.Type
	// Name and License are general.name and general.license (SPDX id);
	// empty ones are not written.
	Name, License string
	// Metadata holds further keys (the tokenizer's), written after the
	// model's own in this order. Keys whose value is an empty string are
	// left out.
	Metadata []KV
	// Weights returns the values of a tensor of the layout (row-major,
	// t.Rows×t.Cols). It is called from several goroutines at once.
	Weights func(t TensorRef) ([]float32, error)
}

// WriteGGUF writes a model of config c as a GGUF file: general.* keys, the
// architecture's hyper-parameters, o.Metadata, then the tensors of the layout
// (Config.Tensors) in order, converted from o.Weights to o.Type with
// tensor.Quantize. The file loads back with LoadGGUF to the same config.
func WriteGGUF(w io.Writer, c *Config, o WriteOptions) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("write GGUF: %w", err)
	}
	if _, ok := families[c.Arch]; !ok {
		return fmt.Errorf("write GGUF: architecture %q is not supported", c.Arch)
	}
	ft, err := writeFileType(o.Type)
	if err != nil {
		return fmt.Errorf("write GGUF: %w", err)
	}
	if o.ExpertType != tensor.F32 {
		if bs := o.ExpertType.BlockSize(); bs <= 0 || tensor.Quantize(o.ExpertType, make([]float32, bs), make([]byte, 4*bs)) != nil {
			return fmt.Errorf("write GGUF: expert weight type %s is not supported", o.ExpertType)
		}
	}
	if o.Weights == nil {
		return fmt.Errorf("write GGUF: no weights")
	}
	gw := gguf.NewWriter(0)
	a := c.Arch + "."
	kvs := []KV{
		{"general.architecture", c.Arch},
		{"general.name", o.Name},
		{"general.license", o.License},
		{"general.file_type", ft},
		{"general.quantization_version", uint32(2)},
		{a + "vocab_size", uint32(c.VocabSize)},
		{a + "context_length", uint32(c.ContextLength)},
		{a + "embedding_length", uint32(c.Dim)},
		{a + "block_count", uint32(c.Layers)},
		{a + "feed_forward_length", uint32(c.HiddenDim)},
		{a + "attention.head_count", uint32(c.Heads)},
		{a + "attention.head_count_kv", uint32(c.KVHeads)},
	}
	if c.HeadDim != c.Dim/c.Heads || c.ValueDim != c.HeadDim {
		kvs = append(kvs, KV{a + "attention.key_length", uint32(c.HeadDim)}, KV{a + "attention.value_length", uint32(c.ValueDim)})
	}
	kvs = append(kvs, []KV{
		{a + "rope.dimension_count", uint32(c.RopeDim)},
		{a + "rope.freq_base", c.RopeTheta},
		{a + "attention.layer_norm_rms_epsilon", c.NormEps},
	}...)
	if c.RopeAttnFactor != 0 {
		kvs = append(kvs, KV{a + "rope.scaling.attn_factor", c.RopeAttnFactor})
	}
	if c.RopeOrigContext != 0 {
		kvs = append(kvs, KV{a + "rope.scaling.original_context_length", uint32(c.RopeOrigContext)})
	}
	switch c.RopeScaling.Type {
	case "", "none":
	case "linear":
		kvs = append(kvs, KV{a + "rope.scaling.type", "linear"}, KV{a + "rope.scaling.factor", c.RopeScaling.Factor})
	case "yarn":
		// llama.cpp reads no YaRN parameters but the factor and the
		// original context for these architectures: others cannot be stored
		if c.RopeExtFactor != 1 || c.RopeBetaFast != 32 || c.RopeBetaSlow != 1 {
			return fmt.Errorf("write GGUF: YaRN extrapolation mix %g and ramp %g..%g cannot be stored (llama.cpp reads 1, 32..1 for %s)",
				c.RopeExtFactor, c.RopeBetaFast, c.RopeBetaSlow, c.Arch)
		}
		kvs = append(kvs, KV{a + "rope.scaling.type", "yarn"}, KV{a + "rope.scaling.factor", c.RopeScaling.Factor})
	default:
		return fmt.Errorf("write GGUF: rope scaling %q is not supported by the writer", c.RopeScaling.Type)
	}
	if families[c.Arch].gemma {
		gkv, err := gemmaKVs(c)
		if err != nil {
			return fmt.Errorf("write GGUF: %w", err)
		}
		kvs = append(kvs, gkv...)
	}
	if f := families[c.Arch]; f.olmo2 && !(c.PostNorms && c.NoPreNorms && c.QKNormFull) {
		return fmt.Errorf("write GGUF: olmo2 has post-norms, no pre-norms and Q/K norms over all heads")
	}
	if f := families[c.Arch]; !f.granite && c.NoRopeStep != f.noRopeStep {
		return fmt.Errorf("write GGUF: %s leaves every %d-th layer without RoPE, not every %d-th", c.Arch, f.noRopeStep, c.NoRopeStep)
	}
	if f := families[c.Arch]; f.fusedGateUp != c.FusedGateUp || (f.fusedGateUp && c.QueryScale != attnScale(c.HeadDim)) {
		return fmt.Errorf("write GGUF: %s fuses its gate and up projections: %v, scales its queries by 1/sqrt(head width): %v",
			c.Arch, f.fusedGateUp, f.fusedGateUp)
	}
	if f := families[c.Arch]; f.moe != c.MoE() || (f.moe && c.ExpertsNorm == f.gptOSS) || c.ExpertsSoftmaxWeight != f.gptOSS || c.ExpertsBias != f.gptOSS {
		return fmt.Errorf("write GGUF: %s has experts: %v (normalized weights: %v, softmax_weight gating and biases: %v), the config %d experts (normalized: %v, softmax_weight: %v, biases: %v)",
			c.Arch, f.moe, f.moe && !f.gptOSS, f.gptOSS, c.Experts, c.ExpertsNorm, c.ExpertsSoftmaxWeight, c.ExpertsBias)
	}
	if families[c.Arch].gptOSS {
		gkv, err := gptOSSKVs(c)
		if err != nil {
			return fmt.Errorf("write GGUF: %w", err)
		}
		kvs = append(kvs, gkv...)
	} else if c.AttnSinks || c.AttnOutBias || c.SwiGLUOAI {
		return fmt.Errorf("write GGUF: %s has no attention sinks, output bias or clamped SwiGLU", c.Arch)
	}
	if c.MoE() {
		kvs = append(kvs,
			KV{a + "expert_count", uint32(c.Experts)},
			KV{a + "expert_used_count", uint32(c.ExpertsUsed)},
			KV{a + "expert_feed_forward_length", uint32(c.HiddenDim)})
	}
	if families[c.Arch].granite {
		gkv, err := graniteKVs(c)
		if err != nil {
			return fmt.Errorf("write GGUF: %w", err)
		}
		kvs = append(kvs, gkv...)
	}
	for _, kv := range append(kvs, o.Metadata...) {
		if s, ok := kv.Value.(string); ok && s == "" {
			continue
		}
		if err := gw.AddKV(kv.Key, kv.Value); err != nil {
			return fmt.Errorf("write GGUF: %w", err)
		}
	}

	refs := c.Tensors()
	datas := make([][]byte, len(refs))
	types := make([]tensor.Type, len(refs))
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, r := range refs {
		types[i] = o.Type
		switch {
		case r.Spec.Vector() || r.Spec.Router():
			types[i] = tensor.F32
		case r.Spec.Stacked && o.ExpertType != tensor.F32:
			types[i] = o.ExpertType
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			datas[i], errs[i] = encode(r, types[i], o.Weights)
		}()
	}
	wg.Wait()
	for i, r := range refs {
		if errs[i] != nil {
			return fmt.Errorf("write GGUF: tensor %s: %w", r.Name, errs[i])
		}
	}
	for _, t := range fileTensors(c, refs, datas) {
		dims := t.ref.Dims()
		if err := gw.AddTensor(t.ref.Name, types[t.i], dims, t.data); err != nil {
			return fmt.Errorf("write GGUF: %w", err)
		}
	}
	if _, err := gw.WriteTo(w); err != nil {
		return fmt.Errorf("write GGUF: %w", err)
	}
	return nil
}

// encode fetches the values of tensor r and converts them to typ row by row.
func encode(r TensorRef, typ tensor.Type, weights func(TensorRef) ([]float32, error)) ([]byte, error) {
	if bs := typ.BlockSize(); r.Cols%bs != 0 {
		return nil, fmt.Errorf("%d columns are not a multiple of %s's block of %d; write F16 or F32", r.Cols, typ, bs)
	}
	vals, err := weights(r)
	if err != nil {
		return nil, err
	}
	if len(vals) != r.Rows*r.Cols {
		return nil, fmt.Errorf("%d values, want %d×%d", len(vals), r.Rows, r.Cols)
	}
	rb, err := typ.RowBytes(r.Cols)
	if err != nil {
		return nil, err
	}
	out := make([]byte, r.Rows*rb)
	for i := range r.Rows {
		if err := tensor.Quantize(typ, vals[i*r.Cols:(i+1)*r.Cols], out[i*rb:(i+1)*rb]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// gemmaKVs returns the metadata of a gemma2/gemma3 config, refusing what
// readGemma would not read back the same.
func gemmaKVs(c *Config) ([]KV, error) {
	a := c.Arch + "."
	// what the loader derives from the architecture and the shape
	want := Config{Arch: c.Arch, Dim: c.Dim, Heads: c.Heads, HeadDim: c.HeadDim, Layers: c.Layers}
	if err := gemmaShape(&want); err != nil {
		return nil, err
	}
	switch {
	case !c.EmbedScale || !c.GELU || !c.PostNorms:
		return nil, fmt.Errorf("%s needs scaled embeddings, GeGLU and post-norms", c.Arch)
	case c.QueryScale != want.QueryScale:
		return nil, fmt.Errorf("%s: query scale %g, the architecture implies %g", c.Arch, c.QueryScale, want.QueryScale)
	case c.QKNorm != (c.Arch == "gemma3"):
		return nil, fmt.Errorf("%s: Q/K norms must be %v", c.Arch, c.Arch == "gemma3")
	case c.Arch == "gemma2" && c.SlidingWindow == 0:
		return nil, fmt.Errorf("gemma2 needs a sliding window")
	case c.Arch == "gemma2" && c.RopeScalingLocal != c.RopeScaling:
		return nil, fmt.Errorf("gemma2's sliding-window layers scale RoPE like the others")
	case c.Arch == "gemma3" && c.RopeScalingLocal != (RopeScaling{}):
		return nil, fmt.Errorf("gemma3's sliding-window layers do not scale RoPE")
	case c.Arch == "gemma3" && c.AttnSoftcap != 0:
		return nil, fmt.Errorf("gemma3 has no attention soft-capping")
	}
	var kvs []KV
	if c.AttnSoftcap != 0 {
		kvs = append(kvs, KV{a + "attn_logit_softcapping", c.AttnSoftcap})
	}
	if c.FinalSoftcap != 0 {
		kvs = append(kvs, KV{a + "final_logit_softcapping", c.FinalSoftcap})
	} else if c.Arch == "gemma2" {
		return nil, fmt.Errorf("gemma2 needs final logit soft-capping")
	}
	if c.Arch == "gemma2" && c.AttnSoftcap == 0 {
		return nil, fmt.Errorf("gemma2 needs attention soft-capping")
	}
	if c.SlidingWindow > 0 {
		kvs = append(kvs,
			KV{a + "attention.sliding_window", uint32(c.SlidingWindow)},
			KV{a + "attention.sliding_window_pattern", c.SlidingLayers},
			KV{a + "rope.freq_base_swa", c.RopeThetaLocal})
	}
	return kvs, nil
}

// gptOSSKVs returns the metadata of a gpt-oss config beyond the common
// keys, refusing what readGptOSS would not read back the same.
func gptOSSKVs(c *Config) ([]KV, error) {
	switch {
	case !c.AttnSinks || !c.AttnOutBias || !c.SwiGLUOAI:
		return nil, fmt.Errorf("gpt-oss has attention sinks, an attention output bias and the clamped SwiGLU")
	case c.RopeDim != c.HeadDim:
		return nil, fmt.Errorf("gpt-oss rotates whole heads: rope dimension count %d, head width %d", c.RopeDim, c.HeadDim)
	case c.SlidingWindow > 0 && c.RopeScalingLocal != c.RopeScaling:
		return nil, fmt.Errorf("gpt-oss's sliding-window layers scale RoPE like the others")
	case c.QKNorm || c.PostNorms || c.GELU || c.EmbedScale || c.QueryScale != 0:
		return nil, fmt.Errorf("gpt-oss has no Q/K norms, post-norms, GeGLU, embedding or query scale")
	}
	a := c.Arch + "."
	kvs := []KV{{a + "attention.sliding_window", uint32(c.SlidingWindow)}}
	if c.SlidingWindow > 0 {
		def := make([]bool, c.Layers)
		for l := range def {
			def[l] = l%2 == 0
		}
		if !slices.Equal(def, c.SlidingLayers) {
			kvs = append(kvs, KV{a + "attention.sliding_window_pattern", c.SlidingLayers})
		}
		if c.RopeThetaLocal != c.RopeTheta {
			kvs = append(kvs, KV{a + "rope.freq_base_swa", c.RopeThetaLocal})
		}
	}
	return kvs, nil
}

// graniteKVs returns the metadata of a granite config, refusing what
// readGranite would not read back the same.
func graniteKVs(c *Config) ([]KV, error) {
	switch {
	case c.LogitScale == 0:
		return nil, fmt.Errorf("granite needs a logit scale")
	case c.NoRopeStep != 0 && c.NoRopeStep != 1:
		return nil, fmt.Errorf("granite has RoPE in every layer or in none, not every %d-th without", c.NoRopeStep)
	}
	a := c.Arch + "."
	kvs := []KV{{a + "logit_scale", c.LogitScale}}
	for _, e := range []struct {
		key string
		v   float32
	}{{"residual_scale", c.ResidualMul}, {"embedding_scale", c.EmbedMul}, {"attention.scale", c.AttnScale}} {
		if e.v != 0 {
			kvs = append(kvs, KV{a + e.key, e.v})
		}
	}
	if c.NoRopeStep == 1 {
		kvs = append(kvs, KV{a + "rope.scaling.finetuned", false})
	}
	return kvs, nil
}

// fileTensor is one tensor as written: the ref it is (or the first of the
// refs it fuses, renamed and with the fused row count), its index in refs and
// its bytes.
type fileTensor struct {
	ref  TensorRef
	i    int
	data []byte
}

// fileTensors returns the tensors of a file of config c in file order, from
// the layout's refs and their encoded datas: the refs themselves, except
// that phi3 (FusedGateUp) stores attn_q, attn_k and attn_v as one
// attn_qkv.weight and ffn_gate and ffn_up as one ffn_up.weight, rows one
// after the other, as llama.cpp's converter writes them, and gpt-oss stores
// ffn_norm as post_attention_norm.weight.
func fileTensors(c *Config, refs []TensorRef, datas [][]byte) []fileTensor {
	var out []fileTensor
	for i := 0; i < len(refs); i++ {
		r := refs[i]
		if c.FusedGateUp && r.Layer >= 0 && i+2 < len(refs) && r.Spec.Name == NameAttnQ &&
			refs[i+1].Spec.Name == NameAttnK && refs[i+2].Spec.Name == NameAttnV {
			f := r
			f.Name = LayerName(r.Layer, NameAttnQKV)
			f.Rows = r.Rows + refs[i+1].Rows + refs[i+2].Rows
			out = append(out, fileTensor{f, i, slices.Concat(datas[i], datas[i+1], datas[i+2])})
			i += 2
			continue
		}
		if c.FusedGateUp && r.Layer >= 0 && i+1 < len(refs) && r.Spec.Name == NameFFNGate && refs[i+1].Spec.Name == NameFFNUp {
			f := refs[i+1]
			f.Rows = r.Rows + f.Rows
			out = append(out, fileTensor{f, i, slices.Concat(datas[i], datas[i+1])})
			i++
			continue
		}
		if c.ffnNormIsPostAttn() && r.Spec.Name == NameFFNNorm {
			r.Name = LayerName(r.Layer, NameAttnPost)
		}
		out = append(out, fileTensor{r, i, datas[i]})
	}
	return out
}
