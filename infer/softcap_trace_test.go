package infer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/synth"
	"glassbox/trace"
)

// TestSoftcapTrace dissects a greedy generation of a gemma2 model and checks
// the soft-capping records: the meta carries both caps; every prediction
// candidate, and the chosen token, carries its logit before capping, and
// cap·tanh(logit_uncapped/cap) is the recorded logit (in float64 within
// 1e-6, and exactly in the engine's float32 steps); the recorded logits are
// the model's real ones (the Scorer's, within 1e-5), the chosen token is the
// first candidate, and the capping moved some logit. Every attention record
// carries the head's scores before and after capping (cap·tanh in the
// engine's float32 steps), whose softmax is its weights (float64, 1e-6,
// F32 cache). A model that does not
// cap (tiny, Llama) has none of these fields in its JSON.
func TestSoftcapTrace(t *testing.T) {
	var file bytes.Buffer
	if err := synth.WriteGemma2(&file); err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.OpenBytes("gemma2.gguf", file.Bytes(), &glassbox.Options{Context: 64, KVCacheF32: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const capv = float32(3)
	var meta *trace.Meta
	var steps []*trace.Step
	res, err := m.Generate(context.Background(), "hello the cat", glassbox.GenerateOptions{
		MaxTokens: 5, IgnoreEOS: true,
		Trace: &infer.Tracing{Options: trace.Options{Top: 4, Attention: true}, Emit: func(ev trace.Event) error {
			switch ev.Type {
			case trace.TypeMeta:
				meta = ev.Meta
			case trace.TypeStep:
				steps = append(steps, ev.Step)
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if meta == nil || meta.AttnSoftcap != 4 || meta.FinalSoftcap != capv {
		t.Fatalf("meta %+v: want attn_softcap 4, final_softcap 3", meta)
	}
	if len(steps) != 5 {
		t.Fatalf("%d steps, want 5", len(steps))
	}
	sc, err := m.NewScorer(64)
	if err != nil {
		t.Fatal(err)
	}
	ids := append(append([]int(nil), res.PromptIDs...), res.IDs...)
	real, err := sc.Logits(context.Background(), ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	vocab := sc.VocabSize()
	moved := 0
	for _, s := range steps {
		cands := append(append([]trace.Candidate(nil), s.Prediction.Top...), *nonNil(t, s.Prediction.Chosen))
		if ch := cands[len(cands)-1]; ch.ID != s.Token.ID || ch.ID != s.Prediction.Top[0].ID || ch.Logit != s.Prediction.Top[0].Logit {
			t.Fatalf("step %d: chosen %+v, token %d, first candidate %+v", s.Index, ch, s.Token.ID, s.Prediction.Top[0])
		}
		row := real[s.Position*vocab : (s.Position+1)*vocab]
		for _, c := range cands {
			u := *nonNil(t, c.LogitUncapped)
			if d := math.Abs(float64(capv)*math.Tanh(float64(u)/float64(capv)) - float64(c.Logit)); d > 1e-6 {
				t.Errorf("step %d token %d: cap·tanh(%g/cap) is %g from the logit %g", s.Index, c.ID, u, d, c.Logit)
			}
			if f := float32(math.Tanh(float64(u*(1/capv)))) * capv; f != c.Logit {
				t.Errorf("step %d token %d: %g capped in float32 is %g, logit %g", s.Index, c.ID, u, f, c.Logit)
			}
			if d := math.Abs(float64(row[c.ID] - c.Logit)); d > 1e-5 {
				t.Errorf("step %d token %d: logit %g, the scorer's %g", s.Index, c.ID, c.Logit, row[c.ID])
			}
			if math.Abs(float64(u-c.Logit)) > 0.1 {
				moved++
			}
		}
	}
	if moved == 0 {
		t.Error("capping never moved a recorded logit by 0.1")
	}
	// attention: every head's scores, capped (cap 4) into the softmax that
	// gave its weights
	for _, s := range steps {
		if len(s.Attention) != 2*4 {
			t.Fatalf("step %d: %d heads recorded, want 8", s.Index, len(s.Attention))
		}
		for _, h := range s.Attention {
			p := s.Position
			if len(h.Scores) != p+1 || len(h.ScoresUncapped) != p+1 || len(h.Weights) != p+1 {
				t.Fatalf("step %d L%d H%d: %d scores, %d uncapped, %d weights, want %d", s.Index, h.Layer, h.Head, len(h.Scores), len(h.ScoresUncapped), len(h.Weights), p+1)
			}
			lo := 0
			if h.Window > 0 {
				lo = max(0, p-h.Window+1)
			}
			mx := math.Inf(-1)
			for q := lo; q <= p; q++ {
				if f := float32(math.Tanh(float64(h.ScoresUncapped[q]*(1.0/4)))) * 4; f != h.Scores[q] {
					t.Fatalf("step %d L%d H%d position %d: %g capped is %g, recorded %g", s.Index, h.Layer, h.Head, q, h.ScoresUncapped[q], f, h.Scores[q])
				}
				mx = max(mx, float64(h.Scores[q]))
			}
			var sum float64
			for q := lo; q <= p; q++ {
				sum += math.Exp(float64(h.Scores[q]) - mx)
			}
			for q := lo; q <= p; q++ {
				if d := math.Abs(math.Exp(float64(h.Scores[q])-mx)/sum - float64(h.Weights[q])); d > 1e-6 {
					t.Fatalf("step %d L%d H%d position %d: softmax of the scores %g, weight %g", s.Index, h.Layer, h.Head, q, math.Exp(float64(h.Scores[q])-mx)/sum, h.Weights[q])
				}
			}
		}
	}

	// a model that does not cap: no soft-capping fields
	plain, _ := openSynth(t, "tiny", 64, false)
	var out strings.Builder
	_, err = plain.Generate(context.Background(), "hello", glassbox.GenerateOptions{
		MaxTokens: 3, IgnoreEOS: true,
		Trace: &infer.Tracing{Options: trace.Options{Top: 3, Attention: true}, Emit: func(ev trace.Event) error {
			return json.NewEncoder(&out).Encode(ev)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"softcap", "uncapped", `"chosen"`, `"scores"`} {
		if strings.Contains(out.String(), field) {
			t.Errorf("the trace of a model without capping has %s:\n%s", field, out.String())
		}
	}
}

// nonNil returns p, failing the test when it is nil.
func nonNil[T any](t *testing.T, p *T) *T {
	t.Helper()
	if p == nil {
		t.Fatalf("missing %T", p)
	}
	return p
}
