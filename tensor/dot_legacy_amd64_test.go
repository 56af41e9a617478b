//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// legacyTwin is one kernel of dot_legacy_amd64.s with its pure-Go twin: w is
// the weight type, x the activation layout (Q8_0, Q8_1, or F32 for BF16).
type legacyTwin struct {
	name      string
	w, x      Type
	asm, pure dotFunc
}

// legacyTwins returns every kernel of dot_legacy_amd64.s this CPU runs (the
// AVX2 ones and, where present, the AVX-512 variants), or skips the test when
// the CPU lacks AVX2, FMA and F16C.
func legacyTwins(tb testing.TB) []legacyTwin {
	tb.Helper()
	if !hasAVX2 {
		tb.Skip("no AVX2, FMA and F16C on this CPU")
	}
	useAsm(true)
	twins := []legacyTwin{
		{"Q5_0", Q5_0, Q8_0, blockDot(dotQ5_0Q8_0AVX2, qk, szQ50, szQ80), dotQ5_0Q8_0Go},
		{"Q4_1", Q4_1, Q8_1, blockDot(dotQ4_1Q8_1AVX2, qk, szQ41, szQ81), dotQ4_1Q8_1Go},
		{"Q5_1", Q5_1, Q8_1, blockDot(dotQ5_1Q8_1AVX2, qk, szQ51, szQ81), dotQ5_1Q8_1Go},
		{"BF16", BF16, F32, dotBF16AVX2, dotBF16BF16Go},
	}
	if hasAVX512BWVL {
		twins = append(twins,
			legacyTwin{"Q5_0-avx512", Q5_0, Q8_0, blockDot(dotQ5_0Q8_0AVX512, qk, szQ50, szQ80), dotQ5_0Q8_0Go},
			legacyTwin{"Q5_1-avx512", Q5_1, Q8_1, blockDot(dotQ5_1Q8_1AVX512, qk, szQ51, szQ81), dotQ5_1Q8_1Go},
		)
	}
	return twins
}

// legacyExtremeF16 are f16 scale bit patterns at the edges: zeros of both
// signs, subnormals, the largest finite values, infinities, NaN and 1.
var legacyExtremeF16 = []uint16{0x0000, 0x8000, 0x0001, 0x83ff, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x3c00}

// legacyWeights returns nb blocks of the quantized type t in one of three
// modes: random bytes with finite scales, zero scales, or extreme scales with
// quant and qh bytes pushed towards 0x00, 0x0f, 0xf0 and 0xff.
func legacyWeights(rng *rand.Rand, t Type, nb, mode int) []byte {
	w := randomBlocks(rng, t, nb*qk, 0.05)
	ts := t.TypeSize()
	for i := 0; i < nb; i++ {
		blk := w[i*ts : (i+1)*ts]
		switch mode {
		case 1:
			for _, off := range halfFields[t] {
				binary.LittleEndian.PutUint16(blk[off:], 0)
			}
		case 2:
			fill := rng.IntN(3) // all 0x00, all 0xff, or scattered extremes
			for j := range blk {
				switch {
				case fill == 0:
					blk[j] = 0
				case fill == 1:
					blk[j] = 0xff
				case rng.IntN(2) == 0:
					blk[j] = []byte{0, 0x0f, 0xf0, 0xff}[rng.IntN(4)]
				}
			}
			for _, off := range halfFields[t] {
				binary.LittleEndian.PutUint16(blk[off:], legacyExtremeF16[rng.IntN(len(legacyExtremeF16))])
			}
		}
	}
	return w
}

// legacyActs returns nb blocks of t (Q8_0 or Q8_1) in one of three modes:
// random bytes with finite scales (s unrelated to the quants), the output of
// the real activation quantizer for edge-case floats, or extreme scales and
// quants (-128 included, which the quantizer never makes).
func legacyActs(rng *rand.Rand, t Type, nb, mode int) []byte {
	ts, q0 := szQ80, 2
	if t == Q8_1 {
		ts, q0 = szQ81, 4
	}
	switch mode {
	case 1:
		src := make([]float32, nb*qk)
		regime := rng.IntN(6)
		for i := range src {
			r := regime
			if rng.IntN(4) == 0 {
				r = rng.IntN(6)
			}
			src[i] = edgeFloat(rng, r)
		}
		x := make([]byte, nb*ts)
		if t == Q8_1 {
			quantActQ8_1(src, x)
		} else {
			quantActQ8_0(src, x)
		}
		return x
	case 2:
		x := randomBlocks(rng, t, nb*qk, 1)
		for i := 0; i < nb; i++ {
			blk := x[i*ts : (i+1)*ts]
			fill := rng.IntN(3) // all -128, all 127, or scattered extremes
			for j := q0; j < ts; j++ {
				switch {
				case fill == 0:
					blk[j] = 0x80
				case fill == 1:
					blk[j] = 0x7f
				case rng.IntN(2) == 0:
					blk[j] = []byte{0x80, 0x7f, 0x81, 0}[rng.IntN(4)]
				}
			}
			for _, off := range halfFields[t] {
				binary.LittleEndian.PutUint16(blk[off:], legacyExtremeF16[rng.IntN(len(legacyExtremeF16))])
			}
		}
		return x
	}
	return randomBlocks(rng, t, nb*qk, 1)
}

// legacyBF16 returns n BF16 weights and n F32 activations in one of four
// modes: rounded normal values, edge-case floats (mixed regimes) with the
// activations rounded by actBF16 as in MatVec, arbitrary bit patterns (NaN,
// Inf and subnormals included) on both sides, or normal values with
// unrounded activations (whose products with the weights are inexact, so a
// fused multiply-add would round differently).
func legacyBF16(rng *rand.Rand, n, mode int) (w, x []byte) {
	w = make([]byte, 2*n)
	xf := make([]float32, n)
	regime := rng.IntN(6)
	for i := range xf {
		var a, b float32
		switch mode {
		case 0, 3:
			a, b = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		case 1:
			r := regime
			if rng.IntN(4) == 0 {
				r = rng.IntN(6)
			}
			a, b = edgeFloat(rng, r), edgeFloat(rng, r)
		case 2:
			a, b = math.Float32frombits(rng.Uint32()), math.Float32frombits(rng.Uint32())
		}
		bits := F32ToBF16(a)
		if mode == 2 {
			bits = uint16(rng.Uint32())
		}
		binary.LittleEndian.PutUint16(w[2*i:], bits)
		xf[i] = b
	}
	x = make([]byte, 4*n)
	if mode >= 2 {
		copy(x, f32Bytes(xf))
	} else {
		actBF16(xf, x)
	}
	return w, x
}

// legacyInputs returns weights and activations of nb blocks (BF16: nb
// elements) for the twin tw in the given weight and activation modes (0 to
// 2; BF16 uses its four modes).
func legacyInputs(rng *rand.Rand, tw legacyTwin, nb, wmode, xmode int) (n int, w, x []byte) {
	if tw.w == BF16 {
		w, x = legacyBF16(rng, nb, (3*wmode+xmode)%4)
		return nb, w, x
	}
	return nb * qk, legacyWeights(rng, tw.w, nb, wmode), legacyActs(rng, tw.x, nb, xmode)
}

// TestAsmTwinsLegacy compares each kernel of dot_legacy_amd64.s with its
// pure-Go twin bit for bit (NaN equal to NaN) for every number of blocks from
// 0 to 20 (BF16: every length from 0 to 300) and a few large ones, under
// every combination of weight and activation modes.
func TestAsmTwinsLegacy(t *testing.T) {
	rng := rand.New(rand.NewPCG(91, 92))
	for _, tw := range legacyTwins(t) {
		t.Run(tw.name, func(t *testing.T) {
			sizes := []int{}
			maxSmall, large := 20, []int{64, 137, 1000}
			if tw.w == BF16 {
				maxSmall, large = 300, []int{4096, 4099, 11008}
			}
			for nb := 0; nb <= maxSmall; nb++ {
				sizes = append(sizes, nb)
			}
			sizes = append(sizes, large...)
			checked := 0
			for _, nb := range sizes {
				for wmode := 0; wmode < 3; wmode++ {
					for xmode := 0; xmode < 3; xmode++ {
						n, w, x := legacyInputs(rng, tw, nb, wmode, xmode)
						got, want := tw.asm(n, w, x), tw.pure(n, w, x)
						if !sameBits(got, want) {
							t.Fatalf("%d blocks, weight mode %d, activation mode %d: assembly %g (%#08x), Go %g (%#08x)",
								nb, wmode, xmode, got, math.Float32bits(got), want, math.Float32bits(want))
						}
						checked++
					}
				}
			}
			if checked != 9*len(sizes) {
				t.Fatalf("checked %d cases, want %d", checked, 9*len(sizes))
			}
		})
	}
}

// TestAsmTwinsLegacyOffsets checks the kernels on rows that start at odd
// addresses and rows with a partial trailing block, which both the kernel
// and its twin ignore (the buffers hold only the whole blocks).
func TestAsmTwinsLegacyOffsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(93, 94))
	for _, tw := range legacyTwins(t) {
		for trial := 0; trial < 60; trial++ {
			nb := 1 + trial%13
			n, w, x := legacyInputs(rng, tw, nb, trial%3, trial/3%3)
			off := 1 + trial%7
			w2 := append(make([]byte, off), w...)[off:]
			x2 := append(make([]byte, off+1), x...)[off+1:]
			if tw.w != BF16 {
				n += trial % qk // elements past the last whole block are ignored
			}
			got, want := tw.asm(n, w2, x2), tw.pure(n, w, x)
			if !sameBits(got, want) {
				t.Fatalf("%s trial %d (n=%d, offset %d): assembly %g (%#08x), Go %g (%#08x)", tw.name, trial, n, off,
					got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// TestAsmTwinsLegacyKnown checks each kernel, the selected one and the Go
// twin on blocks whose dot product is known exactly: all weight quants at
// one value, activations all 1 with unit scales.
func TestAsmTwinsLegacyKnown(t *testing.T) {
	tests := []struct {
		w    Type
		blk  []byte  // one weight block
		want float32 // per block, with 32 activations of 1 (Q8_1: s = 32)
	}{
		// Q5_0: nibble 3, fifth bit set → 3+16-16 = 3 for all 32 elements
		{Q5_0, append([]byte{0x00, 0x3c, 0xff, 0xff, 0xff, 0xff}, repeat(0x33, 16)...), 96},
		// Q5_0: nibble 0, no fifth bit → -16
		{Q5_0, append([]byte{0x00, 0x3c, 0, 0, 0, 0}, repeat(0x00, 16)...), -512},
		// Q4_1: d = 1, m = 1: (15·32)·1 + m·s = 480 + 32
		{Q4_1, append([]byte{0x00, 0x3c, 0x00, 0x3c}, repeat(0xff, 16)...), 512},
		// Q5_1: d = 1, m = 0, value 31 everywhere
		{Q5_1, append([]byte{0x00, 0x3c, 0, 0, 0xff, 0xff, 0xff, 0xff}, repeat(0xff, 16)...), 992},
		// Q5_1: only element 0 has its fifth bit: 16 + 0·31
		{Q5_1, append([]byte{0x00, 0x3c, 0, 0, 1, 0, 0, 0}, repeat(0x00, 16)...), 16},
	}
	twins := legacyTwins(t)
	for i, tc := range tests {
		k, _ := kernelFor(tc.w)
		kerns := map[string]dotFunc{"selected": *k.dot}
		for _, tw := range twins {
			if tw.w == tc.w {
				kerns[tw.name] = tw.asm
				kerns["Go twin"] = tw.pure
			}
		}
		for _, nb := range []int{1, 3, 4, 5, 9} {
			var w, x []byte
			for range nb {
				w = append(w, tc.blk...)
				if tc.w == Q5_0 {
					x = append(x, 0x00, 0x3c)
				} else {
					x = append(x, 0x00, 0x3c, 0x00, 0x50) // s = 32
				}
				x = append(x, repeat(1, qk)...)
			}
			for name, f := range kerns {
				if got := f(nb*qk, w, x); got != float32(nb)*tc.want {
					t.Errorf("case %d (%s), %d blocks, %s: got %g, want %g", i, tc.w, nb, name, got, float32(nb)*tc.want)
				}
			}
		}
	}
}

// TestUseAsmLegacy checks that useAsm(false) selects the pure-Go twins and
// useAsm(true) the assembly kernels.
func TestUseAsmLegacy(t *testing.T) {
	defer useAsm(true)
	vars := []*dotFunc{&dotQ5_0Q8_0, &dotQ4_1Q8_1, &dotQ5_1Q8_1, &dotBF16BF16}
	twins := []dotFunc{dotQ5_0Q8_0Go, dotQ4_1Q8_1Go, dotQ5_1Q8_1Go, dotBF16BF16Go}
	for _, on := range []bool{false, true} {
		useAsm(on)
		for i, v := range vars {
			isGo := reflect.ValueOf(*v).Pointer() == reflect.ValueOf(twins[i]).Pointer()
			if wantGo := !on || !hasAVX2; isGo != wantGo {
				t.Errorf("useAsm(%v): kernel %d is the Go twin: %v, want %v", on, i, isGo, wantGo)
			}
		}
	}
}

// BenchmarkDotKernelsLegacy times each kernel of dot_legacy_amd64.s and its
// Go twin on one in-cache row of 4096 elements; MB/s is weight bytes.
func BenchmarkDotKernelsLegacy(b *testing.B) {
	rng := rand.New(rand.NewPCG(95, 96))
	const n = 4096
	for _, tw := range legacyTwins(b) {
		nb := n / qk
		if tw.w == BF16 {
			nb = n
		}
		_, w, x := legacyInputs(rng, tw, nb, 0, 0)
		for _, v := range []struct {
			name string
			f    dotFunc
		}{{"asm", tw.asm}, {"go", tw.pure}} {
			b.Run(tw.name+"/"+v.name, func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				for i := 0; i < b.N; i++ {
					v.f(n, w, x)
				}
			})
		}
	}
}
