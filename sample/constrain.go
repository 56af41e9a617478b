package sample

import "math"

// constrain keeps in s.cur the candidates c allows, or, when the chain only
// uses the best few (greedy: one, top-k: k), the best allowed ones, examined
// best first. It reports false when no candidate is allowed.
func (s *Sampler) constrain(c Constraint, tr *Trace, traceTop int) bool {
	cur := s.cur
	need := len(cur)
	switch {
	case s.p.Temperature <= 0:
		need = 1
	case s.p.TopK > 0:
		need = min(s.p.TopK, len(cur))
	}
	var total float64 // softmax denominator before the constraint, for Removed
	maxL := float32(math.Inf(-1))
	if tr != nil && traceTop > 0 {
		maxL = maxLogit(cur)
		for _, x := range cur {
			total += weight(x.logit, maxL)
		}
	}
	removed := func(x cand) {
		if tr != nil && len(tr.Removed) < traceTop {
			tr.Removed = append(tr.Removed, Candidate{ID: int(x.id), Logit: x.logit, Prob: float32(weight(x.logit, maxL) / total)})
		}
	}
	if need < len(cur) {
		// examine the best candidates in order, sorting a growing prefix, and
		// give up on laziness once many were rejected: a mask over the whole
		// vocabulary then costs less than examining token after token
		budget := max(4*need, 256)
		kept, sortedUpTo := 0, 0
		for i := 0; i < len(cur) && kept < need; i++ {
			if i == sortedUpTo {
				if i >= budget {
					break
				}
				next := min(max(2*sortedUpTo, 2*need, 32), len(cur))
				selectTop(cur[i:], next-i)
				sortedUpTo = next
			}
			x := cur[i]
			if tr != nil {
				tr.Checked++
			}
			if c.Allows(int(x.id)) {
				cur[kept], cur[i] = x, cur[kept]
				kept++
			} else {
				removed(x)
			}
		}
		if kept == need {
			s.cur = cur[:kept]
			s.sorted = true
			return true
		}
		// fall through to the whole mask, from the candidates in any order
		if tr != nil {
			tr.Removed = tr.Removed[:0]
			tr.Checked = 0
		}
	}
	if cap(s.allowed) < len(s.all) {
		s.allowed = make([]bool, len(s.all))
	}
	n := len(cur)
	allowed := s.allowed[:n]
	c.Mask(allowed)
	if tr != nil {
		tr.Checked = len(cur)
		if traceTop > 0 {
			// the rejected candidates ranked before the last allowed one
			worst := cand{logit: float32(math.Inf(1))}
			for _, x := range cur {
				if allowed[x.id] && better(worst, x) {
					worst = x
				}
			}
			rej := s.scratch[:0]
			for _, x := range cur {
				if !allowed[x.id] && better(x, worst) {
					rej = append(rej, x)
				}
			}
			selectTop(rej, min(traceTop, len(rej)))
			for _, x := range rej[:min(traceTop, len(rej))] {
				removed(x)
			}
			s.scratch = rej
		}
	}
	j := 0
	for _, x := range cur {
		if allowed[x.id] {
			cur[j] = x
			j++
		}
	}
	s.cur = cur[:j]
	s.sorted = j <= 1
	return j > 0
}
