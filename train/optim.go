package train

import "math"

// Optim holds AdamW's hyper-parameters.
type Optim struct {
	LR          float64 `json:"lr"`           // peak learning rate
	MinLR       float64 `json:"min_lr"`       // learning rate at the end of the cosine decay
	WarmupSteps int     `json:"warmup_steps"` // linear warm-up from 0 to LR
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	WeightDecay float64 `json:"weight_decay"` // decoupled, matrices only
	ClipNorm    float64 `json:"clip_norm"`    // global gradient-norm clip; 0 disables
}

// LRAt returns the learning rate of step (0-based) out of total steps: linear
// warm-up over WarmupSteps, then a cosine decay from LR to MinLR.
func (o Optim) LRAt(step, total int) float64 {
	if step < o.WarmupSteps {
		return o.LR * float64(step+1) / float64(o.WarmupSteps)
	}
	span := total - o.WarmupSteps
	if span <= 1 {
		return o.LR
	}
	frac := float64(step-o.WarmupSteps) / float64(span-1)
	frac = min(max(frac, 0), 1)
	return o.MinLR + 0.5*(o.LR-o.MinLR)*(1+math.Cos(math.Pi*frac))
}

// adamState is AdamW's per-weight first and second moments.
type adamState struct {
	M, V [][]float32 // one slice per parameter, in Model.Params order
	Step int64       // number of updates done
}

func newAdamState(m *Model[float32]) *adamState {
	s := &adamState{}
	for _, p := range m.Params {
		s.M = append(s.M, make([]float32, len(p.T.Data)))
		s.V = append(s.V, make([]float32, len(p.T.Data)))
	}
	return s
}

// gradNorm returns the global L2 norm of the gradients, summed in float64 in
// parameter order.
func gradNorm(m *Model[float32]) float64 {
	var ss float64
	for _, p := range m.Params {
		for _, g := range p.T.Grad {
			ss += float64(g) * float64(g)
		}
	}
	return math.Sqrt(ss)
}

// update applies one AdamW step with learning rate lr to the gradients in m
// (clipped to o.ClipNorm first) and returns the gradient norm before clipping.
func (s *adamState) update(m *Model[float32], o Optim, lr float64) float64 {
	norm := gradNorm(m)
	gscale := float32(1)
	if o.ClipNorm > 0 && norm > o.ClipNorm {
		gscale = float32(o.ClipNorm / norm)
	}
	s.Step++
	bc1 := float32(1 - math.Pow(o.Beta1, float64(s.Step)))
	bc2 := float32(1 - math.Pow(o.Beta2, float64(s.Step)))
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	eps, flr := float32(o.Eps), float32(lr)
	for pi, p := range m.Params {
		decay := float32(1)
		if p.Decay {
			decay = float32(1 - lr*o.WeightDecay)
		}
		mm, vv := s.M[pi], s.V[pi]
		for i, g := range p.T.Grad {
			g *= gscale
			mm[i] = b1*mm[i] + (1-b1)*g
			vv[i] = b2*vv[i] + (1-b2)*g*g
			mhat := mm[i] / bc1
			vhat := vv[i] / bc2
			p.T.Data[i] = p.T.Data[i]*decay - flr*mhat/(float32(math.Sqrt(float64(vhat)))+eps)
		}
	}
	return norm
}
