package train

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestGRPOPtxGradients checks the loss of one update with a pretraining mix
// against finite differences: two completions' GRPO losses, each scaled by
// 1/2 (the mean over completions), plus γ times the mean over two windows
// of PtxLoss, as grpoTask.run scales them.
func TestGRPOPtxGradients(t *testing.T) {
	rng := NewRNG(21, 0)
	comp := []*Tensor[float64]{randTensor(rng, 5, 7, 1.2), randTensor(rng, 5, 7, 1.2)}
	win := []*Tensor[float64]{randTensor(rng, 6, 7, 1.5), randTensor(rng, 6, 7, 1.5)}
	compTargets := []int{-1, -1, 3, 0, 6}
	winTargets := [][]int{{1, 4, 6, 0, 2, 5}, {3, -1, 2, 2, 6, 1}}
	ref := []float64{0, 0, -1.5, -2.5, -0.9}
	adv := []float64{0.8, -0.8}
	// old: the sampling policy's log-probabilities at the starting point,
	// given explicitly so that the ratio varies with the logits.
	old := make([][]float64, len(comp))
	for k, lg := range comp {
		tp := &Tape[float64]{}
		old[k] = append([]float64(nil), tp.TokenLogProbs(lg, compTargets).Data...)
		tp.Reset()
	}
	for _, gamma := range []float64{0, 0.5, 2} {
		gradCheck(t, "ptx", append(append([]*Tensor[float64](nil), comp...), win...), func(tp *Tape[float64]) *Tensor[float64] {
			var total float64
			for k, lg := range comp {
				st := tp.GRPOLoss(tp.TokenLogProbs(lg, compTargets), compTargets, old[k], ref, adv[k], 0.2, 0.1, 0.5)
				total += 0.5 * st.Loss
			}
			for k, lg := range win {
				total += gamma / 2 * PtxLoss(tp, lg, winTargets[k], gamma/2)
			}
			out := newTensor[float64](1, 1)
			out.Data[0] = total
			return out
		})
	}
}

// TestPtxLossValue pins PtxLoss to the mean token NLL.
func TestPtxLossValue(t *testing.T) {
	lg := newTensor[float64](3, 2)
	copy(lg.Data, []float64{0, 0, math.Log(3), 0, 5, 5})
	tp := &Tape[float64]{}
	got := PtxLoss(tp, lg, []int{0, 1, -1}, 1)
	want := (math.Log(2) + math.Log(4)) / 2
	if math.Abs(got-want) > 1e-12 {
		t.Fatalf("PtxLoss = %.12g, want %.12g", got, want)
	}
	if PtxLoss(tp, lg, []int{-1, -1, -1}, 1) != 0 {
		t.Fatal("no targets: want 0")
	}
}

func ptxTexts(n int) []string {
	rng := NewRNG(7, 0)
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for b.Len() < 30 {
			s := rng.Intn(len(letters) - 6)
			b.WriteString(letters[s : s+6])
		}
		out[i] = b.String()
	}
	return out
}

func ptxConfig(gamma float64) FineTuneConfig {
	c := grpoConfig()
	c.PtxCoef, c.PtxBatch = gamma, 4
	c.KLBeta = 0
	return c
}

func TestSetPretrainingMix(t *testing.T) {
	m := tinyAlignModel(t, 2)
	rw := []RewardFunc{{Name: "digits", Weight: 1, Score: digitReward}}
	ft, _, err := NewGRPO(t.Context(), ptxConfig(1), m, nil, grpoRecords(20), byteEncoder{}, decodeBytes, rw)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"abcdefghij", "klmnopqrstuvwxyz0123456789"}
	rep, err := ft.SetPretrainingMix(texts, byteEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	// Stream: BOS abcdefghij BOS klm…789 = 38 tokens; windows of 17: two.
	if rep.Texts != 2 || rep.Tokens != 38 || rep.Train+rep.Val != 2 {
		t.Fatalf("report %+v", rep)
	}
	task := ft.task.(*grpoTask)
	all := append(append([]Sequence(nil), task.ptxTrain...), task.ptxVal...)
	stream := append(append([]int{0}, byteEncoder{}.Encode(texts[0], false)...), 0)
	stream = append(stream, byteEncoder{}.Encode(texts[1], false)...)
	for _, w := range all {
		k := w.Line - 1
		if len(w.IDs) != 16 || len(w.Targets) != 16 {
			t.Fatalf("window %d: %d ids, %d targets", k, len(w.IDs), len(w.Targets))
		}
		for i := range w.IDs {
			if w.IDs[i] != stream[16*k+i] || w.Targets[i] != stream[16*k+i+1] {
				t.Fatalf("window %d position %d: id %d target %d, want %d %d", k, i, w.IDs[i], w.Targets[i], stream[16*k+i], stream[16*k+i+1])
			}
		}
	}

	for _, tc := range []struct {
		name  string
		c     FineTuneConfig
		texts []string
		want  string
	}{
		{"too_short", ptxConfig(1), []string{"abc"}, "leaves no training window of 17 tokens"},
		{"no_coef", grpoConfig(), texts, "no pretraining coefficient"},
	} {
		ft, _, err := NewGRPO(t.Context(), tc.c, tinyAlignModel(t, 2), nil, grpoRecords(20), byteEncoder{}, decodeBytes, rw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ft.SetPretrainingMix(tc.texts, byteEncoder{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// A run with ptx_coef but no text stops at the first step.
	ft, _, err = NewGRPO(t.Context(), ptxConfig(1), tinyAlignModel(t, 2), nil, grpoRecords(20), byteEncoder{}, decodeBytes, rw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ft.TrainStep(); err == nil || !strings.Contains(err.Error(), "no pretraining text") {
		t.Errorf("no text: %v", err)
	}
	for _, tc := range []struct {
		coef  float64
		batch int
		meth  string
	}{{-1, 4, "grpo"}, {math.NaN(), 4, "grpo"}, {1, 0, "grpo"}, {1, 4, "sft"}} {
		c := ptxConfig(tc.coef)
		c.PtxBatch, c.Method = tc.batch, tc.meth
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "pretraining mix") {
			t.Errorf("coef %g batch %d method %s: %v", tc.coef, tc.batch, tc.meth, err)
		}
	}
}

// TestGRPOPtxEndToEnd: with a pretraining mix the run is bit-identical
// across thread counts and across a resume, reports ptx_loss, and keeps the
// policy's loss on held-out windows of the text below that of the same run
// without the mix.
func TestGRPOPtxEndToEnd(t *testing.T) {
	recs := grpoRecords(60)
	rewards := []RewardFunc{{Name: "digits", Weight: 1, Score: digitReward}}
	texts := ptxTexts(200)
	newRun := func(gamma float64, m *Model[float32]) *FineTuner {
		c := ptxConfig(gamma)
		if gamma == 0 {
			c.PtxBatch = 0
		}
		ft, _, err := NewGRPO(t.Context(), c, m, nil, recs, byteEncoder{}, decodeBytes, rewards)
		if err != nil {
			t.Fatal(err)
		}
		if gamma > 0 {
			if _, err := ft.SetPretrainingMix(texts, byteEncoder{}); err != nil {
				t.Fatal(err)
			}
		}
		return ft
	}
	var final [][]float32
	var mixed *FineTuner
	for _, threads := range []int{1, 3} {
		m := tinyAlignModel(t, 2)
		ft := newRun(0.2, m)
		ft.Threads = threads
		before, after := runFT(t, ft)
		if math.IsNaN(Get(before, "ptx_loss")) || math.IsNaN(Get(ft.Curve[0].Train, "ptx_loss")) {
			t.Fatalf("ptx_loss missing: train %s, eval %s", FormatMetrics(ft.Curve[0].Train), FormatMetrics(before))
		}
		meanOf := func(ps []FTPoint) float64 {
			var s float64
			for _, p := range ps {
				s += Get(p.Train, "reward")
			}
			return s / float64(len(ps))
		}
		early, late := meanOf(ft.Curve[:5]), meanOf(ft.Curve[len(ft.Curve)-5:])
		t.Logf("threads %d: training reward %.3f → %.3f; held-out ptx_loss %.3f → %.3f", threads, early, late, Get(before, "ptx_loss"), Get(after, "ptx_loss"))
		if !(late > early+0.05) || !(Get(after, "ptx_loss") < Get(before, "ptx_loss")) {
			t.Fatalf("threads %d: training reward %.3f → %.3f, held-out ptx_loss %.3f → %.3f", threads, early, late, Get(before, "ptx_loss"), Get(after, "ptx_loss"))
		}
		w := weightsOf(m)
		if final != nil && !sameWeights(final, w) {
			t.Fatal("weights differ between 1 and 3 threads")
		}
		final, mixed = w, ft
	}
	plain := tinyAlignModel(t, 2)
	runFT(t, newRun(0, plain))
	task := mixed.task.(*grpoTask)
	withMix, without := task.ptxEval(mixed.Model, 1), task.ptxEval(plain, 1)
	t.Logf("held-out pretraining loss: %.4f with the mix, %.4f without", withMix, without)
	if !(withMix < without-0.1) {
		t.Fatalf("held-out pretraining loss: %.4f with the mix, %.4f without", withMix, without)
	}

	// Resume at step 30.
	ft := newRun(0.2, tinyAlignModel(t, 2))
	for ft.Step() < 30 {
		if _, err := ft.TrainStep(); err != nil {
			t.Fatal(err)
		}
	}
	var ck bytes.Buffer
	if err := ft.WriteCheckpoint(&ck); err != nil {
		t.Fatal(err)
	}
	m2 := tinyAlignModel(t, 2)
	ft2 := newRun(0.2, m2)
	if err := ft2.ReadCheckpoint(&ck); err != nil {
		t.Fatal(err)
	}
	if err := ft2.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if !sameWeights(final, weightsOf(m2)) {
		t.Fatal("a run resumed at step 30 ends with other weights")
	}
}

func TestReadPretrainingText(t *testing.T) {
	texts, err := ReadPretrainingText(strings.NewReader(`{"text":"package a\n","source":"a.go"}` + "\n\n" + `{"text":""}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(texts) != 2 || texts[0] != "package a\n" || texts[1] != "" {
		t.Fatalf("texts %q", texts)
	}
	for _, tc := range []struct{ data, want string }{
		{`{"prompt":"x"}`, `line 1: field "text": missing`},
		{`{"text":"a"}` + "\n" + `{"text":3}`, `line 2: field "text": expected a string, got a number`},
		{`[1]`, `line 1: not a JSON object`},
		{``, `no records`},
	} {
		if _, err := ReadPretrainingText(strings.NewReader(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.data, err, tc.want)
		}
	}
}

func FuzzReadPretrainingText(f *testing.F) {
	for _, s := range []string{`{"text": "a"}`, "{\"text\": \"a\"}\n\n{\"text\": ", `{"text": null}`, `{"text": ["x"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		texts, err := ReadPretrainingText(bytes.NewReader(data))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "no records") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		if len(texts) == 0 {
			t.Fatal("no texts and no error")
		}
	})
}
