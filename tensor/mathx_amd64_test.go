//go:build amd64 && !purego

package tensor

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// mathxInputs are random values over expf's whole range plus the edges:
// zeros, subnormals, the saturation limits, infinities and NaN.
func mathxInputs() []float32 {
	rng := rand.New(rand.NewPCG(3, 5))
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0x1p-149, -0x1p-149, 0x1p-126, 88.3, 88.4, 88.8,
		-87.3, -103.9, -104, -150, 133.1, 133.2, -133.1, -133.2, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for range 4096 {
		switch rng.IntN(3) {
		case 0:
			xs = append(xs, float32(rng.NormFloat64()))
		case 1:
			xs = append(xs, float32(rng.Float64()*300-150))
		default:
			xs = append(xs, math.Float32frombits(rng.Uint32()))
		}
	}
	for len(xs)%16 != 0 {
		xs = append(xs, float32(rng.NormFloat64()*10))
	}
	return xs
}

// TestVectorMathMatchesScalar checks the AVX-512 SiLU and softmax
// exponentials against the scalar expf bit for bit, through SiLUMul and the
// sixteen-lane kernels with and without the assembly.
func TestVectorMathMatchesScalar(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU: the scalar code runs")
	}
	defer useAsm(true)
	xs := mathxInputs()
	up := mathxInputs()
	for _, on := range []bool{true, false} {
		useAsm(on)
		g := append([]float32(nil), xs...)
		SiLUMul(g, up)
		for i, x := range xs {
			want := x / (1 + expf(-x)) * up[i]
			if !sameFloat(g[i], want) {
				t.Fatalf("asm %v: silu(%v)·%v: vector %v (%#x), scalar %v (%#x)", on, x, up[i], g[i], math.Float32bits(g[i]), want, math.Float32bits(want))
			}
		}
		for _, m := range []float32{0, 3.5, -2, 80} {
			e := append([]float32(nil), xs...)
			expSub16(e, m)
			for i, x := range xs {
				if want := expf(x - m); !sameFloat(e[i], want) {
					t.Fatalf("asm %v: expf(%v - %v): vector %v, scalar %v", on, x, m, e[i], want)
				}
			}
		}
	}
}

// TestSoftmaxSiLUTails checks the elements past the last whole group of 16:
// SiLUMul uses the C library's exp there, Softmax keeps expf; both equal
// their scalar definitions whether the assembly runs or not.
func TestSoftmaxSiLUTails(t *testing.T) {
	defer useAsm(true)
	for _, on := range []bool{true, false} {
		useAsm(on)
		for _, n := range []int{1, 15, 16, 17, 40} {
			xs := mathxInputs()[:n]
			for i := range xs {
				if xs[i] != xs[i] || math.IsInf(float64(xs[i]), 0) || math.Abs(float64(xs[i])) > 50 {
					xs[i] = float32(i%7) - 3
				}
			}
			g := append([]float32(nil), xs...)
			SiLUMul(g, xs)
			p := append([]float32(nil), xs...)
			Softmax(p)
			maxv := slices.Max(xs)
			var sum float64
			e := make([]float32, n)
			for i, x := range xs {
				e[i] = expf(x - maxv)
			}
			for g0 := 0; g0 < n; g0 += 16 {
				var lanes [16]float32
				copy(lanes[:], e[g0:min(g0+16, n)])
				sum += float64(Sum16(&lanes))
			}
			for i, x := range xs {
				exp := expf(-x)
				if i >= n&^15 {
					exp = Expf(-x)
				}
				if want := x / (1 + exp) * x; !sameFloat(g[i], want) {
					t.Fatalf("asm %v, n %d: SiLUMul element %d = %v, want %v", on, n, i, g[i], want)
				}
				if want := e[i] * float32(1/sum); !sameFloat(p[i], want) {
					t.Fatalf("asm %v, n %d: Softmax element %d = %v, want %v", on, n, i, p[i], want)
				}
			}
		}
	}
}

// TestMaxScale16 checks the AVX-512 maximum and scaling of Softmax against
// their Go twins bit for bit: every length from 0 to 4096 in steps of 16,
// starting maxima that are NaN, infinite, zeros of both signs or ordinary,
// and inputs over every value regime (NaN, infinities, zeros).
func TestMaxScale16(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU: the Go kernels run")
	}
	xs := mathxInputs()
	rng := rand.New(rand.NewPCG(7, 9))
	for n := 0; n <= len(xs); n += 16 {
		x := xs[:n]
		for _, m := range []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Inf(1)), 0, float32(math.Copysign(0, -1)), -1e30, 2.5} {
			got, want := max16Asm(x, m), max16Go(x, m)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("n=%d m=%v: max %v (%#x), Go %v (%#x)", n, m, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
		s := float32(rng.NormFloat64())
		a, b := slices.Clone(x), slices.Clone(x)
		scale16Asm(a, s)
		scale16Go(b, s)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("n=%d: %v·%v: %v, Go %v", n, x[i], s, a[i], b[i])
			}
		}
	}
	// a NaN in lane 5 of the first group and the maximum in the last lane
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(i)
	}
	x[5] = float32(math.NaN())
	if got := max16Asm(x, x[0]); got != 63 {
		t.Fatalf("max with a NaN element: %v, want 63", got)
	}
}
