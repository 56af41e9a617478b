package sample

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

// off returns parameters with every step disabled except the draw at temperature 1.
func off(seed uint64) Params {
	return Params{Temperature: 1, TopK: 0, TopP: 1, MinP: 0, RepeatPenalty: 1, RepeatLastN: 64, Seed: seed}
}

// lnProbs returns the logits ln(p) for the given probabilities.
func lnProbs(p ...float64) []float32 {
	out := make([]float32, len(p))
	for i, x := range p {
		out[i] = float32(math.Log(x))
	}
	return out
}

// mustNew builds a sampler or fails the test.
func mustNew(t testing.TB, p Params) *Sampler {
	t.Helper()
	s, err := New(p)
	if err != nil {
		t.Fatalf("New(%v): %v", p, err)
	}
	return s
}

// keptIDs returns the ids the named step kept, in the order of Top.
func keptIDs(t *testing.T, tr *Trace, step string) []int {
	t.Helper()
	for _, st := range tr.Steps {
		if st.Name == step {
			if len(st.Top) != st.Kept {
				t.Fatalf("step %s: Top has %d candidates, Kept=%d (traceTop too small?)", step, len(st.Top), st.Kept)
			}
			ids := make([]int, len(st.Top))
			for i, c := range st.Top {
				ids[i] = c.ID
			}
			return ids
		}
	}
	t.Fatalf("step %q not in trace (steps: %v)", step, stepNames(tr))
	return nil
}

func stepNames(tr *Trace) []string {
	var names []string
	for _, st := range tr.Steps {
		names = append(names, st.Name)
	}
	return names
}

func TestStepsKeepHandDerivedSets(t *testing.T) {
	// probs 0.1, 0.4, 0.2, 0.25, 0.05: by rank the ids are 1, 3, 2, 0, 4 and
	// the cumulative sums 0.4, 0.65, 0.85, 0.95, 1.
	probs := lnProbs(0.1, 0.4, 0.2, 0.25, 0.05)
	ties := []float32{1, 3, 2, 0, 3, -1}
	tests := []struct {
		name   string
		logits []float32
		mod    func(*Params)
		step   string
		want   []int // best first
	}{
		{"top_k 3 with tie", ties, func(p *Params) { p.TopK = 3 }, StepTopK, []int{1, 4, 2}},
		{"top_k 1", ties, func(p *Params) { p.TopK = 1 }, StepTopK, []int{1}},
		{"top_k larger than vocab", ties, func(p *Params) { p.TopK = 10 }, StepTopK, []int{1, 4, 2, 0, 3, 5}},
		{"top_p 0.3 keeps the first", probs, func(p *Params) { p.TopP = 0.3 }, StepTopP, []int{1}},
		{"top_p 0.5", probs, func(p *Params) { p.TopP = 0.5 }, StepTopP, []int{1, 3}},
		{"top_p 0.66", probs, func(p *Params) { p.TopP = 0.66 }, StepTopP, []int{1, 3, 2}},
		{"top_p 0.9", probs, func(p *Params) { p.TopP = 0.9 }, StepTopP, []int{1, 3, 2, 0}},
		{"top_p 0.99", probs, func(p *Params) { p.TopP = 0.99 }, StepTopP, []int{1, 3, 2, 0, 4}},
		{"min_p 0.2 (>= 0.08)", probs, func(p *Params) { p.MinP = 0.2 }, StepMinP, []int{1, 3, 2, 0}},
		{"min_p 0.45 (>= 0.18)", probs, func(p *Params) { p.MinP = 0.45 }, StepMinP, []int{1, 3, 2}},
		{"min_p 0.6 (>= 0.24)", probs, func(p *Params) { p.MinP = 0.6 }, StepMinP, []int{1, 3}},
		{"min_p 1", probs, func(p *Params) { p.MinP = 1 }, StepMinP, []int{1}},
		// top_k 3 -> {1,3,2} renormalised 0.47, 0.29, 0.24; top_p 0.7 -> {1,3}
		// (0.47, 0.76); min_p 0.7 -> 0.25/0.4 = 0.625 < 0.7 -> {1}.
		{"chain top_k", probs, func(p *Params) { p.TopK, p.TopP, p.MinP = 3, 0.7, 0.7 }, StepTopK, []int{1, 3, 2}},
		{"chain top_p", probs, func(p *Params) { p.TopK, p.TopP, p.MinP = 3, 0.7, 0.7 }, StepTopP, []int{1, 3}},
		{"chain min_p", probs, func(p *Params) { p.TopK, p.TopP, p.MinP = 3, 0.7, 0.7 }, StepMinP, []int{1}},
		{"chain dist", probs, func(p *Params) { p.TopK, p.TopP, p.MinP = 3, 0.7, 0.7 }, StepDist, []int{1}},
		{"min_p 0.6 after top_p 0.9", probs, func(p *Params) { p.TopP, p.MinP = 0.9, 0.6 }, StepMinP, []int{1, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := off(1)
			tc.mod(&p)
			s := mustNew(t, p)
			var tr Trace
			got := s.SampleTrace(tc.logits, nil, &tr, len(tc.logits))
			kept := keptIDs(t, &tr, tc.step)
			if !slices.Equal(kept, tc.want) {
				t.Errorf("%s kept %v, want %v", tc.step, kept, tc.want)
			}
			final := keptIDs(t, &tr, StepDist)
			if !slices.Contains(final, got) {
				t.Errorf("chosen %d not among the tokens kept at the draw %v", got, final)
			}
		})
	}
}

func TestMinPUnsortedKeepsIDOrder(t *testing.T) {
	// Without top-k or top-p nothing sorts the candidates: min-p filters in
	// id order. probs 0.1, 0.4, 0.2, 0.25, 0.05 with min_p 0.45 keep ids 1, 2, 3.
	p := off(3)
	p.MinP = 0.45
	s := mustNew(t, p)
	var tr Trace
	s.SampleTrace(lnProbs(0.1, 0.4, 0.2, 0.25, 0.05), nil, &tr, 2)
	st := tr.Steps[0]
	if st.Name != StepMinP || st.Kept != 3 {
		t.Fatalf("step 0 = %s kept %d, want min_p kept 3", st.Name, st.Kept)
	}
	// Top is still reported best first: 0.4/0.85 and 0.25/0.85.
	if len(st.Top) != 2 || st.Top[0].ID != 1 || st.Top[1].ID != 3 {
		t.Fatalf("Top = %+v, want ids 1 then 3", st.Top)
	}
	if d := math.Abs(float64(st.Top[0].Prob) - 0.4/0.85); d > 1e-6 {
		t.Errorf("renormalised prob of id 1 = %v, want %v", st.Top[0].Prob, 0.4/0.85)
	}
}

func TestTopPBeyondSortedPrefix(t *testing.T) {
	// 1000 equal logits: top_p 0.9005 needs 901 tokens, more than the
	// 256-token prefix top-p sorts first; ties rank by id, so ids 0..900.
	logits := make([]float32, 1000)
	p := off(5)
	p.TopP = 0.9005
	s := mustNew(t, p)
	var tr Trace
	s.SampleTrace(logits, nil, &tr, 1000)
	kept := keptIDs(t, &tr, StepTopP)
	if len(kept) != 901 {
		t.Fatalf("top_p kept %d tokens, want 901", len(kept))
	}
	for i, id := range kept {
		if id != i {
			t.Fatalf("kept[%d] = %d, want %d", i, id, i)
		}
	}
}

func TestTemperatureDividesLogits(t *testing.T) {
	// At temperature 0.5 the probabilities become p^2 / sum(p^2).
	ps := []float64{0.1, 0.4, 0.2, 0.25, 0.05}
	logits := lnProbs(ps...)
	p := off(7)
	p.Temperature = 0.5
	s := mustNew(t, p)
	var tr Trace
	s.SampleTrace(logits, nil, &tr, 5)
	var sum2 float64
	for _, x := range ps {
		sum2 += x * x
	}
	st := tr.Steps[0]
	if st.Name != StepTemperature || st.Kept != 5 {
		t.Fatalf("step 0 = %s kept %d, want temperature kept 5", st.Name, st.Kept)
	}
	for _, c := range st.Top {
		if d := math.Abs(float64(c.Logit) - 2*float64(logits[c.ID])); d > 1e-5 {
			t.Errorf("id %d: logit %v, want %v", c.ID, c.Logit, 2*logits[c.ID])
		}
		want := ps[c.ID] * ps[c.ID] / sum2
		if d := math.Abs(float64(c.Prob) - want); d > 1e-6 {
			t.Errorf("id %d: prob %v, want %v", c.ID, c.Prob, want)
		}
	}
}

func TestPenalties(t *testing.T) {
	logits := []float32{2, -1, 0.5, 3, -2, 0}
	history := []int{0, 1, 1, 4, 4, 4, 5, 7, -1} // 7 and -1 are outside the vocabulary
	tests := []struct {
		name                   string
		repeat, freq, presence float32
		lastN                  int
		want                   []float32
	}{
		// id0 x1: 2/2 - (0.5+0.25) = 0.25; id1 x2: -1*2 - (1+0.25) = -3.25;
		// id4 x3: -2*2 - (1.5+0.25) = -5.75; id5 x1: 0*2 - 0.75 = -0.75.
		{"all three, whole history", 2, 0.5, 0.25, -1, []float32{0.25, -3.25, 0.5, 3, -5.75, -0.75}},
		{"repeat only", 2, 0, 0, -1, []float32{1, -2, 0.5, 3, -4, 0}},
		{"frequency only", 1, 0.5, 0, -1, []float32{1.5, -2, 0.5, 3, -3.5, -0.5}},
		{"presence only", 1, 0, 0.25, -1, []float32{1.75, -1.25, 0.5, 3, -2.25, -0.25}},
		// The last 4 entries are 4, 5, 7, -1: only ids 4 and 5 count.
		{"window of 4", 2, 0.5, 0.25, 4, []float32{2, -1, 0.5, 3, -4.75, -0.75}},
		{"repeat below 1 boosts", 0.5, 0, 0, -1, []float32{4, -0.5, 0.5, 3, -1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := off(9)
			p.RepeatPenalty, p.FrequencyPenalty, p.PresencePenalty, p.RepeatLastN = tc.repeat, tc.freq, tc.presence, tc.lastN
			s := mustNew(t, p)
			var tr Trace
			s.SampleTrace(logits, history, &tr, len(logits))
			if tr.Steps[0].Name != StepPenalties {
				t.Fatalf("first step %q, want penalties", tr.Steps[0].Name)
			}
			got := make([]float32, len(logits))
			for _, c := range tr.Steps[0].Top {
				got[c.ID] = c.Logit
			}
			for i := range got {
				if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
					t.Errorf("penalised logits %v, want %v", got, tc.want)
					break
				}
			}
		})
	}
}

func TestPenaltiesDisabled(t *testing.T) {
	for _, mod := range []func(*Params){
		func(p *Params) { p.RepeatLastN = 0; p.RepeatPenalty = 2 },
		func(p *Params) { p.RepeatPenalty = 1 },
	} {
		p := off(1)
		mod(&p)
		s := mustNew(t, p)
		var tr Trace
		s.SampleTrace([]float32{1, 2}, []int{0, 1}, &tr, 2)
		if tr.Steps[0].Name == StepPenalties {
			t.Errorf("%v: penalties step ran, want it skipped", p)
		}
	}
}

func TestGreedy(t *testing.T) {
	tests := []struct {
		name    string
		logits  []float32
		history []int
		repeat  float32
		want    int
		rank    int
	}{
		{"argmax", []float32{0.1, -3, 7, 2}, nil, 1, 2, 1},
		{"ties pick lowest id", []float32{1, 5, 5, 2}, nil, 1, 1, 1},
		{"NaN ignored", []float32{float32(math.NaN()), 1, 0}, nil, 1, 1, 1},
		{"all -Inf", []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}, nil, 1, 0, 1},
		// 7/4 = 1.75 < 2: the penalised argmax is id 3, second among raw logits.
		{"after penalty", []float32{0.1, -3, 7, 2}, []int{2}, 4, 3, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := off(1)
			p.Temperature = 0
			p.RepeatPenalty = tc.repeat
			s := mustNew(t, p)
			var tr Trace
			got := s.SampleTrace(tc.logits, tc.history, &tr, 3)
			if got != tc.want || s.Sample(tc.logits, tc.history) != tc.want {
				t.Fatalf("greedy chose %d, want %d", got, tc.want)
			}
			if tr.Draw != -1 || tr.ChosenProb != 1 || tr.ChosenRank != tc.rank || tr.Chosen != tc.want {
				t.Errorf("trace draw=%v prob=%v rank=%d chosen=%d, want -1, 1, %d, %d", tr.Draw, tr.ChosenProb, tr.ChosenRank, tr.Chosen, tc.rank, tc.want)
			}
			if last := tr.Steps[len(tr.Steps)-1]; last.Name != StepGreedy || last.Kept != 1 {
				t.Errorf("last step %s kept %d, want greedy kept 1", last.Name, last.Kept)
			}
		})
	}
}

func TestGreedyEqualsArgmaxOnRandomLogits(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	p := DefaultParams()
	p.Temperature = 0
	s := mustNew(t, p)
	for range 200 {
		logits := randomLogits(r, 1000)
		want := 0
		for i, l := range logits {
			if l > logits[want] {
				want = i
			}
		}
		if got := s.Sample(logits, nil); got != want {
			t.Fatalf("temperature 0 chose %d, argmax is %d", got, want)
		}
	}
}

func randomLogits(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * 3)
	}
	return out
}

// sequence samples n tokens, feeding each one back into the history.
func sequence(t *testing.T, p Params, logits []float32, n int) []int {
	s := mustNew(t, p)
	var hist []int
	for range n {
		hist = append(hist, s.Sample(logits, hist))
	}
	return hist
}

func TestSeedReproducible(t *testing.T) {
	logits := randomLogits(rand.New(rand.NewPCG(1, 2)), 512)
	p := DefaultParams()
	p.Temperature = 1.5 // flatter, so that sequences depend on the seed
	p.RepeatPenalty = 1.1
	p.Seed = 42
	a := sequence(t, p, logits, 1000)
	b := sequence(t, p, logits, 1000)
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different sequences")
	}
	p.Seed = 43
	if c := sequence(t, p, logits, 1000); slices.Equal(a, c) {
		t.Fatal("seeds 42 and 43 gave the same 1000 tokens")
	}
	// Reset replays the stream.
	p.Seed = 42
	s := mustNew(t, p)
	first := s.Sample(logits, nil)
	for range 10 {
		s.Sample(logits, nil)
	}
	s.Reset()
	if again := s.Sample(logits, nil); again != first {
		t.Errorf("after Reset drew %d, want %d", again, first)
	}
}

func TestRandomSeedIsReported(t *testing.T) {
	logits := randomLogits(rand.New(rand.NewPCG(3, 4)), 256)
	p := DefaultParams()
	p.Temperature = 2
	s := mustNew(t, p)
	if s.Seed() == SeedRandom {
		t.Fatal("Seed() returned SeedRandom, want the seed actually used")
	}
	var got []int
	for range 100 {
		got = append(got, s.Sample(logits, nil))
	}
	p.Seed = s.Seed()
	replay := mustNew(t, p)
	for i, want := range got {
		if g := replay.Sample(logits, nil); g != want {
			t.Fatalf("replay with Seed() differs at draw %d: %d vs %d", i, g, want)
		}
	}
}

func TestSampleAndTraceAgree(t *testing.T) {
	logits := randomLogits(rand.New(rand.NewPCG(5, 6)), 3000)
	for _, p := range []Params{DefaultParams(), off(0), {Temperature: 1.2, TopP: 0.9, RepeatPenalty: 1.3, RepeatLastN: -1, MinP: 0.01}} {
		p.Seed = 77
		a, b := mustNew(t, p), mustNew(t, p)
		var tr Trace
		var hist []int
		for i := range 300 {
			x := a.Sample(logits, hist)
			y := b.SampleTrace(logits, hist, &tr, 5)
			if x != y || tr.Chosen != y {
				t.Fatalf("%v: draw %d: Sample %d, SampleTrace %d (trace %d)", p, i, x, y, tr.Chosen)
			}
			hist = append(hist, x)
		}
	}
}

// chiSquare returns the chi-square statistic of counts against probs.
func chiSquare(counts []int, probs []float64, n int) float64 {
	var x2 float64
	for i, c := range counts {
		e := probs[i] * float64(n)
		if e == 0 {
			if c != 0 {
				return math.Inf(1)
			}
			continue
		}
		x2 += (float64(c) - e) * (float64(c) - e) / e
	}
	return x2
}

func TestEmpiricalFrequencies(t *testing.T) {
	logits := []float32{0.5, 2, -1, 1.2, 0, 1.9}
	tests := []struct {
		name string
		p    Params
		want func() []float64
	}{
		{"full softmax", off(2024), func() []float64 { return softmax64(logits, 1, nil) }},
		// top_k 3 keeps ids 1, 5, 3; temperature 0.7 sharpens them.
		{"top_k 3, temp 0.7", Params{Temperature: 0.7, TopK: 3, TopP: 1, RepeatPenalty: 1, Seed: 99},
			func() []float64 { return softmax64(logits, 0.7, []int{1, 5, 3}) }},
	}
	const n = 200000
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, tc.p)
			counts := make([]int, len(logits))
			for range n {
				counts[s.Sample(logits, nil)]++
			}
			want := tc.want()
			// 5 degrees of freedom: P(chi2 > 30) is about 1.5e-5, and the seed is
			// fixed, so the test is deterministic; a wrong distribution gives
			// statistics in the thousands at this sample size.
			if x2 := chiSquare(counts, want, n); x2 > 30 {
				t.Errorf("chi-square %.1f > 30: counts %v, expected probabilities %v", x2, counts, want)
			}
		})
	}
}

// softmax64 is the reference softmax of logits/temp restricted to keep (all when nil).
func softmax64(logits []float32, temp float64, keep []int) []float64 {
	out := make([]float64, len(logits))
	var sum float64
	for i, l := range logits {
		if keep != nil && !slices.Contains(keep, i) {
			continue
		}
		out[i] = math.Exp(float64(l) / temp)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// referenceKept is a straightforward full-sort implementation of the chain's
// filters, used to check the partial selections on random inputs.
func referenceKept(logits []float32, p Params) []int {
	type c struct {
		id int
		l  float64
	}
	cs := make([]c, len(logits))
	for i, l := range logits {
		cs[i] = c{i, float64(l)}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].l > cs[j].l })
	if p.TopK > 0 && p.TopK < len(cs) {
		cs = cs[:p.TopK]
	}
	if p.TopP < 1 {
		var sum, cum float64
		for _, x := range cs {
			sum += math.Exp(x.l - cs[0].l)
		}
		for i, x := range cs {
			cum += math.Exp(x.l-cs[0].l) / sum
			if cum >= float64(p.TopP) {
				cs = cs[:i+1]
				break
			}
		}
	}
	if p.MinP > 0 {
		th := cs[0].l + math.Log(float64(p.MinP))
		i := 1
		for i < len(cs) && cs[i].l >= th {
			i++
		}
		cs = cs[:i]
	}
	ids := make([]int, len(cs))
	for i, x := range cs {
		ids[i] = x.id
	}
	sort.Ints(ids)
	return ids
}

func TestFiltersMatchFullSortReference(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for i := range 300 {
		n := 1 + r.IntN(3000)
		logits := randomLogits(r, n)
		p := off(uint64(i))
		if r.IntN(2) == 0 {
			p.TopK = 1 + r.IntN(100)
		}
		if r.IntN(2) == 0 {
			p.TopP = 0.05 + 0.9*r.Float32()
		}
		if r.IntN(2) == 0 {
			p.MinP = 0.3 * r.Float32()
		}
		s := mustNew(t, p)
		var tr Trace
		got := s.SampleTrace(logits, nil, &tr, n)
		want := referenceKept(logits, p)
		kept := keptIDs(t, &tr, StepDist)
		sort.Ints(kept)
		if !slices.Equal(kept, want) {
			t.Fatalf("case %d (n=%d, %v): kept %d tokens %v..., reference %d tokens %v...", i, n, p, len(kept), kept[:min(5, len(kept))], len(want), want[:min(5, len(want))])
		}
		if !slices.Contains(want, got) {
			t.Fatalf("case %d: chose %d outside the kept set", i, got)
		}
	}
}

func TestTraceContents(t *testing.T) {
	logits := randomLogits(rand.New(rand.NewPCG(10, 10)), 32000)
	p := DefaultParams()
	p.Seed = 1
	p.RepeatPenalty = 1.1
	s := mustNew(t, p)
	var tr Trace
	chosen := s.SampleTrace(logits, []int{1, 2, 3}, &tr, 8)
	want := []string{StepPenalties, StepTopK, StepTopP, StepMinP, StepTemperature, StepDist}
	if got := stepNames(&tr); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
	if tr.Steps[0].Kept != 32000 || tr.Steps[1].Kept != 40 {
		t.Errorf("kept %d after penalties and %d after top_k, want 32000 and 40", tr.Steps[0].Kept, tr.Steps[1].Kept)
	}
	for i, st := range tr.Steps {
		if len(st.Top) != min(8, st.Kept) {
			t.Errorf("step %s: %d candidates in Top, want %d", st.Name, len(st.Top), min(8, st.Kept))
		}
		for j := 1; j < len(st.Top); j++ {
			if st.Top[j].Prob > st.Top[j-1].Prob {
				t.Errorf("step %s: Top not sorted by probability", st.Name)
			}
		}
		if i > 0 && st.Kept > tr.Steps[i-1].Kept {
			t.Errorf("step %s kept more tokens than the previous one", st.Name)
		}
	}
	if tr.Chosen != chosen || tr.Draw < 0 || tr.Draw >= 1 || tr.ChosenProb <= 0 || tr.ChosenProb > 1 || tr.ChosenRank < 1 || tr.ChosenRank > 40 {
		t.Errorf("trace chosen=%d draw=%v prob=%v rank=%d", tr.Chosen, tr.Draw, tr.ChosenProb, tr.ChosenRank)
	}
	// ChosenProb is the chosen token's probability at the draw.
	for _, c := range tr.Steps[len(tr.Steps)-1].Top {
		if c.ID == chosen && c.Prob != tr.ChosenProb {
			t.Errorf("ChosenProb %v, dist step says %v", tr.ChosenProb, c.Prob)
		}
	}
}

func TestNoAllocations(t *testing.T) {
	logits := randomLogits(rand.New(rand.NewPCG(1, 1)), 32000)
	hist := []int{5, 6, 7, 5}
	for _, p := range []Params{DefaultParams(), {Temperature: 1, TopP: 0.9, MinP: 0.05, RepeatPenalty: 1.2, RepeatLastN: -1}} {
		s := mustNew(t, p)
		var tr Trace
		s.SampleTrace(logits, hist, &tr, 10) // warm up the buffers
		if a := testing.AllocsPerRun(20, func() { s.Sample(logits, hist) }); a != 0 {
			t.Errorf("%v: Sample allocates %.1f times per call", p, a)
		}
		if a := testing.AllocsPerRun(20, func() { s.SampleTrace(logits, hist, &tr, 10) }); a != 0 {
			t.Errorf("%v: SampleTrace allocates %.1f times per call with a reused Trace", p, a)
		}
	}
}

func TestEmptyLogits(t *testing.T) {
	s := mustNew(t, DefaultParams())
	var tr Trace
	if got := s.SampleTrace(nil, nil, &tr, 3); got != -1 || tr.Chosen != -1 || len(tr.Steps) != 0 {
		t.Errorf("empty logits: chose %d, trace %+v; want -1 and an empty trace", got, tr)
	}
}

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		mod  func(*Params)
		want string // substring of the error, "" for valid
	}{
		{"defaults", func(*Params) {}, ""},
		{"greedy", func(p *Params) { p.Temperature = 0 }, ""},
		{"negative temperature", func(p *Params) { p.Temperature = -0.1 }, "temperature"},
		{"NaN temperature", func(p *Params) { p.Temperature = nan }, "temperature"},
		{"negative top_k", func(p *Params) { p.TopK = -1 }, "top_k"},
		{"top_p 0", func(p *Params) { p.TopP = 0 }, "top_p"},
		{"top_p above 1", func(p *Params) { p.TopP = 1.01 }, "top_p"},
		{"negative min_p", func(p *Params) { p.MinP = -0.01 }, "min_p"},
		{"min_p above 1", func(p *Params) { p.MinP = 1.5 }, "min_p"},
		{"repeat penalty 0", func(p *Params) { p.RepeatPenalty = 0 }, "repeat penalty"},
		{"repeat_last_n -2", func(p *Params) { p.RepeatLastN = -2 }, "repeat_last_n"},
		{"infinite presence", func(p *Params) { p.PresencePenalty = float32(math.Inf(1)) }, "presence"},
		{"NaN frequency", func(p *Params) { p.FrequencyPenalty = nan }, "frequency"},
		{"negative frequency allowed", func(p *Params) { p.FrequencyPenalty = -0.5 }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			tc.mod(&p)
			err := p.Validate()
			_, newErr := New(p)
			if tc.want == "" {
				if err != nil || newErr != nil {
					t.Fatalf("Validate: %v, New: %v; want no error", err, newErr)
				}
				return
			}
			if err == nil || newErr == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, New: %v; want an error about %q", err, newErr, tc.want)
			}
		})
	}
}

func TestDefaultParams(t *testing.T) {
	p := DefaultParams()
	want := Params{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64, Seed: SeedRandom}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("DefaultParams() = %v, want llama.cpp's %v", p, want)
	}
}

func TestLogitBias(t *testing.T) {
	logits := []float32{1, 5, 3, 4.5}
	ban := float32(math.Inf(-1))
	cases := []struct {
		name string
		temp float32
		bias map[int]float32
		want int
	}{
		{"no bias: argmax", 0, nil, 1},
		{"empty map: argmax", 0, map[int]float32{}, 1},
		{"-100 pushes the best below the rest", 0, map[int]float32{1: -100}, 3},
		{"+10 lifts a weak token to the top", 0, map[int]float32{0: 10}, 0},
		{"ban two", 0, map[int]float32{1: ban, 3: ban}, 2},
		{"+100 at temperature 1 is certain", 1, map[int]float32{0: 100}, 0},
		{"ban at temperature 1", 1, map[int]float32{1: ban, 3: ban, 0: ban}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(50) {
				p := off(seed)
				p.Temperature = tc.temp
				p.LogitBias = tc.bias
				s, err := New(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Sample(logits, nil); got != tc.want {
					t.Fatalf("seed %d: got token %d, want %d", seed, got, tc.want)
				}
				if tc.temp == 0 {
					break
				}
			}
		})
	}
}

func TestLogitBiasTraceStep(t *testing.T) {
	logits := []float32{1, 5, 3, 4.5}
	for _, temp := range []float32{0, 1} {
		p := off(7)
		p.Temperature = temp
		p.RepeatPenalty = 2
		p.LogitBias = map[int]float32{1: -100, 0: 2.5}
		s, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		var tr Trace
		got := s.SampleTrace(logits, []int{3}, &tr, 4)
		if len(tr.Steps) < 3 || tr.Steps[0].Name != StepLogitBias || tr.Steps[1].Name != StepPenalties {
			t.Fatalf("temperature %g: steps %+v, want logit_bias first, then penalties", temp, tr.Steps)
		}
		st := tr.Steps[0]
		if st.Kept != 4 || len(st.Top) != 4 {
			t.Fatalf("logit_bias step kept %d, top %d; want 4 and 4", st.Kept, len(st.Top))
		}
		// biased logits: 3.5, -95, 3, 4.5 → order 3, 0, 2, 1
		wantIDs, wantLogits := []int{3, 0, 2, 1}, []float32{4.5, 3.5, 3, -95}
		for i, c := range st.Top {
			if c.ID != wantIDs[i] || c.Logit != wantLogits[i] {
				t.Fatalf("logit_bias step top[%d] = %+v, want id %d logit %g", i, c, wantIDs[i], wantLogits[i])
			}
		}
		// the penalty then halves token 3 (4.5 → 2.25), so 0 wins greedy
		if temp == 0 && got != 0 {
			t.Fatalf("greedy chose %d, want 0", got)
		}
		if tr.ChosenRank != rawRank(logits, got) {
			t.Fatalf("chosen rank %d is not the rank among the raw logits (%d)", tr.ChosenRank, rawRank(logits, got))
		}
		// tracing never changes the token
		s2, _ := New(p)
		if again := s2.Sample(logits, []int{3}); again != got {
			t.Fatalf("Sample chose %d, SampleTrace %d", again, got)
		}
	}
	// without a bias the step is not listed
	s, _ := New(off(1))
	var tr Trace
	s.SampleTrace(logits, nil, &tr, 2)
	for _, st := range tr.Steps {
		if st.Name == StepLogitBias {
			t.Fatal("logit_bias listed without a bias")
		}
	}
}

func TestLogitBiasCopied(t *testing.T) {
	bias := map[int]float32{1: -100}
	p := off(0)
	p.Temperature = 0
	p.LogitBias = bias
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	bias[1] = 0
	bias[2] = -100
	if got := s.Sample([]float32{1, 5, 3}, nil); got != 2 {
		t.Fatalf("got %d: the sampler follows changes made to the map after New", got)
	}
}

func TestLogitBiasValidate(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name  string
		bias  map[int]float32
		vocab int
		want  string // "" = valid
	}{
		{"valid", map[int]float32{0: -100, 9: 100, 3: float32(math.Inf(-1))}, 10, ""},
		{"negative id", map[int]float32{-1: 1}, 10, "token -1"},
		{"NaN", map[int]float32{2: nan}, 10, "token 2"},
		{"+Inf", map[int]float32{2: float32(math.Inf(1))}, 10, "-Inf (ban)"},
		{"beyond the vocabulary", map[int]float32{3: 1, 10: 1}, 10, "token 10: the vocabulary has 10 tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.LogitBias = tc.bias
			err := p.Validate()
			if err == nil {
				err = p.CheckVocab(tc.vocab)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestParamsIsZeroGreedy(t *testing.T) {
	bias := map[int]float32{4: -100}
	if !(Params{}).IsZero() || !(Params{LogitBias: bias}).IsZero() {
		t.Fatal("the zero value (with or without a bias) is not IsZero")
	}
	if DefaultParams().IsZero() || (Params{Seed: 1}).IsZero() {
		t.Fatal("set parameters are IsZero")
	}
	g := Params{LogitBias: bias}.Greedy()
	if err := g.Validate(); err != nil || g.Temperature != 0 || g.LogitBias[4] != -100 {
		t.Fatalf("Greedy() = %v (%v)", g, err)
	}
	if s := g.String(); !strings.Contains(s, "logit_bias=4:-100") {
		t.Fatalf("String() = %q does not show the bias", s)
	}
}
