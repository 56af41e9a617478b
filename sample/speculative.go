package sample

import (
	"math"
)

// Dist is the distribution a Sampler draws the next token from: the
// candidates its chain keeps, best first, with their probabilities (one
// candidate of probability 1 for greedy decoding). Speculative decoding
// compares the target model's Dist with the draft's.
type Dist struct {
	IDs   []int
	Probs []float64
}

// Prob returns the probability of token id (0 outside the kept candidates).
func (d *Dist) Prob(id int) float64 {
	for i, x := range d.IDs {
		if x == id {
			return d.Probs[i]
		}
	}
	return 0
}

// Greedy reports whether d is a point mass (greedy decoding, or a chain
// that kept one candidate).
func (d *Dist) Greedy() bool { return len(d.IDs) == 1 }

// Distribution runs the sampler's chain (logit bias, penalties over
// history, top-k, top-p, min-p, temperature; or greedy selection) on logits
// and stores in d, reusing its slices, the distribution Sample would draw
// from. It draws nothing: the random number generator is untouched. With tr
// it records the chain's steps as SampleTrace does (Chosen, Draw and the
// probabilities of the pick are left to the caller). Empty logits give an
// empty Dist.
func (s *Sampler) Distribution(logits []float32, history []int, d *Dist, tr *Trace, traceTop int) *Dist {
	if d == nil {
		d = &Dist{}
	}
	d.IDs, d.Probs = d.IDs[:0], d.Probs[:0]
	if !s.chain(logits, history, nil, tr, traceTop) {
		return d
	}
	if s.p.Temperature <= 0 {
		d.IDs, d.Probs = append(d.IDs, int(s.cur[0].id)), append(d.Probs, 1)
		return d
	}
	mx := s.cur[0].logit
	if !s.sorted {
		mx = maxLogit(s.cur)
	}
	var total float64
	for _, c := range s.cur {
		w := weight(c.logit, mx)
		if w == 0 {
			continue
		}
		d.IDs = append(d.IDs, int(c.id))
		d.Probs = append(d.Probs, w)
		total += w
	}
	for i := range d.Probs {
		d.Probs[i] /= total
	}
	return d
}

// Pick draws a token from d with the sampler's random number generator
// (none is drawn for a point mass) and returns it with the uniform number
// drawn (-1 for a point mass).
func (s *Sampler) Pick(d *Dist) (id int, u float64) {
	switch len(d.IDs) {
	case 0:
		return -1, -1
	case 1:
		return d.IDs[0], -1
	}
	u = s.rng.Float64()
	return d.IDs[pickIndex(d.Probs, u)], u
}

// pickIndex returns the index where the cumulative sum of w first reaches
// u·Σw (the last non-zero weight when rounding leaves it short).
func pickIndex(w []float64, u float64) int {
	var total float64
	for _, x := range w {
		total += x
	}
	target := u * total
	pick := -1
	var run float64
	for i, x := range w {
		if x == 0 {
			continue
		}
		run += x
		pick = i
		if run >= target {
			break
		}
	}
	return pick
}

// Verdict is the outcome of checking one drafted token against the target
// model's distribution.
type Verdict struct {
	// Accepted reports whether the drafted token is kept; ID is then that
	// token, else the token drawn in its place.
	Accepted bool
	ID       int
	// TargetProb and DraftProb are p(x) and q(x) of the drafted token x.
	TargetProb, DraftProb float64
	// Draw is the uniform number the acceptance test drew (-1 when none was
	// needed: p(x) ≥ q(x) accepts surely, p(x) = 0 rejects surely).
	Draw float64
	// Resample is the uniform number drawn for the replacement token (-1
	// when accepted, or when the replacement was certain).
	Resample float64
}

// Verify applies the speculative-sampling acceptance rule (Leviathan et
// al. 2023; Chen et al. 2023) to the drafted token x, proposed by a draft
// whose distribution was q, against the target distribution p: x is
// accepted with probability min(1, p(x)/q(x)); when it is rejected, the
// token is drawn from max(0, p − q), normalized. The token that results is
// distributed exactly as p, whatever q is. A nil q is a point mass at x (a
// draft that proposes x deterministically, as prompt lookup does): x is
// then kept with probability p(x), and a rejection draws from p without x.
// For greedy decoding p is a point mass at the best token, so x is kept
// exactly when it is that token, and the replacement is that token:
// speculation then changes no output.
func (s *Sampler) Verify(p, q *Dist, x int) Verdict {
	v := Verdict{ID: -1, Draw: -1, Resample: -1, TargetProb: p.Prob(x), DraftProb: 1}
	if q != nil {
		v.DraftProb = q.Prob(x)
	}
	switch {
	case len(p.IDs) == 0:
		return v
	case v.TargetProb > 0 && v.TargetProb >= v.DraftProb:
		v.Accepted, v.ID = true, x
		return v
	case v.TargetProb > 0:
		v.Draw = s.rng.Float64()
		if v.Draw*v.DraftProb < v.TargetProb {
			v.Accepted, v.ID = true, x
			return v
		}
	}
	v.ID, v.Resample = s.residual(p, q, x)
	return v
}

// residual draws from max(0, p − q) normalized (q nil: a point mass at x).
// The residual is zero outside p's candidates, so only those are weighed.
func (s *Sampler) residual(p, q *Dist, x int) (int, float64) {
	if cap(s.weights) < len(p.IDs) {
		s.weights = make([]float64, len(p.IDs))
	}
	w := s.weights[:len(p.IDs)]
	var idx map[int]float64
	if q != nil && len(q.IDs) > 8 {
		idx = make(map[int]float64, len(q.IDs))
		for i, id := range q.IDs {
			idx[id] = q.Probs[i]
		}
	}
	nonZero, last := 0, -1
	for i, id := range p.IDs {
		var qy float64
		switch {
		case q == nil:
			if id == x {
				qy = 1
			}
		case idx != nil:
			qy = idx[id]
		default:
			qy = q.Prob(id)
		}
		w[i] = math.Max(0, p.Probs[i]-qy)
		if w[i] > 0 {
			nonZero, last = nonZero+1, i
		}
	}
	switch nonZero {
	case 0:
		// p ≤ q everywhere yet x was rejected: only rounding can do
		// that; p itself is then the residual's limit
		return s.Pick(p)
	case 1:
		return p.IDs[last], -1
	}
	u := s.rng.Float64()
	return p.IDs[pickIndex(w, u)], u
}
