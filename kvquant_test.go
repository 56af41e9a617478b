package glassbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/tensor"
	"glassbox/trace"
)

// kvQuantRef is one reference of testdata/kvquant (see make.sh there):
// llama-server's greedy completion with top-10 log-probabilities for a
// fixture model run with a quantized key cache, flash attention off.
type kvQuantRef struct {
	quantCheck
	CacheTypeK string `json:"cache_type_k"`
	CacheTypeV string `json:"cache_type_v"`
}

// kvQuantTolerance is the largest |logprob difference| accepted against
// llama-server with a quantized key cache over a reference's exact prefix:
// the rotation, the quantization of keys and queries and the dot products
// reproduce ggml's, so the agreement is as close as with an F16 cache.
const kvQuantTolerance = 2e-6

// TestQuantizedKeyCacheMatchesLlamaServer runs the references of
// testdata/kvquant (keys in Q8_0 or Q4_0, values in F16 or F32, F16, Q8_0
// and Q4_K_M weights; 45 prompt tokens, 48 generated) and checks the top-10
// log-probabilities within kvQuantTolerance over the first exact entries,
// the greedy ids being equal there. Past them some generations move apart
// by 1e-4–3e-3 at one step, as the same prompt does with an unquantized F16
// cache (docs/ARCHITECTURE.md, Numerics): that drift is logged, not
// checked. The test also checks that the key type matters: the same model
// with unquantized keys differs from the reference by more than the
// tolerance within the exact prefix.
func TestQuantizedKeyCacheMatchesLlamaServer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		exact int
	}{
		{"d256-F16-kq8_0", 23},
		{"d256-F16-kq8_0-vf32", 22},
		{"d256-F16-kq4_0", 28},
		{"d256-F16-kq4_0-vf32", 24},
		{"d256-Q8_0-kq8_0-vf32", 45},
		{"d256-Q4_K_M-kq4_0-vf32", 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ref kvQuantRef
			readRef(t, "kvquant", tc.name, tc.exact, &ref)
			kt, err := tensor.ParseType(strings.ToUpper(ref.CacheTypeK))
			if err != nil {
				t.Fatal(err)
			}
			path := fixtures.Path(t, "gguf", ref.Model+".gguf")
			vf32 := ref.CacheTypeV == "f32"
			checkExactPrefix(t, kvQuantDiffs(t, path, ref, &glassbox.Options{Context: 256, KVCacheF32: vf32, KeyCacheType: kt}), tc.exact, kvQuantTolerance)
			plain := kvQuantDiffs(t, path, ref, &glassbox.Options{Context: 256, KVCacheF32: vf32})
			if pw := maxPrefix(plain, tc.exact); len(plain) >= tc.exact && pw <= kvQuantTolerance {
				t.Errorf("unquantized keys agree with the %s-key reference too (%g): the reference does not test the key type", ref.CacheTypeK, pw)
			}
		})
	}
}

// base returns the reference's kvQuantRef, also of the types embedding it.
func (r *kvQuantRef) base() *kvQuantRef { return r }

// readRef reads testdata/dir/name.json into ref (a kvQuantRef or a type
// embedding one) and checks that it holds its NPredict tokens and at least
// exact probability entries.
func readRef(t *testing.T, dir, name string, exact int, ref interface{ base() *kvQuantRef }) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, ref); err != nil {
		t.Fatal(err)
	}
	if r := ref.base(); len(r.Tokens) != r.NPredict || len(r.Probs) < exact {
		t.Fatalf("reference %s: %d tokens of %d, %d probability entries (want ≥ %d)", name, len(r.Tokens), r.NPredict, len(r.Probs), exact)
	}
}

// checkExactPrefix checks the differences kvQuantDiffs returned: at least
// exact entries with the greedy ids equal, the largest over the first exact
// within tolerance. It logs the largest over the first exact and over the
// rest.
func checkExactPrefix(t *testing.T, diffs []float64, exact int, tolerance float64) {
	t.Helper()
	if len(diffs) < exact {
		t.Fatalf("the greedy ids differ from llama-server's at entry %d, before entry %d", len(diffs), exact)
	}
	worst, after := maxPrefix(diffs, exact), maxPrefix(diffs[exact:], len(diffs))
	t.Logf("max |logprob - llama-server| = %.2g over the first %d entries, %.2g over the next %d", worst, exact, after, len(diffs)-exact)
	if worst > tolerance {
		t.Errorf("max |logprob - llama-server| = %g over the first %d entries, want ≤ %g", worst, exact, tolerance)
	}
}

// maxPrefix returns the largest of the first n diffs (all of them when there
// are fewer), 0 for none.
func maxPrefix(diffs []float64, n int) float64 {
	m := 0.0
	for _, d := range diffs[:min(n, len(diffs))] {
		m = math.Max(m, d)
	}
	return m
}

// kvQuantDiffs generates ref's completion with opts and returns, for each
// probability entry up to the first whose ids differ from llama-server's,
// the largest |logprob difference| of its top-10.
func kvQuantDiffs(t *testing.T, path string, ref kvQuantRef, opts *glassbox.Options) []float64 {
	t.Helper()
	m, err := glassbox.Open(path, opts)
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
	// llama-server leaves out the entries of tokens that end inside a UTF-8
	// character: align by position in the generation
	var diffs []float64
	j := 0
	for _, p := range ref.Probs {
		for j < len(ref.Tokens) && ref.Tokens[j] != p.ID {
			j++
		}
		if j == len(ref.Tokens) || j >= len(res.Tokens) || res.Tokens[j].ID != p.ID {
			return diffs
		}
		got := res.Tokens[j]
		j++
		d := math.Abs(float64(got.LogProb) - p.LogProb)
		if len(got.Top) < len(p.Top) {
			return diffs
		}
		for k, want := range p.Top {
			if got.Top[k].ID != want.ID {
				return diffs
			}
			d = math.Max(d, math.Abs(float64(got.Top[k].LogProb)-want.LogProb))
		}
		diffs = append(diffs, d)
	}
	return diffs
}

// TestKeyCacheTypeErrors checks that unsupported cache types are refused at
// Open with an error naming what is supported.
func TestKeyCacheTypeErrors(t *testing.T) {
	path := fixtures.Path(t, "gguf", "random-llama-d256-F16.gguf")
	for _, tc := range []struct {
		typ  tensor.Type
		want string
	}{
		{tensor.Q4_1, "want F32, F16, Q8_0 or Q4_0"},
		{tensor.Q4_K, "want F32, F16, Q8_0 or Q4_0"},
		{tensor.BF16, "want F32, F16, Q8_0 or Q4_0"},
	} {
		_, err := glassbox.Open(path, &glassbox.Options{Context: 64, KeyCacheType: tc.typ})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key type %s: error %v, want one containing %q", tc.typ, err, tc.want)
		}
	}
	// the stories260K model's head size (8) does not hold a 32-block
	_, err := glassbox.Open(fixtures.Path(t, "gguf", "stories260K-f32.gguf"), &glassbox.Options{Context: 64, KeyCacheType: tensor.Q8_0})
	if err == nil || !strings.Contains(err.Error(), "multiple of its block of 32") {
		t.Errorf("Q8_0 keys with head size 8: error %v", err)
	}
	if errors.Is(err, glassbox.ErrMemory) {
		t.Errorf("a type error wraps ErrMemory: %v", err)
	}
}

// TestQuantizedKeyCacheReported checks that the model's info and a
// dissection's meta record name the key type, and that the info's cache size
// counts the keys' blocks: 2 layers × 64 positions × (2 heads × 2 blocks of
// 34 or 18 bytes + 128 F16 values).
func TestQuantizedKeyCacheReported(t *testing.T) {
	path := fixtures.Path(t, "gguf", "random-llama-d256-F16.gguf")
	for _, tc := range []struct {
		key   glassbox.TensorType
		block int64
	}{{glassbox.KeyCacheQ8_0, 34}, {glassbox.KeyCacheQ4_0, 18}} {
		m, err := glassbox.Open(path, &glassbox.Options{Context: 64, KeyCacheType: tc.key})
		if err != nil {
			t.Fatal(err)
		}
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * 64 * (4*tc.block + 128*2); info.KVCache != "F16" || info.KVCacheK != tc.key.String() || info.KVCacheBytes != want {
			t.Errorf("%s keys: info kv_cache %s, kv_cache_k %s, %d bytes; want F16, %s, %d", tc.key, info.KVCache, info.KVCacheK, info.KVCacheBytes, tc.key, want)
		}
		var meta *trace.Meta
		_, err = m.GenerateIDs(context.Background(), []int{1, 280, 300}, glassbox.GenerateOptions{MaxTokens: 2, IgnoreEOS: true,
			Trace: &infer.Tracing{Options: trace.Options{Top: 1}, Emit: func(ev trace.Event) error {
				if ev.Type == trace.TypeMeta {
					meta = ev.Meta
				}
				return nil
			}}})
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		if meta == nil || meta.KVCache != "F16" || meta.KVCacheK != tc.key.String() {
			t.Errorf("%s keys: meta record %+v", tc.key, meta)
		}
	}
}
