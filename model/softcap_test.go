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
}

func (c *capTracer) Position(int) bool                             { return true }
func (c *capTracer) Attention(int, int, int, []float32, []float32) {}
func (c *capTracer) Residual(layer, pos int, x []float32) {
	if layer == c.last {
		c.resid[pos] = append([]float32(nil), x...)
	}
}
func (c *capTracer) UncappedLogits(pos int, logits []float32) {
	c.uncapped[pos] = append([]float32(nil), logits...)
}

func newCapTracer(m *Model) *capTracer {
	return &capTracer{last: m.Config.Layers - 1, resid: map[int][]float32{}, uncapped: map[int][]float32{}}
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
// path "forward", the first nPrompt tokens in one Forward with every row's
// logits, then one decode step per token; with "multi+batch", the prompt
// with ForwardMulti (the last row's logits) and the rest with ForwardBatch.
// It returns the logits by position.
func runCapPath(t *testing.T, m *Model, kv tensor.Type, path string, nPrompt int, tr Tracer) map[int][]float32 {
	t.Helper()
	vocab := m.Config.VocabSize
	st, err := m.NewState(StateOptions{Context: 64, KVType: kv, Batch: nPrompt})
	if err != nil {
		t.Fatal(err)
	}
	st.Tracer = tr
	got := map[int][]float32{}
	b, err := m.NewBatch(1)
	if err != nil {
		t.Fatal(err)
	}
	if path == "forward" {
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
		if path == "forward" {
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
