package model

import (
	"math"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// windowTracer records the attention weights of every position.
type windowTracer struct {
	weights map[[3]int][]float32 // layer, head, position
}

func (w *windowTracer) Position(int) bool { return true }
func (w *windowTracer) Attention(layer, head, pos int, weights, _ []float32) {
	w.weights[[3]int{layer, head, pos}] = append([]float32(nil), weights...)
}
func (w *windowTracer) Residual(int, int, []float32) {}

// TestSlidingWindowTrace checks, on the generated gemma2 model, that the
// traced attention weights of its sliding-window layer are exactly 0 before
// the window and sum to 1 within it, that the global layer's are not masked,
// and that tracing leaves the logits unchanged.
func TestSlidingWindowTrace(t *testing.T) {
	var c archCase
	for _, ac := range archCases {
		if ac.name == "gemma2" {
			c = ac
		}
	}
	path, _ := writeArchModel(t, c, t.TempDir())
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.AttnWindow(0) != c.window || m.Config.AttnWindow(1) != 0 {
		t.Fatalf("windows %d, %d; want %d, 0", m.Config.AttnWindow(0), m.Config.AttnWindow(1), c.window)
	}
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		plain := runArch(t, m, kv, archPrompt, len(archPrompt))
		st, err := m.NewState(StateOptions{Context: 64, KVType: kv})
		if err != nil {
			t.Fatal(err)
		}
		tr := &windowTracer{weights: map[[3]int][]float32{}}
		st.Tracer = tr
		logits := make([]float32, len(archPrompt)*m.Config.VocabSize)
		if err := m.Forward(st, archPrompt, 0, logits); err != nil {
			t.Fatal(err)
		}
		for p := range archPrompt {
			row := logits[p*m.Config.VocabSize : (p+1)*m.Config.VocabSize]
			for j, v := range row {
				if v != plain[p][j] {
					t.Fatalf("KV %s: traced logit %d at position %d is %g, untraced %g", kv, j, p, v, plain[p][j])
				}
			}
			for h := range m.Config.Heads {
				for l := range m.Config.Layers {
					w := tr.weights[[3]int{l, h, p}]
					if len(w) != p+1 {
						t.Fatalf("KV %s layer %d head %d position %d: %d weights", kv, l, h, p, len(w))
					}
					var sum float64
					inWindow := 0
					for s, v := range w {
						if win := m.Config.AttnWindow(l); win > 0 && p-s >= win {
							if v != 0 {
								t.Errorf("KV %s layer %d head %d: position %d attends to %d, outside the window of %d, with weight %g", kv, l, h, p, s, win, v)
							}
							continue
						}
						if v > 0 {
							inWindow++
						}
						sum += float64(v)
					}
					if math.Abs(sum-1) > 1e-3 {
						t.Errorf("KV %s layer %d head %d position %d: weights sum to %g", kv, l, h, p, sum)
					}
					if m.Config.AttnWindow(l) == 0 && inWindow != p+1 {
						t.Errorf("KV %s global layer position %d: %d positive weights, want %d", kv, p, inWindow, p+1)
					}
				}
			}
		}
	}
}
