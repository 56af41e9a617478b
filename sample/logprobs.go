package sample

import (
	"math"
	"slices"
)

// TokenLogProb is a token id with its log-probability.
type TokenLogProb struct {
	ID      int
	LogProb float32
}

// Softmax writes the softmax of logits into dst[:len(logits)] (dst must be
// at least as long as logits). It subtracts the largest logit and sums in
// float64, so large logits neither overflow nor lose the small ones. NaN
// logits count as -Inf; when every logit is -Inf the result is uniform.
func Softmax(dst, logits []float32) {
	if len(logits) == 0 {
		return
	}
	dst = dst[:len(logits)]
	max := float32(math.Inf(-1))
	for _, l := range logits {
		if l := sanitize(l); l > max {
			max = l
		}
	}
	var total float64
	for _, l := range logits {
		total += weight(sanitize(l), max)
	}
	for i, l := range logits {
		dst[i] = float32(weight(sanitize(l), max) / total)
	}
}

// LogProbs returns the log-probability of token chosen and the k most
// probable tokens under the full softmax of the raw logits, the way
// llama-server reports n_probs (without post_sampling_probs). topK is
// sorted by decreasing probability, ties by increasing id, and is built in
// top's storage (pass the previous result to avoid allocating). A chosen id
// outside logits gives NaN; k <= 0 gives no tokens.
func LogProbs(logits []float32, chosen int, k int, top []TokenLogProb) (chosenLogProb float32, topK []TokenLogProb) {
	top = top[:0]
	if len(logits) == 0 {
		return float32(math.NaN()), top
	}
	max := float32(math.Inf(-1))
	for _, l := range logits {
		if l := sanitize(l); l > max {
			max = l
		}
	}
	var total float64
	for _, l := range logits {
		total += weight(sanitize(l), max)
	}
	// log p = l - max - log(total); with every logit -Inf, p is uniform.
	logTotal := math.Log(total)
	logProb := func(l float32) float32 {
		if math.IsInf(float64(max), -1) {
			return float32(-math.Log(float64(len(logits))))
		}
		return float32(float64(l) - float64(max) - logTotal)
	}
	chosenLogProb = float32(math.NaN())
	if chosen >= 0 && chosen < len(logits) {
		chosenLogProb = logProb(sanitize(logits[chosen]))
	}
	k = min(k, len(logits))
	if k <= 0 {
		return chosenLogProb, top
	}
	// Select on the logits (LogProb holds the logit during selection).
	betterTL := func(a, b TokenLogProb) bool {
		return a.LogProb > b.LogProb || (a.LogProb == b.LogProb && a.ID < b.ID)
	}
	for i := range k {
		top = append(top, TokenLogProb{ID: i, LogProb: sanitize(logits[i])})
	}
	heapify(top, betterTL)
	for i := k; i < len(logits); i++ {
		x := TokenLogProb{ID: i, LogProb: sanitize(logits[i])}
		if x.LogProb >= top[0].LogProb && betterTL(x, top[0]) {
			top[0] = x
			siftDown(top, 0, betterTL)
		}
	}
	slices.SortFunc(top, func(a, b TokenLogProb) int {
		switch {
		case betterTL(a, b):
			return -1
		case betterTL(b, a):
			return 1
		}
		return 0
	})
	for i := range top {
		top[i].LogProb = logProb(top[i].LogProb)
	}
	return chosenLogProb, top
}
