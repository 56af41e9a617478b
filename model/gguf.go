package model

import (
	"fmt"
	"strings"

	"glassbox/gguf"
	"glassbox/tensor"
)

// Architectures lists the GGUF architectures this package runs.
var Architectures = []string{"llama", "qwen2", "qwen3"}

// family describes how an architecture differs from plain Llama.
type family struct {
	ropeNeox bool
	attnBias bool
	qkNorm   bool
}

var families = map[string]family{
	"llama": {},
	"qwen2": {ropeNeox: true, attnBias: true},
	"qwen3": {ropeNeox: true, qkNorm: true},
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
	c := &Config{Arch: arch, RopeNeox: fam.ropeNeox, AttnBias: fam.attnBias, QKNorm: fam.qkNorm}
	c.Name, _ = f.String("general.name")
	var err error
	if c.Dim, err = u("embedding_length", -1); err != nil {
		return nil, err
	}
	if c.HiddenDim, err = u("feed_forward_length", -1); err != nil {
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
		case "none", "linear", "llama3":
		default:
			return nil, fmt.Errorf("rope scaling %q is not supported (supported: none, linear, llama3)", t)
		}
	} else if factor != 0 && factor != 1 {
		c.RopeScaling = RopeScaling{Type: "linear", Factor: float32(factor)}
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
