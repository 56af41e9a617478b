package model

import (
	"sync"

	"glassbox/tensor"
)

// ggml's CPU backend computes GELU on float32 values through a table of
// 65536 F16 results indexed by the F16 rounding of the input (GGML_GELU_FP16,
// ggml-cpu/vec.h): inputs at or below -10 give 0, at or above 10 the input
// itself. geluTable rebuilds that table the way ggml_cpu_init fills it:
// ggml_gelu_f32 of every F16 value, in float32 with the inner
// 1 + 0.044715·x·x contracted into one fused multiply-add (as GCC compiles
// ggml with -march=native on an FMA machine), rounded to F16. Its sha256 is
// checked against the table of llama.cpp's build (TestGELUTable).

var (
	geluOnce sync.Once
	geluTab  []uint16
)

// geluF32 is ggml_gelu_f32: 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))).
func geluF32(x float32) float32 {
	const (
		sqrt2OverPi = float32(0.79788456080286535587989211986876)
		coefA       = float32(0.044715)
	)
	inner := sqrt2OverPi * x * tensor.FMA32(coefA*x, x, 1)
	return 0.5 * x * (1 + tanhf(inner))
}

// geluTable returns ggml's GELU table (built once).
func geluTable() []uint16 {
	geluOnce.Do(func() {
		geluTab = make([]uint16, 1<<16)
		for i := range geluTab {
			h := uint16(i)
			if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
				// a NaN input: ggml's entry is the default quiet NaN
				// with the input's sign
				geluTab[i] = h&0x8000 | 0x7e00
				continue
			}
			geluTab[i] = tensor.F32ToF16(geluF32(tensor.F16ToF32(h)))
		}
	})
	return geluTab
}

// geluMul sets g[i] = gelu(g[i]) * up[i] as ggml_vec_geglu_f32 does (the
// table lookup above). up must be at least as long as g.
func geluMul(g, up []float32) {
	tab := geluTable()
	up = up[:len(g)]
	for i, x := range g {
		switch {
		case x <= -10:
			g[i] = 0
		case x >= 10:
			g[i] = x * up[i]
		default:
			g[i] = tensor.F16ToF32(tab[tensor.F32ToF16(x)]) * up[i]
		}
	}
}
