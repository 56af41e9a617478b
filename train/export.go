package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"glassbox/model"
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

// ExportGGUF writes the model as a GGUF file of architecture "llama" with
// 2-D weights stored as typ (F32, F16 or Q8_0; norms stay F32), tied output
// embeddings (no output.weight), and the tokenizer as a byte-level BPE
// ("gpt2") vocabulary with merges, BOS = EOS = the end-of-text token, and no
// chat template.
func ExportGGUF(w io.Writer, m *Model[float32], info ExportInfo, typ tensor.Type) error {
	switch typ {
	case tensor.F32, tensor.F16, tensor.Q8_0:
	default:
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
	params := map[string][]float32{}
	for _, p := range m.Params {
		params[p.Name] = p.T.Data
	}
	ec := c.EngineConfig()
	err := model.WriteGGUF(w, &ec, model.WriteOptions{
		Type: typ, Name: info.Name, License: info.License,
		Metadata: []model.KV{
			{Key: "tokenizer.ggml.model", Value: "gpt2"},
			{Key: "tokenizer.ggml.pre", Value: info.PreTokenizer},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.merges", Value: merges},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(info.EOT)},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(info.EOT)},
			{Key: "tokenizer.ggml.add_bos_token", Value: true},
			{Key: "tokenizer.ggml.add_eos_token", Value: false},
		},
		Weights: func(t model.TensorRef) ([]float32, error) {
			d, ok := params[t.Name]
			if !ok {
				return nil, fmt.Errorf("the model has no weight %s", t.Name)
			}
			return d, nil
		},
	})
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
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
	ec := m.Config.EngineConfig()
	refs := map[string]model.TensorRef{}
	for _, t := range ec.Tensors() {
		refs[t.Name] = t
	}
	var es []entry
	for _, p := range m.Params {
		r, ok := refs[p.Name]
		if !ok {
			return fmt.Errorf("train: weight %s is not in the Llama layout", p.Name)
		}
		d := p.T.Data
		if r.Spec.Name == model.NameAttnQ || r.Spec.Name == model.NameAttnK {
			d = toHFRope(d, p.T.Rows, p.T.Cols, hd)
		}
		es = append(es, entry{r.HFName(), p.T.Rows, p.T.Cols, d})
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
