package glassbox

import (
	"slices"
	"testing"
)

func TestQuantBitsPerWeight(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bits float64
		base string
	}{
		{"F32", 32, "F32"}, {"f16", 16, "F16"}, {"BF16", 16, "BF16"}, {"Q8_0", 8.5, "Q8_0"}, {"Q4_0", 4.5, "Q4_0"},
		{"Q4_K", 4.5, "Q4_K"}, {"Q4_K_M", 4.5, "Q4_K"}, {"q4_k_s", 4.5, "Q4_K"}, {"Q5_K_M", 5.5, "Q5_K"}, {"Q6_K", 6.5625, "Q6_K"},
		{"Q2_K", 2.625, "Q2_K"}, {"Q3_K_L", 3.4375, "Q3_K"}, {"IQ4_XS", 4.25, "IQ4_XS"}, {"MXFP4", 4.25, "MXFP4"},
	} {
		bits, base, err := QuantBitsPerWeight(tc.in)
		if err != nil || bits != tc.bits || base.String() != tc.base {
			t.Errorf("QuantBitsPerWeight(%q) = %v, %v, %v; want %v, %s", tc.in, bits, base, err, tc.bits, tc.base)
		}
	}
	for _, bad := range []string{"", "Q4", "Q9_K_M", "_M", "NVFP4"} {
		if _, _, err := QuantBitsPerWeight(bad); err == nil {
			t.Errorf("QuantBitsPerWeight(%q): no error", bad)
		}
	}
	if a := Architectures(); !slices.Contains(a, "llama") || !slices.Contains(a, "qwen3") {
		t.Errorf("Architectures() = %v", a)
	}
}
