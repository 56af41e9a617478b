package glassbox_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"glassbox"
)

// quantCheck is one reference of testdata/quantcheck (see make.sh there): a
// model quantized by llama-quantize into one codebook type, and llama-server's
// greedy completion of a token prompt with the top-10 log-probabilities.
type quantCheck struct {
	Model    string `json:"model"`
	Prompt   []int  `json:"prompt"`
	NPredict int    `json:"n_predict"`
	NProbs   int    `json:"n_probs"`
	Tokens   []int  `json:"tokens"`
	Probs    []struct {
		ID      int     `json:"id"`
		LogProb float64 `json:"logprob"`
		Top     []struct {
			ID      int     `json:"id"`
			LogProb float64 `json:"logprob"`
		} `json:"top"`
	} `json:"probs"`
}

// TestQuantTypesMatchLlamaServer runs the models of testdata/quantcheck, one
// per weight type (IQ4_NL, IQ4_XS, MXFP4, IQ2_XXS, IQ2_XS, IQ3_XXS, IQ3_S, in
// every matrix including the token embeddings and the output), and checks
// that the greedy ids equal llama-server's and that the top-10
// log-probabilities agree within quantTolerance at every position.
func TestQuantTypesMatchLlamaServer(t *testing.T) {
	for _, typ := range []string{"IQ4_NL", "IQ4_XS", "MXFP4", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ3_S"} {
		t.Run(typ, func(t *testing.T) {
			tol := quantTolerance(typ)
			data, err := os.ReadFile(filepath.Join("testdata", "quantcheck", typ+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref quantCheck
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			if ref.Model != typ || len(ref.Tokens) != ref.NPredict || len(ref.Probs) == 0 {
				t.Fatalf("reference for %s: model %q, %d tokens of %d, %d probability entries", typ, ref.Model, len(ref.Tokens), ref.NPredict, len(ref.Probs))
			}
			m, err := glassbox.Open(filepath.Join("testdata", "quantcheck", typ+".gguf"), &glassbox.Options{Context: 256})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			res, err := m.GenerateIDs(context.Background(), ref.Prompt, glassbox.GenerateOptions{
				MaxTokens: ref.NPredict, LogProbs: ref.NProbs, IgnoreEOS: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(res.IDs, ref.Tokens) {
				t.Fatalf("greedy ids differ from llama-server\n got: %v\nwant: %v", res.IDs, ref.Tokens)
			}
			// llama-server leaves out the entries of tokens that end inside a
			// UTF-8 character: align by id.
			worst := 0.0
			j := 0
			for i, p := range ref.Probs {
				for j < len(ref.Tokens) && ref.Tokens[j] != p.ID {
					j++
				}
				if j == len(ref.Tokens) {
					t.Fatalf("probability entry %d (id %d) matches no generated token", i, p.ID)
				}
				got := res.Tokens[j]
				j++
				worst = math.Max(worst, math.Abs(float64(got.LogProb)-p.LogProb))
				if len(got.Top) != len(p.Top) {
					t.Fatalf("entry %d: %d top logprobs, want %d", i, len(got.Top), len(p.Top))
				}
				for k, want := range p.Top {
					g := got.Top[k]
					d := math.Abs(float64(g.LogProb) - want.LogProb)
					worst = math.Max(worst, d)
					if g.ID != want.ID && d > tol {
						t.Errorf("entry %d top %d: id %d (%.6f), llama-server id %d (%.6f)", i, k, g.ID, g.LogProb, want.ID, want.LogProb)
					} else if d > tol {
						t.Errorf("entry %d top %d: logprob %.6f, llama-server %.6f", i, k, g.LogProb, want.LogProb)
					}
				}
			}
			t.Logf("%d tokens, max |logprob - llama-server| = %.2g", len(ref.Tokens), worst)
		})
	}
}

// quantTolerance is the largest |logprob difference| accepted for a type:
// 1e-4 (all agree within 1e-6). IQ2_XS and IQ3_XXS used to drift by up to
// 0.05 from some position on: llama.cpp v0.5.0 multiplies prompt batches of
// 8 or more tokens by the grid IQ types in its "IQ panel" GEMM, whose
// per-super-block scaling rounds differently from vec_dot (see
// tensor.iqPanelDotFor); a key cached from the prompt then sat on the other
// side of an F16 rounding tie, and the next layer's Q8_K quantization of the
// attention output turned that into 1e-2 logit moves. glassbox now uses the
// panel's arithmetic for such batches.
func quantTolerance(string) float64 {
	return 1e-4
}
