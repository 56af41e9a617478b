//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// kTwin is one K-quant assembly kernel of dot_k_amd64.s with its pure-Go twin.
type kTwin struct {
	typ       Type
	asm, pure dotFunc
}

// kTwins returns the kernels of dot_k_amd64.s (with the assembly selected),
// or skips the test when the CPU lacks AVX2.
func kTwins(tb testing.TB) []kTwin {
	tb.Helper()
	if !hasAVX2 {
		tb.Skip("no AVX2, FMA and F16C on this CPU")
	}
	useAsm(true)
	return []kTwin{
		{Q5_K, dotQ5_KQ8_K, dotQ5_KQ8_KGo},
		{Q3_K, dotQ3_KQ8_K, dotQ3_KQ8_KGo},
		{Q2_K, dotQ2_KQ8_K, dotQ2_KQ8_KGo},
	}
}

// Extreme scale values: f16 bit patterns for the weights, float32 ones for
// the Q8_K activations (zeros, subnormals, the largest finite values,
// infinities and NaN).
var (
	kExtremeF16 = []uint16{0x0000, 0x8000, 0x0001, 0x83ff, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x3c00}
	kExtremeF32 = []uint32{0x00000000, 0x80000000, 0x00000001, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x3f800000, 0x1e3ce508}
)

// kWeights returns nb random blocks of type t in one of three modes: random
// bytes with finite scales, zero scales, or extreme scales with quant bytes
// pushed towards 0x00, 0x7f, 0x80 and 0xff.
func kWeights(rng *rand.Rand, t Type, nb, mode int) []byte {
	w := randomBlocks(rng, t, nb*qkK, 0.05)
	ts := t.TypeSize()
	for i := 0; i < nb; i++ {
		blk := w[i*ts : (i+1)*ts]
		switch mode {
		case 1:
			for _, off := range halfFields[t] {
				binary.LittleEndian.PutUint16(blk[off:], 0)
			}
		case 2:
			for j := range blk {
				if rng.IntN(3) == 0 {
					blk[j] = []byte{0, 0x7f, 0x80, 0xff}[rng.IntN(4)]
				}
			}
			for _, off := range halfFields[t] {
				binary.LittleEndian.PutUint16(blk[off:], kExtremeF16[rng.IntN(len(kExtremeF16))])
			}
		}
	}
	return w
}

// kActs returns nb Q8_K blocks in one of three modes: random bytes with
// finite scales (bsums unrelated to the quants), the output of quantActQ8_K
// for edge-case floats, or extreme scales, quants and bsums.
func kActs(rng *rand.Rand, nb, mode int) []byte {
	switch mode {
	case 1:
		src := make([]float32, nb*qkK)
		regime := rng.IntN(6)
		for i := range src {
			r := regime
			if rng.IntN(4) == 0 {
				r = rng.IntN(6)
			}
			src[i] = edgeFloat(rng, r)
		}
		x := make([]byte, nb*szQ8K)
		quantActQ8_K(src, x)
		return x
	case 2:
		x := randomBlocks(rng, Q8_K, nb*qkK, 1)
		for i := 0; i < nb; i++ {
			blk := x[i*szQ8K : (i+1)*szQ8K]
			fill := rng.IntN(3) // all -128, all 127, or scattered extremes
			for j := 4; j < 260; j++ {
				switch {
				case fill == 0:
					blk[j] = 0x80
				case fill == 1:
					blk[j] = 0x7f
				case rng.IntN(2) == 0:
					blk[j] = []byte{0x80, 0x7f, 0x81, 0}[rng.IntN(4)]
				}
			}
			for j := 260; j < szQ8K; j += 2 {
				if rng.IntN(2) == 0 {
					binary.LittleEndian.PutUint16(blk[j:], []uint16{0x8000, 0x7fff, 0xffff}[rng.IntN(3)])
				}
			}
			binary.LittleEndian.PutUint32(blk, kExtremeF32[rng.IntN(len(kExtremeF32))])
		}
		return x
	}
	return randomBlocks(rng, Q8_K, nb*qkK, 1)
}

// TestAsmTwinsK compares each K-quant assembly kernel with its pure-Go twin
// bit for bit (NaN equal to NaN) for every number of super-blocks from 0 to
// 20 and a few large ones, under every combination of weight and activation
// modes, including rows with a partial trailing block that both ignore.
func TestAsmTwinsK(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	sizes := []int{}
	for nb := 0; nb <= 20; nb++ {
		sizes = append(sizes, nb)
	}
	sizes = append(sizes, 31, 64, 129)
	for _, tw := range kTwins(t) {
		t.Run(tw.typ.String(), func(t *testing.T) {
			checked, ordinary := 0, 0
			for _, nb := range sizes {
				for wm := 0; wm < 3; wm++ {
					for xm := 0; xm < 3; xm++ {
						for rep := 0; rep < 3; rep++ {
							w, x := kWeights(rng, tw.typ, nb, wm), kActs(rng, nb, xm)
							n := nb * qkK
							if rep == 2 {
								n += 1 + rng.IntN(qkK-1) // a partial block, beyond the data
							}
							got, want := tw.asm(n, w, x), tw.pure(n, w, x)
							if !sameBits(got, want) {
								t.Fatalf("%d blocks, weights mode %d, activations mode %d: assembly %g (%#08x), Go %g (%#08x)",
									nb, wm, xm, got, math.Float32bits(got), want, math.Float32bits(want))
							}
							checked++
							if wm == 0 && xm == 0 && nb > 0 {
								// ordinary data: the result must be a real number
								if want == 0 || math.IsNaN(float64(want)) || math.IsInf(float64(want), 0) {
									t.Fatalf("%d blocks of ordinary data gave %g", nb, want)
								}
								ordinary++
							}
						}
					}
				}
			}
			if checked != len(sizes)*27 || ordinary != (len(sizes)-1)*3 {
				t.Fatalf("%d cases checked (%d of ordinary data)", checked, ordinary)
			}
		})
	}
}

// TestAsmTwinsKSingleBlock checks every sub-block position of each kernel: a
// single nonzero quant at each of the 256 positions (with all scales set)
// must give the Go twin's result, which catches a scale or a high bit applied
// to the wrong elements even where random data might average it out.
func TestAsmTwinsKSingleBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(83, 84))
	for _, tw := range kTwins(t) {
		t.Run(tw.typ.String(), func(t *testing.T) {
			w := kWeights(rng, tw.typ, 1, 0)
			for pos := 0; pos < qkK; pos++ {
				x := make([]byte, szQ8K)
				binary.LittleEndian.PutUint32(x, math.Float32bits(0.5))
				x[4+pos] = byte(1 + rng.IntN(127))
				binary.LittleEndian.PutUint16(x[260+2*(pos/16):], uint16(x[4+pos]))
				got, want := tw.asm(qkK, w, x), tw.pure(qkK, w, x)
				if !sameBits(got, want) {
					t.Fatalf("activation at %d: assembly %g, Go %g", pos, got, want)
				}
			}
		})
	}
}

// TestUseAsmK checks that the hook selects the assembly kernels when asked
// and the pure-Go twins otherwise.
func TestUseAsmK(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2, FMA and F16C on this CPU")
	}
	defer useAsm(true)
	ptr := func(f dotFunc) uintptr { return reflect.ValueOf(f).Pointer() }
	tests := []struct {
		name     string
		cur      *dotFunc
		pure     dotFunc
		wantPure bool
		switchOn bool
	}{
		{"Q2_K on", &dotQ2_KQ8_K, dotQ2_KQ8_KGo, false, true},
		{"Q3_K on", &dotQ3_KQ8_K, dotQ3_KQ8_KGo, false, true},
		{"Q5_K on", &dotQ5_KQ8_K, dotQ5_KQ8_KGo, false, true},
		{"Q2_K off", &dotQ2_KQ8_K, dotQ2_KQ8_KGo, true, false},
		{"Q3_K off", &dotQ3_KQ8_K, dotQ3_KQ8_KGo, true, false},
		{"Q5_K off", &dotQ5_KQ8_K, dotQ5_KQ8_KGo, true, false},
	}
	for _, tc := range tests {
		useAsmK(tc.switchOn)
		if isPure := ptr(*tc.cur) == ptr(tc.pure); isPure != tc.wantPure {
			t.Errorf("%s: pure-Go twin selected = %v, want %v", tc.name, isPure, tc.wantPure)
		}
	}
}

// BenchmarkDotKernelsK times each K-quant assembly kernel and its Go twin on
// one row of 4096 elements (in cache); MB/s counts weight bytes.
func BenchmarkDotKernelsK(b *testing.B) {
	rng := rand.New(rand.NewPCG(85, 86))
	const n = 4096
	for _, tw := range kTwins(b) {
		w := randomBlocks(rng, tw.typ, n, 0.05)
		x := kActs(rng, n/qkK, 1)
		for _, v := range []struct {
			name string
			f    dotFunc
		}{{"asm", tw.asm}, {"go", tw.pure}} {
			b.Run(tw.typ.String()+"/"+v.name, func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				for i := 0; i < b.N; i++ {
					v.f(n, w, x)
				}
			})
		}
	}
}
