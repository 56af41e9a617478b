package infer_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/synth"
	"glassbox/tensor"
	"glassbox/trace"
)

// TestExpertTrace dissects a generation of a small random mixture of experts
// (qwen3moe) and checks its version 2 records: the meta's expert counts;
// per step, one router record per traced layer, whose experts are distinct,
// in decreasing router probability, and whose weights are those
// probabilities divided by their sum (qwen3moe normalizes them).
func TestExpertTrace(t *testing.T) {
	s, err := synth.ParseShape("tinymoe")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tinymoe.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(f, s, tensor.Q8_0, 7); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := glassbox.Open(path, &glassbox.Options{Context: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	steps := 0
	_, err = m.Generate(context.Background(), "hello", glassbox.GenerateOptions{
		MaxTokens: 6, IgnoreEOS: true,
		Trace: &infer.Tracing{Options: trace.Options{Top: 3, Layers: []int{1}}, Emit: func(ev trace.Event) error {
			switch ev.Type {
			case trace.TypeMeta:
				if ev.Meta.Version != 2 || ev.Meta.Experts != s.Experts || ev.Meta.ExpertsUsed != s.ExpertsUsed || ev.Meta.HiddenDim != s.Hidden {
					t.Errorf("meta: version %d, %d experts, %d used, hidden %d", ev.Meta.Version, ev.Meta.Experts, ev.Meta.ExpertsUsed, ev.Meta.HiddenDim)
				}
			case trace.TypeStep:
				steps++
				if len(ev.Step.Experts) != 1 || ev.Step.Experts[0].Layer != 1 {
					t.Fatalf("step %d: router records %+v, want one for layer 1", ev.Step.Index, ev.Step.Experts)
				}
				e := ev.Step.Experts[0]
				if len(e.IDs) != s.ExpertsUsed || len(e.Weights) != s.ExpertsUsed || len(e.Probs) != s.ExpertsUsed {
					t.Fatalf("step %d: %+v", ev.Step.Index, e)
				}
				var sum float64
				for j, id := range e.IDs {
					if id < 0 || id >= s.Experts || slices.Contains(e.IDs[:j], id) {
						t.Errorf("step %d: experts %v", ev.Step.Index, e.IDs)
					}
					if j > 0 && e.Probs[j] > e.Probs[j-1] {
						t.Errorf("step %d: probabilities %v not in decreasing order", ev.Step.Index, e.Probs)
					}
					sum += float64(e.Probs[j])
				}
				for j := range e.IDs {
					if d := math.Abs(float64(e.Weights[j]) - float64(e.Probs[j])/sum); d > 1e-6 {
						t.Errorf("step %d: weight %g, probability %g over their sum %g", ev.Step.Index, e.Weights[j], e.Probs[j], sum)
					}
				}
				if !(e.Entropy > 0) || float64(e.Entropy) > math.Log(float64(s.Experts))+1e-5 {
					t.Errorf("step %d: router entropy %g outside (0, ln %d]", ev.Step.Index, e.Entropy, s.Experts)
				}
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if steps != 6 {
		t.Errorf("%d steps traced, want 6", steps)
	}
}
