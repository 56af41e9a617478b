// Command gen writes the F32 model that testdata/quantcheck/make.sh
// quantizes with llama-quantize: a seeded random Llama (dim 256, FFN 512, 2
// layers, 4 heads, 2 KV heads, 320 tokens), wide enough for the 256-element
// super-blocks of IQ4_XS and the IQ2/IQ3 formats. Matrices are N(0, 1/cols),
// token embeddings N(0, 0.5²), norms 1+N(0, 0.1²), so that the logits spread
// over a few units and a kernel error shows in the log-probabilities.
//
// It also writes an importance matrix (OUT.imatrix.gguf, llama.cpp's GGUF
// imatrix layout: per matrix the summed squared activations of each input
// column and the number of tokens they come from), which llama-quantize
// requires for IQ2_XXS, IQ2_XS and IQ3_XXS: seeded values, since any
// positive weighting makes valid files of these formats.
//
// usage: go run ./testdata/quantcheck/gen OUT.gguf
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen OUT.gguf")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := writeImatrix(strings.TrimSuffix(os.Args[1], ".gguf") + ".imatrix.gguf"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

const dim, hidden, layers, heads, kvHeads, vocab = 256, 512, 2, 4, 2, 320

func config() model.Config {
	hd := dim / heads
	return model.Config{
		Arch: "llama", VocabSize: vocab, Dim: dim, HiddenDim: hidden, Layers: layers,
		Heads: heads, KVHeads: kvHeads, HeadDim: hd, ValueDim: hd, RopeDim: hd,
		ContextLength: 256, NormEps: 1e-5, RopeTheta: 10000,
	}
}

// writeImatrix writes the importance matrix of every matrix of the model:
// 64 tokens' worth of squared activations per input column.
func writeImatrix(path string) error {
	const tokens = 64
	c := config()
	w := gguf.NewWriter(32)
	for _, kv := range []struct {
		k string
		v any
	}{{"general.type", "imatrix"}, {"imatrix.datasets", []string{"glassbox quantcheck (seeded)"}},
		{"imatrix.chunk_count", uint32(1)}, {"imatrix.chunk_size", uint32(tokens)}} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			return err
		}
	}
	f32 := func(v []float32) []byte {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, v)
		return b.Bytes()
	}
	for i, t := range c.Tensors() {
		if t.Spec.Vector() {
			continue
		}
		rng := rand.New(rand.NewPCG(15, uint64(i)))
		sums := make([]float32, t.Cols)
		for j := range sums {
			sums[j] = float32(tokens * (0.25 + rng.Float64()))
		}
		if err := w.AddTensor(t.Name+".in_sum2", tensor.F32, []uint64{uint64(t.Cols), 1}, f32(sums)); err != nil {
			return err
		}
		if err := w.AddTensor(t.Name+".counts", tensor.F32, []uint64{1, 1}, f32([]float32{tokens})); err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = w.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func write(path string) error {
	c := config()
	stream := map[string]uint64{}
	for _, t := range c.Tensors() {
		stream[t.Name] = uint64(len(stream))
	}
	tokens := make([]string, vocab)
	scores := make([]float32, vocab)
	types := make([]int32, vocab)
	tokens[0], tokens[1], tokens[2] = "<unk>", "<s>", "</s>"
	types[0], types[1], types[2] = 2, 3, 3
	for i := 3; i < vocab; i++ {
		if i < 259 {
			tokens[i], types[i] = fmt.Sprintf("<0x%02X>", i-3), 6
			continue
		}
		tokens[i], scores[i], types[i] = fmt.Sprintf("\u2581t%d", i), -float32(i), 1
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = model.WriteGGUF(f, &c, model.WriteOptions{
		Type: tensor.F32,
		Name: "glassbox quantcheck",
		Metadata: []model.KV{
			{Key: "tokenizer.ggml.model", Value: "llama"},
			{Key: "tokenizer.ggml.tokens", Value: tokens},
			{Key: "tokenizer.ggml.scores", Value: scores},
			{Key: "tokenizer.ggml.token_type", Value: types},
			{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
			{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
			{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
		},
		Weights: func(t model.TensorRef) ([]float32, error) {
			rng := rand.New(rand.NewPCG(14, stream[t.Name]))
			v := make([]float32, t.Rows*t.Cols)
			mean, std := 0.0, 1/math.Sqrt(float64(t.Cols))
			switch {
			case t.Spec.Vector():
				mean, std = 1, 0.1
			case t.Name == "token_embd.weight":
				std = 0.5
			}
			for i := range v {
				v[i] = float32(mean + std*rng.NormFloat64())
			}
			return v, nil
		},
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
