package model

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"glassbox/tensor"
)

// Model is a loaded Llama-family transformer. The struct tags name the GGUF
// tensors each field is bound to (see bind): a layer field's name is prefixed with
// "blk.N.", "optional" marks tensors some architectures lack, and "alt:" names the
// tensor used when the first is absent (tied output weights).
type Model struct {
	Config Config

	TokenEmbedding *tensor.Matrix `gguf:"token_embd.weight"`
	Layers         []Layer        `gguf:"blk"`
	OutputNorm     []float32      `gguf:"output_norm.weight"`
	Output         *tensor.Matrix `gguf:"output.weight,alt:token_embd.weight"`
	RopeFreqs      []float32      `gguf:"rope_freqs.weight,optional"`

	close func() error

	paramsOnce sync.Once // DistinctParams
	distinct   int64
}

// Layer is one transformer block: attention then feed-forward, each behind an
// RMS norm and a residual connection.
type Layer struct {
	AttnNorm []float32      `gguf:"attn_norm.weight"`
	Wq       *tensor.Matrix `gguf:"attn_q.weight"`
	Wk       *tensor.Matrix `gguf:"attn_k.weight"`
	Wv       *tensor.Matrix `gguf:"attn_v.weight"`
	Wo       *tensor.Matrix `gguf:"attn_output.weight"`
	Bq       []float32      `gguf:"attn_q.bias,optional"`
	Bk       []float32      `gguf:"attn_k.bias,optional"`
	Bv       []float32      `gguf:"attn_v.bias,optional"`
	QNorm    []float32      `gguf:"attn_q_norm.weight,optional"`
	KNorm    []float32      `gguf:"attn_k_norm.weight,optional"`
	FFNNorm  []float32      `gguf:"ffn_norm.weight"`
	W1       *tensor.Matrix `gguf:"ffn_gate.weight"` // gate projection
	W2       *tensor.Matrix `gguf:"ffn_down.weight"` // down projection
	W3       *tensor.Matrix `gguf:"ffn_up.weight"`   // up projection
}

// Close releases the memory mapping behind the weights. The model must not be
// used afterwards.
func (m *Model) Close() error {
	if m == nil || m.close == nil {
		return nil
	}
	err := m.close()
	m.close = nil
	return err
}

// rawTensor is a tensor as stored in a file: its type, GGML dimensions (Dims[0]
// is the row length) and bytes.
type rawTensor struct {
	Type tensor.Type
	Dims []uint64
	Data []byte
}

// source gives the tensors of a file by name.
type source interface {
	tensor(name string) (rawTensor, bool, error)
}

// bind fills the tagged fields of m from src and checks every shape against
// the config.
func bind(m *Model, src source) error {
	c := &m.Config
	m.Layers = make([]Layer, c.Layers)
	shapes := expectedShapes(c)
	if err := bindStruct(reflect.ValueOf(m).Elem(), "", src, shapes); err != nil {
		return err
	}
	for i := range m.Layers {
		if err := bindStruct(reflect.ValueOf(&m.Layers[i]).Elem(), "blk."+strconv.Itoa(i)+".", src, shapes); err != nil {
			return err
		}
		l := &m.Layers[i]
		if c.AttnBias && (l.Bq == nil || l.Bk == nil || l.Bv == nil) {
			return fmt.Errorf("blk.%d: architecture %s needs attention biases (attn_q.bias, attn_k.bias, attn_v.bias)", i, c.Arch)
		}
		if c.QKNorm && (l.QNorm == nil || l.KNorm == nil) {
			return fmt.Errorf("blk.%d: architecture %s needs attn_q_norm.weight and attn_k_norm.weight", i, c.Arch)
		}
	}
	if m.Output == m.TokenEmbedding {
		c.TiedOutput = true
	}
	if m.RopeFreqs != nil && len(m.RopeFreqs) != c.RopeDim/2 {
		return fmt.Errorf("rope_freqs.weight: %d values, want %d (half the rope dimensions)", len(m.RopeFreqs), c.RopeDim/2)
	}
	return nil
}

// expectedShapes gives, for each tensor name without its layer prefix, the
// number of columns (row length) and rows the config implies.
func expectedShapes(c *Config) map[string][2]int {
	return map[string][2]int{
		"token_embd.weight":  {c.Dim, c.VocabSize},
		"output.weight":      {c.Dim, c.VocabSize},
		"output_norm.weight": {c.Dim, 1},
		"rope_freqs.weight":  {c.RopeDim / 2, 1},
		"attn_norm.weight":   {c.Dim, 1},
		"attn_q.weight":      {c.Dim, c.QDim()},
		"attn_k.weight":      {c.Dim, c.KVDim()},
		"attn_v.weight":      {c.Dim, c.VDim()},
		"attn_output.weight": {c.QDim(), c.Dim},
		"attn_q.bias":        {c.QDim(), 1},
		"attn_k.bias":        {c.KVDim(), 1},
		"attn_v.bias":        {c.VDim(), 1},
		"attn_q_norm.weight": {c.HeadDim, 1},
		"attn_k_norm.weight": {c.HeadDim, 1},
		"ffn_norm.weight":    {c.Dim, 1},
		"ffn_gate.weight":    {c.Dim, c.HiddenDim},
		"ffn_down.weight":    {c.HiddenDim, c.Dim},
		"ffn_up.weight":      {c.Dim, c.HiddenDim},
	}
}

var (
	matrixType = reflect.TypeOf((*tensor.Matrix)(nil))
	vectorType = reflect.TypeOf([]float32(nil))
)

func bindStruct(v reflect.Value, prefix string, src source, shapes map[string][2]int) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("gguf")
		if !ok || tag == "blk" {
			continue
		}
		parts := strings.Split(tag, ",")
		names := []string{parts[0]}
		optional := false
		for _, p := range parts[1:] {
			switch {
			case p == "optional":
				optional = true
			case strings.HasPrefix(p, "alt:"):
				names = append(names, strings.TrimPrefix(p, "alt:"))
			}
		}
		var (
			raw   rawTensor
			found bool
			name  string
		)
		for _, n := range names {
			name = prefix + n
			r, ok, err := src.tensor(name)
			if err != nil {
				return fmt.Errorf("tensor %s: %w", name, err)
			}
			if ok {
				raw, found = r, true
				shape := shapes[n]
				if err := checkShape(raw, shape[0], shape[1]); err != nil {
					return fmt.Errorf("tensor %s: %w", name, err)
				}
				break
			}
		}
		if !found {
			if optional {
				continue
			}
			return fmt.Errorf("tensor %s is missing", prefix+names[0])
		}
		switch f.Type {
		case matrixType:
			// Reuse the matrix already bound under the same name (tied output).
			if name == "token_embd.weight" && f.Name != "TokenEmbedding" {
				v.Field(i).Set(v.FieldByName("TokenEmbedding"))
				continue
			}
			rows := int(raw.Dims[1])
			m, err := tensor.NewMatrix(raw.Type, rows, int(raw.Dims[0]), raw.Data)
			if err != nil {
				return fmt.Errorf("tensor %s: %w", name, err)
			}
			v.Field(i).Set(reflect.ValueOf(m))
		case vectorType:
			n := int(raw.Dims[0])
			vec := make([]float32, n)
			if err := tensor.Dequantize(raw.Type, raw.Data, vec); err != nil {
				return fmt.Errorf("tensor %s: %w", name, err)
			}
			v.Field(i).Set(reflect.ValueOf(vec))
		default:
			return fmt.Errorf("model: field %s has unsupported type %s", f.Name, f.Type)
		}
	}
	return nil
}

func checkShape(raw rawTensor, cols, rows int) error {
	got := "["
	for i, d := range raw.Dims {
		if i > 0 {
			got += " "
		}
		got += strconv.FormatUint(d, 10)
	}
	got += "]"
	want := fmt.Sprintf("[%d %d]", cols, rows)
	if rows == 1 {
		want = fmt.Sprintf("[%d]", cols)
	}
	ok := len(raw.Dims) >= 1 && raw.Dims[0] == uint64(cols)
	if rows == 1 {
		for _, d := range raw.Dims[1:] {
			ok = ok && d == 1
		}
	} else {
		ok = ok && len(raw.Dims) >= 2 && raw.Dims[1] == uint64(rows)
		for _, d := range raw.Dims[2:] {
			ok = ok && d == 1
		}
	}
	if !ok {
		return fmt.Errorf("shape %s, want %s", got, want)
	}
	if !tensor.Supported(raw.Type) {
		return fmt.Errorf("tensor type %s is not supported", raw.Type)
	}
	return nil
}
