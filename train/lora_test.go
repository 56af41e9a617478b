package train

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"glassbox/gguf"
	"glassbox/model"
	"glassbox/tensor"
)

// engineOf writes m as a GGUF file of type typ and loads it with the
// inference engine (the frozen base of the LoRA tests).
func engineOf(t testing.TB, m *Model[float32], typ tensor.Type) *model.Model {
	t.Helper()
	params := map[string][]float32{}
	for _, p := range m.Params {
		params[p.Name] = p.T.Data
	}
	ec := m.Config.EngineConfig()
	var buf bytes.Buffer
	err := model.WriteGGUF(&buf, &ec, model.WriteOptions{Type: typ, Name: "tiny",
		Weights: func(r model.TensorRef) ([]float32, error) { return params[r.Name], nil }})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	em, err := model.LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return em
}

// denseLoRA returns a float64 LoRA model over the weights of m0 held as
// dense frozen matrices, with A and B both random (so that every gradient
// is exercised).
func denseLoRA(m0 *Model[float64], c LoRAConfig, rng *RNG) *Model[float64] {
	m := &Model[float64]{Config: m0.Config, rope: m0.rope}
	dense := func(t *Tensor[float64]) frozenLinear[float64] {
		return denseLinear[float64]{w: t.Data, rows: t.Rows, cols: t.Cols}
	}
	frozenVec := func(t *Tensor[float64]) *Tensor[float64] {
		return &Tensor[float64]{Data: t.Data, Rows: t.Rows, Cols: t.Cols}
	}
	m.base = &frozenBase[float64]{embed: dense(m0.embed), output: dense(m0.embed), scale: c.Scale(), lora: c}
	m.norm = frozenVec(m0.norm)
	for li, l := range m0.layers {
		m.layers = append(m.layers, layerParams[float64]{attnNorm: frozenVec(l.attnNorm), ffnNorm: frozenVec(l.ffnNorm)})
		ws := [numSlots]*Tensor[float64]{l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down}
		var fl frozenLayer[float64]
		for s, w := range ws {
			fl.w[s] = dense(w)
			p := &loraPair[float64]{a: randTensor(rng, c.Rank, w.Cols, 0.3), b: randTensor(rng, w.Rows, c.Rank, 0.3)}
			fl.lora[s] = p
			name := model.LayerName(li, model.LoRATargets[s]+".weight")
			m.Params = append(m.Params, Param[float64]{Name: name + ".lora_a", T: p.a}, Param[float64]{Name: name + ".lora_b", T: p.b})
		}
		m.frozen = append(m.frozen, fl)
	}
	return m
}

// TestLoRAGradients checks the LoRA op (input, A and B through a frozen
// weight) and a whole LoRA model's loss (every adapter of every target,
// the gradient flowing to the input through the frozen blocks) against
// finite differences.
func TestLoRAGradients(t *testing.T) {
	rng := NewRNG(11, 0)
	x := randTensor(rng, 3, 8, 1)
	w := randTensor(rng, 6, 8, 0.5)
	a := randTensor(rng, 2, 8, 0.5)
	b := randTensor(rng, 6, 2, 0.5)
	base := denseLinear[float64]{w: w.Data, rows: 6, cols: 8}
	gradCheck(t, "lora_op", []*Tensor[float64]{x, a, b}, func(tp *Tape[float64]) *Tensor[float64] {
		return tp.LoRA(x, base, a, b, 1.7)
	})
	gradCheck(t, "frozen", []*Tensor[float64]{x}, func(tp *Tape[float64]) *Tensor[float64] { return tp.Frozen(x, base) })

	c := ModelConfig{Vocab: 11, Dim: 8, Layers: 2, Heads: 2, KVHeads: 1, Hidden: 12, Context: 8, RopeTheta: 10000, NormEps: 1e-5}
	m0, err := NewModel[float64](c, NewRNG(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	m := denseLoRA(m0, LoRAConfig{Rank: 2, Alpha: 4, Targets: model.LoRATargets}, rng)
	var inputs []*Tensor[float64]
	for _, p := range m.Params {
		inputs = append(inputs, p.T)
	}
	ids, targets := []int{1, 5, 2, 9, 3}, []int{5, 2, 9, 3, 7}
	gradCheck(t, "lora_model", inputs, func(tp *Tape[float64]) *Tensor[float64] {
		l, err := m.Loss(tp, ids, targets, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := newTensor[float64](1, 1)
		out.Data[0] = l
		return out
	})
}

// TestQuantLinearBackward: the gradient through a frozen quantized weight is
// the product with its dequantized values, and does not depend on the
// number of threads.
func TestQuantLinearBackward(t *testing.T) {
	rng := NewRNG(5, 0)
	const rows, cols, n = 24, 96, 3
	vals := make([]float32, rows*cols)
	for i := range vals {
		vals[i] = float32(rng.Normal())
	}
	dy := make([]float32, n*rows)
	for i := range dy {
		dy[i] = float32(rng.Normal())
	}
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_0} {
		t.Run(typ.String(), func(t *testing.T) {
			rb, _ := typ.RowBytes(cols)
			data := make([]byte, rows*rb)
			for r := 0; r < rows; r++ {
				if err := tensor.Quantize(typ, vals[r*cols:(r+1)*cols], data[r*rb:(r+1)*rb]); err != nil {
					t.Fatal(err)
				}
			}
			mat, err := tensor.NewMatrix(typ, rows, cols, data)
			if err != nil {
				t.Fatal(err)
			}
			deq := make([]float32, rows*cols)
			for r := 0; r < rows; r++ {
				mat.Row(r, deq[r*cols:(r+1)*cols])
			}
			want := make([]float32, n*cols)
			denseLinear[float32]{w: deq, rows: rows, cols: cols}.mulT(want, dy, n, 1)
			var first []float32
			for _, threads := range []int{1, 2, 3} {
				got := make([]float32, n*cols)
				quantLinear{mat}.mulT(got, dy, n, threads)
				if d := maxAbsDiff(got, want); d > 1e-4 {
					t.Fatalf("threads %d: dx differs from the dense product by %g", threads, d)
				}
				if first != nil && !slicesEqualBits(first, got) {
					t.Fatalf("threads %d: dx differs from 1 thread", threads)
				}
				first = got
			}
		})
	}
}

// loraBase is the tiny model with token embeddings of standard deviation
// 0.6 instead of 0.02: with frozen tied embeddings of the training
// initialisation the logits could hardly move, whatever the adapters do.
func loraBase(t *testing.T, seed uint64) *Model[float32] {
	m := tinyAlignModel(t, seed)
	for i := range m.embed.Data {
		m.embed.Data[i] *= 30
	}
	return m
}

func loraSFTConfig() FineTuneConfig {
	c := tinyFTConfig("sft")
	c.Steps, c.Optim.LR = 80, 1e-2
	return c
}

// TestLoRASFTEndToEnd trains adapters over a frozen Q8_0 base: the
// held-out loss falls, the base weights do not change, the result does not
// depend on the threads, a resumed run ends with the same adapters, and the
// adapter written as GGUF and applied by the inference engine gives the
// training forward pass's logits.
func TestLoRASFTEndToEnd(t *testing.T) {
	recs := alphabetSFT(200, 3)
	lc := LoRAConfig{Rank: 4, Alpha: 8, Targets: DefaultLoRATargets}
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.F32} {
		t.Run(typ.String(), func(t *testing.T) {
			em := engineOf(t, loraBase(t, 1), typ)
			baseBytes := append([]byte(nil), em.Layers[0].Wq.Data...)
			var final [][]float32
			var lm *Model[float32]
			threadCounts := []int{1, 3}
			if typ == tensor.F32 {
				threadCounts = threadCounts[:1]
			}
			for _, threads := range threadCounts {
				m, err := NewLoRA(em, lc, 7)
				if err != nil {
					t.Fatal(err)
				}
				if want := 2 * 2 * 7; len(m.Params) != want {
					t.Fatalf("%d parameters, want %d adapter tensors", len(m.Params), want)
				}
				c := loraSFTConfig()
				c.LoRA = &lc
				ft, _, err := NewSFT(c, m, recs, byteEncoder{})
				if err != nil {
					t.Fatal(err)
				}
				ft.Threads = threads
				before, after := runFT(t, ft)
				if !(Get(after, "loss") < 0.7*Get(before, "loss")) {
					t.Fatalf("threads %d: held-out loss %.3f → %.3f: not learned", threads, Get(before, "loss"), Get(after, "loss"))
				}
				t.Logf("threads %d: held-out loss %.3f → %.3f, accuracy %.3f", threads, Get(before, "loss"), Get(after, "loss"), Get(after, "mean_token_accuracy"))
				w := weightsOf(m)
				if final != nil && !sameWeights(final, w) {
					t.Fatal("adapters differ between 1 and 3 threads")
				}
				final, lm = w, m
			}
			if !bytes.Equal(baseBytes, em.Layers[0].Wq.Data) {
				t.Fatal("the frozen base changed")
			}
			// the adapter in llama.cpp's format, applied by the engine
			ad, err := lm.Adapter("llama", "tiny-lora")
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := model.WriteLoRA(&buf, ad); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Parse(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			back, err := model.ReadLoRA(f)
			if err != nil {
				t.Fatal(err)
			}
			tuned, err := em.WithLoRA([]model.AppliedLoRA{{Adapter: back, Scale: 1}})
			if err != nil {
				t.Fatal(err)
			}
			ids := []int{0, 'a' + 1, 'b' + 1, 'c' + 1, 'd' + 1, 'e' + 1}
			got, want := engineLogits(t, tuned, ids), lm.Logits(ids)
			if d := maxAbsDiff(got, want); d > 2e-3 {
				t.Fatalf("engine with the adapter differs from the training forward pass by %g", d)
			}
			if d := maxAbsDiff(engineLogits(t, em, ids), want); d < 0.05 {
				t.Fatalf("the adapter changes the logits by only %g", d)
			}
		})
	}
}

// TestLoRAResume interrupts a LoRA run and resumes it from its checkpoint.
func TestLoRAResume(t *testing.T) {
	recs := alphabetSFT(100, 4)
	em := engineOf(t, loraBase(t, 2), tensor.Q4_0)
	lc := LoRAConfig{Rank: 2, Alpha: 2, Targets: []string{"attn_q", "attn_v"}}
	c := loraSFTConfig()
	c.Steps, c.LoRA = 12, &lc
	run := func(stopAt int, ck []byte) ([][]float32, []byte) {
		m, err := NewLoRA(em, lc, 1)
		if err != nil {
			t.Fatal(err)
		}
		ft, _, err := NewSFT(c, m, recs, byteEncoder{})
		if err != nil {
			t.Fatal(err)
		}
		if ck != nil {
			if err := ft.ReadCheckpoint(bytes.NewReader(ck)); err != nil {
				t.Fatal(err)
			}
		}
		for ft.Step() < stopAt {
			p, err := ft.TrainStep()
			if err != nil {
				t.Fatal(err)
			}
			ft.Curve = append(ft.Curve, p)
		}
		var b bytes.Buffer
		if err := ft.WriteCheckpoint(&b); err != nil {
			t.Fatal(err)
		}
		return weightsOf(m), b.Bytes()
	}
	whole, _ := run(12, nil)
	_, ck := run(5, nil)
	resumed, _ := run(12, ck)
	if !sameWeights(whole, resumed) {
		t.Fatal("resumed LoRA run differs from the uninterrupted one")
	}
}

// TestLoRADPO: DPO with adapters; the reference is the base (B = 0 at the
// start), so the held-out reward accuracy rises from 0.
func TestLoRADPO(t *testing.T) {
	recs := alphabetPairs(160, 5)
	em := engineOf(t, loraBase(t, 1), tensor.Q8_0)
	lc := LoRAConfig{Rank: 4, Alpha: 8, Targets: DefaultLoRATargets}
	m, err := NewLoRA(em, lc, 3)
	if err != nil {
		t.Fatal(err)
	}
	c := tinyFTConfig("dpo")
	c.Optim.LR, c.Steps, c.LoRA = 1e-2, 40, &lc
	if _, _, err := NewDPO(c, tinyAlignModel(t, 1), nil, recs, byteEncoder{}, 2); err == nil {
		t.Fatal("a LoRA config with a fully trained model accepted")
	}
	ft, _, err := NewDPO(c, m, nil, recs, byteEncoder{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	before, after := runFT(t, ft)
	t.Logf("held-out rewards/accuracies %.3f → %.3f, loss %.4f → %.4f", Get(before, "rewards/accuracies"), Get(after, "rewards/accuracies"), Get(before, "loss"), Get(after, "loss"))
	if Get(before, "loss") != math.Log(2) && math.Abs(Get(before, "loss")-math.Log(2)) > 1e-6 {
		t.Fatalf("starting loss %.6f, want log 2 (policy = reference)", Get(before, "loss"))
	}
	if !(Get(after, "rewards/accuracies") > 0.7) || !(Get(after, "loss") < Get(before, "loss")) {
		t.Fatalf("DPO with LoRA did not learn: %s", FormatMetrics(after))
	}
}

func TestLoRAConfigErrors(t *testing.T) {
	for _, c := range []LoRAConfig{
		{Rank: 0, Alpha: 1, Targets: []string{"attn_q"}},
		{Rank: 4, Alpha: 0, Targets: []string{"attn_q"}},
		{Rank: 4, Alpha: 8},
		{Rank: 4, Alpha: 8, Targets: []string{"q_proj"}},
		{Rank: 4, Alpha: 8, Targets: []string{"attn_q", "attn_q"}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		} else {
			t.Log(fmt.Sprint(err))
		}
	}
}

func TestParseLoRATargets(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // comma-joined, or the start of the error
		ok   bool
	}{
		{"", "attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down", true},
		{"all-linear", "attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down", true},
		{"v_proj, q_proj", "attn_q,attn_v", true},
		{"ffn_down,attn_q", "attn_q,ffn_down", true},
		{"attn_q,q_proj", `LoRA target "q_proj" given twice`, false},
		{"lm_head", `unknown LoRA target "lm_head"`, false},
	} {
		got, err := ParseLoRATargets(c.in)
		switch {
		case c.ok && (err != nil || strings.Join(got, ",") != c.want):
			t.Errorf("%q: %v, %v; want %s", c.in, got, err, c.want)
		case !c.ok && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.in, err, c.want)
		}
	}
}
