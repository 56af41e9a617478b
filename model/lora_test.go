package model

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// loraModel writes and loads a small random llama model of type typ,
// returning the parsed file too.
func loraModel(t testing.TB, typ tensor.Type) (*gguf.File, *Model) {
	return loraModelDim(t, typ, 256)
}

func loraModelDim(t testing.TB, typ tensor.Type, dim int) (*gguf.File, *Model) {
	t.Helper()
	c := Config{
		Arch: "llama", Name: "lora test", VocabSize: 300, Dim: dim, HiddenDim: 2 * dim, Layers: 2,
		Heads: 4, KVHeads: 2, HeadDim: dim / 4, ValueDim: dim / 4, RopeDim: dim / 4, ContextLength: 128,
		NormEps: 1e-5, RopeTheta: 10000,
	}
	var buf bytes.Buffer
	err := WriteGGUF(&buf, &c, WriteOptions{Type: typ, Weights: func(r TensorRef) ([]float32, error) {
		rng := rand.New(rand.NewPCG(uint64(len(r.Name)), uint64(r.Layer+7)))
		v := make([]float32, r.Rows*r.Cols)
		for i := range v {
			if r.Spec.Vector() {
				v[i] = 1 + 0.1*float32(rng.NormFloat64())
			} else {
				v[i] = 0.05 * float32(rng.NormFloat64())
			}
		}
		return v, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, m
}

// randomLoRA makes an adapter of the given rank on targets of every block
// of m, with random A and B.
func randomLoRA(m *Model, rank int, alpha float32, seed uint64, targets ...string) *LoRA {
	rng := rand.New(rand.NewPCG(seed, 1))
	a := &LoRA{Arch: m.Config.Arch, Name: "test adapter", Alpha: alpha, Weights: map[string]*LoRAWeight{}}
	for l := range m.Layers {
		for _, tg := range targets {
			name := LayerName(l, tg+".weight")
			p, err := m.loraMatrix(name)
			if err != nil {
				panic(err)
			}
			w := &LoRAWeight{Rank: rank, Rows: (*p).Rows, Cols: (*p).Cols}
			w.A = make([]float32, rank*w.Cols)
			w.B = make([]float32, w.Rows*rank)
			for i := range w.A {
				w.A[i] = 0.1 * float32(rng.NormFloat64())
			}
			for i := range w.B {
				w.B[i] = 0.1 * float32(rng.NormFloat64())
			}
			a.Weights[name] = w
		}
	}
	return a
}

func encodeLoRA(t testing.TB, a *LoRA) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteLoRA(&buf, a); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decodeLoRA(data []byte) (*LoRA, error) {
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, err
	}
	return ReadLoRA(f)
}

func promptLogits(t *testing.T, m *Model, ids []int, batch int) []float32 {
	t.Helper()
	s, err := m.NewState(StateOptions{Context: 64, Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	out := make([]float32, V)
	if err := m.Forward(s, ids, 0, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestLoRAApply: an adapter written in llama.cpp's format reads back
// exactly; applied, it changes the logits; the single-token, prompt and
// batched paths agree bit for bit; a zero B gives the base's logits bit for
// bit; the update equals the one computed by hand; the merged model (F32)
// gives the logits of base + adapter.
func TestLoRAApply(t *testing.T) {
	for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0, tensor.Q4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			f, m := loraModel(t, typ)
			ad := randomLoRA(m, 4, 8, 1, LoRATargets...)
			back, err := decodeLoRA(encodeLoRA(t, ad))
			if err != nil {
				t.Fatal(err)
			}
			if back.Alpha != 8 || back.Arch != "llama" || back.Name != "test adapter" || len(back.Weights) != len(ad.Weights) {
				t.Fatalf("read back %+v", back)
			}
			for n, w := range ad.Weights {
				b := back.Weights[n]
				if b == nil || b.Rank != w.Rank || b.Rows != w.Rows || b.Cols != w.Cols || maxDiff(b.A, w.A) != 0 || maxDiff(b.B, w.B) != 0 {
					t.Fatalf("%s read back differently", n)
				}
			}
			tuned, err := m.WithLoRA([]AppliedLoRA{{Adapter: back, Scale: 0.5}})
			if err != nil {
				t.Fatal(err)
			}
			ids := []int{1, 17, 42, 99, 5, 250, 7, 3, 11, 64}
			base := promptLogits(t, m, ids, 64)
			withAd := promptLogits(t, tuned, ids, 64)
			if d := maxDiff(base, withAd); d < 1e-2 {
				t.Fatalf("the adapter changes the logits by %g only", d)
			}
			// the base model is unchanged by WithLoRA
			if d := maxDiff(base, promptLogits(t, m, ids, 64)); d != 0 {
				t.Fatalf("the base model's logits changed by %g", d)
			}
			// token by token (MatVec/MatVecMulti) = whole prompt (MatMul/GEMM)
			if d := maxDiff(withAd, promptLogits(t, tuned, ids, 1)); d > 1e-4 {
				t.Fatalf("token-by-token logits differ from the prompt pass by %g", d)
			}
			checkBatchEqualsAlone(t, tuned, tensor.F32, 0)

			// B = 0: exactly the base
			zero := randomLoRA(m, 2, 4, 2, "attn_q", "ffn_down")
			for _, w := range zero.Weights {
				clear(w.B)
			}
			z, err := m.WithLoRA([]AppliedLoRA{{Adapter: zero, Scale: 1}})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(base, promptLogits(t, z, ids, 64)); d != 0 {
				t.Fatalf("a zero adapter changes the logits by %g", d)
			}

			// one product by hand: W·x + 0.5·(8/4)·B·(A·x)
			w := tuned.Layers[1].W2
			x := make([]float32, w.Cols)
			for i := range x {
				x[i] = float32(math.Sin(float64(i)))
			}
			got := make([]float32, w.Rows)
			tensor.MatVec(got, w, x)
			want := make([]float32, w.Rows)
			tensor.MatVec(want, m.Layers[1].W2, x)
			lw := back.Weights["blk.1.ffn_down.weight"]
			for o := range want {
				var s float64
				for k := 0; k < lw.Rank; k++ {
					var ax float64
					for c := range x {
						ax += float64(lw.A[k*lw.Cols+c]) * float64(x[c])
					}
					s += float64(lw.B[o*lw.Rank+k]) * ax
				}
				want[o] += float32(0.5 * 2 * s)
			}
			if d := maxDiff(got, want); d > 1e-4 {
				t.Fatalf("product with the adapter differs from W·x + s·B·A·x by %g", d)
			}

			// merged: W + s·B·A in F32 gives the logits of the base in F32
			// (the quantized base dequantized: merging to F32 also drops the
			// activations' conversion to the weights' dot-product type) with
			// the adapter
			merge := func(mm *Model, mt MergeType) (*gguf.File, *Model, int) {
				var buf bytes.Buffer
				n, err := WriteMerged(&buf, f, mm, mt, "merged")
				if err != nil {
					t.Fatal(err)
				}
				mf, err := gguf.Parse(buf.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				if s, _ := mf.String("general.name"); s != "merged" {
					t.Fatalf("general.name %q", s)
				}
				out, err := LoadGGUF(mf)
				if err != nil {
					t.Fatal(err)
				}
				return mf, out, n
			}
			_, deq, n := merge(m, MergeF32)
			if n != 0 {
				t.Fatalf("merged %d weights of a model without adapters", n)
			}
			deqTuned, err := deq.WithLoRA([]AppliedLoRA{{Adapter: back, Scale: 0.5}})
			if err != nil {
				t.Fatal(err)
			}
			wantM := promptLogits(t, deqTuned, ids, 64)
			mf, merged, n := merge(tuned, MergeF32)
			if n != 2*len(LoRATargets) {
				t.Fatalf("merged %d weights, want %d", n, 2*len(LoRATargets))
			}
			if ft, _ := mf.Uint("general.file_type"); ft != 0 {
				t.Fatalf("merged F32 file has general.file_type %d", ft)
			}
			gotM := promptLogits(t, merged, ids, 64)
			d := maxDiff(gotM, wantM)
			t.Logf("merged f32: max |Δlogit| vs base (F32) + adapter %.3g; vs the %s base + adapter %.3g", d, typ, maxDiff(gotM, withAd))
			if d > 1e-3 {
				t.Fatalf("merged model's logits differ from base + adapter by %g", d)
			}
			if typ == tensor.Q8_0 {
				_, mb, _ := merge(tuned, MergeBase)
				if mb.Layers[0].Wq.Type != tensor.Q8_0 {
					t.Fatalf("merged to the base type gives %s weights", mb.Layers[0].Wq.Type)
				}
				d, effect := maxDiff(promptLogits(t, mb, ids, 64), withAd), maxDiff(base, withAd)
				t.Logf("merged base (Q8_0 requantized): max |Δlogit| vs base + adapter %.3g (the adapter moves them by %.3g)", d, effect)
				if d > effect/4 {
					t.Fatalf("merged Q8_0 model's logits differ from base + adapter by %g", d)
				}
			}
		})
	}
}

// TestLoRAErrors: adapters that do not fit the model or the format are
// refused with errors naming what was expected.
func TestLoRAErrors(t *testing.T) {
	_, m := loraModel(t, tensor.F32)
	good := randomLoRA(m, 2, 4, 3, "attn_q", "attn_v")
	rewrite := func(edit func(f *gguf.File)) []byte {
		f, err := gguf.Parse(encodeLoRA(t, good))
		if err != nil {
			t.Fatal(err)
		}
		edit(f)
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	setKV := func(key string, v any, typ gguf.ValueType) func(f *gguf.File) {
		return func(f *gguf.File) {
			for i := range f.KV {
				if f.KV[i].Key == key {
					f.KV[i].Value, f.KV[i].Type = v, typ
				}
			}
		}
	}
	withWeights := func(edit func(a *LoRA)) []byte {
		a := randomLoRA(m, 2, 4, 3, "attn_q", "attn_v")
		edit(a)
		return encodeLoRA(t, a)
	}
	cases := []struct {
		name string
		data []byte
		want string // in the error of ReadLoRA or WithLoRA
	}{
		{"not an adapter", rewrite(setKV("general.type", "model", gguf.TypeString)), `general.type is "model", expected "adapter"`},
		{"not lora", rewrite(setKV("adapter.type", "ia3", gguf.TypeString)), `adapter.type is "ia3", expected "lora"`},
		{"alpha type", rewrite(setKV("adapter.lora.alpha", "x", gguf.TypeString)), "adapter.lora.alpha"},
		{"arch", rewrite(setKV("general.architecture", "qwen2", gguf.TypeString)), `the adapter is for architecture "qwen2", the model is "llama"`},
		{"missing b", rewrite(func(f *gguf.File) { f.Tensors = f.Tensors[:len(f.Tensors)-1] }), "has no blk.1.attn_v.weight.lora_b"},
		{"stray tensor", rewrite(func(f *gguf.File) { f.Tensors[0].Name = "blk.0.attn_q.weight" }), "neither a .lora_a nor a .lora_b"},
		{"no tensors", rewrite(func(f *gguf.File) { f.Tensors = nil }), "has no tensors"},
		{"wrong base shape", withWeights(func(a *LoRA) {
			w := a.Weights["blk.0.attn_q.weight"]
			w.Cols, w.A = 128, w.A[:2*128]
		}), "is for a 256×128 weight"},
		{"unknown weight", withWeights(func(a *LoRA) { a.Weights["blk.0.attn_qkv.weight"] = a.Weights["blk.0.attn_q.weight"] }), "glassbox applies adapters to"},
		{"too many blocks", withWeights(func(a *LoRA) { a.Weights["blk.9.attn_q.weight"] = a.Weights["blk.0.attn_q.weight"] }), "the model has 2 blocks"},
		{"embedding", withWeights(func(a *LoRA) { a.Weights["token_embd.weight"] = a.Weights["blk.0.attn_q.weight"] }), "glassbox applies adapters to"},
		{"NaN", withWeights(func(a *LoRA) { a.Weights["blk.0.attn_q.weight"].B[3] = float32(math.NaN()) }), "is NaN"},
	}
	// lora_a and lora_b of different ranks
	f, _ := gguf.Parse(encodeLoRA(t, good))
	w := gguf.NewWriter(0)
	for _, kv := range f.KV {
		w.AddKVTyped(kv)
	}
	w.AddTensor("blk.0.attn_q.weight.lora_a", tensor.F32, []uint64{256, 2}, make([]byte, 4*512))
	w.AddTensor("blk.0.attn_q.weight.lora_b", tensor.F32, []uint64{3, 256}, make([]byte, 4*768))
	var buf bytes.Buffer
	w.WriteTo(&buf)
	cases = append(cases, struct {
		name string
		data []byte
		want string
	}{"rank mismatch", buf.Bytes(), "lora_a has rank 2 (shape [256 2]) but lora_b 3"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := decodeLoRA(c.data)
			if err == nil {
				_, err = m.WithLoRA([]AppliedLoRA{{Adapter: a, Scale: 1}})
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			t.Log(err)
		})
	}
	// a model file is not an adapter
	mf, _ := loraModel(t, tensor.F32)
	if _, err := ReadLoRA(mf); err == nil || !strings.Contains(err.Error(), "is this a model rather than an adapter?") {
		t.Fatalf("model read as an adapter: %v", err)
	}
	if _, err := m.WithLoRA([]AppliedLoRA{{Adapter: good, Scale: float32(math.Inf(1))}}); err == nil {
		t.Fatal("infinite scale accepted")
	}
	if _, err := WriteMerged(&buf, mf, m, "q4_k", ""); err == nil {
		t.Fatal("merge type q4_k accepted")
	}
}

// FuzzReadLoRA: no adapter file makes reading or applying one panic.
func FuzzReadLoRA(f *testing.F) {
	_, m := loraModelDim(f, tensor.F32, 16)
	one := randomLoRA(m, 1, 4, 3, "attn_q")
	delete(one.Weights, "blk.1.attn_q.weight")
	f.Add(encodeLoRA(f, one))
	f.Add(encodeLoRA(f, randomLoRA(m, 1, 0, 4, "attn_output")))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := decodeLoRA(data)
		if err != nil {
			return
		}
		tuned, err := m.WithLoRA([]AppliedLoRA{{Adapter: a, Scale: 1}})
		if err != nil {
			return
		}
		s, err := tuned.NewState(StateOptions{Context: 8, Batch: 4})
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, m.Config.VocabSize)
		if err := tuned.Forward(s, []int{1, 2, 3}, 0, out); err != nil {
			t.Fatal(err)
		}
		_ = fmt.Sprint(a.Names())
	})
}
