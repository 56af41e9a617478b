package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// everyK allows the token ids divisible by k.
type everyK struct {
	k     int
	calls int
}

func (c *everyK) Allows(id int) bool { c.calls++; return id%c.k == 0 }
func (c *everyK) Mask(allowed []bool) int {
	n := 0
	for id := range allowed {
		allowed[id] = id%c.k == 0
		if allowed[id] {
			n++
		}
	}
	return n
}

func TestSampleConstrained(t *testing.T) {
	logits := randomLogits(rand.New(rand.NewPCG(3, 4)), 5000)
	tests := []struct {
		name string
		p    Params
		k    int
	}{
		{"greedy", Params{TopP: 1, RepeatPenalty: 1}, 7},
		{"top-k", DefaultParams(), 7},
		{"top-k rare", DefaultParams(), 1000},
		{"no top-k", Params{Temperature: 1, TopP: 1, RepeatPenalty: 1}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.Seed = 9
			s := mustNew(t, tt.p)
			// the reference: the same chain on logits where rejected tokens are -Inf
			masked := slices.Clone(logits)
			for id := range masked {
				if id%tt.k != 0 {
					masked[id] = float32(math.Inf(-1))
				}
			}
			ref := mustNew(t, tt.p)
			var tr Trace
			for i := range 50 {
				c := &everyK{k: tt.k}
				got, err := s.SampleConstrained(logits, nil, c, &tr, 5)
				if err != nil {
					t.Fatal(err)
				}
				want := ref.Sample(masked, nil)
				if got != want {
					t.Fatalf("draw %d: %d, want %d (the chain on masked logits)", i, got, want)
				}
				if tt.name == "greedy" && c.calls > 50 {
					t.Errorf("greedy examined %d candidates", c.calls)
				}
				if tr.Steps[0].Name != StepGrammar || len(tr.Removed) == 0 {
					t.Errorf("trace %+v: want a grammar step and removed candidates", tr.Steps)
				}
				for _, r := range tr.Removed {
					if r.ID%tt.k == 0 {
						t.Errorf("removed %d is allowed", r.ID)
					}
				}
			}
		})
	}
	s := mustNew(t, DefaultParams())
	if _, err := s.SampleConstrained(logits, nil, none{}, nil, 0); !errors.Is(err, ErrNoAllowedToken) {
		t.Errorf("no token allowed: err %v", err)
	}
}

// none allows no token.
type none struct{}

func (none) Allows(int) bool { return false }
func (none) Mask(allowed []bool) int {
	clear(allowed)
	return 0
}
