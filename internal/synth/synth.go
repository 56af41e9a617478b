// Package synth writes random-weight Llama-architecture GGUF files of a given
// shape and tensor type, so that glassbox and llama.cpp can be benchmarked on
// the same realistic-size file without downloading a model.
package synth

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"

	"glassbox/gguf"
	"glassbox/tensor"
)

// Shape is the hyper-parameters of a synthetic Llama model.
type Shape struct {
	Dim, Hidden, Layers, Heads, KVHeads, Vocab, Context int
}

// Shapes are the named shapes accepted by ParseShape. "400M" is the shape of
// issue 6's benchmark (about 400 million parameters).
var Shapes = map[string]Shape{
	"400M": {Dim: 1536, Hidden: 4096, Layers: 12, Heads: 12, KVHeads: 4, Vocab: 32000, Context: 4096},
	"tiny": {Dim: 64, Hidden: 160, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 300, Context: 256},
}

// ParseShape returns the shape of the given name (case-insensitive).
func ParseShape(name string) (Shape, error) {
	for k, s := range Shapes {
		if strings.EqualFold(k, name) {
			return s, nil
		}
	}
	names := make([]string, 0, len(Shapes))
	for k := range Shapes {
		names = append(names, k)
	}
	return Shape{}, fmt.Errorf("unknown synthetic model shape %q (known: %s)", name, strings.Join(names, ", "))
}

// Params returns the number of weights of the shape.
func (s Shape) Params() int64 {
	hd := s.Dim / s.Heads
	kv := int64(s.KVHeads * hd)
	d := int64(s.Dim)
	layer := 2*d*d + 2*d*kv + 3*d*int64(s.Hidden) + 2*d
	return int64(s.Layers)*layer + 2*d*int64(s.Vocab) + d
}

func (s Shape) check() error {
	switch {
	case s.Dim <= 0 || s.Hidden <= 0 || s.Layers <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.Vocab < 259 || s.Context <= 0:
		return fmt.Errorf("synthetic shape %+v: every size must be positive and the vocabulary hold at least 259 tokens", s)
	case s.Dim%s.Heads != 0 || s.Heads%s.KVHeads != 0:
		return fmt.Errorf("synthetic shape %+v: dim must be a multiple of heads and heads of kv heads", s)
	}
	return nil
}

// fileType maps a weight type to llama.cpp's general.file_type (LLAMA_FTYPE).
var fileType = map[tensor.Type]uint32{tensor.F32: 0, tensor.F16: 1, tensor.Q4_0: 2, tensor.Q4_1: 3, tensor.Q8_0: 7, tensor.Q5_0: 8, tensor.Q5_1: 9, tensor.BF16: 32}

// Write writes a Llama GGUF of shape s whose matrices are random normal
// weights (σ = 0.02, seeded by seed) converted to typ with tensor.Quantize,
// and whose norms are 1. It carries a placeholder SentencePiece vocabulary
// (<unk>, <s>, </s>, the 256 byte tokens, then made-up pieces) so that
// llama.cpp loads it too. typ must be a type tensor.Quantize writes.
func Write(out io.Writer, s Shape, typ tensor.Type, seed uint64) error {
	if err := s.check(); err != nil {
		return err
	}
	ft, ok := fileType[typ]
	if !ok {
		return fmt.Errorf("synthetic model: weight type %s is not supported (use F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1 or Q8_0)", typ)
	}
	if s.Dim%typ.BlockSize() != 0 || s.Hidden%typ.BlockSize() != 0 {
		return fmt.Errorf("synthetic model: dim %d and hidden %d must be multiples of %s's block of %d", s.Dim, s.Hidden, typ, typ.BlockSize())
	}
	w := gguf.NewWriter(0)
	hd := s.Dim / s.Heads
	kvs := []struct {
		k string
		v any
	}{
		{"general.architecture", "llama"},
		{"general.name", fmt.Sprintf("glassbox synthetic %dM", (s.Params()+500_000)/1_000_000)},
		{"general.file_type", ft},
		{"llama.context_length", uint32(s.Context)},
		{"llama.embedding_length", uint32(s.Dim)},
		{"llama.block_count", uint32(s.Layers)},
		{"llama.feed_forward_length", uint32(s.Hidden)},
		{"llama.attention.head_count", uint32(s.Heads)},
		{"llama.attention.head_count_kv", uint32(s.KVHeads)},
		{"llama.rope.dimension_count", uint32(hd)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"llama.vocab_size", uint32(s.Vocab)},
		{"tokenizer.ggml.model", "llama"},
	}
	for _, kv := range kvs {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			return err
		}
	}
	tokens, scores, types := vocab(s.Vocab)
	for _, kv := range []struct {
		k string
		v any
	}{{"tokenizer.ggml.tokens", tokens}, {"tokenizer.ggml.scores", scores}, {"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.bos_token_id", uint32(1)}, {"tokenizer.ggml.eos_token_id", uint32(2)}, {"tokenizer.ggml.unknown_token_id", uint32(0)}} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			return err
		}
	}

	kvDim := s.KVHeads * hd
	type mat struct {
		name       string
		rows, cols int
	}
	mats := []mat{{"token_embd.weight", s.Vocab, s.Dim}}
	var norms []string
	for l := 0; l < s.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		mats = append(mats,
			mat{p + "attn_q.weight", s.Dim, s.Dim}, mat{p + "attn_k.weight", kvDim, s.Dim},
			mat{p + "attn_v.weight", kvDim, s.Dim}, mat{p + "attn_output.weight", s.Dim, s.Dim},
			mat{p + "ffn_gate.weight", s.Hidden, s.Dim}, mat{p + "ffn_up.weight", s.Hidden, s.Dim},
			mat{p + "ffn_down.weight", s.Dim, s.Hidden})
		norms = append(norms, p+"attn_norm.weight", p+"ffn_norm.weight")
	}
	norms = append(norms, "output_norm.weight")
	mats = append(mats, mat{"output.weight", s.Vocab, s.Dim})

	datas := make([][]byte, len(mats))
	errs := make([]error, len(mats))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, m := range mats {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			datas[i], errs[i] = randomMatrix(rand.New(rand.NewPCG(seed, uint64(i))), typ, m.rows, m.cols)
		}()
	}
	wg.Wait()
	for i, m := range mats {
		if errs[i] != nil {
			return fmt.Errorf("synthetic model: %s: %w", m.name, errs[i])
		}
	}
	one := make([]byte, 4*s.Dim)
	if err := tensor.Quantize(tensor.F32, ones(s.Dim), one); err != nil {
		return err
	}
	// llama.cpp's order: embeddings, then per layer, then output
	add := func(m int) error {
		return w.AddTensor(mats[m].name, typ, []uint64{uint64(mats[m].cols), uint64(mats[m].rows)}, datas[m])
	}
	if err := add(0); err != nil {
		return err
	}
	for l := 0; l < s.Layers; l++ {
		for _, n := range norms[2*l : 2*l+2] {
			if err := w.AddTensor(n, tensor.F32, []uint64{uint64(s.Dim)}, one); err != nil {
				return err
			}
		}
		for m := 1 + 7*l; m < 1+7*(l+1); m++ {
			if err := add(m); err != nil {
				return err
			}
		}
	}
	if err := w.AddTensor("output_norm.weight", tensor.F32, []uint64{uint64(s.Dim)}, one); err != nil {
		return err
	}
	if err := add(len(mats) - 1); err != nil {
		return err
	}
	_, err := w.WriteTo(out)
	return err
}

func ones(n int) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = 1
	}
	return f
}

// randomMatrix returns rows×cols normal(0, 0.02) weights converted to typ.
func randomMatrix(rng *rand.Rand, typ tensor.Type, rows, cols int) ([]byte, error) {
	rb, err := typ.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	data := make([]byte, rows*rb)
	row := make([]float32, cols)
	for r := 0; r < rows; r++ {
		for i := range row {
			row[i] = float32(rng.NormFloat64() * 0.02)
		}
		if err := tensor.Quantize(typ, row, data[r*rb:(r+1)*rb]); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// vocab returns a placeholder SentencePiece vocabulary of n tokens: <unk>,
// <s>, </s>, the byte tokens <0x00>…<0xFF>, then "▁t3", "▁t4", ….
func vocab(n int) (tokens []string, scores []float32, types []int32) {
	tokens = make([]string, n)
	scores = make([]float32, n)
	types = make([]int32, n)
	tokens[0], tokens[1], tokens[2] = "<unk>", "<s>", "</s>"
	types[0], types[1], types[2] = 2, 3, 3 // unknown, control, control
	for i := 3; i < n; i++ {
		if i < 259 {
			tokens[i] = fmt.Sprintf("<0x%02X>", i-3)
			types[i] = 6 // byte
			continue
		}
		tokens[i] = fmt.Sprintf("\u2581t%d", i)
		scores[i] = -float32(i)
		types[i] = 1 // normal
	}
	return tokens, scores, types
}
