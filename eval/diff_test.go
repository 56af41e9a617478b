package eval

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/gguf"
	"glassbox/internal/fixtures"
	"glassbox/models"
	"glassbox/tensor"
)

// directKL computes KL(p‖q) of two logit rows with plain float64 softmaxes,
// independently of Diff's code.
func directKL(p, q []float32) float64 {
	soft := func(l []float32) []float64 {
		mx := math.Inf(-1)
		for _, v := range l {
			mx = math.Max(mx, float64(v))
		}
		out := make([]float64, len(l))
		var sum float64
		for i, v := range l {
			out[i] = math.Exp(float64(v) - mx)
			sum += out[i]
		}
		for i := range out {
			out[i] /= sum
		}
		return out
	}
	pp, qq := soft(p), soft(q)
	var kl float64
	for i := range pp {
		if pp[i] > 0 {
			kl += pp[i] * math.Log(pp[i]/qq[i])
		}
	}
	return kl
}

// TestDiffSelf: a model diffed with itself (opened twice) has KL 0 at every
// position, no shift, no argmax difference and nothing highlighted.
func TestDiffSelf(t *testing.T) {
	path := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	a, b := openModel(t, path), openModel(t, path)
	res, err := Diff(context.Background(), a, b, "Once upon a time", DiffOptions{MaxTokens: 24})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tokens) != 24 {
		t.Fatalf("%d tokens, want 24", len(res.Tokens))
	}
	for _, tk := range res.Tokens {
		if tk.KL != 0 || tk.Shift != 0 || tk.LogRatio != 0 || tk.ArgmaxDiffers || tk.Highlight || tk.Base != tk.Tuned {
			t.Errorf("token %d %q: %+v", tk.Index, tk.Text, tk)
		}
		if tk.Mover.Base != tk.Mover.Tuned {
			t.Errorf("token %d: a token moved: %+v", tk.Index, tk.Mover)
		}
	}
	if res.MeanKL != 0 || res.MaxKL != 0 || res.ArgmaxDiffers != 0 || len(res.Highlighted) != 0 || res.BaseLogProb != res.TunedLogProb {
		t.Errorf("summary: mean KL %g, max %g, argmax differs %d, highlighted %v", res.MeanKL, res.MaxKL, res.ArgmaxDiffers, res.Highlighted)
	}
	// greedy: the chosen token is the tuned model's most likely one
	for _, tk := range res.Tokens {
		if tk.TunedTop[0].ID != tk.ID {
			t.Errorf("token %d: greedy chose %d but the top is %d", tk.Index, tk.ID, tk.TunedTop[0].ID)
		}
	}
	if !strings.HasPrefix(res.Text, " there was") && !strings.HasPrefix(res.Text, ", there") {
		t.Logf("text %q", res.Text)
	}
}

// TestDiffQuantized: the f32 model against its Q4_0 copy (the same
// tokenizer) gives a non-zero KL at every position, equal to a direct
// computation from the two models' logits.
func TestDiffQuantized(t *testing.T) {
	base := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-f32.gguf"))
	tuned := openModel(t, fixtures.Path(t, "gguf", "stories260K-h192-Q4_0.gguf"))
	for _, gen := range []string{DiffTuned, DiffBase} {
		t.Run(gen, func(t *testing.T) {
			res, err := Diff(context.Background(), base, tuned, "Once upon a time", DiffOptions{MaxTokens: 20, Generator: gen, Top: 3})
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstDirect(t, base, tuned, res)
			if res.MeanKL <= 0 {
				t.Errorf("mean KL %g: the quantized model should differ", res.MeanKL)
			}
			for _, tk := range res.Tokens {
				top := tk.TunedTop
				if gen == DiffBase {
					top = tk.BaseTop
				}
				if top[0].ID != tk.ID {
					t.Errorf("token %d: the %s model's greedy choice %d is not its top %d", tk.Index, gen, tk.ID, top[0].ID)
				}
				if len(tk.BaseTop) != 3 || len(tk.TunedTop) != 3 {
					t.Errorf("token %d: %d and %d alternatives, want 3", tk.Index, len(tk.BaseTop), len(tk.TunedTop))
				}
			}
		})
	}
}

// checkAgainstDirect recomputes every position of res from the two models'
// logits over the same tokens.
func checkAgainstDirect(t *testing.T, base, tuned *glassbox.Model, res *DiffResult) {
	t.Helper()
	ids := base.Encode(res.Prompt, glassbox.GenerateOptions{})
	if len(ids) != res.PromptTokens {
		t.Fatalf("prompt: %d tokens, the result says %d", len(ids), res.PromptTokens)
	}
	for _, tk := range res.Tokens {
		ids = append(ids, tk.ID)
	}
	vocab := base.Config().VocabSize
	// both models' logits over the whole sequence (the rows before the
	// prompt's last token are dropped; computing them too would change the
	// F16 KV cache's rounding by splitting the batch elsewhere)
	from := res.PromptTokens - 1
	logits := func(m *glassbox.Model) []float32 {
		sc, err := m.NewScorer(len(ids))
		if err != nil {
			t.Fatal(err)
		}
		l, err := sc.LogitsFrom(context.Background(), ids, from, nil)
		if err != nil {
			t.Fatal(err)
		}
		return append(make([]float32, from*vocab), l...)
	}
	bl, tl := logits(base), logits(tuned)
	var sum, shifts float64
	differs := 0
	for _, tk := range res.Tokens {
		row := tk.Position - 1
		if row != res.PromptTokens-1+tk.Index {
			t.Fatalf("token %d at position %d", tk.Index, tk.Position)
		}
		b, q := bl[row*vocab:(row+1)*vocab], tl[row*vocab:(row+1)*vocab]
		want := directKL(q, b) // KL(tuned‖base)
		if math.Abs(tk.KL-want) > 1e-9+1e-6*want {
			t.Errorf("token %d: KL %.12g, direct %.12g", tk.Index, tk.KL, want)
		}
		if want <= 0 {
			t.Errorf("token %d: direct KL %g", tk.Index, want)
		}
		pb := math.Exp(float64(b[tk.ID])) / sumExp(b)
		pt := math.Exp(float64(q[tk.ID])) / sumExp(q)
		if math.Abs(tk.Base-pb) > 1e-7*pb || math.Abs(tk.Tuned-pt) > 1e-7*pt {
			t.Errorf("token %d: p %g/%g, direct %g/%g", tk.Index, tk.Base, tk.Tuned, pb, pt)
		}
		if argmax(b) != argmax(q) {
			differs++
		}
		sum += want
		shifts += math.Abs(pt - pb)
	}
	n := float64(len(res.Tokens))
	if math.Abs(res.MeanKL-sum/n) > 1e-9 || math.Abs(res.MeanAbsShift-shifts/n) > 1e-9 || res.ArgmaxDiffers != differs {
		t.Errorf("summary: mean KL %g (direct %g), mean |shift| %g (%g), argmax differs %d (%d)", res.MeanKL, sum/n, res.MeanAbsShift, shifts/n, res.ArgmaxDiffers, differs)
	}
	// the highlighted tokens are the biggest shifts, biggest first
	for i, h := range res.Highlighted {
		if !res.Tokens[h].Highlight || math.Abs(res.Tokens[h].Shift) < 0.05 {
			t.Errorf("highlight %d: token %+v", i, res.Tokens[h])
		}
		if i > 0 && math.Abs(res.Tokens[h].Shift) > math.Abs(res.Tokens[res.Highlighted[i-1]].Shift) {
			t.Errorf("highlights out of order: %v", res.Highlighted)
		}
	}
	for _, tk := range res.Tokens {
		if !tk.Highlight && len(res.Highlighted) > 0 && len(res.Highlighted) < 5 && math.Abs(tk.Shift) >= 0.05 {
			t.Errorf("token %d shifts %g but is not highlighted", tk.Index, tk.Shift)
		}
	}
}

func sumExp(l []float32) float64 {
	var s float64
	for _, v := range l {
		s += math.Exp(float64(v))
	}
	return s
}

func argmax(l []float32) int {
	a := 0
	for i, v := range l {
		if v > l[a] {
			a = i
		}
	}
	return a
}

// quantizedCopy writes a copy of the GGUF file src whose 2-D F32 matrices
// are converted to typ (a block type), for comparing a model with its
// quantized self.
func quantizedCopy(t *testing.T, src string, typ tensor.Type, fileType uint32) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := gguf.NewWriter(f.Alignment)
	for _, kv := range f.KV {
		if kv.Key == "general.file_type" {
			kv = gguf.KV{Key: kv.Key, Type: gguf.TypeUint32, Value: fileType}
		}
		if err := w.AddKVTyped(kv); err != nil {
			t.Fatal(err)
		}
	}
	converted := 0
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Type == tensor.F32 && len(ti.Dims) == 2 && int(ti.Dims[0])%typ.BlockSize() == 0 {
			vals := make([]float32, len(data)/4)
			for j := range vals {
				vals[j] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*j:]))
			}
			n, err := typ.RowBytes(len(vals))
			if err != nil {
				t.Fatal(err)
			}
			q := make([]byte, n)
			if err := tensor.Quantize(typ, vals, q); err != nil {
				t.Fatal(err)
			}
			data = q
			converted++
			if err := w.AddTensor(ti.Name, typ, ti.Dims, data); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	if converted == 0 {
		t.Fatalf("%s: no matrix to convert to %s", src, typ)
	}
	dst := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".gguf")+"."+typ.String()+".gguf")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(out); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestDiffDefaultModelQuantized: the embedded default model against a Q8_0
// copy of itself: small but real shifts, matching the direct computation.
func TestDiffDefaultModelQuantized(t *testing.T) {
	path, err := models.PathIn(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := openModel(t, path)
	tuned := openModel(t, quantizedCopy(t, path, tensor.Q8_0, 7))
	res, err := Diff(context.Background(), base, tuned, "func main() {", DiffOptions{MaxTokens: 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tokens) == 0 {
		t.Fatal("nothing generated")
	}
	checkAgainstDirect(t, base, tuned, res)
	if res.MeanKL <= 0 || res.MeanKL > 0.05 {
		t.Errorf("mean KL %g: Q8_0 should be close to F32 but not equal", res.MeanKL)
	}
}

// TestDiffErrors: models with different tokenizers, and bad options.
func TestDiffErrors(t *testing.T) {
	a := openModel(t, fixtures.Path(t, "gguf", "stories260K-f32.gguf"))
	other := openModel(t, fixtures.Path(t, "gguf", "llama-2-tiny-random.gguf"))
	// the same vocabulary size, one piece renamed
	f, err := gguf.Open(a.Path())
	if err != nil {
		t.Fatal(err)
	}
	pieces, _ := f.Strings("tokenizer.ggml.tokens")
	f.Close()
	pieces = append([]string{}, pieces...)
	pieces[300] = "▁renamed"
	renamed := filepath.Join(t.TempDir(), "renamed.gguf")
	if err := gguf.Rewrite(a.Path(), renamed, map[string]any{"tokenizer.ggml.tokens": pieces}); err != nil {
		t.Fatal(err)
	}
	same := openModel(t, renamed)
	ctx := context.Background()
	for _, tt := range []struct {
		name        string
		base, tuned *glassbox.Model
		prompt      string
		opt         DiffOptions
		want        string
	}{
		{"vocab size", a, other, "x", DiffOptions{}, "must share a tokenizer"},
		{"other pieces", a, same, "x", DiffOptions{}, `token 300 is`},
		{"generator", a, a, "x", DiffOptions{Generator: "both"}, `the generator must be "tuned" or "base"`},
		{"tokens", a, a, "x", DiffOptions{MaxTokens: -1}, "must be positive"},
		{"empty prompt", a, a, "", DiffOptions{}, "the prompt is empty"},
		{"context", a, a, "x", DiffOptions{MaxTokens: 100000}, "the context holds"},
		{"chat without template", a, a, "x", DiffOptions{Chat: true}, "no chat template"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Diff(ctx, tt.base, tt.tuned, tt.prompt, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
