package train

import (
	"fmt"
	"testing"
)

// TestOpGradients checks every op's backward pass against central finite
// differences in float64.
func TestOpGradients(t *testing.T) {
	rng := NewRNG(1, 0)
	x := randTensor(rng, 5, 8, 1)
	w := randTensor(rng, 6, 8, 0.5)
	nw := randTensor(rng, 1, 8, 1)
	table := randTensor(rng, 7, 4, 1)
	q := randTensor(rng, 5, 8, 1)
	k := randTensor(rng, 5, 4, 1)
	v := randTensor(rng, 5, 4, 1)
	g := randTensor(rng, 4, 6, 1.5)
	u := randTensor(rng, 4, 6, 1)
	a := randTensor(rng, 3, 5, 1)
	b := randTensor(rng, 3, 5, 1)
	logits := randTensor(rng, 4, 9, 2)
	rt := newRopeTable[float64](5, 4, 10000)
	tests := []struct {
		name   string
		inputs []*Tensor[float64]
		f      func(tape *Tape[float64]) *Tensor[float64]
	}{
		{"embedding", []*Tensor[float64]{table}, func(tp *Tape[float64]) *Tensor[float64] { return tp.Embedding(table, []int{3, 0, 3, 6}) }},
		{"linear", []*Tensor[float64]{x, w}, func(tp *Tape[float64]) *Tensor[float64] { return tp.Linear(x, w) }},
		{"rmsnorm", []*Tensor[float64]{x, nw}, func(tp *Tape[float64]) *Tensor[float64] { return tp.RMSNorm(x, nw, 1e-5) }},
		{"rope", []*Tensor[float64]{q}, func(tp *Tape[float64]) *Tensor[float64] { return tp.RoPE(q, rt) }},
		{"attention_mha", []*Tensor[float64]{q, randKV(k, 8), randKV(v, 8)}, nil},
		{"attention_gqa", []*Tensor[float64]{q, k, v}, func(tp *Tape[float64]) *Tensor[float64] { return tp.Attention(q, k, v, 4, 2) }},
		{"swiglu", []*Tensor[float64]{g, u}, func(tp *Tape[float64]) *Tensor[float64] { return tp.SwiGLU(g, u) }},
		{"add", []*Tensor[float64]{a, b}, func(tp *Tape[float64]) *Tensor[float64] { return tp.Add(a, b) }},
		{"cross_entropy", []*Tensor[float64]{logits}, func(tp *Tape[float64]) *Tensor[float64] {
			l := tp.CrossEntropy(logits, []int{2, -1, 8, 0}, 1)
			out := newTensor[float64](1, 1)
			out.Data[0] = l
			return out
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if f == nil {
				qq, kk, vv := tc.inputs[0], tc.inputs[1], tc.inputs[2]
				f = func(tp *Tape[float64]) *Tensor[float64] { return tp.Attention(qq, kk, vv, 2, 2) }
			}
			gradCheck(t, tc.name, tc.inputs, f)
		})
	}
}

// randKV returns a fresh tensor with the rows of t widened to cols values.
func randKV(t *Tensor[float64], cols int) *Tensor[float64] {
	rng := NewRNG(uint64(len(t.Data)), uint64(cols))
	return randTensor(rng, t.Rows, cols, 1)
}

// TestModelGradient checks the whole model (two layers, grouped-query
// attention, tied embeddings) against finite differences in float64.
func TestModelGradient(t *testing.T) {
	cfg := ModelConfig{Vocab: 11, Dim: 8, Layers: 2, Heads: 4, KVHeads: 2, Hidden: 12, Context: 6, RopeTheta: 10000, NormEps: 1e-5}
	m, err := NewModel[float64](cfg, NewRNG(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Larger weights than the init so every op matters.
	rng := NewRNG(4, 0)
	for _, p := range m.Params {
		for i := range p.T.Data {
			p.T.Data[i] += rng.Normal() * 0.3
		}
	}
	ids := []int{1, 5, 2, 9, 10, 0}
	targets := []int{5, 2, 9, 10, 0, 3}
	var inputs []*Tensor[float64]
	for _, p := range m.Params {
		inputs = append(inputs, p.T)
	}
	gradCheck(t, fmt.Sprintf("model(%d params)", m.NumParams()), inputs, func(tp *Tape[float64]) *Tensor[float64] {
		l, err := m.Loss(tp, ids, targets, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := newTensor[float64](1, 1)
		out.Data[0] = l
		return out
	})
}
