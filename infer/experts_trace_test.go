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
// (qwen3moe, and gpt-oss) and checks its version 2 records: the meta's
// expert counts; per step, one router record per traced layer, whose
// experts are distinct, in decreasing router probability, and whose weights
// are those probabilities divided by their sum (qwen3moe normalizes them;
// gpt-oss's softmax over the picked experts' scores is the same up to
// rounding).
func TestExpertTrace(t *testing.T) {
	for _, shape := range []string{"tinymoe", "tinygptoss"} {
		t.Run(shape, func(t *testing.T) { checkExpertTrace(t, shape) })
	}
}

// openSynth writes the synthetic model of the named shape (Q8_0, seed 7)
// and opens it with a context of ctx (and an F32 KV cache when f32).
func openSynth(t *testing.T, shape string, ctx int, f32 bool) (*glassbox.Model, synth.Shape) {
	t.Helper()
	s, err := synth.ParseShape(shape)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), shape+".gguf")
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
	m, err := glassbox.Open(path, &glassbox.Options{Context: ctx, KVCacheF32: f32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, s
}

func checkExpertTrace(t *testing.T, shape string) {
	m, s := openSynth(t, shape, 64, false)
	steps := 0
	_, err := m.Generate(context.Background(), "hello", glassbox.GenerateOptions{
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

// TestGptOSSAttentionTrace dissects a gpt-oss generation that runs past
// the sliding window (128 positions in layer 0; layer 1 is global) and
// checks the attention records: layer 0's carry the window and give the
// positions before it exactly 0, layer 1's carry none; every head's sink
// share is positive, and the weights sum to 1 minus it (F32 cache, 1e-5).
func TestGptOSSAttentionTrace(t *testing.T) {
	m, _ := openSynth(t, "tinygptoss", 256, true)
	const window = 128
	past := 0
	_, err := m.Generate(context.Background(), "hello", glassbox.GenerateOptions{
		MaxTokens: 140, IgnoreEOS: true,
		Trace: &infer.Tracing{Options: trace.Options{Top: 1, Attention: true}, Emit: func(ev trace.Event) error {
			if ev.Type != trace.TypeStep {
				return nil
			}
			for _, h := range ev.Step.Attention {
				p := len(h.Weights) - 1
				wantWindow := 0
				if h.Layer == 0 {
					wantWindow = window
				}
				if h.Window != wantWindow {
					t.Fatalf("step %d L%d H%d: window %d, want %d", ev.Step.Index, h.Layer, h.Head, h.Window, wantWindow)
				}
				var sum float64
				for q, w := range h.Weights {
					sum += float64(w)
					if h.Layer == 0 && q <= p-window && w != 0 {
						t.Fatalf("step %d L0 H%d: position %d, outside the window of position %d, weighs %g", ev.Step.Index, h.Head, q, p, w)
					}
				}
				if h.Layer == 0 && p >= window {
					past++
				}
				if !(h.Sink > 0) || math.Abs(sum+float64(h.Sink)-1) > 1e-5 {
					t.Fatalf("step %d L%d H%d: sink %g, weights sum to %g", ev.Step.Index, h.Layer, h.Head, h.Sink, sum)
				}
			}
			return nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if past == 0 {
		t.Fatal("no traced step ran past the window")
	}
}
