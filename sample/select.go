package sample

import (
	"math"
	"slices"
)

// cand is one candidate token inside the chain: its id and current logit.
type cand struct {
	id    int32
	logit float32
}

// better reports whether a ranks before b: higher logit first, lower id on ties.
// It is a strict total order, which keeps every selection deterministic.
func better(a, b cand) bool {
	return a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
}

// compareCands orders candidates best first, for slices.SortFunc.
func compareCands(a, b cand) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// sanitize maps logits the chain cannot order or exponentiate onto usable
// values: NaN becomes -Inf (never chosen unless everything is -Inf) and +Inf
// becomes the largest finite float32.
func sanitize(x float32) float32 {
	if x != x {
		return float32(math.Inf(-1))
	}
	if x > math.MaxFloat32 {
		return math.MaxFloat32
	}
	return x
}

// siftDown restores the heap property of h below i, where the root of h is
// the worst element (a min-heap for the "better" order).
func siftDown[T any](h []T, i int, better func(a, b T) bool) {
	n := len(h)
	for {
		worst := i
		l, r := 2*i+1, 2*i+2
		if l < n && better(h[worst], h[l]) {
			worst = l
		}
		if r < n && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// heapify turns h into a heap whose root is its worst element.
func heapify[T any](h []T, better func(a, b T) bool) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i, better)
	}
}

// selectTop moves the m best candidates of c to c[:m], sorted best first,
// without sorting the rest (which all rank after c[m-1]). It works in place
// in O(len(c) log m) and does not allocate.
func selectTop(c []cand, m int) {
	if m <= 0 {
		return
	}
	if m >= len(c) {
		slices.SortFunc(c, compareCands)
		return
	}
	h := c[:m]
	heapify(h, better)
	for i := m; i < len(c); i++ {
		// Inline fast rejection: most candidates are worse than the root.
		if c[i].logit < h[0].logit {
			continue
		}
		if better(c[i], h[0]) {
			h[0], c[i] = c[i], h[0]
			siftDown(h, 0, better)
		}
	}
	slices.SortFunc(h, compareCands)
}

// maxLogit returns the largest logit of c (-Inf when c is empty).
func maxLogit(c []cand) float32 {
	m := float32(math.Inf(-1))
	for _, x := range c {
		if x.logit > m {
			m = x.logit
		}
	}
	return m
}

// weight returns exp(l-max), the unnormalised softmax weight of logit l when
// the largest logit is max. When every logit is -Inf the weights are uniform.
func weight(l, max float32) float64 {
	if math.IsInf(float64(max), -1) {
		return 1
	}
	return math.Exp(float64(l) - float64(max))
}
