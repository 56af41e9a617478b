//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// iqTwins returns the IQ kernels of dot_iq_amd64.s with their pure-Go twins,
// or skips the test when the CPU lacks AVX2, FMA and F16C.
func iqTwins(tb testing.TB) []legacyTwin {
	tb.Helper()
	if !hasAVX2 {
		tb.Skip("no AVX2, FMA and F16C on this CPU")
	}
	return []legacyTwin{
		{"IQ4_NL", IQ4_NL, Q8_0, blockDot(dotIQ4_NLQ8_0AVX2, qk, szIQ4NL, szQ80), dotIQ4_NLQ8_0Go},
		{"MXFP4", MXFP4, Q8_0, blockDot(dotMXFP4Q8_0AVX2, qk, szMXFP4, szQ80), dotMXFP4Q8_0Go},
	}
}

// TestIQAsmMatchesGo checks the assembly kernels bit for bit against their
// pure-Go twins: random blocks of 1 to 70 blocks (every remainder of the
// loop), zero and extreme scales, and activations with 127/-127 everywhere.
func TestIQAsmMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, tw := range iqTwins(t) {
		t.Run(tw.name, func(t *testing.T) {
			for trial := range 300 {
				nb := 1 + trial%70
				n := nb * qk
				w := randomBlocks(rng, tw.w, n, 0.05)
				x := make([]byte, nb*szQ80)
				quantQ8_0ActGo(randNormal(rng, n, 1), x)
				ts := tw.w.TypeSize()
				switch trial % 5 {
				case 1: // extreme scales
					for b := range nb {
						if tw.w == MXFP4 {
							w[b*ts] = byte(rng.IntN(256))
						} else {
							binary.LittleEndian.PutUint16(w[b*ts:], legacyExtremeF16[rng.IntN(len(legacyExtremeF16))])
						}
						binary.LittleEndian.PutUint16(x[b*szQ80:], legacyExtremeF16[rng.IntN(len(legacyExtremeF16))])
					}
				case 2: // largest magnitudes: every product at its bound
					for b := range nb {
						for j := 2; j < szQ80; j++ {
							x[b*szQ80+j] = byte(int8(127 - 254*rng.IntN(2)))
						}
					}
				case 3: // zero scales
					for b := range nb {
						w[b*ts] = 0
						if tw.w != MXFP4 {
							w[b*ts+1] = 0
						}
					}
				}
				got, want := tw.asm(n, w, x), tw.pure(n, w, x)
				if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
					t.Fatalf("trial %d (%d blocks): asm %g (%#x), Go %g (%#x)", trial, nb, got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
		})
	}
}

// BenchmarkIQDot measures the IQ kernels on a 4096-element row, assembly and
// pure Go.
func BenchmarkIQDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(43, 44))
	const n = 4096
	for _, tw := range iqTwins(b) {
		w := randomBlocks(rng, tw.w, n, 0.05)
		x := make([]byte, n/qk*szQ80)
		quantQ8_0ActGo(randNormal(rng, n, 1), x)
		for _, k := range []struct {
			name string
			f    dotFunc
		}{{"asm", tw.asm}, {"go", tw.pure}} {
			b.Run(tw.name+"/"+k.name, func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				for b.Loop() {
					k.f(n, w, x)
				}
			})
		}
	}
}

// iqKTwins returns the super-block IQ kernels of dot_iq_amd64.s (vec_dot and
// the IQ panel's dot) with their pure-Go twins, or skips the test when the
// CPU lacks AVX2, FMA and F16C.
func iqKTwins(tb testing.TB) []legacyTwin {
	tb.Helper()
	if !hasAVX2 {
		tb.Skip("no AVX2, FMA and F16C on this CPU")
	}
	var out []legacyTwin
	pure := map[Type]dotFunc{IQ4_XS: dotIQ4_XSQ8_KGo, IQ2_XXS: dotIQ2_XXSQ8_KGo, IQ2_XS: dotIQ2_XSQ8_KGo,
		IQ3_XXS: dotIQ3_XXSQ8_KGo, IQ3_S: dotIQ3_SQ8_KGo}
	for _, k := range iqKAsm {
		out = append(out,
			legacyTwin{k.t.String(), k.t, Q8_K, blockDot(k.vec, qkK, k.size, szQ8K), pure[k.t]},
			legacyTwin{k.t.String() + "/panel", k.t, Q8_K, blockDot(k.panel, qkK, k.size, szQ8K), iqPanelDotGo(iqPanels[k.t])})
	}
	return out
}

// q8KExtreme are Q8_K scales at the edges: zeros of both signs, a subnormal,
// the largest finite value, infinities, NaN and 1.
var q8KExtreme = []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1}

// TestIQKAsmMatchesGo checks the super-block IQ kernels bit for bit against
// their pure-Go twins, vec_dot and panel: rows of 1 to 20 super-blocks of
// random bytes (every grid index, sign pattern and scale), zero and extreme
// scales, activations of ±127 everywhere, and weight bytes of all ones or all
// zeros.
func TestIQKAsmMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, tw := range iqKTwins(t) {
		t.Run(tw.name, func(t *testing.T) {
			ts := tw.w.TypeSize()
			for trial := range 400 {
				nb := 1 + trial%20
				n := nb * qkK
				w := randomBlocks(rng, tw.w, n, 0.05)
				x := make([]byte, nb*szQ8K)
				quantQ8_KGo(randNormal(rng, n, 1), x)
				switch trial % 6 {
				case 1: // extreme scales
					for b := range nb {
						binary.LittleEndian.PutUint16(w[b*ts:], legacyExtremeF16[rng.IntN(len(legacyExtremeF16))])
						binary.LittleEndian.PutUint32(x[b*szQ8K:], math.Float32bits(q8KExtreme[rng.IntN(len(q8KExtreme))]))
					}
				case 2: // largest magnitudes: every product at its bound
					for b := range nb {
						for j := 4; j < 4+qkK; j++ {
							x[b*szQ8K+j] = byte(int8(127 - 254*rng.IntN(2)))
						}
					}
				case 3: // zero scales
					for b := range nb {
						w[b*ts], w[b*ts+1] = 0, 0
					}
				case 4: // weight bytes all ones or all zeros, activations at +127
					fill := byte(0xff * rng.IntN(2))
					for b := range nb {
						for j := 2; j < ts; j++ {
							w[b*ts+j] = fill
						}
						for j := 4; j < 4+qkK; j++ {
							x[b*szQ8K+j] = 127
						}
					}
				}
				got, want := tw.asm(n, w, x), tw.pure(n, w, x)
				if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
					t.Fatalf("trial %d (%d super-blocks): asm %g (%#x), Go %g (%#x)", trial, nb, got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
		})
	}
}

// BenchmarkIQKDot measures the super-block IQ kernels on a 4096-element row,
// assembly and pure Go, vec_dot and panel.
func BenchmarkIQKDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(47, 48))
	const n = 4096
	for _, tw := range iqKTwins(b) {
		w := randomBlocks(rng, tw.w, n, 0.05)
		x := make([]byte, n/qkK*szQ8K)
		quantQ8_KGo(randNormal(rng, n, 1), x)
		for _, k := range []struct {
			name string
			f    dotFunc
		}{{"asm", tw.asm}, {"go", tw.pure}} {
			b.Run(tw.name+"/"+k.name, func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				for b.Loop() {
					k.f(n, w, x)
				}
			})
		}
	}
}
