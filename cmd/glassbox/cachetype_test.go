package main

import (
	"strings"
	"testing"

	"glassbox"
)

// TestParseCacheTypes checks --cache-type-k/--cache-type-v (with --kv-f32):
// the supported combinations and a clear error for the others.
func TestParseCacheTypes(t *testing.T) {
	for _, tc := range []struct {
		k, v  string
		kvF32 bool
		key   glassbox.TensorType
		f32   bool
		err   string
	}{
		{"", "", false, 0, false, ""},
		{"", "", true, 0, true, ""},
		{"f16", "f16", false, 0, false, ""},
		{"F32", "f32", false, 0, true, ""},
		{"f32", "", true, 0, true, ""},
		{"q8_0", "", false, glassbox.KeyCacheQ8_0, false, ""},
		{"Q4_0", "f32", false, glassbox.KeyCacheQ4_0, true, ""},
		{"q4_0", "", true, glassbox.KeyCacheQ4_0, true, ""},
		{"q8_0", "q8_0", false, 0, false, "needs flash attention"},
		{"", "q4_0", false, 0, false, "needs flash attention"},
		{"", "f16", true, 0, false, "contradict"},
		{"", "int8", false, 0, false, `--cache-type-v "int8": want f16 or f32`},
		{"q5_1", "", false, 0, false, "want f16, f32, q8_0 or q4_0"},
		{"f32", "f16", false, 0, false, "float keys take the values' type"},
		{"f16", "", true, 0, false, "float keys take the values' type"},
	} {
		key, f32, err := parseCacheTypes(tc.k, tc.v, tc.kvF32)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("-k %q -v %q --kv-f32=%v: error %v, want one containing %q", tc.k, tc.v, tc.kvF32, err, tc.err)
			}
			continue
		}
		if err != nil || key != tc.key || f32 != tc.f32 {
			t.Errorf("-k %q -v %q --kv-f32=%v: %s, f32 %v, %v; want %s, %v", tc.k, tc.v, tc.kvF32, key, f32, err, tc.key, tc.f32)
		}
	}
}
