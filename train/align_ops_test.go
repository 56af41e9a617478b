package train

import (
	"fmt"
	"testing"
)

// TestAlignOpGradients checks the ops and losses of fine-tuning (sequence
// log-probabilities, the DPO sigmoid and IPO losses, the reward model's
// Bradley–Terry loss through its head) against finite differences.
func TestAlignOpGradients(t *testing.T) {
	rng := NewRNG(7, 0)
	lc := randTensor(rng, 5, 9, 2)
	lr := randTensor(rng, 4, 9, 2)
	hc := randTensor(rng, 3, 6, 1)
	hr := randTensor(rng, 5, 6, 1)
	head := randTensor(rng, 1, 6, 0.5)
	tc := []int{-1, 3, 8, -1, 0}
	tr := []int{-1, -1, 2, 7}
	scalar := func(v float64) *Tensor[float64] {
		out := newTensor[float64](1, 1)
		out.Data[0] = v
		return out
	}
	pref := func(kind PairLossKind, beta float64, mean bool) func(tp *Tape[float64]) *Tensor[float64] {
		return func(tp *Tape[float64]) *Tensor[float64] {
			sc, sr := 1.0, 1.0
			if mean {
				sc, sr = 1/2.0, 1/2.0
			}
			a := tp.Sum(tp.TokenLogProbs(lc, tc), sc)
			b := tp.Sum(tp.TokenLogProbs(lr, tr), sr)
			return scalar(tp.PairLoss(a, b, -3.1, -2.4, beta, kind, 1))
		}
	}
	tests := []struct {
		name   string
		inputs []*Tensor[float64]
		f      func(tp *Tape[float64]) *Tensor[float64]
	}{
		{"token_logprobs", []*Tensor[float64]{lc}, func(tp *Tape[float64]) *Tensor[float64] { return tp.TokenLogProbs(lc, tc) }},
		{"last_row", []*Tensor[float64]{hc}, func(tp *Tape[float64]) *Tensor[float64] { return tp.LastRow(hc) }},
		{"dpo_sigmoid", []*Tensor[float64]{lc, lr}, pref(PairSigmoid, 0.1, false)},
		{"dpo_sigmoid_large_beta", []*Tensor[float64]{lc, lr}, pref(PairSigmoid, 5, false)},
		{"dpo_ipo", []*Tensor[float64]{lc, lr}, pref(PairIPO, 0.1, true)},
		{"reward_bradley_terry", []*Tensor[float64]{hc, hr, head}, func(tp *Tape[float64]) *Tensor[float64] {
			a := tp.Linear(tp.LastRow(hc), head)
			b := tp.Linear(tp.LastRow(hr), head)
			return scalar(tp.PairLoss(a, b, 0, 0, 1, PairSigmoid, 1))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { gradCheck(t, tc.name, tc.inputs, tc.f) })
	}
}

// TestPairLossValues pins the losses to their definitions.
func TestPairLossValues(t *testing.T) {
	cases := []struct {
		a, b, ra, rb, beta float64
		kind               PairLossKind
		want               float64
	}{
		{0, 0, 0, 0, 0.1, PairSigmoid, 0.6931471805599453},      // log 2
		{-1, -3, -2, -2, 0.5, PairSigmoid, 0.31326168751822286}, // softplus(−1)
		{-1, -3, -2, -2, 1000, PairSigmoid, 0},                  // no overflow
		{-3, -1, -2, -2, 1000, PairSigmoid, 2000},               // −z for very negative z
		{-1, -3, -2, -2, 0.1, PairIPO, (2 - 5.0) * (2 - 5.0)},   // (h − 1/(2β))²
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			tp := &Tape[float64]{}
			a, b := newTensor[float64](1, 1), newTensor[float64](1, 1)
			a.Data[0], b.Data[0] = c.a, c.b
			got := tp.PairLoss(a, b, c.ra, c.rb, c.beta, c.kind, 1)
			if d := got - c.want; d > 1e-9 || d < -1e-9 {
				t.Fatalf("loss %.12g, want %.12g", got, c.want)
			}
		})
	}
}
