package model

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// layoutConfig is a small config of architecture arch.
func layoutConfig(arch string, tied bool) Config {
	fam := families[arch]
	cfg := Config{
		Arch: arch, Name: "layout test", VocabSize: 40, Dim: 32, HiddenDim: 64, Layers: 2,
		Heads: 4, KVHeads: 2, HeadDim: 8, ValueDim: 8, RopeDim: 8, ContextLength: 64,
		NormEps: 1e-5, RopeTheta: 10000, RopeNeox: fam.ropeNeox, AttnBias: fam.attnBias, QKNorm: fam.qkNorm,
		TiedOutput: tied, FileType: "F32",
	}
	if fam.gemma {
		c := &cfg
		if err := gemmaShape(c); err != nil {
			panic(err)
		}
		c.SlidingWindow, c.SlidingLayers, c.RopeThetaLocal = 16, []bool{true, false}, 10000
		c.FinalSoftcap = 30
		if arch == "gemma2" {
			c.AttnSoftcap = 50
			c.TiedOutput = true // gemma2 always projects with the embedding table
		}
	}
	setArchExtras(&cfg)
	return cfg
}

// setArchExtras sets the hyper-parameters, beyond Llama's and Gemma's, that
// c's architecture implies or needs, with values that make each matter.
func setArchExtras(c *Config) {
	if families[c.Arch].granite {
		c.EmbedMul, c.ResidualMul, c.AttnScale, c.LogitScale = 12, 0.22, 0.1, 8
	}
	c.NoRopeStep = families[c.Arch].noRopeStep
	if families[c.Arch].fusedGateUp {
		c.FusedGateUp, c.RopeAttnFactor, c.RopeOrigContext = true, 1.19, 32
		c.QueryScale = attnScale(c.HeadDim)
	}
	if families[c.Arch].olmo2 {
		c.PostNorms, c.NoPreNorms, c.QKNormFull = true, true, true
	}
	if families[c.Arch].moe {
		c.Experts, c.ExpertsUsed, c.ExpertsNorm = 4, 2, true
	}
	if families[c.Arch].gptOSS {
		c.ExpertsNorm, c.ExpertsSoftmaxWeight, c.ExpertsBias = false, true, true
		c.AttnBias, c.AttnOutBias, c.AttnSinks, c.SwiGLUOAI = true, true, true, true
		c.SlidingWindow, c.SlidingLayers, c.RopeThetaLocal = 3, []bool{true, false}, c.RopeTheta
	}
}

// layoutWeights gives every tensor distinct values derived from its name.
func layoutWeights(t TensorRef) ([]float32, error) {
	v := make([]float32, t.Rows*t.Cols)
	h := float32(len(t.Name)) + float32(t.Layer+1)*0.5
	for i := range v {
		v[i] = float32(math.Sin(float64(h)+float64(i)*0.01)) * 0.1
	}
	return v, nil
}

// TestWriteGGUFRoundTrip writes each architecture of the layout (tied and
// untied output) with WriteGGUF and loads it back: same config, the tensors
// of Config.Tensors in order, each weight as written, and Params equal to the
// number of weights in the file.
func TestWriteGGUFRoundTrip(t *testing.T) {
	for _, arch := range Architectures {
		for _, tied := range []bool{true, false} {
			c := layoutConfig(arch, tied)
			name := arch + map[bool]string{true: "/tied", false: "/untied"}[tied]
			t.Run(name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := WriteGGUF(&buf, &c, WriteOptions{Type: tensor.F32, Name: c.Name, Weights: layoutWeights,
					Metadata: []KV{{Key: "test.note", Value: "kept"}, {Key: "test.empty", Value: ""}}}); err != nil {
					t.Fatal(err)
				}
				f, err := gguf.Parse(buf.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				if v, _ := f.String("test.note"); v != "kept" {
					t.Errorf("test.note = %q", v)
				}
				if _, ok := f.String("test.empty"); ok {
					t.Error("an empty string key was written")
				}
				refs := c.Tensors()
				// phi3 files fuse some of them
				ft := fileTensors(&c, refs, make([][]byte, len(refs)))
				if len(f.Tensors) != len(ft) {
					t.Fatalf("%d tensors in the file, layout has %d", len(f.Tensors), len(ft))
				}
				var n int64
				for i, ti := range f.Tensors {
					if ti.Name != ft[i].ref.Name {
						t.Fatalf("tensor %d is %s, want %s", i, ti.Name, ft[i].ref.Name)
					}
					n += int64(ti.Elements())
				}
				if n != c.Params() {
					t.Errorf("file holds %d weights, Params says %d", n, c.Params())
				}
				m, err := LoadGGUF(f)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(m.Config, c) {
					t.Errorf("loaded config\n%+v\nwant\n%+v", m.Config, c)
				}
				want, _ := layoutWeights(refs[len(refs)-1])
				got := m.OutputNorm
				if !c.TiedOutput {
					row := make([]float32, c.Dim)
					m.Output.Row(0, row)
					got = row
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("last tensor, value %d: %v, want %v", i, got[i], want[i])
					}
				}
				if l := m.Layers[1]; c.AttnSinks != (len(l.Sinks) == c.Heads) || c.AttnOutBias != (len(l.Bo) == c.Dim) ||
					c.ExpertsBias != (len(l.RouterBias) > 0 && len(l.RouterBias) == c.Experts && len(l.GateExpsBias) == c.Experts*c.HiddenDim &&
						len(l.UpExpsBias) == c.Experts*c.HiddenDim && len(l.DownExpsBias) == c.Experts*c.Dim) ||
					(!c.NoPreNorms && len(l.FFNNorm) != c.Dim) || (c.ffnNormIsPostAttn() && l.AttnPostNorm != nil) {
					t.Errorf("sinks %d, output bias %d, router bias %d, expert biases %d %d %d, ffn norm %d, post-attention norm %d",
						len(l.Sinks), len(l.Bo), len(l.RouterBias), len(l.GateExpsBias), len(l.UpExpsBias), len(l.DownExpsBias), len(l.FFNNorm), len(l.AttnPostNorm))
				}
				if c.AttnBias != (m.Layers[1].Bv != nil) || c.QKNorm != (m.Layers[1].KNorm != nil) ||
					c.PostNorms != (m.Layers[1].FFNPostNorm != nil) {
					t.Errorf("biases %v, qk norms %v, post-norms %v", m.Layers[1].Bv != nil, m.Layers[1].KNorm != nil, m.Layers[1].FFNPostNorm != nil)
				}
				if l := m.Layers[1]; c.MoE() != (l.Router != nil && len(l.GateExps) == c.Experts && len(l.UpExps) == c.Experts &&
					len(l.DownExps) == c.Experts) || c.MoE() == (l.W1 != nil) {
					t.Errorf("experts: router %v, %d gate, dense gate %v", l.Router != nil, len(l.GateExps), l.W1 != nil)
				}
			})
		}
	}
}

// TestWriteGGUFErrors checks the writer's refusals and the loader's message
// for a tensor an architecture needs.
func TestWriteGGUFErrors(t *testing.T) {
	c := layoutConfig("llama", true)
	odd := c
	odd.Dim, odd.HeadDim, odd.ValueDim, odd.RopeDim = 40, 10, 10, 10
	bad := c
	bad.Arch = "gpt9"
	for _, tc := range []struct {
		name string
		c    Config
		o    WriteOptions
		want string
	}{
		{"k-quant", c, WriteOptions{Type: tensor.Q4_K, Weights: layoutWeights}, "weight type Q4_K is not supported"},
		{"block", odd, WriteOptions{Type: tensor.Q8_0, Weights: layoutWeights}, "40 columns are not a multiple of Q8_0's block of 32"},
		{"arch", bad, WriteOptions{Type: tensor.F32, Weights: layoutWeights}, `architecture "gpt9" is not supported`},
		{"no weights", c, WriteOptions{Type: tensor.F32}, "no weights"},
		{"short", c, WriteOptions{Type: tensor.F32, Weights: func(TensorRef) ([]float32, error) { return make([]float32, 3), nil }}, "3 values, want"},
	} {
		err := WriteGGUF(&bytes.Buffer{}, &tc.c, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}

	// A qwen2 file without the attention biases.
	q := layoutConfig("qwen2", true)
	var buf bytes.Buffer
	if err := WriteGGUF(&buf, &q, WriteOptions{Type: tensor.F32, Weights: layoutWeights}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	src := mapSource{}
	for _, ti := range f.Tensors {
		if !strings.HasSuffix(ti.Name, ".bias") {
			data, _ := f.TensorData(&ti)
			src[ti.Name] = rawTensor{Type: ti.Type, Dims: ti.Dims, Data: data}
		}
	}
	err = bind(&Model{Config: q}, src)
	if want := "tensor blk.0.attn_q.bias is missing (architecture qwen2 needs it)"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestParamsFromLayout checks the layout's parameter count against the
// closed form: per layer the four attention projections, three feed-forward
// matrices, two norms, plus biases (qwen2) or Q/K norms (qwen3); then the
// embedding, the output norm and, when not tied, the output matrix; gemma
// adds two post-norms per layer; olmo2 has post-norms instead of pre-norms
// and Q/K norms as wide as all heads; gpt-oss adds an output bias, a sink
// per head, and the router's and experts' biases.
func TestParamsFromLayout(t *testing.T) {
	for _, arch := range Architectures {
		for _, tied := range []bool{true, false} {
			c := layoutConfig(arch, tied)
			c.KVHeads, c.ValueDim = 1, 6
			d, h, q, kv, v := int64(c.Dim), int64(c.HiddenDim), int64(c.QDim()), int64(c.KVDim()), int64(c.VDim())
			layer := d*q + d*kv + d*v + q*d + 3*d*h
			if !c.NoPreNorms {
				layer += 2 * d
			}
			if c.AttnBias {
				layer += q + kv + v
			}
			switch {
			case c.QKNorm && c.QKNormFull:
				layer += q + kv
			case c.QKNorm:
				layer += 2 * int64(c.HeadDim)
			}
			if c.PostNorms {
				layer += 2 * d
			}
			if c.MoE() {
				// the router, and each expert's three matrices
				e := int64(c.Experts)
				layer += d*e + (e-1)*3*d*h
			}
			if c.AttnOutBias {
				layer += d
			}
			if c.AttnSinks {
				layer += int64(c.Heads)
			}
			if c.ExpertsBias {
				// the router's, then each expert's gate, up and down biases
				e := int64(c.Experts)
				layer += e + e*(2*h+d)
			}
			want := int64(c.Layers)*layer + int64(c.VocabSize)*d + d
			if !c.TiedOutput {
				want += int64(c.VocabSize) * d
			}
			if got := c.Params(); got != want {
				t.Errorf("%s tied=%v: Params %d, want %d", arch, tied, got, want)
			}
		}
	}
}
