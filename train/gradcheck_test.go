package train

import (
	"math"
	"testing"
)

// gradCheck compares the tape's gradients of a scalar function of the inputs
// with central finite differences, all in float64.
func gradCheck(t *testing.T, name string, inputs []*Tensor[float64], f func(tape *Tape[float64]) *Tensor[float64]) {
	t.Helper()
	// A fixed random projection turns the output into a scalar: L = Σ r_i·y_i.
	var proj []float64
	loss := func() float64 {
		tape := &Tape[float64]{Threads: 1}
		y := f(tape)
		if proj == nil {
			rng := NewRNG(99, 0)
			proj = make([]float64, len(y.Data))
			for i := range proj {
				proj[i] = rng.Normal()
			}
			if len(proj) == 1 {
				// Scalar outputs (losses) seed their own backward pass with 1.
				proj[0] = 1
			}
		}
		var s float64
		for i, v := range y.Data {
			s += proj[i] * v
		}
		return s
	}
	loss()
	for _, in := range inputs {
		clear(in.Grad)
	}
	tape := &Tape[float64]{Threads: 1}
	y := f(tape)
	copy(y.Grad, proj)
	if len(proj) == 1 {
		y.Grad[0] = 0 // the loss ops ignore their output's gradient
	}
	tape.Backward()
	const h = 1e-6
	worst := 0.0
	for ti, in := range inputs {
		for i := range in.Data {
			orig := in.Data[i]
			in.Data[i] = orig + h
			lp := loss()
			in.Data[i] = orig - h
			lm := loss()
			in.Data[i] = orig
			num := (lp - lm) / (2 * h)
			err := math.Abs(num-in.Grad[i]) / math.Max(1, math.Abs(num))
			worst = math.Max(worst, err)
			if err > 1e-6 {
				t.Fatalf("%s: input %d element %d: analytic %.9g, numeric %.9g", name, ti, i, in.Grad[i], num)
			}
		}
	}
	t.Logf("%s: worst relative error %.2g", name, worst)
}

func randTensor(rng *RNG, rows, cols int, std float64) *Tensor[float64] {
	t := newTensor[float64](rows, cols)
	for i := range t.Data {
		t.Data[i] = rng.Normal() * std
	}
	return t
}
