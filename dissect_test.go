package glassbox_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/model"
	"glassbox/sample"
	"glassbox/tensor"
	"glassbox/trace"
)

func traced(t *testing.T, m *glassbox.Model, prompt string, n int, p sample.Params, opts trace.Options) ([]trace.Event, *glassbox.Result) {
	t.Helper()
	var evs []trace.Event
	res, err := m.Generate(context.Background(), prompt, glassbox.GenerateOptions{
		MaxTokens: n, Sampler: p, LogProbs: 5,
		Trace: &infer.Tracing{Options: opts, Emit: func(ev trace.Event) error { evs = append(evs, ev); return nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, res
}

// TestTraceTruthful checks the dissection against the engine on real models:
// the chosen token is the one emitted, greedy picks rank 1, attention weights
// sum to 1, the last layer's logit lens is the real prediction, and tracing
// changes nothing in what is generated. The last model carries a LoRA
// adapter (its updates are part of the products the records show).
func TestTraceTruthful(t *testing.T) {
	sampled := sample.DefaultParams()
	sampled.Seed = 11
	adapter := []glassbox.LoRAAdapter{{Path: filepath.Join("model", "testdata", "lora", "stories260K-h192-Q8_0.lora.gguf"), Scale: 1}}
	for _, c := range []struct {
		file string
		lora []glassbox.LoRAAdapter
	}{{"llama2c/stories260K.bin", nil}, {"gguf/random-llama-d256-Q4_K_M.gguf", nil}, {"gguf/stories260K-h192-Q8_0.gguf", nil}, {"gguf/stories260K-h192-Q8_0.gguf", adapter}} {
		file := c.file
		for _, p := range []sample.Params{{}, sampled} {
			t.Run(file, func(t *testing.T) {
				m := open(t, &glassbox.Options{Context: 256, LoRA: c.lora}, splitPath(file)...)
				evs, res := traced(t, m, "Once upon a time", 12, p, trace.All(5))
				if meta := evs[0].Meta; len(meta.LoRA) != len(c.lora) {
					t.Fatalf("meta record names %d adapters, want %d", len(meta.LoRA), len(c.lora))
				}
				// a fresh model, so that both runs process the prompt the same way
				// (a cached prompt is recomputed one token at a time)
				m2 := open(t, &glassbox.Options{Context: 256, LoRA: c.lora}, splitPath(file)...)
				plain, err := m2.Generate(context.Background(), "Once upon a time", glassbox.GenerateOptions{MaxTokens: 12, Sampler: p, LogProbs: 5})
				if err != nil {
					t.Fatal(err)
				}
				if !equalInts(res.IDs, plain.IDs) {
					t.Fatalf("tracing changed the tokens:\n%v\n%v", res.IDs, plain.IDs)
				}
				for i := range res.Tokens {
					if res.Tokens[i].LogProb != plain.Tokens[i].LogProb {
						t.Fatalf("tracing changed token %d's log-probability: %v vs %v", i, res.Tokens[i].LogProb, plain.Tokens[i].LogProb)
					}
				}
				var steps []*trace.Step
				for _, ev := range evs {
					if ev.Type == trace.TypeStep {
						steps = append(steps, ev.Step)
					}
				}
				if len(steps) != len(res.IDs) {
					t.Fatalf("%d steps for %d tokens", len(steps), len(res.IDs))
				}
				cfg := m.Config()
				for i, s := range steps {
					if s.Token.ID != res.IDs[i] {
						t.Errorf("step %d chose %d, emitted %d", i, s.Token.ID, res.IDs[i])
					}
					if p.Temperature == 0 && s.Sampling.ChosenRank != 1 {
						t.Errorf("step %d: greedy chose rank %d", i, s.Sampling.ChosenRank)
					}
					if math.Abs(math.Log(float64(s.Sampling.RawProb))-float64(res.Tokens[i].LogProb)) > 1e-4 {
						t.Errorf("step %d: raw prob %v, logprob %v", i, s.Sampling.RawProb, res.Tokens[i].LogProb)
					}
					if len(s.Attention) != cfg.Layers*cfg.Heads {
						t.Fatalf("step %d: %d attention records, want %d", i, len(s.Attention), cfg.Layers*cfg.Heads)
					}
					for _, h := range s.Attention {
						var sum float64
						for _, w := range h.Weights {
							sum += float64(w)
						}
						if len(h.Weights) != s.Position+1 || math.Abs(sum-1) > 2e-3 {
							t.Errorf("step %d L%d H%d: %d weights summing to %v", i, h.Layer, h.Head, len(h.Weights), sum)
						}
					}
					last := s.LogitLens[len(s.LogitLens)-1]
					for k, c := range s.Prediction.Top {
						if last.Top[k].ID != c.ID || math.Abs(float64(last.Top[k].Logit-c.Logit)) > 1e-5 {
							t.Errorf("step %d: last-layer lens %v, prediction %v", i, last.Top[k], c)
						}
					}
				}
			})
		}
	}
}

// TestTraceSelection: only the selected layers and heads are recorded.
func TestTraceSelection(t *testing.T) {
	m := open(t, nil, "llama2c", "stories260K.bin")
	opts := trace.Options{Top: 3, Attention: true, LogitLens: true, Layers: []int{1, 3}, Heads: []int{0, 5}}
	evs, _ := traced(t, m, "Once upon a time", 4, sample.Params{}, opts)
	for _, ev := range evs {
		if ev.Type == trace.TypeEmbeddings {
			t.Errorf("embeddings recorded though not asked for")
		}
		if ev.Type != trace.TypeStep {
			continue
		}
		if len(ev.Step.Attention) != 4 || len(ev.Step.LogitLens) != 2 {
			t.Fatalf("%d attention records and %d lens layers, want 4 and 2", len(ev.Step.Attention), len(ev.Step.LogitLens))
		}
		for _, h := range ev.Step.Attention {
			if (h.Layer != 1 && h.Layer != 3) || (h.Head != 0 && h.Head != 5) || h.KVHead != h.Head/2 {
				t.Errorf("unexpected record L%d H%d kv %d", h.Layer, h.Head, h.KVHead)
			}
		}
	}
	_, err := m.Generate(context.Background(), "Once", glassbox.GenerateOptions{MaxTokens: 2,
		Trace: &infer.Tracing{Options: trace.Options{Layers: []int{7}}, Emit: func(trace.Event) error { return nil }}})
	if err == nil {
		t.Errorf("layer 7 of a 5-layer model: no error")
	}
}

// headTracer records one position's attention outputs and residuals.
type headTracer struct {
	pos     int
	weights map[[2]int][]float32
	outs    map[[2]int][]float32
	resid   map[int][]float32
}

func (h *headTracer) Position(p int) bool { return p == h.pos }
func (h *headTracer) Attention(l, head, p int, w, out []float32) {
	h.weights[[2]int{l, head}] = append([]float32(nil), w...)
	h.outs[[2]int{l, head}] = append([]float32(nil), out...)
}
func (h *headTracer) Residual(l, p int, x []float32) { h.resid[l] = append([]float32(nil), x...) }

// TestTracerAgainstEngine recomputes each head's output from the recorded
// weights and the cached values, and the logits from the last residual.
func TestTracerAgainstEngine(t *testing.T) {
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		m := open(t, nil, "gguf", "random-llama-d256-Q4_K_M.gguf")
		eng := m.Engine()
		cfg := eng.Config
		st, err := eng.NewState(model.StateOptions{Context: 64, KVType: kv})
		if err != nil {
			t.Fatal(err)
		}
		ids := []int{1, 403, 407, 261, 378, 432, 383}
		tr := &headTracer{pos: len(ids) - 1, weights: map[[2]int][]float32{}, outs: map[[2]int][]float32{}, resid: map[int][]float32{}}
		st.Tracer = tr
		logits := make([]float32, cfg.VocabSize)
		if err := eng.Forward(st, ids, 0, logits); err != nil {
			t.Fatal(err)
		}
		v := make([]float32, cfg.ValueDim)
		for key, w := range tr.weights {
			l, h := key[0], key[1]
			kvh := h / (cfg.Heads / cfg.KVHeads)
			got := make([]float64, cfg.ValueDim)
			for p, a := range w {
				st.CachedValue(l, p, kvh, v)
				for i := range v {
					got[i] += float64(a) * float64(v[i])
				}
			}
			for i, want := range tr.outs[key] {
				if math.Abs(got[i]-float64(want)) > 1e-4*(1+math.Abs(float64(want))) {
					t.Fatalf("kv %s L%d H%d [%d]: weights × values = %v, engine %v", kv, l, h, i, got[i], want)
				}
			}
		}
		if len(tr.weights) != cfg.Layers*cfg.Heads || len(tr.resid) != cfg.Layers {
			t.Fatalf("recorded %d heads and %d residuals", len(tr.weights), len(tr.resid))
		}
		lens := make([]float32, cfg.VocabSize)
		eng.LogitLens(lens, tr.resid[cfg.Layers-1], make([]float32, cfg.Dim))
		for i := range lens {
			if math.Abs(float64(lens[i]-logits[i])) > 1e-5 {
				t.Fatalf("kv %s: logit lens at the last layer %v, logits %v (token %d)", kv, lens[i], logits[i], i)
			}
		}
	}
}

// TestForwardNoAllocs: a decode step with tracing off allocates nothing.
func TestForwardNoAllocs(t *testing.T) {
	m := open(t, nil, "gguf", "stories260K-h192-Q4_0.gguf")
	eng := m.Engine()
	st, _ := eng.NewState(model.StateOptions{Context: 128, KVType: tensor.F16})
	logits := make([]float32, eng.Config.VocabSize)
	pos := 0
	allocs := testing.AllocsPerRun(50, func() {
		if err := eng.Forward(st, []int{403}, pos, logits); err != nil {
			t.Fatal(err)
		}
		pos++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per decode step with tracing off", allocs)
	}
}

func splitPath(p string) []string {
	for i := range p {
		if p[i] == '/' {
			return []string{p[:i], p[i+1:]}
		}
	}
	return []string{p}
}

// BenchmarkDecode measures tokens/s of the decode loop with tracing off and
// on (all layers and heads; the trace's cost when one asks for it).
func BenchmarkDecode(b *testing.B) {
	path := fixtures.Path(b, "gguf", "random-llama-d256-Q4_K_M.gguf")
	for _, on := range []bool{false, true} {
		name := "trace=off"
		if on {
			name = "trace=on"
		}
		b.Run(name, func(b *testing.B) {
			m, err := glassbox.Open(path, &glassbox.Options{Context: 512})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			opts := glassbox.GenerateOptions{MaxTokens: 64, IgnoreEOS: true}
			if on {
				opts.Trace = &infer.Tracing{Options: trace.Options{Top: 5, Attention: true, LogitLens: true}, Emit: func(trace.Event) error { return nil }}
			}
			b.ResetTimer()
			for range b.N {
				if _, err := m.Generate(context.Background(), "Once upon a time", opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// TestLoRAOption: Options.LoRA changes what the model generates, Info and
// the dissection's meta record name the adapter, and a bad adapter is
// refused when the model opens.
func TestLoRAOption(t *testing.T) {
	adapter := filepath.Join("model", "testdata", "lora", "stories260K-f32.lora.gguf")
	base := open(t, nil, "gguf", "stories260K-f32.gguf")
	m := open(t, &glassbox.Options{LoRA: []glassbox.LoRAAdapter{{Path: adapter}}}, "gguf", "stories260K-f32.gguf")
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	if len(info.LoRA) != 1 || info.LoRA[0].Name != "stories260K-f32-stories-lora" || info.LoRA[0].Scale != 1 || info.LoRA[0].Alpha != 4 || info.LoRA[0].Weights != 35 {
		t.Fatalf("Info().LoRA = %+v", info.LoRA)
	}
	prompt := "Once upon a time, there was a blue frog named Anna."
	a, err := base.Generate(context.Background(), prompt, glassbox.GenerateOptions{MaxTokens: 12})
	if err != nil {
		t.Fatal(err)
	}
	evs, b := traced(t, m, prompt, 12, sample.Params{}, trace.All(3))
	if a.Text == b.Text {
		t.Fatalf("the adapter changes nothing: %q", a.Text)
	}
	if meta := evs[0].Meta; len(meta.LoRA) != 1 || meta.LoRA[0].Name != info.LoRA[0].Name {
		t.Fatalf("meta record's adapters: %+v", meta.LoRA)
	}
	if _, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{LoRA: []glassbox.LoRAAdapter{{Path: fixtures.Path(t, "gguf", "stories260K-f32.gguf")}}}); err == nil {
		t.Fatal("a model file accepted as an adapter")
	}
}
