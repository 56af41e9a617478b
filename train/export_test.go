package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
	"glassbox/tokenizer"
	"glassbox/tokenizer/bpe"
)

// tinyTokenizer trains a 300-token BPE on a few lines of Go.
func tinyTokenizer(t *testing.T) *bpe.Trained {
	t.Helper()
	pre, err := bpe.PreTokenizerByName("gpt-2")
	if err != nil {
		t.Fatal(err)
	}
	text := "package main\n\nfunc main() {\n\tfor i := 0; i < 10; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n"
	texts := func(yield func(string) bool) {
		for i := 0; i < 20; i++ {
			if !yield(text) {
				return
			}
		}
	}
	tr, err := bpe.Train(texts, bpe.TrainOptions{VocabSize: 300, MinFrequency: 1, Pre: pre, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Vocab) < 280 {
		t.Fatalf("tiny corpus gave only %d tokens", len(tr.Vocab))
	}
	return tr
}

// trainedTiny returns a tiny model trained a few steps (so weights are not at init).
func trainedTiny(t *testing.T, vocab int) *Model[float32] {
	t.Helper()
	r := tinyRecipe()
	r.Model.Vocab, r.Tokenizer.VocabSize = vocab, vocab
	r.Model.Dim, r.Model.Hidden = 32, 64 // Q8_0 needs multiples of 32
	r.Steps = 4
	tr, err := NewTrainer(r, syntheticStream(3000, vocab, 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	return tr.Model
}

// TestExportGGUFLogits exports F32, F16 and Q8_0 GGUF files, loads them with
// glassbox's engine and compares its logits, token by token with the KV cache,
// with the training forward pass on the same (rounded) weights.
func TestExportGGUFLogits(t *testing.T) {
	tok := tinyTokenizer(t)
	m := trainedTiny(t, len(tok.Vocab))
	ids := []int{0, 5, 77, 260, 279, 3, 150, 42, 8, 1, 200, 17}
	tests := []struct {
		typ tensor.Type
		tol float64 // max |Δlogit|
	}{
		{tensor.F32, 2e-5},
		{tensor.F16, 2e-3},
		{tensor.Q8_0, 2e-2},
	}
	for _, tc := range tests {
		t.Run(tc.typ.String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := ExportGGUF(&buf, m, ExportInfo{Name: "tiny", License: "MIT", Tokenizer: tok, PreTokenizer: "gpt-2", EOT: 0}, tc.typ); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			gm, err := model.LoadGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			st, err := gm.NewState(model.StateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Reference: the training forward pass on the weights as stored.
			ref := roundTripModel(t, m, f)
			want := ref.Logits(ids)
			V := m.Config.Vocab
			got := make([]float32, V)
			worst := 0.0
			for i, id := range ids {
				if err := gm.Forward(st, []int{id}, i, got); err != nil {
					t.Fatal(err)
				}
				w := want[i*V : (i+1)*V]
				for j := range got {
					worst = math.Max(worst, math.Abs(float64(got[j]-w[j])))
				}
				if argmax(got) != argmax(w) {
					t.Errorf("position %d: engine argmax %d, training argmax %d", i, argmax(got), argmax(w))
				}
			}
			t.Logf("%v: max |Δlogit| %.3g over %d positions", tc.typ, worst, len(ids))
			if worst > tc.tol {
				t.Fatalf("%v: max |Δlogit| %.3g exceeds %.3g", tc.typ, worst, tc.tol)
			}
			// The tokenizer in the file encodes like the trained one.
			gt, err := tokenizer.FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := tok.Model()
			if err != nil {
				t.Fatal(err)
			}
			text := "func main() {\n\tfor i := 0; i < 10; i++ {\n"
			if a, b := gt.Encode(text, tokenizer.EncodeOptions{}), enc.Encode(nil, text); !slices.Equal(a, b) {
				t.Fatalf("GGUF tokenizer encodes %v, trained tokenizer %v", a, b)
			}
			if gt.BOS() != 0 || gt.EOS() != 0 {
				t.Fatalf("BOS/EOS = %d/%d, want 0/0", gt.BOS(), gt.EOS())
			}
		})
	}
}

// roundTripModel copies m with every weight replaced by its value as stored in f.
func roundTripModel(t *testing.T, m *Model[float32], f *gguf.File) *Model[float32] {
	t.Helper()
	out, err := NewModel[float32](m.Config, NewRNG(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range out.Params {
		info, ok := f.Tensor(p.Name)
		if !ok {
			t.Fatalf("tensor %s missing from the GGUF file", p.Name)
		}
		data, err := f.TensorData(info)
		if err != nil {
			t.Fatal(err)
		}
		if err := tensor.Dequantize(info.Type, data, p.T.Data); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	return out
}

// TestExportSafetensors checks the safetensors layout: header offsets,
// HF names, and the rotate-half reordering of the Q rows.
func TestExportSafetensors(t *testing.T) {
	m := trainedTiny(t, 300)
	var buf bytes.Buffer
	if err := ExportSafetensors(&buf, m); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	if len(hdr) != len(m.Params)+1 {
		t.Fatalf("header has %d entries, want %d tensors + metadata", len(hdr), len(m.Params))
	}
	var q struct {
		Shape   []int    `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(hdr["model.layers.0.self_attn.q_proj.weight"], &q); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	row := func(r int) float32 {
		off := q.Offsets[0] + int64(r*q.Shape[1]*4)
		return math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
	}
	var wq *Tensor[float32]
	for _, p := range m.Params {
		if p.Name == "blk.0.attn_q.weight" {
			wq = p.T
		}
	}
	hd := m.Config.HeadDim()
	// GGUF row 2i+s of head h is HF row h·hd + s·hd/2 + i.
	for _, c := range []struct{ h, i, s int }{{0, 0, 0}, {0, 0, 1}, {1, 1, 0}, {3, hd/2 - 1, 1}} {
		src := c.h*hd + 2*c.i + c.s
		dst := c.h*hd + c.s*hd/2 + c.i
		if got, want := row(dst), wq.Data[src*wq.Cols]; got != want {
			t.Errorf("HF q row %d = %g, want GGUF row %d = %g", dst, got, src, want)
		}
	}
}
