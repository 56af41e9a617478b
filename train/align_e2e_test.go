package train

import (
	"bytes"
	"math"
	"testing"
)

// The end-to-end tests fine-tune a tiny model on a learnable synthetic task:
// a prompt of 4 consecutive letters, the correct completion the next 4
// letters, the rejected one the same letters shuffled. Held-out pairs have
// prompts never trained on as such (the split is by token hash).

const letters = "abcdefghijklmnopqrstuvwxyz"

func alphabetPairs(n int, seed uint64) []PrefRecord {
	rng := NewRNG(seed, 0)
	out := make([]PrefRecord, n)
	for i := range out {
		s := rng.Intn(len(letters) - 8 + 1)
		good := []byte(letters[s+4 : s+8])
		bad := append([]byte(nil), good...)
		for string(bad) == string(good) {
			for j := len(bad) - 1; j > 0; j-- {
				k := rng.Intn(j + 1)
				bad[j], bad[k] = bad[k], bad[j]
			}
		}
		out[i] = PrefRecord{Line: i + 1, Prompt: Turns{Text: letters[s : s+4]}, Chosen: Turns{Text: string(good)},
			Rejected: Turns{Text: string(bad)}, RefChosen: math.NaN(), RefRejected: math.NaN()}
	}
	return out
}

func alphabetSFT(n int, seed uint64) []SFTRecord {
	var out []SFTRecord
	for _, p := range alphabetPairs(n, seed) {
		out = append(out, SFTRecord{Line: p.Line, Prompt: &Turns{Text: p.Prompt.Text}, Completion: &Turns{Text: p.Chosen.Text}})
	}
	return out
}

func tinyAlignModel(t *testing.T, seed uint64) *Model[float32] {
	t.Helper()
	c := ModelConfig{Vocab: 257, Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, Hidden: 64, Context: 16, RopeTheta: 10000, NormEps: 1e-5}
	m, err := NewModel[float32](c, NewRNG(seed, 0))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func tinyFTConfig(method string) FineTuneConfig {
	return FineTuneConfig{Method: method, Optim: Optim{LR: 3e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 1},
		Steps: 60, Batch: 8, Seed: 1, ValPermille: 250, MaxLength: 16, CompletionOnly: true, Beta: 0.1, Loss: "sigmoid"}
}

func weightsOf(m *Model[float32]) [][]float32 {
	var out [][]float32
	for _, p := range m.Params {
		out = append(out, append([]float32(nil), p.T.Data...))
	}
	return out
}

func sameWeights(a, b [][]float32) bool {
	for i := range a {
		if !slicesEqualBits(a[i], b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// runFT evaluates, trains to the end and evaluates again.
func runFT(t *testing.T, ft *FineTuner) (before, after []Metric) {
	t.Helper()
	before, err := ft.Evaluate()
	if err != nil {
		t.Fatal(err)
	}
	if err := ft.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	after = ft.Curve[len(ft.Curve)-1].Val
	t.Logf("held-out before: %s", FormatMetrics(before))
	t.Logf("held-out after:  %s", FormatMetrics(after))
	t.Logf("first step: %s; last step: %s", FormatMetrics(ft.Curve[0].Train), FormatMetrics(ft.Curve[len(ft.Curve)-1].Train))
	return before, after
}

func sftConfig() FineTuneConfig {
	c := tinyFTConfig("sft")
	c.Steps = 200
	return c
}

func TestSFTEndToEnd(t *testing.T) {
	recs := alphabetSFT(200, 3)
	var final [][]float32
	for _, threads := range []int{1, 3} {
		m := tinyAlignModel(t, 1)
		ft, rep, err := NewSFT(sftConfig(), m, recs, byteEncoder{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Val == 0 || rep.Train == 0 || rep.TrainedTokens != rep.Train*5 {
			t.Fatalf("data report %+v", rep)
		}
		ft.Threads = threads
		before, after := runFT(t, ft)
		if !(Get(after, "loss") < 0.5*Get(before, "loss")) || !(Get(after, "mean_token_accuracy") > 0.6) {
			t.Fatalf("threads %d: held-out loss %.3f → %.3f, accuracy %.3f: not learned", threads, Get(before, "loss"), Get(after, "loss"), Get(after, "mean_token_accuracy"))
		}
		w := weightsOf(m)
		if final != nil && !sameWeights(final, w) {
			t.Fatal("weights differ between 1 and 3 threads")
		}
		final = w
	}
	// Interrupted at step 77 and resumed from the checkpoint: the same weights.
	m := tinyAlignModel(t, 1)
	ft, _, err := NewSFT(sftConfig(), m, recs, byteEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	for ft.Step() < 77 {
		p, err := ft.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		ft.Curve = append(ft.Curve, p)
	}
	var ck bytes.Buffer
	if err := ft.WriteCheckpoint(&ck); err != nil {
		t.Fatal(err)
	}
	m2 := tinyAlignModel(t, 1)
	ft2, _, err := NewSFT(sftConfig(), m2, recs, byteEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ft2.ReadCheckpoint(bytes.NewReader(ck.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := ft2.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if !sameWeights(final, weightsOf(m2)) {
		t.Fatal("resumed run differs from the uninterrupted one")
	}
	// A different config refuses the checkpoint.
	c := sftConfig()
	c.Seed = 2
	ft3, _, err := NewSFT(c, tinyAlignModel(t, 1), recs, byteEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ft3.ReadCheckpoint(bytes.NewReader(ck.Bytes())); err == nil {
		t.Fatal("checkpoint of another config accepted")
	}
}

func TestSFTPacking(t *testing.T) {
	c := sftConfig()
	c.Packing = true
	c.MaxLength = 16
	// 6-token examples (BOS, 2 letters, 2 letters, EOS): two fit in a row.
	var recs []SFTRecord
	for _, p := range alphabetPairs(200, 3) {
		recs = append(recs, SFTRecord{Line: p.Line, Prompt: &Turns{Text: p.Prompt.Text[2:]}, Completion: &Turns{Text: p.Chosen.Text[:2]}})
	}
	m := tinyAlignModel(t, 1)
	ft, rep, err := NewSFT(c, m, recs, byteEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	examples := rep.TrainedTokens / 3
	if rep.Train != (examples+1)/2 {
		t.Fatalf("%d examples packed into %d rows, want %d", examples, rep.Train, (examples+1)/2)
	}
	for _, row := range ft.task.(*sftTask).train {
		if len(row.IDs) > c.MaxLength {
			t.Fatalf("row of %d tokens", len(row.IDs))
		}
	}
	// The 23 distinct 4-letter examples are memorised: the training loss falls.
	runFT(t, ft)
	first, last := ft.Curve[0].Train, ft.Curve[len(ft.Curve)-1].Train
	if !(Get(last, "loss") < 0.1*Get(first, "loss")) || !(Get(last, "mean_token_accuracy") > 0.9) {
		t.Fatalf("packed SFT did not learn: %s → %s", FormatMetrics(first), FormatMetrics(last))
	}
}

func TestRewardEndToEnd(t *testing.T) {
	m := tinyAlignModel(t, 1)
	c := tinyFTConfig("reward")
	c.Steps = 200
	ft, rep, err := NewReward(c, m, alphabetPairs(300, 5), byteEncoder{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Val < 20 {
		t.Fatalf("only %d held-out pairs", rep.Val)
	}
	before, after := runFT(t, ft)
	if !(Get(after, "accuracy") > 0.75) || !(Get(after, "loss") < Get(before, "loss")) || !(Get(after, "margin") > 0) {
		t.Fatalf("reward model did not learn the preference: %s → %s", FormatMetrics(before), FormatMetrics(after))
	}
}

func TestDPOEndToEnd(t *testing.T) {
	pairs := alphabetPairs(300, 5)
	for _, loss := range []string{"sigmoid", "ipo"} {
		t.Run(loss, func(t *testing.T) {
			m := tinyAlignModel(t, 1)
			c := tinyFTConfig("dpo")
			c.Loss = loss
			ft, _, err := NewDPO(c, m, nil, pairs, byteEncoder{}, 0)
			if err != nil {
				t.Fatal(err)
			}
			before, after := runFT(t, ft)
			if Get(before, "rewards/accuracies") != 0 || Get(before, "rewards/margins") != 0 {
				t.Fatalf("before training the policy is the reference: %s", FormatMetrics(before))
			}
			if !(Get(after, "rewards/accuracies") > 0.75) || !(Get(after, "loss") < Get(before, "loss")) || !(Get(after, "rewards/margins") > 0) {
				t.Fatalf("DPO did not learn the preference: %s", FormatMetrics(after))
			}
			if !(Get(after, "logps/chosen") > Get(after, "logps/rejected")) {
				t.Fatalf("chosen completions not more likely than rejected ones: %s", FormatMetrics(after))
			}
		})
	}
}

// TestDPOPrecomputedReference: reference log-probabilities given in the
// data train exactly like the ones computed from the reference model, and a
// separate reference model equal to the policy too.
func TestDPOPrecomputedReference(t *testing.T) {
	pairs := alphabetPairs(100, 9)
	c := tinyFTConfig("dpo")
	c.Steps = 10
	run := func(recs []PrefRecord, ref *Model[float32]) [][]float32 {
		m := tinyAlignModel(t, 1)
		ft, _, err := NewDPO(c, m, ref, recs, byteEncoder{}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := ft.Run(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		return weightsOf(m)
	}
	want := run(pairs, nil)
	ref := tinyAlignModel(t, 1)
	if !sameWeights(want, run(pairs, ref)) {
		t.Fatal("--ref equal to the policy trains differently")
	}
	task := &pairTask{dpo: true}
	with := append([]PrefRecord(nil), pairs...)
	for i := range with {
		ps, err := EncodePair(byteEncoder{}, with[i])
		if err != nil {
			t.Fatal(err)
		}
		with[i].RefChosen = float64(task.logp(ref, &Tape[float32]{}, ps.Chosen).Data[0])
		with[i].RefRejected = float64(task.logp(ref, &Tape[float32]{}, ps.Rejected).Data[0])
	}
	if !sameWeights(want, run(with, tinyAlignModel(t, 7))) {
		t.Fatal("precomputed reference log-probabilities train differently")
	}
}
