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
