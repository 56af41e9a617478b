package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"glassbox/gguf"
	"glassbox/tensor"
	"glassbox/tokenizer/bpe"
)

// ExportInfo is the metadata written with an exported model.
type ExportInfo struct {
	Name    string // general.name
	License string // general.license (SPDX id)
	// Tokenizer is the trained tokenizer; its pre-tokenizer is recorded as PreTokenizer.
	Tokenizer    *bpe.Trained
	PreTokenizer string // tokenizer.ggml.pre, e.g. "gpt-2"
	EOT          int    // end-of-text id, written as BOS and EOS
}

// ggufFileType maps a weight type to general.file_type (llama_ftype).
var ggufFileType = map[tensor.Type]uint32{tensor.F32: 0, tensor.F16: 1, tensor.Q8_0: 7}

// ExportGGUF writes the model as a GGUF file of architecture "llama" with
// 2-D weights stored as typ (F32, F16 or Q8_0; norms stay F32), tied output
// embeddings (no output.weight), and the tokenizer as a byte-level BPE
// ("gpt2") vocabulary with merges, BOS = EOS = the end-of-text token, and no
// chat template.
func ExportGGUF(w io.Writer, m *Model[float32], info ExportInfo, typ tensor.Type) error {
	ft, ok := ggufFileType[typ]
	if !ok {
		return fmt.Errorf("train: GGUF export supports F32, F16 and Q8_0, not %v", typ)
	}
	c := m.Config
	tr := info.Tokenizer
	if tr == nil || len(tr.Vocab) != c.Vocab {
		return fmt.Errorf("train: exporting needs the model's tokenizer (%d tokens)", c.Vocab)
	}
	tokens := make([]string, c.Vocab)
	for tok, id := range tr.Vocab {
		if id < 0 || id >= c.Vocab {
			return fmt.Errorf("train: tokenizer id %d of %q is outside the vocabulary", id, tok)
		}
		tokens[id] = tok
	}
	types := make([]int32, c.Vocab)
	for i := range types {
		types[i] = 1 // normal
	}
	for i := range tr.SpecialTokens {
		types[i] = 3 // control
	}
	merges := make([]string, len(tr.Merges))
	for i, mg := range tr.Merges {
		merges[i] = mg[0] + " " + mg[1]
	}
	gw := gguf.NewWriter(32)
	kvs := []struct {
		k string
		v any
	}{
		{"general.architecture", "llama"},
		{"general.name", info.Name},
		{"general.license", info.License},
		{"general.file_type", ft},
		{"general.quantization_version", uint32(2)},
		{"llama.vocab_size", uint32(c.Vocab)},
		{"llama.context_length", uint32(c.Context)},
		{"llama.embedding_length", uint32(c.Dim)},
		{"llama.block_count", uint32(c.Layers)},
		{"llama.feed_forward_length", uint32(c.Hidden)},
		{"llama.attention.head_count", uint32(c.Heads)},
		{"llama.attention.head_count_kv", uint32(c.KVHeads)},
		{"llama.rope.dimension_count", uint32(c.HeadDim())},
		{"llama.rope.freq_base", float32(c.RopeTheta)},
		{"llama.attention.layer_norm_rms_epsilon", float32(c.NormEps)},
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", info.PreTokenizer},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.merges", merges},
		{"tokenizer.ggml.bos_token_id", uint32(info.EOT)},
		{"tokenizer.ggml.eos_token_id", uint32(info.EOT)},
		{"tokenizer.ggml.add_bos_token", true},
		{"tokenizer.ggml.add_eos_token", false},
	}
	for _, kv := range kvs {
		if s, ok := kv.v.(string); ok && s == "" {
			continue
		}
		if err := gw.AddKV(kv.k, kv.v); err != nil {
			return fmt.Errorf("train: GGUF metadata: %w", err)
		}
	}
	for _, p := range m.Params {
		t := p.T
		tt := typ
		if t.Rows == 1 {
			tt = tensor.F32 // norm weights
		}
		if tt == tensor.Q8_0 && t.Cols%32 != 0 {
			return fmt.Errorf("train: %s has %d columns, not a multiple of 32 as Q8_0 needs; export F16 or F32", p.Name, t.Cols)
		}
		data, err := encodeTensor(tt, t.Data, t.Cols)
		if err != nil {
			return fmt.Errorf("train: encoding %s: %w", p.Name, err)
		}
		dims := []uint64{uint64(t.Cols), uint64(t.Rows)}
		if t.Rows == 1 {
			dims = dims[:1]
		}
		if err := gw.AddTensor(p.Name, tt, dims, data); err != nil {
			return fmt.Errorf("train: GGUF tensor %s: %w", p.Name, err)
		}
	}
	if _, err := gw.WriteTo(w); err != nil {
		return fmt.Errorf("train: writing GGUF: %w", err)
	}
	return nil
}

// encodeTensor converts float32 values to the bytes of type typ, row by row.
func encodeTensor(typ tensor.Type, vals []float32, cols int) ([]byte, error) {
	switch typ {
	case tensor.F32:
		out := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case tensor.F16:
		out := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(out[2*i:], tensor.F32ToF16(v))
		}
		return out, nil
	case tensor.Q8_0:
		rowBytes := cols / 32 * 34
		out := make([]byte, len(vals)/cols*rowBytes)
		for r := 0; r < len(vals)/cols; r++ {
			if err := tensor.Quantize(typ, vals[r*cols:(r+1)*cols], out[r*rowBytes:(r+1)*rowBytes]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type %v", typ)
}

// hfName maps a GGUF tensor name to the Hugging Face Llama name.
func hfName(name string) string {
	switch name {
	case "token_embd.weight":
		return "model.embed_tokens.weight"
	case "output_norm.weight":
		return "model.norm.weight"
	}
	var l int
	var rest string
	if _, err := fmt.Sscanf(name, "blk.%d.%s", &l, &rest); err != nil {
		return name
	}
	m := map[string]string{
		"attn_norm.weight":   "input_layernorm.weight",
		"attn_q.weight":      "self_attn.q_proj.weight",
		"attn_k.weight":      "self_attn.k_proj.weight",
		"attn_v.weight":      "self_attn.v_proj.weight",
		"attn_output.weight": "self_attn.o_proj.weight",
		"ffn_norm.weight":    "post_attention_layernorm.weight",
		"ffn_gate.weight":    "mlp.gate_proj.weight",
		"ffn_up.weight":      "mlp.up_proj.weight",
		"ffn_down.weight":    "mlp.down_proj.weight",
	}
	return fmt.Sprintf("model.layers.%d.%s", l, m[rest])
}

// toHFRope reorders the rows of a Q or K projection from GGUF's adjacent-pair
// RoPE layout to Hugging Face's rotate-half layout: within each head, GGUF row
// 2i+s becomes row s·hd/2+i.
func toHFRope(w []float32, rows, cols, hd int) []float32 {
	out := make([]float32, len(w))
	half := hd / 2
	for h := 0; h < rows/hd; h++ {
		for i := 0; i < half; i++ {
			for s := 0; s < 2; s++ {
				src := h*hd + 2*i + s
				dst := h*hd + s*half + i
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}

// ExportSafetensors writes the weights in Hugging Face Llama naming and layout
// (Q/K rows in rotate-half order, tied embeddings, no lm_head) as F32
// safetensors, tensors sorted by name.
func ExportSafetensors(w io.Writer, m *Model[float32]) error {
	type entry struct {
		name       string
		rows, cols int
		data       []float32
	}
	hd := m.Config.HeadDim()
	var es []entry
	for _, p := range m.Params {
		d := p.T.Data
		if strings.HasSuffix(p.Name, "attn_q.weight") || strings.HasSuffix(p.Name, "attn_k.weight") {
			d = toHFRope(d, p.T.Rows, p.T.Cols, hd)
		}
		es = append(es, entry{hfName(p.Name), p.T.Rows, p.T.Cols, d})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	type meta struct {
		Dtype   string   `json:"dtype"`
		Shape   []int    `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int64
	for _, e := range es {
		shape := []int{e.rows, e.cols}
		if e.rows == 1 {
			shape = []int{e.cols}
		}
		n := int64(4 * len(e.data))
		header[e.name] = meta{"F32", shape, [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hj)))
	b.Write(hj)
	for _, e := range es {
		for _, v := range e.data {
			binary.Write(&b, binary.LittleEndian, math.Float32bits(v))
		}
	}
	_, err = w.Write(b.Bytes())
	return err
}

// HFConfig returns a Hugging Face config.json for the model (LlamaForCausalLM).
func HFConfig(c ModelConfig, eot int) []byte {
	cfg := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"vocab_size":              c.Vocab,
		"hidden_size":             c.Dim,
		"intermediate_size":       c.Hidden,
		"num_hidden_layers":       c.Layers,
		"num_attention_heads":     c.Heads,
		"num_key_value_heads":     c.KVHeads,
		"head_dim":                c.HeadDim(),
		"max_position_embeddings": c.Context,
		"rms_norm_eps":            c.NormEps,
		"rope_theta":              c.RopeTheta,
		"hidden_act":              "silu",
		"tie_word_embeddings":     true,
		"attention_bias":          false,
		"mlp_bias":                false,
		"bos_token_id":            eot,
		"eos_token_id":            eot,
		"torch_dtype":             "float32",
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	return append(b, '\n')
}
