package model

import (
	"math"
	"testing"

	"glassbox/gguf"
	"glassbox/tensor"
)

// capTracer records, at every position, the last layer's residual stream
// and the logits LogitTracer receives before final soft-capping.
type capTracer struct {
	last     int
	resid    map[int][]float32
	uncapped map[int][]float32
	// attention weights and scores before and after capping, by layer,
	// head and position
	weights, raw, capped map[[3]int][]float32
}

func (c *capTracer) Position(int) bool { return true }
func (c *capTracer) Attention(layer, head, pos int, weights, _ []float32) {
	c.weights[[3]int{layer, head, pos}] = append([]float32(nil), weights...)
}
func (c *capTracer) AttentionScores(layer, head, pos int, raw, capped []float32) {
	k := [3]int{layer, head, pos}
	c.raw[k], c.capped[k] = append([]float32(nil), raw...), append([]float32(nil), capped...)
}
func (c *capTracer) Residual(layer, pos int, x []float32) {
	if layer == c.last {
		c.resid[pos] = append([]float32(nil), x...)
	}
}
func (c *capTracer) UncappedLogits(pos int, logits []float32) {
	c.uncapped[pos] = append([]float32(nil), logits...)
}

func newCapTracer(m *Model) *capTracer {
	return &capTracer{last: m.Config.Layers - 1, resid: map[int][]float32{}, uncapped: map[int][]float32{},
		weights: map[[3]int][]float32{}, raw: map[[3]int][]float32{}, capped: map[[3]int][]float32{}}
}

// loadArchCase generates and loads the archCases model named name.
func loadArchCase(t *testing.T, name string) *Model {
	t.Helper()
	var c archCase
	for _, ac := range archCases {
		if ac.name == name {
			c = ac
		}
	}
	if c.name == "" {
		t.Fatalf("no arch case %q", name)
	}
	path, _ := writeArchModel(t, c, t.TempDir())
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	m, err := LoadGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFinalSoftcapTrace checks, on the generated gemma2 model (final
// soft-capping at 3), that the logits a LogitTracer receives before capping
// are the output projection of the last layer's residual stream, recomputed
// independently in float64 (final RMS norm and all), that capping them
// (cap·tanh(x/cap), in float64 and in the engine's float32 steps) gives the
// engine's real logits, which tracing leaves unchanged, and that the capping
// matters. It covers the prompt (all rows), decode steps, ForwardBatch and
// ForwardMulti; a model without capping never calls the LogitTracer.
func TestFinalSoftcapTrace(t *testing.T) {
	m := loadArchCase(t, "gemma2")
	if capv := m.Config.FinalSoftcap; capv != 3 {
		t.Fatalf("final soft-cap %g, want 3", capv)
	}
	nPrompt := len(archPrompt) - archDecodeSteps
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		for _, path := range []string{"forward", "multi+batch"} {
			plain := runCapPath(t, m, kv, path, nPrompt, nil)
			tr := newCapTracer(m)
			logits := runCapPath(t, m, kv, path, nPrompt, tr)
			checkCapRun(t, m, kv.String()+" "+path, tr, logits, plain)
		}
	}
	// a model without final capping: no uncapped logits
	m = loadArchCase(t, "llama3")
	if m.Config.FinalSoftcap != 0 {
		t.Fatal("the llama3 case caps its logits")
	}
	st, err := m.NewState(StateOptions{Context: 64})
	if err != nil {
		t.Fatal(err)
	}
	tr := newCapTracer(m)
	st.Tracer = tr
	if err := m.Forward(st, archPrompt, 0, make([]float32, m.Config.VocabSize)); err != nil {
		t.Fatal(err)
	}
	if len(tr.uncapped) != 0 {
		t.Errorf("llama3: uncapped logits at %d positions, want none", len(tr.uncapped))
	}
}

// runCapPath runs archPrompt through m with tracer tr (nil: none): with
// path "forward" (or "flash", with flash attention), the first nPrompt tokens in one Forward with every row's
// logits, then one decode step per token; with "multi+batch", the prompt
// with ForwardMulti (the last row's logits) and the rest with ForwardBatch.
// It returns the logits by position.
func runCapPath(t *testing.T, m *Model, kv tensor.Type, path string, nPrompt int, tr Tracer) map[int][]float32 {
	t.Helper()
	vocab := m.Config.VocabSize
	st, err := m.NewState(StateOptions{Context: 64, KVType: kv, Batch: nPrompt, FlashAttn: path == "flash"})
	if err != nil {
		t.Fatal(err)
	}
	st.Tracer = tr
	got := map[int][]float32{}
	b, err := m.NewBatch(1)
	if err != nil {
		t.Fatal(err)
	}
	if path != "multi+batch" {
		all := make([]float32, nPrompt*vocab)
		if err := m.Forward(st, archPrompt[:nPrompt], 0, all); err != nil {
			t.Fatal(err)
		}
		for p := range nPrompt {
			got[p] = all[p*vocab : (p+1)*vocab]
		}
	} else {
		last := make([]float32, vocab)
		if err := m.ForwardMulti(b, []SeqChunk{{State: st, Tokens: archPrompt[:nPrompt], Pos: 0, Logits: last}}); err != nil {
			t.Fatal(err)
		}
		got[nPrompt-1] = last
	}
	for p := nPrompt; p < len(archPrompt); p++ {
		row := make([]float32, vocab)
		if path != "multi+batch" {
			err = m.Forward(st, archPrompt[p:p+1], p, row)
		} else {
			err = m.ForwardBatch(b, []SeqStep{{State: st, Token: archPrompt[p], Pos: p, Logits: row}})
		}
		if err != nil {
			t.Fatal(err)
		}
		got[p] = row
	}
	return got
}

// checkCapRun checks one traced run of TestFinalSoftcapTrace against the
// untraced one.
func checkCapRun(t *testing.T, m *Model, name string, tr *capTracer, got, plain map[int][]float32) {
	t.Helper()
	c := &m.Config
	capv, vocab := c.FinalSoftcap, c.VocabSize
	if len(tr.uncapped) != len(got) {
		t.Fatalf("%s: uncapped logits at %d positions, logits at %d", name, len(tr.uncapped), len(got))
	}
	big := 0
	normed := make([]float64, c.Dim)
	wrow := make([]float32, c.Dim)
	for p, logits := range got {
		for j, v := range logits {
			if v != plain[p][j] {
				t.Fatalf("%s: traced logit %d at position %d is %g, untraced %g", name, j, p, v, plain[p][j])
			}
		}
		u, x := tr.uncapped[p], tr.resid[p]
		if len(u) != vocab || len(x) != c.Dim {
			t.Fatalf("%s position %d: %d uncapped logits, residual of %d", name, p, len(u), len(x))
		}
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		scale := 1 / math.Sqrt(ss/float64(c.Dim)+float64(c.NormEps))
		for i, v := range x {
			normed[i] = float64(v) * scale * float64(m.OutputNorm[i])
		}
		for j := range vocab {
			m.Output.Row(j, wrow)
			var z float64
			for i, w := range wrow {
				z += float64(w) * normed[i]
			}
			if d := math.Abs(z - float64(u[j])); d > 1e-4+1e-4*math.Abs(z) {
				t.Fatalf("%s position %d token %d: uncapped logit %g, recomputed %g", name, p, j, u[j], z)
			}
			capped := float64(capv) * math.Tanh(float64(u[j])/float64(capv))
			if d := math.Abs(capped - float64(logits[j])); d > 1e-6 {
				t.Fatalf("%s position %d token %d: cap·tanh(%g/cap) = %g, logit %g", name, p, j, u[j], capped, logits[j])
			}
			if f := float32(math.Tanh(float64(u[j]*(1/capv)))) * capv; f != logits[j] {
				t.Fatalf("%s position %d token %d: capped in float32 %g, logit %g", name, p, j, f, logits[j])
			}
			if math.Abs(float64(u[j]-logits[j])) > 0.1 {
				big++
			}
		}
	}
	if big == 0 {
		t.Errorf("%s: capping never moved a logit by 0.1", name)
	}
}

// TestAttnSoftcapTrace checks, on the generated gemma2 model (attention
// soft-capping at 4), the scores a ScoreTracer receives for every layer,
// head and position: 0 before a sliding window; within it, the capped score
// is cap·tanh(raw/cap) (within 1e-6 in float64, exactly in the engine's
// float32 steps), and the softmax of the capped scores, recomputed in
// float64, is the head's recorded attention weights (within 1e-6 with an F32
// cache, the F16 rounding with an F16 cache), so that they are what the
// softmax took; and the capping moved some score. With flash attention, and
// for a model that does not cap, no scores are reported.
func TestAttnSoftcapTrace(t *testing.T) {
	m := loadArchCase(t, "gemma2")
	c := &m.Config
	capv := c.AttnSoftcap
	if capv != 4 || c.QueryScale == 0 {
		t.Fatalf("attention soft-cap %g, query scale %g: want 4 and pre-scaled queries", capv, c.QueryScale)
	}
	nPrompt := len(archPrompt) - archDecodeSteps
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		for _, path := range []string{"forward", "multi+batch"} {
			name := kv.String() + " " + path
			tr := newCapTracer(m)
			runCapPath(t, m, kv, path, nPrompt, tr)
			if want := len(archPrompt) * c.Layers * c.Heads; len(tr.raw) != want || len(tr.capped) != want {
				t.Fatalf("%s: scores of %d and %d heads, want %d", name, len(tr.raw), len(tr.capped), want)
			}
			tol := 1e-6
			if kv == tensor.F16 {
				tol = 1.0 / 2048
			}
			moved := 0
			for k, raw := range tr.raw {
				l, p := k[0], k[2]
				capped, w := tr.capped[k], tr.weights[k]
				if len(raw) != p+1 || len(capped) != p+1 || len(w) != p+1 {
					t.Fatalf("%s %v: %d raw scores, %d capped, %d weights, want %d", name, k, len(raw), len(capped), len(w), p+1)
				}
				lo := 0
				if win := c.AttnWindow(l); win > 0 && p-win+1 > 0 {
					lo = p - win + 1
				}
				mx := math.Inf(-1)
				for q := range raw {
					if q < lo {
						if raw[q] != 0 || capped[q] != 0 {
							t.Fatalf("%s %v: position %d before the window scores %g, %g", name, k, q, raw[q], capped[q])
						}
						continue
					}
					if d := math.Abs(float64(capv)*math.Tanh(float64(raw[q])/float64(capv)) - float64(capped[q])); d > 1e-6 {
						t.Fatalf("%s %v position %d: cap·tanh(%g/cap) is %g from the capped score %g", name, k, q, raw[q], d, capped[q])
					}
					if f := float32(math.Tanh(float64(raw[q]*(1/capv)))) * capv; f != capped[q] {
						t.Fatalf("%s %v position %d: %g capped in float32 is %g, recorded %g", name, k, q, raw[q], f, capped[q])
					}
					if math.Abs(float64(raw[q]-capped[q])) > 0.1 {
						moved++
					}
					mx = max(mx, float64(capped[q]))
				}
				var sum float64
				for q := lo; q <= p; q++ {
					sum += math.Exp(float64(capped[q]) - mx)
				}
				for q := lo; q <= p; q++ {
					if d := math.Abs(math.Exp(float64(capped[q])-mx)/sum - float64(w[q])); d > tol {
						t.Fatalf("%s %v position %d: softmax of the capped scores %g, weight %g", name, k, q, math.Exp(float64(capped[q])-mx)/sum, w[q])
					}
				}
			}
			if moved == 0 {
				t.Errorf("%s: capping never moved a score by 0.1", name)
			}
		}
	}
	tr := newCapTracer(m)
	runCapPath(t, m, tensor.F16, "flash", nPrompt, tr)
	if len(tr.weights) == 0 || len(tr.raw) != 0 {
		t.Errorf("flash attention: %d heads' weights, %d heads' scores; want some and none", len(tr.weights), len(tr.raw))
	}
	m = loadArchCase(t, "llama3")
	tr = newCapTracer(m)
	runCapPath(t, m, tensor.F16, "forward", nPrompt, tr)
	if len(tr.weights) == 0 || len(tr.raw) != 0 {
		t.Errorf("llama3: %d heads' weights, %d heads' scores; want some and none", len(tr.weights), len(tr.raw))
	}
}
