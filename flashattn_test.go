package glassbox_test

import (
	"context"
	"strings"
	"testing"

	"glassbox"
	"glassbox/infer"
	"glassbox/internal/fixtures"
	"glassbox/tensor"
	"glassbox/trace"
)

// flashRef is one reference of testdata/flashattn (see make.sh there):
// llama-server's greedy completion with top-10 log-probabilities for a
// fixture model run with flash attention on.
type flashRef struct {
	kvQuantRef
	Context int `json:"context"`
	Threads int `json:"threads"`
}

// flashTolerance is the largest |logprob difference| accepted against
// llama-server -fa on over a reference's exact prefix: glassbox reproduces
// the float steps of each of its flash-attention kernels, so the agreement
// is as close as without flash attention.
const flashTolerance = 2e-6

// TestFlashAttentionMatchesLlamaServer runs the references of
// testdata/flashattn (flash attention on; F16, Q8_0 and Q4_0 keys and values;
// the one-chunk, tiled and split kernels) and checks the top-10
// log-probabilities within flashTolerance at every entry of each reference
// (exact: all of them; llama-server leaves out the entries of tokens that
// end inside a UTF-8 character), the greedy ids being equal. It also checks that flash attention matters: the softmax path
// (F16 cache) differs from each reference by more than the tolerance within
// the exact prefix.
func TestFlashAttentionMatchesLlamaServer(t *testing.T) {
	defer tensor.SetThreads(tensor.Threads())
	for _, tc := range []struct {
		name  string
		exact int
	}{
		{"d256-F16-f16", 39},
		{"d256-F16-f16-tiled", 28},
		{"d256-F16-f16-split", 19},
		{"d256-F16-kq8_0", 39},
		{"d256-F16-vq8_0", 39},
		{"d256-F16-q8_0", 46},
		{"d256-F16-q4_0", 40},
		{"d256-Q8_0-q8_0", 31},
		{"d256-Q4_K_M-q4_0", 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ref flashRef
			readRef(t, "flashattn", tc.name, tc.exact, &ref)
			kt, vt := cacheType(t, ref.CacheTypeK), cacheType(t, ref.CacheTypeV)
			path := fixtures.Path(t, "gguf", ref.Model+".gguf")
			opts := glassbox.Options{Context: ref.Context, Batch: 512, Threads: ref.Threads, FlashAttention: glassbox.FlashAttnOn}
			if kt != tensor.F16 {
				opts.KeyCacheType = kt
			}
			if vt != tensor.F16 {
				opts.ValueCacheType = vt
			}
			checkExactPrefix(t, kvQuantDiffs(t, path, ref.kvQuantRef, &opts), tc.exact, flashTolerance)
			plain := kvQuantDiffs(t, path, ref.kvQuantRef, &glassbox.Options{Context: ref.Context, Batch: 512, Threads: ref.Threads, FlashAttention: glassbox.FlashAttnOff})
			if pw := maxPrefix(plain, tc.exact); len(plain) >= tc.exact && pw <= flashTolerance {
				t.Errorf("the softmax path with an F16 cache agrees with the reference too (%g): it does not test flash attention", pw)
			}
		})
	}
}

// cacheType parses a reference's cache type (f16, q8_0, q4_0).
func cacheType(t *testing.T, s string) tensor.Type {
	t.Helper()
	typ, err := tensor.ParseType(strings.ToUpper(s))
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

// TestFlashAttentionOptions checks the SDK's flash-attention settings: auto
// turns it on for a quantized value cache only, off refuses one, and the
// model's info and a dissection's meta record name the value type, the info
// counting its blocks: 2 layers × 64 positions × (128 F16 keys + 2 heads × 2
// blocks of 34 or 18 bytes).
func TestFlashAttentionOptions(t *testing.T) {
	path := fixtures.Path(t, "gguf", "random-llama-d256-F16.gguf")
	for _, tc := range []struct {
		fa    glassbox.FlashAttention
		val   glassbox.TensorType
		on    bool
		block int64
		err   string
	}{
		{glassbox.FlashAttnAuto, 0, false, 0, ""},
		{glassbox.FlashAttnOn, 0, true, 0, ""},
		{glassbox.FlashAttnAuto, glassbox.KeyCacheQ8_0, true, 34, ""},
		{glassbox.FlashAttnOn, glassbox.KeyCacheQ4_0, true, 18, ""},
		{glassbox.FlashAttnOff, glassbox.KeyCacheQ8_0, false, 0, "needs flash attention"},
		{glassbox.FlashAttnOn, tensor.Q5_0, false, 0, "not supported"},
	} {
		m, err := glassbox.Open(path, &glassbox.Options{Context: 64, FlashAttention: tc.fa, ValueCacheType: tc.val})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("-fa %s, V %s: error %v, want one containing %q", tc.fa, tc.val, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.FlashAttn() != tc.on {
			t.Errorf("-fa %s, V %s: FlashAttn() %v, want %v", tc.fa, tc.val, m.FlashAttn(), tc.on)
		}
		if tc.val == 0 {
			m.Close()
			continue
		}
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		if want := 2 * 64 * (128*2 + 4*tc.block); info.KVCache != tc.val.String() || info.KVCacheK != "F16" || info.KVCacheBytes != want {
			t.Errorf("%s values: info kv_cache %s, kv_cache_k %s, %d bytes; want %s, F16, %d", tc.val, info.KVCache, info.KVCacheK, info.KVCacheBytes, tc.val, want)
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
		if meta == nil || meta.KVCache != tc.val.String() || meta.KVCacheK != "F16" {
			t.Errorf("%s values: meta record %+v", tc.val, meta)
		}
	}
}
