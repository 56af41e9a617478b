package main

import (
	"strings"
	"testing"

	"glassbox"
)

// TestParseCacheTypes checks --cache-type-k/--cache-type-v (with --kv-f32
// and --flash-attn): the supported combinations and a clear error for the
// others.
func TestParseCacheTypes(t *testing.T) {
	const (
		auto = glassbox.FlashAttnAuto
		on   = glassbox.FlashAttnOn
		off  = glassbox.FlashAttnOff
	)
	for _, tc := range []struct {
		k, v     string
		kvF32    bool
		fa       glassbox.FlashAttention
		key, val glassbox.TensorType
		f32      bool
		err      string
	}{
		{"", "", false, auto, 0, 0, false, ""},
		{"", "", true, auto, 0, 0, true, ""},
		{"f16", "f16", false, auto, 0, 0, false, ""},
		{"F32", "f32", false, auto, 0, 0, true, ""},
		{"f32", "", true, auto, 0, 0, true, ""},
		{"q8_0", "", false, auto, glassbox.KeyCacheQ8_0, 0, false, ""},
		{"Q4_0", "f32", false, auto, glassbox.KeyCacheQ4_0, 0, true, ""},
		{"q4_0", "", true, auto, glassbox.KeyCacheQ4_0, 0, true, ""},
		{"q8_0", "q8_0", false, auto, glassbox.KeyCacheQ8_0, glassbox.KeyCacheQ8_0, false, ""},
		{"q4_0", "Q4_0", false, on, glassbox.KeyCacheQ4_0, glassbox.KeyCacheQ4_0, false, ""},
		{"", "q4_0", false, auto, 0, glassbox.KeyCacheQ4_0, false, ""},
		{"f16", "q8_0", false, on, 0, glassbox.KeyCacheQ8_0, false, ""},
		{"q8_0", "q8_0", false, off, 0, 0, false, "needs flash attention"},
		{"", "q4_0", false, off, 0, 0, false, "needs flash attention"},
		{"f32", "q8_0", false, auto, 0, 0, false, "keys beside quantized values"},
		{"", "q8_0", true, auto, 0, 0, false, "contradict"},
		{"", "f16", true, auto, 0, 0, false, "contradict"},
		{"", "int8", false, auto, 0, 0, false, `--cache-type-v "int8": want f16, f32, q8_0 or q4_0`},
		{"", "q5_1", false, auto, 0, 0, false, "not supported"},
		{"q5_1", "", false, auto, 0, 0, false, "want f16, f32, q8_0 or q4_0"},
		{"f32", "f16", false, auto, 0, 0, false, "float keys take the values' type"},
		{"f16", "", true, auto, 0, 0, false, "float keys take the values' type"},
	} {
		key, val, f32, err := parseCacheTypes(tc.k, tc.v, tc.kvF32, tc.fa)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("-k %q -v %q --kv-f32=%v -fa %s: error %v, want one containing %q", tc.k, tc.v, tc.kvF32, tc.fa, err, tc.err)
			}
			continue
		}
		if err != nil || key != tc.key || val != tc.val || f32 != tc.f32 {
			t.Errorf("-k %q -v %q --kv-f32=%v -fa %s: %s, %s, f32 %v, %v; want %s, %s, %v", tc.k, tc.v, tc.kvF32, tc.fa, key, val, f32, err, tc.key, tc.val, tc.f32)
		}
	}
}

// TestParseFlashAttention checks the values --flash-attn accepts.
func TestParseFlashAttention(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want glassbox.FlashAttention
		ok   bool
	}{
		{"auto", glassbox.FlashAttnAuto, true}, {"", glassbox.FlashAttnAuto, true},
		{"on", glassbox.FlashAttnOn, true}, {"1", glassbox.FlashAttnOn, true}, {"TRUE", glassbox.FlashAttnOn, true},
		{"off", glassbox.FlashAttnOff, true}, {"0", glassbox.FlashAttnOff, true}, {"disabled", glassbox.FlashAttnOff, true},
		{"maybe", 0, false},
	} {
		got, err := glassbox.ParseFlashAttention(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %s, %v; want %s (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
