package conformance

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
	"glassbox/tokenizer"
)

func TestMain(m *testing.M) { fixtures.Main(m) }

// tolerance is the largest difference allowed between a log-probability
// of glassbox and llama-server's (which are rounded to 1e-4).
const tolerance = 1e-3

// reference is one file of testdata: llama-server's greedy generations for
// one model and KV cache type.
type reference struct {
	Model    string `json:"model"`
	KVCache  string `json:"kv_cache"`
	LlamaCpp string `json:"llama_cpp"`
	Context  int    `json:"context"`
	Cases    []struct {
		Name   string `json:"name"`
		Prompt []int  `json:"prompt"`
		Tokens []int  `json:"tokens"`
		Probs  []struct {
			ID      int          `json:"id"`
			LogProb float64      `json:"logprob"`
			Top     [][2]float64 `json:"top"` // id, log-probability
		} `json:"probs"`
	} `json:"cases"`
}

func readReference(t *testing.T, path string) *reference {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var ref reference
	if err := json.NewDecoder(zr).Decode(&ref); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if ref.Model == "" || len(ref.Cases) == 0 || (ref.KVCache != "f16" && ref.KVCache != "f32") {
		t.Fatalf("%s: not a reference (model %q, kv_cache %q, %d cases)", path, ref.Model, ref.KVCache, len(ref.Cases))
	}
	return &ref
}

// ubatch is llama-server's default number of prompt tokens per forward step:
// the references' prompts are processed in one step, and so are they here
// (a prompt split differently rounds differently in attention).
const ubatch = 512

// TestLlamaServer: for every reference, glassbox's greedy token ids equal
// llama-server's, and its top-10 log-probabilities at every generated
// position are within tolerance of llama-server's.
func TestLlamaServer(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json.gz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no references in testdata (%v)", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json.gz")
		t.Run(name, func(t *testing.T) {
			ref := readReference(t, file)
			m, err := glassbox.Open(fixtures.Path(t, "gguf", ref.Model),
				&glassbox.Options{Context: ref.Context, Batch: ubatch, KVCacheF32: ref.KVCache == "f32"})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			sess, err := m.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for _, c := range ref.Cases {
				// llama-server ran without prompt cache: nothing is reused
				sess.Reset()
				d, err := compareCase(sess, m.Tokenizer(), c.Prompt, c.Tokens, c.Probs)
				worst = math.Max(worst, d)
				if err != nil {
					t.Errorf("%s: %v", c.Name, err)
				}
			}
			t.Logf("%s, %s KV cache: max |Δlogprob| = %.2g", ref.Model, ref.KVCache, worst)
		})
	}
}

// endsInsideChar tells whether text ends with the start of a UTF-8
// sequence that lacks continuation bytes (llama-server's validate_utf8).
func endsInsideChar(text []byte) bool {
	for i := 1; i <= 4 && i <= len(text); i++ {
		c := text[len(text)-i]
		if c&0xe0 == 0xc0 && i < 2 || c&0xf0 == 0xe0 && i < 3 || c&0xf8 == 0xf0 && i < 4 {
			return true
		}
	}
	return false
}

// compareCase generates greedily after prompt and compares with the
// reference tokens and probabilities; it returns the largest difference of
// a log-probability and an error describing the first disagreement.
func compareCase(sess *glassbox.Session, tok *glassbox.Tokenizer, prompt, tokens []int, probs []struct {
	ID      int          `json:"id"`
	LogProb float64      `json:"logprob"`
	Top     [][2]float64 `json:"top"`
}) (float64, error) {
	res, err := sess.Generate(context.Background(), glassbox.Request{Prompt: prompt, MaxTokens: len(tokens), LogProbs: 10})
	if err != nil {
		return 0, err
	}
	for i, id := range tokens {
		if i >= len(res.Tokens) {
			return 0, fmt.Errorf("glassbox stopped after %d tokens, llama-server generated %d", len(res.Tokens), len(tokens))
		}
		if res.Tokens[i].ID != id {
			return 0, fmt.Errorf("token %d is %d, llama-server's is %d (ids so far %v)", i, res.Tokens[i].ID, id, tokens[:i])
		}
	}
	// llama-server leaves out the probabilities of the tokens after which
	// its generated text ends inside a UTF-8 character
	var text []byte
	var positions []int
	for j, id := range tokens {
		// as llama_token_to_piece renders it: control tokens give nothing
		if t := tok.Type(id); t != tokenizer.TypeControl && t != tokenizer.TypeUnknown {
			text = append(text, tok.TokenBytes(id)...)
		}
		if !endsInsideChar(text) {
			positions = append(positions, j)
		}
	}
	if len(positions) != len(probs) {
		return 0, fmt.Errorf("llama-server gave %d probability entries, %d tokens end on a character boundary", len(probs), len(positions))
	}
	worst := 0.0
	var first error
	for k, p := range probs {
		j := positions[k]
		if tokens[j] != p.ID {
			return worst, fmt.Errorf("probability entry %d is for token %d, the token at position %d is %d", k, p.ID, j, tokens[j])
		}
		got := res.Tokens[j]
		if len(got.Top) != len(p.Top) {
			return worst, fmt.Errorf("position %d: %d top log-probabilities, llama-server %d", j, len(got.Top), len(p.Top))
		}
		d := math.Abs(float64(got.LogProb) - p.LogProb)
		for k, want := range p.Top {
			g := got.Top[k]
			dk := math.Abs(float64(g.LogProb) - want[1])
			d = math.Max(d, dk)
			// near-ties may swap places, the values must agree
			if g.ID != int(want[0]) && dk > tolerance && first == nil {
				first = fmt.Errorf("position %d, rank %d: token %d (%.5f), llama-server %d (%.5f)", j, k, g.ID, g.LogProb, int(want[0]), want[1])
			}
		}
		if d > tolerance && first == nil {
			first = fmt.Errorf("position %d (token %d): |Δlogprob| %.3g > %g; glassbox %v, llama-server %v", j, tokens[j], d, tolerance, got.Top, p.Top)
		}
		worst = math.Max(worst, d)
	}
	return worst, first
}
