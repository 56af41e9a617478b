package train

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/models"
	"glassbox/tensor"
)

// engineLogits runs the engine's forward pass token by token over ids.
func engineLogits(t *testing.T, gm *model.Model, ids []int) []float32 {
	t.Helper()
	st, err := gm.NewState(model.StateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	V := gm.Config.VocabSize
	out := make([]float32, len(ids)*V)
	for i, id := range ids {
		if err := gm.Forward(st, []int{id}, i, out[i*V:(i+1)*V]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
	}
	return worst
}

// TestFromEngineDefaultModel loads the embedded model into the training
// model: same logits as the engine, and an F32 export of it gives back the
// same weights bit for bit with the tokenizer metadata kept.
func TestFromEngineDefaultModel(t *testing.T) {
	f, err := gguf.Parse(models.Default)
	if err != nil {
		t.Fatal(err)
	}
	gm, err := model.LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromEngine(gm)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.UntiedOutput {
		t.Fatal("the default model has tied embeddings")
	}
	ids := []int{0, 100, 200, 300, 1000, 2000, 5, 17}
	want, got := engineLogits(t, gm, ids), m.Logits(ids)
	if d := maxAbsDiff(want, got); d > 1e-3 {
		t.Fatalf("training forward differs from the engine by %.3g", d)
	}
	var buf bytes.Buffer
	if err := ExportFineTuned(&buf, m, f, "tuned", tensor.F32); err != nil {
		t.Fatal(err)
	}
	f2, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if name, _ := f2.String("general.name"); name != "tuned" {
		t.Errorf("general.name %q", name)
	}
	for _, key := range []string{"tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id"} {
		a, ok1 := f.Lookup(key)
		b, ok2 := f2.Lookup(key)
		if !ok1 || !ok2 || a.Type != b.Type {
			t.Errorf("metadata %s not carried over", key)
		}
	}
	gm2, err := model.LoadGGUF(f2)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := FromEngine(gm2)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params {
		if !slicesEqualBits(p.T.Data, m2.Params[i].T.Data) {
			t.Fatalf("%s changed through export and load", p.Name)
		}
	}
}

func slicesEqualBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestFromEngineUntied round-trips a model with its own output projection
// (output.weight), in F32 and F16.
func TestFromEngineUntied(t *testing.T) {
	tok := tinyTokenizer(t)
	c := ModelConfig{Vocab: len(tok.Vocab), Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, Hidden: 64, Context: 16, RopeTheta: 10000, NormEps: 1e-5, UntiedOutput: true}
	m, err := NewModel[float32](c, NewRNG(5, 0))
	if err != nil {
		t.Fatal(err)
	}
	if m.output == nil || m.Params[len(m.Params)-1].Name != model.NameOutput {
		t.Fatal("untied model has no output.weight parameter")
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16} {
		var buf bytes.Buffer
		if err := ExportGGUF(&buf, m, ExportInfo{Name: "untied", Tokenizer: tok, PreTokenizer: "gpt-2"}, typ); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.Tensor(model.NameOutput); !ok {
			t.Fatal("export has no output.weight")
		}
		gm, err := model.LoadGGUF(f)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := FromEngine(gm)
		if err != nil {
			t.Fatal(err)
		}
		if !m2.Config.UntiedOutput {
			t.Fatal("loaded model lost its output projection")
		}
		ids := []int{0, 3, 9, 200, 12}
		if d := maxAbsDiff(engineLogits(t, gm, ids), m2.Logits(ids)); d > 1e-4 {
			t.Fatalf("%v: training forward differs from the engine by %.3g", typ, d)
		}
		if typ == tensor.F32 {
			for i, p := range m.Params {
				if !slicesEqualBits(p.T.Data, m2.Params[i].T.Data) {
					t.Fatalf("%s changed through export and load", p.Name)
				}
			}
		}
	}
}

// TestConfigFromEngineRefuses names what the training model lacks.
func TestConfigFromEngineRefuses(t *testing.T) {
	base := model.Config{Arch: "llama", VocabSize: 10, Dim: 8, HiddenDim: 8, Layers: 1, Heads: 2, KVHeads: 1, HeadDim: 4, ValueDim: 4, RopeDim: 4, ContextLength: 8, NormEps: 1e-5, RopeTheta: 1e4}
	if _, err := ConfigFromEngine(&base); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		edit func(c *model.Config)
		want string
	}{
		{func(c *model.Config) { c.Arch = "qwen2" }, `architecture "qwen2"`},
		{func(c *model.Config) { c.RopeNeox = true }, "NEOX"},
		{func(c *model.Config) { c.AttnBias = true }, "biases"},
		{func(c *model.Config) { c.QKNorm = true }, "norms"},
		{func(c *model.Config) { c.RopeDim = 2 }, "RoPE over 2 of 4"},
		{func(c *model.Config) { c.RopeScaling.Type = "linear" }, "scaling"},
	}
	for _, tc := range tests {
		c := base
		tc.edit(&c)
		_, err := ConfigFromEngine(&c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error mentioning %q", err, tc.want)
		}
	}
}
