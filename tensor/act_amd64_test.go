//go:build amd64 && !purego

package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestQuantQ8_KAVX512 checks the AVX-512 Q8_K quantizer against
// quantQ8_KGo byte for byte: value regimes from edgeFloat (zeros, signed
// zeros, subnormals, huge values, ties, any bit pattern), a largest
// magnitude reached by values of both signs, NaN and Inf, blocks of zeros.
func TestQuantQ8_KAVX512(t *testing.T) {
	if !hasAVX512 || !cpu.X86.HasAVX512BW {
		t.Skip("no AVX-512 BW")
	}
	rng := rand.New(rand.NewPCG(41, 43))
	special := []struct {
		name string
		set  func(x []float32)
	}{
		{"plain", func(x []float32) {}},
		{"tie-signs", func(x []float32) { x[17], x[200] = -9, 9 }},
		{"tie-signs-reversed", func(x []float32) { x[3], x[255] = 9, -9 }},
		{"nan", func(x []float32) { x[5] = float32(math.NaN()) }},
		{"inf", func(x []float32) { x[70] = float32(math.Inf(-1)) }},
		{"zeros", func(x []float32) { clear(x) }},
		{"nan-and-zeros", func(x []float32) { clear(x); x[100] = float32(math.NaN()) }},
		{"tiny-max", func(x []float32) {
			for i := range x {
				x[i] = math.Float32frombits(uint32(rng.IntN(8)))
			}
		}},
	}
	for regime := range 7 {
		for _, sp := range special {
			for _, nb := range []int{0, 1, 3} {
				t.Run(fmt.Sprintf("r%d/%s/nb%d", regime, sp.name, nb), func(t *testing.T) {
					x := make([]float32, nb*qkK)
					for i := range x {
						r := regime
						if r == 6 {
							r = rng.IntN(6)
						}
						x[i] = edgeFloat(rng, r)
					}
					for b := range nb {
						if b != 1 {
							sp.set(x[b*qkK : (b+1)*qkK])
						}
					}
					got := make([]byte, nb*szQ8K)
					want := make([]byte, nb*szQ8K)
					for i := range got {
						got[i] = 0xa5 // the zero block must be written in full
					}
					quantQ8_KAVX512Act(x, got)
					quantQ8_KGo(x, want)
					for i := range got {
						if got[i] != want[i] {
							b := i / szQ8K
							t.Fatalf("byte %d (block %d, offset %d) = %#x, want %#x", i, b, i%szQ8K, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestF16AVX512 checks the AVX-512 F32→F16 conversions against their
// pure-Go twins bit for bit, for every length up to 70 (all tails) and
// every value regime (NaN, Inf, subnormals, values that overflow F16).
func TestF16AVX512(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(47, 53))
	for regime := range 7 {
		for n := range 71 {
			x := make([]float32, n)
			for i := range x {
				r := regime
				if r == 6 {
					r = rng.IntN(6)
				}
				x[i] = edgeFloat(rng, r)
				if regime == 3 && i%3 == 0 {
					x[i] = float32(rng.NormFloat64()) * 1e-5 // half subnormals
				}
			}
			got := make([]uint16, n+1)
			want := make([]uint16, n+1)
			f32ToF16Asm(got, x)
			f32ToF16Go(want, x)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("regime %d, n %d: F16 %d = %#x, want %#x (input %v)", regime, n, i, got[i], want[i], x[i])
				}
			}
			gr := make([]byte, 4*n)
			wr := make([]byte, 4*n)
			actF16AVX512(x, gr)
			actF16Go(x, wr)
			for i := range gr {
				if gr[i] != wr[i] {
					t.Fatalf("regime %d, n %d: rounded byte %d = %#x, want %#x", regime, n, i, gr[i], wr[i])
				}
			}
		}
	}
}

// BenchmarkActConvert measures the activation conversions of one 4096-wide
// row, AVX-512 against pure Go.
func BenchmarkActConvert(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 3))
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	q := make([]byte, len(x)/qkK*szQ8K)
	h := make([]uint16, len(x))
	r := make([]byte, 4*len(x))
	for _, k := range []struct {
		name string
		f    func()
	}{
		{"Q8_K/go", func() { quantQ8_KGo(x, q) }},
		{"Q8_K/avx512", func() { quantQ8_KAVX512Act(x, q) }},
		{"F16/go", func() { f32ToF16Go(h, x) }},
		{"F16/avx512", func() { f32ToF16Asm(h, x) }},
		{"roundF16/go", func() { actF16Go(x, r) }},
		{"roundF16/avx512", func() { actF16AVX512(x, r) }},
	} {
		b.Run(k.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				k.f()
			}
		})
	}
}
