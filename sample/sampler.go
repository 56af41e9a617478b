package sample

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Step names recorded in a Trace, in chain order.
const (
	StepLogitBias   = "logit_bias"
	StepPenalties   = "penalties"
	StepGrammar     = "grammar"
	StepTopK        = "top_k"
	StepTopP        = "top_p"
	StepMinP        = "min_p"
	StepTemperature = "temperature"
	StepDist        = "dist"
	StepGreedy      = "greedy"
)

// topPPrefix is how many candidates top-p sorts first when nothing sorted
// them before; it sorts the whole vocabulary only when they are not enough.
const topPPrefix = 256

// Candidate is one token as seen after a step of the chain: its id, its
// logit at that point (penalised, divided by the temperature once that step
// ran) and its probability renormalised over the tokens the step kept.
type Candidate struct {
	ID    int
	Logit float32
	Prob  float32
}

// Step records what one step of the chain did.
type Step struct {
	// Name is one of the Step* constants.
	Name string
	// Kept is the number of candidate tokens left after the step.
	Kept int
	// Top holds up to traceTop of the kept candidates, best first, with
	// probabilities renormalised over the kept set.
	Top []Candidate
}

// Trace records one call of SampleTrace. Reusing the same Trace across calls
// reuses its slices, so tracing does not allocate in steady state.
type Trace struct {
	// Steps lists the steps that ran, in order. Disabled steps (no logit
	// bias, top-k 0, top-p 1, min-p 0, penalties off or window 0) are not
	// listed; greedy sampling lists the logit bias and the penalties (when
	// enabled) and "greedy" only, since the other filters cannot change an
	// argmax.
	Steps []Step
	// Draw is the uniform number in [0,1) the draw used, -1 for greedy.
	Draw float64
	// Chosen is the sampled token id (-1 when there were no logits).
	Chosen int
	// ChosenProb is the probability of Chosen in the distribution it was
	// drawn from (after every step; 1 for greedy).
	ChosenProb float32
	// ChosenRank is the 1-based rank of Chosen among the raw logits
	// (before penalties; ties ranked by id).
	ChosenRank int
	// Removed lists, best first, up to traceTop of the candidates a
	// constraint (see Sampler.Constrain) rejected among those ranked before
	// the last one it kept, with their logits after the penalties and their
	// probabilities among every candidate before the constraint.
	Removed []Candidate
	// Checked is the number of candidates the constraint examined (0 when
	// there is none): with top-k or greedy sampling only the best ones are
	// examined, until enough are allowed.
	Checked int
}

// Constraint restricts the tokens a Sampler may draw, such as a grammar
// (package grammar's Matcher implements it).
type Constraint interface {
	// Allows reports whether token id may come next.
	Allows(id int) bool
	// Mask sets allowed[id] = Allows(id) for every token id below
	// len(allowed), faster than calling Allows for each, and returns how
	// many are allowed.
	Mask(allowed []bool) int
}

// ErrNoAllowedToken is returned by SampleConstrained when the constraint
// allows none of the tokens.
var ErrNoAllowedToken = errors.New("sample: the constraint allows no token of the vocabulary here")

// Sampler draws tokens with a fixed chain and its own seeded random number
// generator. It keeps its buffers between calls, so Sample does not allocate
// in steady state. A Sampler is not safe for concurrent use.
type Sampler struct {
	p    Params
	bias []cand // the logit bias, by increasing id
	seed uint64
	src  *rand.PCG
	rng  *rand.Rand

	all     []cand    // candidate buffer, capacity = largest vocabulary seen
	cur     []cand    // the candidates still kept, a prefix of all
	sorted  bool      // cur is sorted best first
	weights []float64 // softmax weights for the draw
	counts  []int32   // per-token occurrences in the penalty window
	touched []int32   // tokens whose count is non-zero
	scratch []cand    // trace top-k selection

	allowed []bool // Constraint.Mask's output
}

// New returns a Sampler for p, or an error naming the invalid parameter.
func New(p Params) (*Sampler, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	seed := p.Seed
	if seed == SeedRandom {
		seed = rand.Uint64()
		if seed == SeedRandom {
			seed = 0
		}
	}
	s := &Sampler{p: p, seed: seed}
	if len(p.LogitBias) > 0 {
		ids := p.biasIDs()
		s.bias = make([]cand, len(ids))
		bias := make(map[int]float32, len(ids))
		for i, id := range ids {
			s.bias[i] = cand{id: int32(id), logit: p.LogitBias[id]}
			bias[id] = p.LogitBias[id]
		}
		s.p.LogitBias = bias
	}
	s.src = rand.NewPCG(0, 0)
	s.rng = rand.New(s.src)
	s.Reset()
	return s, nil
}

// Params returns the sampler's parameters (Seed as given to New; LogitBias
// is the sampler's copy and must not be modified).
func (s *Sampler) Params() Params { return s.p }

// Seed returns the seed in use: Params.Seed, or the seed picked at random
// when it was SeedRandom. A Sampler made with this seed replays the run.
func (s *Sampler) Seed() uint64 { return s.seed }

// Reset restarts the random number generator from the seed, so the next
// draws repeat those made after New.
func (s *Sampler) Reset() {
	// The second PCG word is derived from the seed by a splitmix64 step so
	// that nearby seeds give unrelated streams.
	z := s.seed + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	s.src.Seed(s.seed, z)
}

// Sample picks the next token from logits given the history (prompt and
// generated ids, used by the penalties). logits is not modified. It returns
// -1 when logits is empty. NaN logits count as -Inf and +Inf as the largest
// float32; history ids outside the vocabulary are ignored.
func (s *Sampler) Sample(logits []float32, history []int) int {
	return s.run(logits, history, nil, 0)
}

// SampleTrace is Sample, and also fills tr with what each step kept (up to
// traceTop candidates per step) and how the token was drawn. For the same
// seed and inputs it picks the same tokens as Sample.
func (s *Sampler) SampleTrace(logits []float32, history []int, tr *Trace, traceTop int) int {
	return s.run(logits, history, tr, traceTop)
}

// SampleConstrained is SampleTrace (tr may be nil) drawing only tokens c
// allows: the constraint runs after the logit bias and the penalties and
// before every filter, as if the logits of the tokens it rejects were -Inf.
// For greedy and top-k sampling it examines the candidates best first and
// stops once it has as many allowed ones as the chain can use, so a
// constraint costs little when the model's favourites are allowed. When c
// allows no token it returns -1 and ErrNoAllowedToken.
func (s *Sampler) SampleConstrained(logits []float32, history []int, c Constraint, tr *Trace, traceTop int) (int, error) {
	id := s.runConstrained(logits, history, c, tr, traceTop)
	if id < 0 && len(logits) > 0 {
		return -1, ErrNoAllowedToken
	}
	return id, nil
}

func (s *Sampler) run(logits []float32, history []int, tr *Trace, traceTop int) int {
	return s.runConstrained(logits, history, nil, tr, traceTop)
}

func (s *Sampler) runConstrained(logits []float32, history []int, constraint Constraint, tr *Trace, traceTop int) int {
	if !s.chain(logits, history, constraint, tr, traceTop) {
		return -1
	}
	var chosen int
	var prob float32
	if s.p.Temperature <= 0 {
		chosen, prob = int(s.cur[0].id), 1
	} else {
		var u float64
		chosen, prob, u = s.draw()
		s.record(tr, StepDist, traceTop)
		if tr != nil {
			tr.Draw = u
		}
	}
	if tr != nil {
		tr.Chosen = chosen
		tr.ChosenProb = prob
		tr.ChosenRank = rawRank(logits, chosen)
	}
	return chosen
}

// chain applies the sampler's chain to logits up to the draw: afterwards
// s.cur holds the candidates kept (one, the best, for greedy decoding) with
// their final logits. It reports false when logits is empty or the
// constraint allows no token.
func (s *Sampler) chain(logits []float32, history []int, constraint Constraint, tr *Trace, traceTop int) bool {
	if tr != nil {
		tr.Steps = tr.Steps[:0]
		tr.Draw, tr.Chosen, tr.ChosenProb, tr.ChosenRank = -1, -1, 0, 0
		tr.Removed, tr.Checked = tr.Removed[:0], 0
	}
	n := len(logits)
	if n == 0 {
		return false
	}
	if cap(s.all) < n {
		s.all = make([]cand, n)
	}
	s.cur = s.all[:n]
	for i, l := range logits {
		s.cur[i] = cand{id: int32(i), logit: sanitize(l)}
	}
	s.sorted = false

	if len(s.bias) > 0 {
		for _, b := range s.bias {
			if int(b.id) < n {
				c := &s.cur[b.id]
				c.logit = sanitize(c.logit + b.logit)
			}
		}
		s.record(tr, StepLogitBias, traceTop)
	}
	if s.p.penaltiesActive() {
		s.applyPenalties(history)
		s.record(tr, StepPenalties, traceTop)
	}

	if constraint != nil {
		if !s.constrain(constraint, tr, traceTop) {
			return false
		}
		s.record(tr, StepGrammar, traceTop)
	}

	if s.p.Temperature <= 0 {
		best := s.cur[0]
		for _, c := range s.cur[1:] {
			if better(c, best) {
				best = c
			}
		}
		s.cur = s.cur[:1]
		s.cur[0] = best
		s.sorted = true
		s.record(tr, StepGreedy, traceTop)
		return true
	}
	if s.p.TopK > 0 {
		k := min(s.p.TopK, len(s.cur))
		selectTop(s.cur, k)
		s.cur = s.cur[:k]
		s.sorted = true
		s.record(tr, StepTopK, traceTop)
	}
	if s.p.TopP < 1 {
		s.topP()
		s.record(tr, StepTopP, traceTop)
	}
	if s.p.MinP > 0 {
		s.minP()
		s.record(tr, StepMinP, traceTop)
	}
	temp := s.p.Temperature
	for i := range s.cur {
		s.cur[i].logit = sanitize(s.cur[i].logit / temp)
	}
	s.record(tr, StepTemperature, traceTop)
	return true
}

// applyPenalties applies llama.cpp's penalties to s.cur (still in id order):
// for each token occurring c > 0 times in the window, a positive logit is
// divided by the repeat penalty and a negative or zero one multiplied by it,
// then c*frequency + presence is subtracted.
func (s *Sampler) applyPenalties(history []int) {
	window := history
	if s.p.RepeatLastN >= 0 && len(window) > s.p.RepeatLastN {
		window = window[len(window)-s.p.RepeatLastN:]
	}
	n := len(s.cur)
	if cap(s.counts) < n {
		s.counts = make([]int32, n)
	}
	counts := s.counts[:n]
	s.touched = s.touched[:0]
	for _, id := range window {
		if id < 0 || id >= n {
			continue
		}
		if counts[id] == 0 {
			s.touched = append(s.touched, int32(id))
		}
		counts[id]++
	}
	rep, freq, pres := s.p.RepeatPenalty, s.p.FrequencyPenalty, s.p.PresencePenalty
	for _, id := range s.touched {
		c := &s.cur[id]
		if c.logit <= 0 {
			c.logit *= rep
		} else {
			c.logit /= rep
		}
		c.logit = sanitize(c.logit - (float32(counts[id])*freq + pres))
		counts[id] = 0
	}
}

// topP keeps the smallest prefix of the candidates, best first, whose
// cumulative probability reaches TopP (at least one candidate). When nothing
// sorted the candidates, it sorts only a growing prefix of the best ones.
func (s *Sampler) topP() {
	cur := s.cur
	sortedUpTo := len(cur)
	if !s.sorted {
		sortedUpTo = min(topPPrefix, len(cur))
		selectTop(cur, sortedUpTo)
	}
	max := cur[0].logit
	var total float64
	for _, c := range cur {
		total += weight(c.logit, max)
	}
	p := float64(s.p.TopP)
	keep := len(cur)
	var cum float64
	for i := range cur {
		if i == sortedUpTo {
			// Everything after the sorted prefix ranks after it: extend the
			// prefix fourfold with the best of the rest.
			next := min(4*sortedUpTo, len(cur))
			selectTop(cur[i:], next-i)
			sortedUpTo = next
		}
		cum += weight(cur[i].logit, max) / total
		if cum >= p {
			keep = i + 1
			break
		}
	}
	s.cur = cur[:keep]
	s.sorted = true
}

// minP keeps the candidates whose probability is at least MinP times the
// largest, that is whose logit is at least max + log(MinP). The order of the
// candidates is kept.
func (s *Sampler) minP() {
	cur := s.cur
	max := cur[0].logit
	if !s.sorted {
		max = maxLogit(cur)
	}
	threshold := max + float32(math.Log(float64(s.p.MinP)))
	if s.sorted {
		i := 1
		for i < len(cur) && cur[i].logit >= threshold {
			i++
		}
		s.cur = cur[:i]
		return
	}
	j := 0
	for _, c := range cur {
		if c.logit >= threshold {
			cur[j] = c
			j++
		}
	}
	s.cur = cur[:j]
}

// draw samples one of the kept candidates from their softmax and returns
// its id, its probability and the uniform number used.
func (s *Sampler) draw() (id int, prob float32, u float64) {
	cur := s.cur
	max := cur[0].logit
	if !s.sorted {
		max = maxLogit(cur)
	}
	if cap(s.weights) < len(cur) {
		s.weights = make([]float64, len(s.all))
	}
	w := s.weights[:len(cur)]
	var total float64
	for i, c := range cur {
		w[i] = weight(c.logit, max)
		total += w[i]
	}
	u = s.rng.Float64()
	target := u * total
	pick := -1
	var run float64
	for i, wi := range w {
		if wi == 0 {
			continue
		}
		run += wi
		pick = i
		if run >= target {
			break
		}
	}
	return int(cur[pick].id), float32(w[pick] / total), u
}

// record appends the current state of the chain to tr as a step.
func (s *Sampler) record(tr *Trace, name string, traceTop int) {
	if tr == nil {
		return
	}
	var st *Step
	if i := len(tr.Steps); i < cap(tr.Steps) {
		tr.Steps = tr.Steps[:i+1]
		st = &tr.Steps[i]
	} else {
		tr.Steps = append(tr.Steps, Step{})
		st = &tr.Steps[i]
	}
	st.Name = name
	st.Kept = len(s.cur)
	st.Top = st.Top[:0]
	if traceTop <= 0 {
		return
	}
	cur := s.cur
	max := cur[0].logit
	if !s.sorted {
		max = maxLogit(cur)
	}
	var total float64
	for _, c := range cur {
		total += weight(c.logit, max)
	}
	top := cur
	if len(top) > traceTop {
		top = top[:traceTop]
	}
	if !s.sorted {
		top = s.bestOf(cur, traceTop)
	}
	for _, c := range top {
		st.Top = append(st.Top, Candidate{ID: int(c.id), Logit: c.logit, Prob: float32(weight(c.logit, max) / total)})
	}
}

// bestOf returns the k best candidates of c, best first, in a scratch
// buffer, leaving c untouched.
func (s *Sampler) bestOf(c []cand, k int) []cand {
	k = min(k, len(c))
	h := append(s.scratch[:0], c[:k]...)
	heapify(h, better)
	for _, x := range c[k:] {
		if x.logit >= h[0].logit && better(x, h[0]) {
			h[0] = x
			siftDown(h, 0, better)
		}
	}
	slices.SortFunc(h, compareCands)
	s.scratch = h
	return h
}

// rawRank returns the 1-based rank of token id among the raw logits (ties
// ranked by id).
func rawRank(logits []float32, id int) int {
	me := cand{id: int32(id), logit: sanitize(logits[id])}
	rank := 1
	for i, l := range logits {
		if better(cand{id: int32(i), logit: sanitize(l)}, me) {
			rank++
		}
	}
	return rank
}

// String describes the parameters in llama.cpp's vocabulary.
func (p Params) String() string {
	seed := fmt.Sprint(p.Seed)
	if p.Seed == SeedRandom {
		seed = "random"
	}
	bias := ""
	if len(p.LogitBias) > 0 {
		var b strings.Builder
		for i, id := range p.biasIDs() {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d:%g", id, p.LogitBias[id])
		}
		bias = " logit_bias=" + b.String()
	}
	return fmt.Sprintf("temp=%g top_k=%d top_p=%g min_p=%g repeat_penalty=%g repeat_last_n=%d presence_penalty=%g frequency_penalty=%g%s seed=%s",
		p.Temperature, p.TopK, p.TopP, p.MinP, p.RepeatPenalty, p.RepeatLastN, p.PresencePenalty, p.FrequencyPenalty, bias, seed)
}
