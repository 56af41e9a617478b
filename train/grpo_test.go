package train

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"glassbox/model"
)

// TestGRPOLossGradients checks GRPOLoss against finite differences through
// TokenLogProbs: ratios inside the clip range, clipped above and below, both
// signs of the advantage, with and without the KL term and with the
// sampling policy's log-probabilities detached (old nil).
func TestGRPOLossGradients(t *testing.T) {
	rng := NewRNG(11, 0)
	logits := randTensor(rng, 6, 7, 1.5)
	targets := []int{-1, -1, 4, 0, 6, 2}
	tape := &Tape[float64]{}
	lp := tape.TokenLogProbs(logits, targets)
	tape.Reset()
	// old log-probabilities: ratios e^{x−old} of 1.05 (inside), 1.8 (above),
	// 0.4 (below) and 0.97 at the completion's four tokens.
	old := make([]float64, 6)
	for i, r := range []float64{0, 0, 1.05, 1.8, 0.4, 0.97} {
		if targets[i] >= 0 {
			old[i] = lp.Data[i] - math.Log(r)
		}
	}
	ref := []float64{0, 0, -1.2, -3.5, -0.7, -2.2}
	scalar := func(v float64) *Tensor[float64] {
		out := newTensor[float64](1, 1)
		out.Data[0] = v
		return out
	}
	for _, tc := range []struct {
		name      string
		adv, beta float64
		old, ref  []float64
	}{
		{"positive_advantage", 1.3, 0, old, nil},
		{"negative_advantage", -0.8, 0, old, nil},
		{"with_kl", 0.9, 0.04, old, ref},
		{"kl_only", 0, 0.5, old, ref},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gradCheck(t, tc.name, []*Tensor[float64]{logits}, func(tp *Tape[float64]) *Tensor[float64] {
				return scalar(tp.GRPOLoss(tp.TokenLogProbs(logits, targets), targets, tc.old, tc.ref, tc.adv, 0.2, tc.beta, 1).Loss)
			})
		})
	}
}

// TestGRPOLossDetached checks that with old nil (one update per batch) the
// gradient is that of old = the current log-probabilities held constant:
// the policy gradient −A·∇x (plus the KL term's).
func TestGRPOLossDetached(t *testing.T) {
	rng := NewRNG(12, 0)
	logits := randTensor(rng, 5, 6, 1)
	targets := []int{-1, 2, 5, 0, 1}
	ref := []float64{0, -1, -2, -3, -1.5}
	grads := func(old []float64) []float64 {
		clear(logits.Grad)
		tp := &Tape[float64]{}
		lp := tp.TokenLogProbs(logits, targets)
		o := old
		if o == nil {
			o = nil
		}
		tp.GRPOLoss(lp, targets, o, ref, -0.7, 0.2, 0.3, 1)
		tp.Backward()
		return append([]float64(nil), logits.Grad...)
	}
	tp := &Tape[float64]{}
	lp := tp.TokenLogProbs(logits, targets)
	cur := append([]float64(nil), lp.Data...)
	a, b := grads(nil), grads(cur)
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			t.Fatalf("gradient %d: detached %g, explicit old %g", i, a[i], b[i])
		}
	}
}

// TestGRPOLossValues pins the loss and its statistics to their definition.
func TestGRPOLossValues(t *testing.T) {
	tp := &Tape[float64]{}
	lp := newTensor[float64](4, 1)
	copy(lp.Data, []float64{0, -1, -2, -0.5})
	targets := []int{-1, 3, 3, 3}
	old := []float64{0, -1 - math.Log(1.5), -2 - math.Log(0.5), -0.5} // ratios 1.5, 0.5, 1
	ref := []float64{0, -1, -1, -0.5}
	st := tp.GRPOLoss(lp, targets, old, ref, 2, 0.2, 0.1, 1)
	// tokens: −min(3, 2.4) = −2.4 (clipped); −min(1, 1.6) = −1; −2; KL of
	// the second token e^{1} − 1 − 1.
	kl := (math.E - 2) / 3
	want := (-2.4-1-2)/3 + 0.1*kl
	if math.Abs(st.Loss-want) > 1e-12 || math.Abs(st.KL-kl) > 1e-12 || st.Clipped != 1 || st.Tokens != 3 {
		t.Fatalf("stats %+v, want loss %.12g kl %.12g, 1 clipped of 3", st, want, kl)
	}
}

// digitReward scores the share of digits in the completion: a reward a
// random tiny model earns now and then (10 of its 257 tokens), so its groups
// differ, and that its greedy completions do not earn.
func digitReward(_ context.Context, in RewardInput) (float64, error) {
	if in.Completion == "" {
		return 0, nil
	}
	n := 0
	for _, c := range []byte(in.Completion) {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	return float64(n) / float64(len(in.Completion)), nil
}

func grpoRecords(n int) []GRPORecord {
	var out []GRPORecord
	for i, p := range alphabetPairs(n, 5) {
		out = append(out, GRPORecord{Line: i + 1, Prompt: p.Prompt})
	}
	return out
}

func grpoConfig() FineTuneConfig {
	c := tinyFTConfig("grpo")
	c.Steps, c.Batch, c.Group = 40, 4, 6
	c.Temperature, c.MaxCompletion, c.Clip, c.KLBeta, c.Iterations = 1, 4, 0.2, 0.02, 2
	c.EvalEvery = 20
	return c
}

func TestGRPOEndToEnd(t *testing.T) {
	recs := grpoRecords(60)
	rewards := []RewardFunc{{Name: "digits", Weight: 1, Score: digitReward}}
	var final [][]float32
	var firstCurve []FTPoint
	for _, threads := range []int{1, 3} {
		m := tinyAlignModel(t, 2)
		ft, rep, err := NewGRPO(t.Context(), grpoConfig(), m, nil, recs, byteEncoder{}, decodeBytes, rewards)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Train == 0 || rep.Val == 0 || ft.TotalSteps() != 80 {
			t.Fatalf("report %+v, %d steps", rep, ft.TotalSteps())
		}
		ft.Threads = threads
		before, after := runFT(t, ft)
		first, last := ft.Curve[0].Train, ft.Curve[len(ft.Curve)-1].Train
		meanOf := func(ps []FTPoint) float64 {
			var s float64
			for _, p := range ps {
				s += Get(p.Train, "reward")
			}
			return s / float64(len(ps))
		}
		early, late := meanOf(ft.Curve[:5]), meanOf(ft.Curve[len(ft.Curve)-5:])
		if !(late > early+0.15) || !(Get(after, "reward") > Get(before, "reward")+0.3) {
			t.Fatalf("threads %d: training reward %.3f → %.3f, held-out greedy %.3f → %.3f: not learned",
				threads, early, late, Get(before, "reward"), Get(after, "reward"))
		}
		for _, name := range []string{"loss", "reward", "reward_std", "rewards/digits/mean", "rewards/digits/std", "kl", "clip_ratio", "completions/mean_length", "completions/clipped_ratio", "frac_reward_zero_std"} {
			if math.IsNaN(Get(first, name)) || math.IsNaN(Get(last, name)) {
				t.Errorf("metric %s missing: %s", name, FormatMetrics(last))
			}
		}
		if !(Get(last, "kl") > 0) || !(Get(last, "clip_ratio") >= 0) {
			t.Errorf("last step kl %v clip_ratio %v", Get(last, "kl"), Get(last, "clip_ratio"))
		}
		w := weightsOf(m)
		if final != nil && !sameWeights(final, w) {
			t.Fatal("weights differ between 1 and 3 threads")
		}
		final = w
		if firstCurve == nil {
			firstCurve = ft.Curve
		}
	}

	// Resume: stop at step 30 (a checkpoint), continue in a new run.
	m := tinyAlignModel(t, 2)
	ft, _, err := NewGRPO(t.Context(), grpoConfig(), m, nil, recs, byteEncoder{}, decodeBytes, rewards)
	if err != nil {
		t.Fatal(err)
	}
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
	ft2, _, err := NewGRPO(t.Context(), grpoConfig(), m2, nil, recs, byteEncoder{}, decodeBytes, rewards)
	if err != nil {
		t.Fatal(err)
	}
	if err := ft2.ReadCheckpoint(&ck); err != nil {
		t.Fatal(err)
	}
	if err := ft2.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if !sameWeights(final, weightsOf(m2)) {
		t.Fatal("a run resumed at step 30 ends with other weights")
	}
	p := ft2.Curve[len(ft2.Curve)-1]
	if q := firstCurve[len(firstCurve)-1]; FormatMetrics(p.Train) != FormatMetrics(q.Train) {
		t.Fatalf("resumed last step %s, uninterrupted %s", FormatMetrics(p.Train), FormatMetrics(q.Train))
	}
}

func TestGRPOStopLines(t *testing.T) {
	c := grpoConfig()
	c.StopLines = 1
	task := &grpoTask{c: c, decode: decodeBytes}
	enc := byteEncoder{}
	open := &grpoPrompt{open: true}
	closed := &grpoPrompt{}
	for _, tc := range []struct {
		p    *grpoPrompt
		text string
		want bool
	}{
		{open, "\n\tx", false},
		{open, "\n\tx := 1\n", true},
		{closed, "\tx := 1", false},
		{closed, "\tx := 1\n", true},
	} {
		if got := task.linesDone(tc.p, enc.Encode(tc.text, false)); got != tc.want {
			t.Errorf("open %v, %q: done %v, want %v", tc.p.open, tc.text, got, tc.want)
		}
	}
}

func TestReadGRPO(t *testing.T) {
	recs, err := ReadGRPO(strings.NewReader(`{"prompt":"func f() {","tests":"func TestF(t *testing.T) {}","file":"import \"testing\"","suffix":"}\n"}` + "\n\n" +
		`{"messages":[{"role":"user","content":"write f"}],"extra":1}` + "\n" + `{"prompt":[{"role":"user","content":"hi"}],"tests":null}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Prompt.Text != "func f() {" || recs[0].Tests == "" || recs[0].File == "" || recs[0].Suffix != "}\n" || recs[1].Line != 3 || !recs[1].Prompt.IsChat() || !recs[2].Prompt.IsChat() {
		t.Fatalf("records %+v", recs)
	}
	for _, tc := range []struct{ data, want string }{
		{`{"completion":"x"}`, `line 1: field "prompt": missing`},
		{`{"prompt":"a"}` + "\n" + `{"prompt":3}`, `line 2: field "prompt": expected a string or a list of messages, got a number`},
		{`{"prompt":"a","tests":[1]}`, `line 1: field "tests": expected a string, got a list`},
		{`{"prompt":"a","file":true}`, `line 1: field "file": expected a string, got a boolean`},
		{`{"messages":[{"role":"user"}]}`, `line 1: field "messages[0].content": missing`},
		{`[1]`, `line 1: not a JSON object`},
		{``, `no records`},
	} {
		if _, err := ReadGRPO(strings.NewReader(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.data, err, tc.want)
		}
	}
}

func TestNewGRPOErrors(t *testing.T) {
	m := tinyAlignModel(t, 1)
	rw := []RewardFunc{{Name: "digits", Weight: 1, Score: digitReward}}
	long := []GRPORecord{{Line: 7, Prompt: Turns{Text: strings.Repeat("a", 20)}}}
	if _, _, err := NewGRPO(t.Context(), grpoConfig(), m, nil, long, byteEncoder{}, decodeBytes, rw); err == nil || !strings.Contains(err.Error(), `line 7: field "prompt": 21 tokens leave no room`) {
		t.Errorf("long prompt: %v", err)
	}
	chat := []GRPORecord{{Line: 2, Prompt: Turns{Messages: []Message{{Role: "user", Content: "x"}}}}}
	if _, _, err := NewGRPO(t.Context(), grpoConfig(), m, nil, chat, byteEncoder{}, decodeBytes, rw); err == nil || !strings.Contains(err.Error(), `line 2: field "prompt": the model has no chat template`) {
		t.Errorf("chat without template: %v", err)
	}
	c := grpoConfig()
	c.Group = 1
	if _, _, err := NewGRPO(t.Context(), c, m, nil, grpoRecords(10), byteEncoder{}, decodeBytes, rw); err == nil || !strings.Contains(err.Error(), "group of at least 2") {
		t.Errorf("group 1: %v", err)
	}
	if _, _, err := NewGRPO(t.Context(), grpoConfig(), m, nil, grpoRecords(10), byteEncoder{}, decodeBytes, nil); err == nil || !strings.Contains(err.Error(), "at least one reward") {
		t.Errorf("no reward: %v", err)
	}
}

// TestEngineModelMatchesTraining checks that the engine the samples come
// from computes the training model's logits.
func TestEngineModelMatchesTraining(t *testing.T) {
	m := tinyAlignModel(t, 3)
	em, err := EngineModel(m)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{0, 5, 9, 77, 200, 3}
	want := m.Logits(ids)
	st, err := em.NewState(model.StateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.Vocab
	got := make([]float32, len(ids)*V)
	if err := em.Forward(st, ids, 0, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
			t.Fatalf("logit %d: engine %g, training %g", i, got[i], want[i])
		}
	}
}

func FuzzReadGRPO(f *testing.F) {
	for _, s := range []string{
		`{"prompt": "func f() {"}`,
		`{"prompt": "p", "tests": "func TestX(t *testing.T) {}", "file": "import \"testing\""}`,
		`{"messages": [{"role": "user", "content": "hi"}]}`,
		`{"prompt": [{"role": "user", "content": "q"}], "tests": null}`,
		"{\"prompt\": \"a\"}\n\n{\"prompt\": ",
		`{"messages": [null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ReadGRPO(bytes.NewReader(data))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") && !strings.Contains(err.Error(), "no records") {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		for _, r := range recs {
			if r.Line < 1 || (r.Prompt.IsChat() && len(r.Prompt.Messages) == 0) {
				t.Fatalf("bad record %+v", r)
			}
		}
	})
}
