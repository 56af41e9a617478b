package tensor

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/x448/float16"
)

func isNaN32(f float32) bool { return f != f }

// TestF16Exhaustive checks every half value: F16ToF32 against x448/float16,
// and that F32ToF16 gives the same half back.
func TestF16Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := F16ToF32(h)
		want := float16.Frombits(h).Float32()
		if isNaN32(want) {
			if !isNaN32(got) {
				t.Fatalf("F16ToF32(%#04x) = %v, want NaN", h, got)
			}
			if back := F32ToF16(got); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("F32ToF16(NaN from %#04x) = %#04x, not a NaN", h, back)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("F16ToF32(%#04x) = %v (%#08x), want %v (%#08x)", h, got, math.Float32bits(got), want, math.Float32bits(want))
		}
		if back := F32ToF16(got); back != h {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
		if slow := f16ToF32Slow(h); math.Float32bits(slow) != math.Float32bits(got) {
			t.Fatalf("f16 table and slow conversion differ at %#04x", h)
		}
	}
}

// TestF32ToF16Rounding compares with x448/float16 (round to nearest even) on
// the midpoints between neighbouring halves, their float32 neighbours, and
// random bit patterns.
func TestF32ToF16Rounding(t *testing.T) {
	check := func(f float32) {
		t.Helper()
		if isNaN32(f) {
			return
		}
		if got, want := F32ToF16(f), float16.Fromfloat32(f).Bits(); got != want {
			t.Fatalf("F32ToF16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for i := 0; i < 0x7c00; i++ {
		for _, sign := range []float32{1, -1} {
			lo := float64(F16ToF32(uint16(i)))
			hi := float64(F16ToF32(uint16(i + 1)))
			mid := float32((lo + hi) / 2) // exact: halves have 11 significant bits
			check(sign * mid)
			check(sign * math.Nextafter32(mid, 0))
			check(sign * math.Nextafter32(mid, float32(math.Inf(1))))
			check(sign * float32(lo))
		}
	}
	edges := []float32{0, float32(math.Copysign(0, -1)), 65504, 65519.99, 65520, 1e10, -1e10,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.SmallestNonzeroFloat32, 5.960464477539063e-08,
		2.9802322387695312e-08, 2.98023259e-08, 6.1035156e-05}
	for _, f := range edges {
		check(f)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1_000_000; i++ {
		check(math.Float32frombits(rng.Uint32()))
	}
}

// bf16Nearest rounds f to bfloat16 with exact rational arithmetic.
func bf16Nearest(f float32) uint16 {
	u := math.Float32bits(f)
	lo := uint16(u >> 16)
	if u&0xffff == 0 {
		return lo
	}
	hi := lo + 1
	x := new(big.Float).SetFloat64(float64(f))
	dl := new(big.Float).Sub(x, big.NewFloat(float64(BF16ToF32(lo))))
	hv := float64(BF16ToF32(hi))
	if math.IsInf(hv, 0) { // IEEE rounding treats the step past the largest finite as 2^128
		hv = math.Copysign(math.Ldexp(1, 128), hv)
	}
	dh := new(big.Float).Sub(big.NewFloat(hv), x)
	dl.Abs(dl)
	dh.Abs(dh)
	switch dl.Cmp(dh) {
	case -1:
		return lo
	case 1:
		return hi
	}
	if lo&1 == 0 {
		return lo
	}
	return hi
}

func TestBF16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		b := uint16(i)
		f := BF16ToF32(b)
		if math.Float32bits(f) != uint32(b)<<16 {
			t.Fatalf("BF16ToF32(%#04x) = %#08x", b, math.Float32bits(f))
		}
		back := F32ToBF16(f)
		if isNaN32(f) {
			if !isNaN32(BF16ToF32(back)) {
				t.Fatalf("F32ToBF16(NaN %#04x) = %#04x, not NaN", b, back)
			}
			continue
		}
		if back != b {
			t.Fatalf("F32ToBF16(BF16ToF32(%#04x)) = %#04x", b, back)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []uint32{0x3f808000, 0x3f818000, 0x3f80ffff, 0x7f7fffff, 0xff7fffff, 0x00008000, 0x00018000}
	for i := 0; i < 200000; i++ {
		tests = append(tests, rng.Uint32())
	}
	for _, u := range tests {
		f := math.Float32frombits(u)
		if isNaN32(f) {
			continue
		}
		want := bf16Nearest(f)
		if math.IsInf(float64(f), 0) {
			want = uint16(u >> 16)
		}
		if got := F32ToBF16(f); got != want {
			t.Fatalf("F32ToBF16(%#08x) = %#04x, want %#04x", u, got, want)
		}
	}
}
