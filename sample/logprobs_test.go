package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSoftmax(t *testing.T) {
	inf := float32(math.Inf(-1))
	tests := []struct {
		name   string
		logits []float32
		want   []float64
	}{
		{"ln probs", lnProbs(0.1, 0.6, 0.3), []float64{0.1, 0.6, 0.3}},
		{"large logits do not overflow", []float32{1000, 1000}, []float64{0.5, 0.5}},
		{"very negative logits", []float32{-1000, -999}, []float64{1 / (1 + math.E), math.E / (1 + math.E)}},
		{"-Inf gets zero", []float32{0, inf, 0}, []float64{0.5, 0, 0.5}},
		{"all -Inf is uniform", []float32{inf, inf, inf, inf}, []float64{0.25, 0.25, 0.25, 0.25}},
		{"NaN counts as -Inf", []float32{float32(math.NaN()), 2}, []float64{0, 1}},
		{"single", []float32{-7}, []float64{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, len(tc.logits)+2)
			Softmax(dst, tc.logits)
			for i, w := range tc.want {
				if math.Abs(float64(dst[i])-w) > 1e-6 {
					t.Fatalf("Softmax = %v, want %v", dst[:len(tc.logits)], tc.want)
				}
			}
			if dst[len(tc.logits)] != 0 {
				t.Error("Softmax wrote past len(logits)")
			}
		})
	}
}

func TestLogProbs(t *testing.T) {
	// probs 1/6, 2/6, 3/6 (from logits 0, ln 2, ln 3), plus a tie case.
	third := []float32{0, float32(math.Log(2)), float32(math.Log(3))}
	tests := []struct {
		name       string
		logits     []float32
		chosen, k  int
		wantChosen float64
		wantIDs    []int
		wantLP     []float64
	}{
		{"top 2", third, 0, 2, math.Log(1.0 / 6), []int{2, 1}, []float64{math.Log(0.5), math.Log(2.0 / 6)}},
		{"k larger than vocab", third, 2, 10, math.Log(0.5), []int{2, 1, 0}, []float64{math.Log(0.5), math.Log(2.0 / 6), math.Log(1.0 / 6)}},
		{"k 0", third, 1, 0, math.Log(2.0 / 6), nil, nil},
		{"ties by id", []float32{1, 2, 2, 0, 2}, 3, 2, 0 - math.Log(math.E+3*math.E*math.E+1), []int{1, 2},
			[]float64{2 - math.Log(math.E+3*math.E*math.E+1), 2 - math.Log(math.E+3*math.E*math.E+1)}},
		{"chosen out of range", third, 3, 1, math.NaN(), []int{2}, []float64{math.Log(0.5)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lp, top := LogProbs(tc.logits, tc.chosen, tc.k, nil)
			if math.IsNaN(tc.wantChosen) != math.IsNaN(float64(lp)) || (!math.IsNaN(tc.wantChosen) && math.Abs(float64(lp)-tc.wantChosen) > 1e-6) {
				t.Errorf("chosen log-prob %v, want %v", lp, tc.wantChosen)
			}
			ids := make([]int, len(top))
			for i, x := range top {
				ids[i] = x.ID
				if math.Abs(float64(x.LogProb)-tc.wantLP[i]) > 1e-6 {
					t.Errorf("top[%d] log-prob %v, want %v", i, x.LogProb, tc.wantLP[i])
				}
			}
			if !slices.Equal(ids, tc.wantIDs) && !(len(ids) == 0 && tc.wantIDs == nil) {
				t.Errorf("top ids %v, want %v", ids, tc.wantIDs)
			}
		})
	}
}

func TestLogProbsSumToOne(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	var top []TokenLogProb
	for _, n := range []int{1, 7, 512, 32000} {
		logits := randomLogits(r, n)
		var lp float32
		lp, top = LogProbs(logits, n-1, n, top)
		var sum float64
		for i, x := range top {
			sum += math.Exp(float64(x.LogProb))
			if i > 0 && x.LogProb > top[i-1].LogProb {
				t.Fatalf("n=%d: top not sorted at %d", n, i)
			}
			if x.ID == n-1 && x.LogProb != lp {
				t.Errorf("n=%d: chosen log-prob %v differs from its entry %v", n, lp, x.LogProb)
			}
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("n=%d: probabilities sum to %v, want 1", n, sum)
		}
		// The top-k is the k best of the full list.
		_, top5 := LogProbs(logits, 0, 5, nil)
		for i := range top5 {
			if top5[i] != top[i] {
				t.Errorf("n=%d: top-5[%d] = %+v, full list says %+v", n, i, top5[i], top[i])
			}
		}
	}
}

func TestLogProbsReusesBuffer(t *testing.T) {
	logits := randomLogits(rand.New(rand.NewPCG(2, 3)), 32000)
	buf := make([]TokenLogProb, 0, 10)
	if a := testing.AllocsPerRun(10, func() { _, buf = LogProbs(logits, 3, 10, buf) }); a != 0 {
		t.Errorf("LogProbs allocates %.1f times per call with a reused buffer", a)
	}
}
