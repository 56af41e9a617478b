package train

import "math"

// TokenLogProbs returns the n×1 log-probabilities log softmax(logits_i)[t_i]
// of the targets (0 where a target is negative). Its backward pass reads the
// output's gradient.
func (t *Tape[F]) TokenLogProbs(logits *Tensor[F], targets []int) *Tensor[F] {
	n, V := logits.Rows, logits.Cols
	out := newTensor[F](n, 1)
	probs := make([]F, n*V)
	for i := 0; i < n; i++ {
		if targets[i] < 0 {
			continue
		}
		row := logits.Data[i*V : (i+1)*V]
		pr := probs[i*V : (i+1)*V]
		mx := row[0]
		for _, x := range row {
			mx = max(mx, x)
		}
		var sum F
		for j, x := range row {
			e := F(math.Exp(float64(x - mx)))
			pr[j] = e
			sum += e
		}
		for j := range pr {
			pr[j] /= sum
		}
		out.Data[i] = F(float64(row[targets[i]]-mx) - math.Log(float64(sum)))
	}
	t.push(func() {
		for i := 0; i < n; i++ {
			g := out.Grad[i]
			if targets[i] < 0 || g == 0 {
				continue
			}
			pr := probs[i*V : (i+1)*V]
			lg := logits.Grad[i*V : (i+1)*V]
			for j, p := range pr {
				lg[j] -= g * p
			}
			lg[targets[i]] += g
		}
	})
	return out
}

// Sum returns the 1×1 tensor scale·Σx (scale = 1/len for a mean).
func (t *Tape[F]) Sum(x *Tensor[F], scale F) *Tensor[F] {
	out := newTensor[F](1, 1)
	var s F
	for _, v := range x.Data {
		s += v
	}
	out.Data[0] = s * scale
	t.push(func() {
		g := out.Grad[0] * scale
		for i := range x.Grad {
			x.Grad[i] += g
		}
	})
	return out
}

// LastRow returns the last row of x as a 1×cols tensor.
func (t *Tape[F]) LastRow(x *Tensor[F]) *Tensor[F] {
	c := x.Cols
	off := (x.Rows - 1) * c
	out := newTensor[F](1, c)
	copy(out.Data, x.Data[off:off+c])
	t.push(func() {
		for j, g := range out.Grad {
			x.Grad[off+j] += g
		}
	})
	return out
}

// PairLossKind selects the pairwise preference loss.
type PairLossKind int

const (
	// PairSigmoid is −log σ(β·h): DPO's loss, and the Bradley–Terry loss of
	// a reward model with β = 1 and no reference.
	PairSigmoid PairLossKind = iota
	// PairIPO is (h − 1/(2β))², the identity preference optimisation loss.
	PairIPO
)

// PairLoss is the loss of one preference pair given the 1×1 scores a
// (chosen) and b (rejected) and constant reference scores: with
// h = (a − refA) − (b − refB), the sigmoid loss −log σ(β·h) or the IPO loss
// (h − 1/(2β))². Like CrossEntropy it seeds its inputs' gradients with
// scale·∂loss/∂input in the backward pass, and returns the loss.
func (t *Tape[F]) PairLoss(a, b *Tensor[F], refA, refB, beta float64, kind PairLossKind, scale F) float64 {
	h := (float64(a.Data[0]) - refA) - (float64(b.Data[0]) - refB)
	var loss, dh float64
	switch kind {
	case PairIPO:
		d := h - 1/(2*beta)
		loss, dh = d*d, 2*d
	default:
		z := beta * h
		// −log σ(z) = softplus(−z), computed stably; d/dz = −σ(−z).
		if z > 0 {
			loss = math.Log1p(math.Exp(-z))
		} else {
			loss = -z + math.Log1p(math.Exp(z))
		}
		dh = -beta / (1 + math.Exp(z))
	}
	t.push(func() {
		g := scale * F(dh)
		a.Grad[0] += g
		b.Grad[0] -= g
	})
	return loss
}
