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

// batchModel writes and loads a small random model of architecture arch
// whose matrices are of type typ.
func batchModel(t *testing.T, arch string, typ tensor.Type) *Model {
	t.Helper()
	fam := families[arch]
	c := Config{
		Arch: arch, Name: "batch test", VocabSize: 300, Dim: 256, HiddenDim: 512, Layers: 2,
		Heads: 4, KVHeads: 2, HeadDim: 64, ValueDim: 64, RopeDim: 64, ContextLength: 128,
		NormEps: 1e-5, RopeTheta: 10000, RopeNeox: fam.ropeNeox, AttnBias: fam.attnBias, QKNorm: fam.qkNorm,
	}
	if fam.gemma {
		// Gemma's extra steps, which ForwardBatch takes row by row
		c.EmbedScale, c.GELU, c.PostNorms = true, true, true
		c.QueryScale = attnScale(c.HeadDim)
		c.SlidingWindow, c.SlidingLayers, c.RopeThetaLocal = 4, []bool{true, false}, 10000
		if arch == "gemma2" {
			c.AttnSoftcap, c.FinalSoftcap = 50, 30
		}
	}
	setArchExtras(&c)
	var buf bytes.Buffer
	err := WriteGGUF(&buf, &c, WriteOptions{Type: typ, Weights: func(r TensorRef) ([]float32, error) {
		rng := rand.New(rand.NewPCG(uint64(len(r.Name)), uint64(r.Layer+7)))
		v := make([]float32, r.Rows*r.Cols)
		for i := range v {
			if r.Spec.Vector() && !strings.Contains(r.Name, "bias") {
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
	return m
}

// TestForwardBatchEqualsAlone runs several sequences with prompts of
// different lengths, then decodes them together with ForwardBatch (a
// changing set of sequences per step, from nine down to one) and checks that
// every sequence's logits are bit for bit those of decoding it alone with
// Forward, for every architecture, weight type and KV cache type.
func TestForwardBatchEqualsAlone(t *testing.T) {
	types := []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1, tensor.Q8_0}
	archs := Architectures
	if testing.Short() {
		types = []tensor.Type{tensor.F16, tensor.Q4_0, tensor.Q8_0}
		archs = archs[:1]
	}
	for _, arch := range archs {
		for _, typ := range types {
			m := batchModel(t, arch, typ)
			for _, kv := range []struct{ v, k tensor.Type }{{tensor.F32, 0}, {tensor.F16, 0}, {tensor.F16, tensor.Q8_0}, {tensor.F32, tensor.Q4_0}} {
				name := fmt.Sprintf("%s/%s/kv%s", arch, typ, kv.v)
				if kv.k != 0 {
					name += fmt.Sprintf("/k%s", kv.k)
				}
				t.Run(name, func(t *testing.T) {
					checkBatchEqualsAlone(t, m, kv.v, kv.k)
				})
			}
		}
	}
}

func checkBatchEqualsAlone(t *testing.T, m *Model, kv, key tensor.Type) {
	const seqs, steps = 9, 6
	vocab := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(1, 2))
	alone := make([]*State, seqs)
	batched := make([]*State, seqs)
	pos := make([]int, seqs)
	next := make([]int, seqs)
	for i := range seqs {
		var err error
		opt := StateOptions{Context: 128, Batch: 8, KVType: kv, KeyType: key}
		if alone[i], err = m.NewState(opt); err != nil {
			t.Fatal(err)
		}
		if batched[i], err = m.NewState(opt); err != nil {
			t.Fatal(err)
		}
		prompt := make([]int, 1+i*5)
		for j := range prompt {
			prompt[j] = rng.IntN(vocab)
		}
		logits := make([]float32, vocab)
		for _, s := range []*State{alone[i], batched[i]} {
			if err := m.Forward(s, prompt, 0, logits); err != nil {
				t.Fatal(err)
			}
		}
		pos[i], next[i] = len(prompt), argmax(logits)
	}
	b, err := m.NewBatch(seqs)
	if err != nil {
		t.Fatal(err)
	}
	// the sequences taking part in each step: all, then fewer
	members := [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8}, {8, 1, 2, 3, 4, 5, 6, 7}, {0, 2, 4, 6, 8}, {1, 3, 5, 7}, {0, 8, 4}, {2}}
	for step := range steps {
		var st []SeqStep
		for _, i := range members[step] {
			st = append(st, SeqStep{State: batched[i], Token: next[i], Pos: pos[i], Logits: make([]float32, vocab)})
		}
		if err := m.ForwardBatch(b, st); err != nil {
			t.Fatal(err)
		}
		for k, i := range members[step] {
			want := make([]float32, vocab)
			if err := m.Forward(alone[i], []int{next[i]}, pos[i], want); err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if math.Float32bits(want[j]) != math.Float32bits(st[k].Logits[j]) {
					t.Fatalf("step %d (%d sequences), sequence %d, logit %d: batched %g, alone %g",
						step, len(st), i, j, st[k].Logits[j], want[j])
				}
			}
			pos[i]++
			next[i] = argmax(want)
		}
	}
}

// TestMatMulRowsEqualMatVec checks, for every weight type the products
// support (K-quants included, which WriteGGUF cannot write), that each row
// of a matrix-matrix product over n activation rows is bit for bit the
// single-row product the one-token decode computes (MatVec, and MatVecMulti
// as used for the fused projections), for every batch size from 1 to 17
// (the many-row kernels over packed copies take up to 16, 4-row dot
// kernels, 8-column panels), over 72 rows (four groups of sixteen and a
// ragged tail).
func TestMatMulRowsEqualMatVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, cols = 72, 512
	for typ := tensor.Type(0); typ < 64; typ++ {
		if !tensor.Supported(typ) {
			continue
		}
		rb, err := typ.RowBytes(cols)
		if err != nil {
			continue
		}
		data := make([]byte, rows*rb)
		for i := range data {
			data[i] = byte(rng.Uint32()) & 0x3B // finite, small scales and values
		}
		w, err := tensor.NewMatrix(typ, rows, cols, data)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		// the same weight with the packed copy model loading makes (where
		// this CPU has kernels for it)
		wp, _ := tensor.NewMatrix(typ, rows, cols, data)
		wp.Pack()
		for n := 1; n <= 17; n++ {
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			got := make([]float32, n*rows)
			gotp := make([]float32, n*rows)
			tensor.MatMul(got, w, x, n)
			tensor.MatMul(gotp, wp, x, n)
			for i := range n {
				xi := x[i*cols : (i+1)*cols]
				one := make([]float32, rows)
				tensor.MatVec(one, w, xi)
				multi := [][]float32{make([]float32, rows), make([]float32, rows)}
				tensor.MatVecMulti(multi, []*tensor.Matrix{w, wp}, xi)
				for r := range rows {
					g := math.Float32bits(got[i*rows+r])
					if g != math.Float32bits(one[r]) || g != math.Float32bits(gotp[i*rows+r]) || g != math.Float32bits(multi[1][r]) {
						t.Fatalf("%s n=%d row %d col %d: MatMul %g, packed %g, MatVec %g, MatVecMulti packed %g",
							typ, n, i, r, got[i*rows+r], gotp[i*rows+r], one[r], multi[1][r])
					}
				}
			}
		}
	}
}

// TestForwardBatchErrors checks that malformed steps are refused before
// anything runs.
func TestForwardBatchErrors(t *testing.T) {
	m := batchModel(t, "llama", tensor.F32)
	other := batchModel(t, "qwen2", tensor.F32)
	s1, _ := m.NewState(StateOptions{Context: 16})
	s2, _ := m.NewState(StateOptions{Context: 16})
	so, _ := other.NewState(StateOptions{Context: 16})
	b, _ := m.NewBatch(2)
	bo, _ := other.NewBatch(2)
	if _, err := m.NewBatch(0); err == nil {
		t.Error("NewBatch(0) succeeded")
	}
	v := m.Config.VocabSize
	for _, tt := range []struct {
		name  string
		b     *Batch
		steps []SeqStep
		want  string
	}{
		{"nil batch", nil, []SeqStep{{State: s1}}, "not this model's"},
		{"other model's batch", bo, []SeqStep{{State: s1}}, "not this model's"},
		{"no steps", b, nil, "no sequences"},
		{"too many", b, []SeqStep{{State: s1}, {State: s2}, {State: s1}}, "the batch holds 2"},
		{"no state", b, []SeqStep{{}}, "no state of this model"},
		{"other model's state", b, []SeqStep{{State: so}}, "no state of this model"},
		{"position", b, []SeqStep{{State: s1, Pos: 16}}, "position 16 does not fit the context of 16"},
		{"negative position", b, []SeqStep{{State: s1, Pos: -1}}, "position -1"},
		{"token", b, []SeqStep{{State: s1, Token: v}}, "outside the vocabulary"},
		{"logits", b, []SeqStep{{State: s1, Logits: make([]float32, 3)}}, "logits has 3 values"},
		{"shared state, gap", b, []SeqStep{{State: s1}, {State: s1, Pos: 2}}, "consecutive positions"},
		{"shared state, backwards", b, []SeqStep{{State: s1, Pos: 1}, {State: s1}}, "consecutive positions"},
	} {
		err := m.ForwardBatch(tt.b, tt.steps)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestForwardBatchConsecutiveRows checks the verification pass of
// speculative decoding: one State holding several steps at consecutive
// positions (beside another sequence's step) gives each row bit for bit the
// logits of decoding the tokens one at a time with Forward, also after the
// cache was rolled back over rows a rejected draft had written (the second
// round starts inside the first one's rows, with other tokens).
func TestForwardBatchConsecutiveRows(t *testing.T) {
	archs := []string{"llama", "gemma2", "qwen3"}
	types := []tensor.Type{tensor.F32, tensor.F16, tensor.Q4_0, tensor.Q8_0}
	if testing.Short() {
		archs, types = archs[:1], types[2:3]
	}
	for _, arch := range archs {
		for _, typ := range types {
			m := batchModel(t, arch, typ)
			for _, kv := range []struct{ v, k tensor.Type }{{tensor.F32, 0}, {tensor.F16, 0}, {tensor.F16, tensor.Q8_0}} {
				t.Run(fmt.Sprintf("%s/%s/kv%s/k%s", arch, typ, kv.v, kv.k), func(t *testing.T) {
					checkConsecutiveRows(t, m, kv.v, kv.k)
				})
			}
		}
	}
}

func checkConsecutiveRows(t *testing.T, m *Model, kv, key tensor.Type) {
	vocab := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(5, 6))
	opt := StateOptions{Context: 128, Batch: 8, KVType: kv, KeyType: key}
	alone, _ := m.NewState(opt)
	verify, _ := m.NewState(opt)
	other, _ := m.NewState(opt)
	prompt := make([]int, 11)
	for j := range prompt {
		prompt[j] = rng.IntN(vocab)
	}
	for _, s := range []*State{alone, verify, other} {
		if err := m.Forward(s, prompt, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.NewBatch(8)
	if err != nil {
		t.Fatal(err)
	}
	// two rounds: five rows from position 11, then (rolled back to 13)
	// six rows of other tokens
	for _, round := range []struct{ pos, n int }{{11, 5}, {13, 6}} {
		toks := make([]int, round.n)
		for j := range toks {
			toks[j] = rng.IntN(vocab)
		}
		steps := []SeqStep{{State: other, Token: rng.IntN(vocab), Pos: round.pos, Logits: make([]float32, vocab)}}
		for j, tk := range toks {
			steps = append(steps, SeqStep{State: verify, Token: tk, Pos: round.pos + j, Logits: make([]float32, vocab)})
		}
		if err := m.ForwardBatch(b, steps); err != nil {
			t.Fatal(err)
		}
		for j, tk := range toks {
			want := make([]float32, vocab)
			if err := m.Forward(alone, []int{tk}, round.pos+j, want); err != nil {
				t.Fatal(err)
			}
			got := steps[1+j].Logits
			for k := range want {
				if math.Float32bits(want[k]) != math.Float32bits(got[k]) {
					t.Fatalf("round at %d, row %d, logit %d: batched %g, one at a time %g", round.pos, j, k, got[k], want[k])
				}
			}
		}
	}
}
