package model

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"glassbox/gguf"
	"glassbox/internal/fixtures"
	"glassbox/tensor"
)

// runCLogits is the reference recorded from llama2.c's run.c.
type runCLogits struct {
	PromptIDs []int `json:"prompt_ids"`
	Steps     []struct {
		Pos    int       `json:"pos"`
		Input  int       `json:"input"`
		Argmax int       `json:"argmax"`
		Next   int       `json:"next"`
		Logits []float32 `json:"logits"`
	} `json:"steps"`
}

func loadRunC(t *testing.T) runCLogits {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, "llama2c", "reference", "run_c_logits_once_upon_a_time.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref runCLogits
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func openModel(t *testing.T, elem ...string) *Model {
	t.Helper()
	path := fixtures.Path(t, elem...)
	var (
		m   *Model
		err error
	)
	if elem[0] == "gguf" {
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		m, err = LoadGGUF(f)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		m, err = LoadLlama2C(path)
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestRunCLogits checks the logits at positions 0-7 against run.c within 1e-4,
// and the 256 greedy steps, token by token and with a batched prompt.
func TestRunCLogits(t *testing.T) {
	ref := loadRunC(t)
	for _, file := range []string{"stories260K.bin", "stories260K_v1.bin", "stories260K-h192.bin"} {
		t.Run(file, func(t *testing.T) {
			m := openModel(t, "llama2c", file)
			st, err := m.NewState(StateOptions{KVType: tensor.F32})
			if err != nil {
				t.Fatal(err)
			}
			logits := make([]float32, m.Config.VocabSize)
			maxDiff := 0.0
			for _, step := range ref.Steps {
				if err := m.Forward(st, []int{step.Input}, step.Pos, logits); err != nil {
					t.Fatal(err)
				}
				if step.Logits != nil {
					for i, want := range step.Logits {
						maxDiff = math.Max(maxDiff, math.Abs(float64(logits[i]-want)))
					}
				}
				if got := argmax(logits); got != step.Argmax {
					t.Fatalf("pos %d: argmax %d, run.c %d", step.Pos, got, step.Argmax)
				}
			}
			if maxDiff > 1e-4 {
				t.Errorf("logits at positions 0-7 differ from run.c by up to %g (want <= 1e-4)", maxDiff)
			}
			t.Logf("max |logit - run.c| over positions 0-7: %.2g", maxDiff)
		})
	}
}

// TestBatchedPrefill checks that processing the prompt in one batch (all
// logits) gives the same logits as one token at a time, up to rounding: like
// llama.cpp, a batch sums F32/F16 products in another order (tinyBLAS), and
// an F16 cache can turn that last-bit difference into one F16 step.
func TestBatchedPrefill(t *testing.T) {
	ref := loadRunC(t)
	m := openModel(t, "llama2c", "stories260K.bin")
	var ids []int
	for _, s := range ref.Steps[:8] {
		ids = append(ids, s.Input)
	}
	for _, kv := range []tensor.Type{tensor.F32, tensor.F16} {
		tol := 1e-5
		if kv == tensor.F16 {
			tol = 5e-4 // one F16 step of a cached key or value
		}
		for _, batch := range []int{1, 3, 8} {
			st, _ := m.NewState(StateOptions{KVType: kv, Batch: batch})
			all := make([]float32, len(ids)*m.Config.VocabSize)
			if err := m.Forward(st, ids, 0, all); err != nil {
				t.Fatal(err)
			}
			one, _ := m.NewState(StateOptions{KVType: kv})
			logits := make([]float32, m.Config.VocabSize)
			for p, id := range ids {
				if err := m.Forward(one, []int{id}, p, logits); err != nil {
					t.Fatal(err)
				}
				row := all[p*m.Config.VocabSize : (p+1)*m.Config.VocabSize]
				for i := range logits {
					if d := math.Abs(float64(row[i] - logits[i])); d > tol {
						t.Fatalf("kv %s batch %d pos %d logit %d: batched %g, one by one %g", kv, batch, p, i, row[i], logits[i])
					}
				}
			}
		}
	}
}

func TestForwardErrors(t *testing.T) {
	m := openModel(t, "llama2c", "stories260K.bin")
	st, err := m.NewState(StateOptions{Context: 8})
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, m.Config.VocabSize)
	tests := []struct {
		name   string
		tokens []int
		pos    int
		logits []float32
	}{
		{"no tokens", nil, 0, logits},
		{"past the context", []int{1, 2}, 7, logits},
		{"negative position", []int{1}, -1, logits},
		{"token outside vocabulary", []int{512}, 0, logits},
		{"negative token", []int{-1}, 0, logits},
		{"wrong logits size", []int{1}, 0, logits[:10]},
	}
	for _, tt := range tests {
		if err := m.Forward(st, tt.tokens, tt.pos, tt.logits); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
