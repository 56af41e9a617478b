package sample

import (
	"math"
	"testing"
)

// chiSquareCritical returns the chi-square value exceeded with probability
// 1e-4 for df degrees of freedom (Wilson–Hilferty).
func chiSquareCritical(df int) float64 {
	const z = 3.719 // the standard normal's 1 − 1e-4 quantile
	k := float64(df)
	a := 2 / (9 * k)
	return k * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// chiSquareDist compares counts of tokens with the distribution p over n draws
// and fails the test when a token outside p appeared.
func chiSquareDist(t *testing.T, counts map[int]int, p *Dist, n int) float64 {
	t.Helper()
	var x2 float64
	seen := 0
	for i, id := range p.IDs {
		e := p.Probs[i] * float64(n)
		d := float64(counts[id]) - e
		x2 += d * d / e
		seen += counts[id]
	}
	if seen != n {
		t.Fatalf("%d of %d tokens fell outside the target's candidates %v: %v", n-seen, n, p.IDs, counts)
	}
	return x2
}

// TestVerifyDistribution checks the acceptance rule statistically: over
// many seeds, the token that comes out of drafting from q and verifying
// against p (accepted, or drawn from the residual) is distributed as p,
// for a draft model (q a distribution with other support and shape), for
// a prompt-lookup draft (q a point mass, x inside or outside p's
// candidates) and for truncating chains. A draft taken without the rule is
// checked to fail the same test, so the test can tell.
func TestVerifyDistribution(t *testing.T) {
	target := []float32{2, 1, 0.5, 0, -1, -3, 0.7, -0.2}
	draft := []float32{0, 1.5, 0.2, 1, 0.3, 0, -2, 1.1}
	const n = 20000
	for _, tt := range []struct {
		name   string
		tp, dp Params
		lookup int // ≥ 0: a point-mass draft of this token
	}{
		{"model draft, top-k", Params{Temperature: 0.8, TopK: 4, TopP: 1}, Params{Temperature: 1, TopP: 1}, -1},
		{"model draft, top-p", Params{Temperature: 1.2, TopP: 0.9}, Params{Temperature: 0.7, TopK: 5, TopP: 1}, -1},
		{"model draft, min-p", Params{Temperature: 1, TopP: 1, MinP: 0.1}, Params{Temperature: 1.5, TopP: 1}, -1},
		{"lookup, likely token", Params{Temperature: 0.8, TopP: 1}, Params{}, 0},
		{"lookup, unlikely token", Params{Temperature: 0.8, TopP: 1}, Params{}, 5},
		{"lookup, token outside top-k", Params{Temperature: 1, TopK: 3, TopP: 1}, Params{}, 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var p, q Dist
			got, naive := map[int]int{}, map[int]int{}
			accepted := 0
			for seed := range uint64(n) {
				tp := tt.tp
				tp.Seed, tp.RepeatPenalty = seed, 1
				ts, err := New(tp)
				if err != nil {
					t.Fatal(err)
				}
				ts.Distribution(target, nil, &p, nil, 0)
				var v Verdict
				x := tt.lookup
				if x < 0 {
					dp := tt.dp
					dp.Seed, dp.RepeatPenalty = seed+1<<40, 1
					ds, err := New(dp)
					if err != nil {
						t.Fatal(err)
					}
					ds.Distribution(draft, nil, &q, nil, 0)
					x, _ = ds.Pick(&q)
					v = ts.Verify(&p, &q, x)
				} else {
					v = ts.Verify(&p, nil, x)
				}
				if v.Accepted {
					accepted++
					if v.ID != x {
						t.Fatalf("seed %d: accepted %d, drafted %d", seed, v.ID, x)
					}
				}
				got[v.ID]++
				naive[x]++
			}
			crit := chiSquareCritical(len(p.IDs) - 1)
			if x2 := chiSquareDist(t, got, &p, n); x2 > crit {
				t.Errorf("chi-square %.1f over %d draws exceeds %.1f (p < 1e-4): %v, want %v %v", x2, n, crit, got, p.IDs, p.Probs)
			}
			if outside := p.Prob(tt.lookup) == 0 && tt.lookup >= 0; (accepted == 0) != outside || (tt.lookup < 0 && accepted == n) {
				t.Errorf("%d of %d drafts accepted", accepted, n)
			}
			// the draft's own tokens are not distributed as p
			var x2 float64
			for i, id := range p.IDs {
				e := p.Probs[i] * n
				d := float64(naive[id]) - e
				x2 += d * d / e
			}
			if x2 <= crit {
				t.Errorf("the drafted tokens alone pass the test (chi-square %.1f): it cannot tell", x2)
			}
		})
	}
}

// TestVerifyGreedy checks that under greedy decoding a drafted token is
// kept exactly when it is the best one, that the replacement is the best
// one, and that no random number is drawn.
func TestVerifyGreedy(t *testing.T) {
	logits := []float32{0.1, 3, -1, 2.9, 0}
	s, err := New(Params{}.Greedy())
	if err != nil {
		t.Fatal(err)
	}
	var p, q Dist
	s.Distribution(logits, nil, &p, nil, 0)
	if !p.Greedy() || p.IDs[0] != 1 {
		t.Fatalf("greedy distribution %v %v, want a point mass at 1", p.IDs, p.Probs)
	}
	q = Dist{IDs: []int{3, 1, 0}, Probs: []float64{0.6, 0.3, 0.1}}
	for x := range logits {
		for _, qd := range []*Dist{nil, &q} {
			v := s.Verify(&p, qd, x)
			if v.ID != 1 || v.Accepted != (x == 1) || v.Draw != -1 || v.Resample != -1 {
				t.Errorf("draft %d (q %v): %+v, want token 1, accepted %v, nothing drawn", x, qd != nil, v, x == 1)
			}
		}
	}
}

// TestDistributionMatchesSample checks that Distribution keeps the
// candidates Sample draws from: with the same seed, Pick on the
// distribution returns the token Sample returns.
func TestDistributionMatchesSample(t *testing.T) {
	logits := []float32{1, 0.3, -0.5, 2, 0.9, 0.1, -2, 1.4}
	history := []int{0, 3, 3, 7}
	for _, p := range []Params{
		{Temperature: 0.9, TopK: 5, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.3, RepeatLastN: 64, Seed: 1},
		{Temperature: 1, TopP: 1, RepeatPenalty: 1, Seed: 2, LogitBias: map[int]float32{6: 3}},
		{Temperature: 0.5, TopP: 0.8, RepeatPenalty: 1, Seed: 3},
	} {
		for seed := range uint64(50) {
			p.Seed = seed
			a, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := New(p)
			var d Dist
			want := a.Sample(logits, history)
			b.Distribution(logits, history, &d, nil, 0)
			var sum float64
			for _, x := range d.Probs {
				sum += x
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Fatalf("probabilities sum to %v", sum)
			}
			if d.Prob(want) == 0 {
				t.Fatalf("%+v: Sample chose %d, outside the distribution %v", p, want, d.IDs)
			}
		}
	}
}
