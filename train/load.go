package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

// ConfigFromEngine returns the training shape of a loaded model, or an error
// naming what the training model cannot represent. The training model is the
// llama architecture with adjacent-pair RoPE over the whole head, no biases,
// no per-head norms and no RoPE scaling.
func ConfigFromEngine(c *model.Config) (ModelConfig, error) {
	var why []string
	if c.Arch != "llama" {
		why = append(why, fmt.Sprintf("architecture %q (only llama)", c.Arch))
	}
	if c.RopeNeox {
		why = append(why, "NEOX RoPE")
	}
	if c.RopeDim != c.HeadDim {
		why = append(why, fmt.Sprintf("RoPE over %d of %d head dimensions", c.RopeDim, c.HeadDim))
	}
	if c.HeadDim*c.Heads != c.Dim || c.ValueDim != c.HeadDim {
		why = append(why, fmt.Sprintf("head width %d×%d heads ≠ dim %d", c.HeadDim, c.Heads, c.Dim))
	}
	if t := c.RopeScaling.Type; t != "" && t != "none" {
		why = append(why, fmt.Sprintf("RoPE scaling %q", t))
	}
	if c.AttnBias {
		why = append(why, "attention biases")
	}
	if c.QKNorm {
		why = append(why, "query/key norms")
	}
	if len(why) > 0 {
		return ModelConfig{}, fmt.Errorf("train: cannot fine-tune this model: %s", strings.Join(why, ", "))
	}
	mc := ModelConfig{
		Vocab: c.VocabSize, Dim: c.Dim, Layers: c.Layers, Heads: c.Heads, KVHeads: c.KVHeads,
		Hidden: c.HiddenDim, Context: c.ContextLength, RopeTheta: float64(c.RopeTheta), NormEps: float64(c.NormEps),
		UntiedOutput: !c.TiedOutput,
	}
	return mc, mc.Validate()
}

// FromEngine copies the weights of a model loaded by the inference engine
// (any weight type it can dequantize: F32, F16, BF16, Q8_0, Q4_0, K-quants)
// into a float32 training model, the starting point of fine-tuning. A model
// loaded from a llama-architecture GGUF file and exported again with
// ExportFineTuned gives back the same logits (in F32).
func FromEngine(em *model.Model) (*Model[float32], error) {
	mc, err := ConfigFromEngine(&em.Config)
	if err != nil {
		return nil, err
	}
	if len(em.RopeFreqs) > 0 {
		return nil, fmt.Errorf("train: cannot fine-tune this model: it carries RoPE frequency factors (rope_freqs)")
	}
	m, err := NewModel[float32](mc, NewRNG(0, 0))
	if err != nil {
		return nil, err
	}
	ec := mc.EngineConfig()
	for i, r := range ec.Tensors() {
		var l *model.Layer
		if r.Layer >= 0 {
			l = &em.Layers[r.Layer]
		}
		dst := m.Params[i].T
		if m.Params[i].Name != r.Name || dst.Rows != r.Rows || dst.Cols != r.Cols {
			return nil, fmt.Errorf("train: internal: parameter %d is %s, layout says %s", i, m.Params[i].Name, r.Name)
		}
		var mat *tensor.Matrix
		var vec []float32
		switch r.Spec.Name {
		case model.NameTokenEmbd:
			mat = em.TokenEmbedding
		case model.NameOutput:
			mat = em.Output
		case model.NameOutputNorm:
			vec = em.OutputNorm
		case model.NameAttnNorm:
			vec = l.AttnNorm
		case model.NameFFNNorm:
			vec = l.FFNNorm
		case model.NameAttnQ:
			mat = l.Wq
		case model.NameAttnK:
			mat = l.Wk
		case model.NameAttnV:
			mat = l.Wv
		case model.NameAttnOutput:
			mat = l.Wo
		case model.NameFFNGate:
			mat = l.W1
		case model.NameFFNUp:
			mat = l.W3
		case model.NameFFNDown:
			mat = l.W2
		default:
			return nil, fmt.Errorf("train: tensor %s is not trained", r.Name)
		}
		switch {
		case mat != nil:
			if mat.Rows != r.Rows || mat.Cols != r.Cols {
				return nil, fmt.Errorf("train: tensor %s is %d×%d, expected %d×%d", r.Name, mat.Rows, mat.Cols, r.Rows, r.Cols)
			}
			if err := dequantRows(mat, dst.Data); err != nil {
				return nil, fmt.Errorf("train: tensor %s: %w", r.Name, err)
			}
		case len(vec) == len(dst.Data):
			copy(dst.Data, vec)
		default:
			return nil, fmt.Errorf("train: tensor %s has %d values, expected %d", r.Name, len(vec), len(dst.Data))
		}
	}
	return m, nil
}

// dequantRows expands every row of mat into dst.
func dequantRows(mat *tensor.Matrix, dst []float32) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot dequantize weight type %s: %v", mat.Type, r)
		}
	}()
	for r := 0; r < mat.Rows; r++ {
		mat.Row(r, dst[r*mat.Cols:(r+1)*mat.Cols])
	}
	return nil
}

// ExportFineTuned writes m as a GGUF file of weight type typ (F32, F16,
// BF16, Q8_0, Q4_0 …) carrying every metadata entry of the file the model
// was loaded from (tokenizer, chat template, …) except the architecture's
// hyper-parameters and the general keys the writer sets, so the fine-tuned
// model loads wherever the original did. name becomes general.name.
func ExportFineTuned(w io.Writer, m *Model[float32], src *gguf.File, name string, typ tensor.Type) error {
	ec := m.Config.EngineConfig()
	own := map[string]bool{
		"general.architecture": true, "general.name": true, "general.file_type": true,
		"general.quantization_version": true, gguf.AlignmentKey: true,
	}
	license, _ := src.String("general.license")
	own["general.license"] = true
	var meta []model.KV
	for _, kv := range src.KV {
		if own[kv.Key] || strings.HasPrefix(kv.Key, ec.Arch+".") {
			continue
		}
		meta = append(meta, model.KV{Key: kv.Key, Value: kv.Value})
	}
	params := map[string][]float32{}
	for _, p := range m.Params {
		params[p.Name] = p.T.Data
	}
	err := model.WriteGGUF(w, &ec, model.WriteOptions{
		Type: typ, Name: name, License: license, Metadata: meta,
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

// FineTunedFormats are the GGUF types ExportFineTunedAll writes.
var FineTunedFormats = []string{"f32", "f16", "q8_0"}

// ExportFineTunedAll writes name.<format>.gguf into dir for each format of
// FineTunedFormats in formats (see ExportFineTuned) and returns the paths
// with their SHA-256 sums.
func ExportFineTunedAll(dir, name string, m *Model[float32], src *gguf.File, formats []string) (map[string]string, error) {
	sums := map[string]string{}
	for _, f := range formats {
		typ, err := tensor.ParseType(strings.ToUpper(f))
		if err != nil || !slices.Contains(FineTunedFormats, f) {
			return nil, fmt.Errorf("train: unknown export format %q (known: %s)", f, strings.Join(FineTunedFormats, ", "))
		}
		var buf bytes.Buffer
		if err := ExportFineTuned(&buf, m, src, name, typ); err != nil {
			return nil, err
		}
		p := filepath.Join(dir, fmt.Sprintf("%s.%s.gguf", name, f))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		s := sha256.Sum256(buf.Bytes())
		sums[p] = hex.EncodeToString(s[:])
	}
	return sums, nil
}
