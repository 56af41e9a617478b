package train

import "math"

// GRPOStats are the statistics of one completion's GRPO loss.
type GRPOStats struct {
	Loss float64 // mean over the completion's tokens of the per-token loss
	KL   float64 // mean k3 estimate of KL(π‖π_ref) over the tokens (0 without a reference)
	// Clipped counts the tokens where the clipped term is the smaller one
	// and its gradient is therefore zero; Tokens counts the completion's tokens.
	Clipped, Tokens int
}

// GRPOLoss is the loss of one sampled completion with advantage adv, given
// the n×1 log-probabilities logp of its tokens under the policy (rows whose
// target is negative are not completion tokens and are skipped):
//
//	l_t = −min(ρ_t·A, clip(ρ_t, 1−ε, 1+ε)·A) + β·(e^{r_t−x_t} − (r_t−x_t) − 1),
//	ρ_t = e^{x_t − old_t},
//
// averaged over the completion's tokens (x_t = logp_t; old_t the
// log-probability under the policy that sampled it, or x_t itself, detached,
// when old is nil; r_t the reference's, no KL term when ref is nil). The KL
// term is the k3 estimator TRL's GRPOTrainer uses. Like PairLoss, the
// backward pass seeds logp's gradient with scale·∂loss/∂logp.
func (t *Tape[F]) GRPOLoss(logp *Tensor[F], targets []int, old, ref []float64, adv, eps, beta float64, scale F) GRPOStats {
	n := logp.Rows
	grad := make([]float64, n)
	var st GRPOStats
	for i := 0; i < n; i++ {
		if targets[i] >= 0 {
			st.Tokens++
		}
	}
	if st.Tokens == 0 {
		return st
	}
	inv := 1 / float64(st.Tokens)
	for i := 0; i < n; i++ {
		if targets[i] < 0 {
			continue
		}
		x := float64(logp.Data[i])
		o := x
		if old != nil {
			o = old[i]
		}
		rho := math.Exp(x - o)
		clipped := math.Min(math.Max(rho, 1-eps), 1+eps)
		l := -math.Min(rho*adv, clipped*adv)
		var g float64
		if rho*adv <= clipped*adv {
			g = -rho * adv // the unclipped term is the minimum
		} else {
			st.Clipped++
		}
		if ref != nil {
			d := ref[i] - x
			kl := math.Exp(d) - d - 1
			st.KL += kl * inv
			l += beta * kl
			g += beta * (1 - math.Exp(d))
		}
		st.Loss += l * inv
		grad[i] = g * inv
	}
	t.push(func() {
		for i, g := range grad {
			if g != 0 {
				logp.Grad[i] += scale * F(g)
			}
		}
	})
	return st
}
