package tensor

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactFMA32 rounds a*b+c computed exactly (math/big) to the nearest float32.
func exactFMA32(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

func TestFMA32(t *testing.T) {
	// 1+2^-12 squared is 1+2^-11+2^-24; adding -1-2^-11 leaves 2^-24, which a
	// separate multiply (rounding away the 2^-24) would lose.
	a := float32(1 + 1.0/4096)
	cases := []struct{ a, b, c, want float32 }{
		{a, a, -(1 + 1.0/2048), 1.0 / (1 << 24)},
		{2, 3, 4, 10},
		{0, 5, -0.5, -0.5},
		{float32(math.Inf(1)), 1, 1, float32(math.Inf(1))},
		// exact sum is 1 + 2^-23 + 2^-24 - 2^-70, just below a float32 tie;
		// rounding to float64 first would land on the tie and round up
		{1 + 1.0/(1<<23), (1 - 1.0/(1<<23)) / (1 << 24), 1 + 1.0/(1<<23), 1 + 1.0/(1<<23)},
	}
	for _, tc := range cases {
		if got := FMA32(tc.a, tc.b, tc.c); got != tc.want || got != exactFMA32(tc.a, tc.b, tc.c) {
			t.Errorf("FMA32(%g, %g, %g) = %g, want %g (exact %g)", tc.a, tc.b, tc.c, got, tc.want, exactFMA32(tc.a, tc.b, tc.c))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	bad := 0
	for i := range 200000 {
		x := float32(r.NormFloat64())
		y := float32(r.NormFloat64() * math.Ldexp(1, r.IntN(60)-30))
		z := float32(r.NormFloat64() * math.Ldexp(1, r.IntN(60)-30))
		if i%2 == 0 {
			z = -x * y // cancellation
			z = math.Nextafter32(z, float32(r.NormFloat64()))
		}
		if got, want := FMA32(x, y, z), exactFMA32(x, y, z); got != want {
			if bad++; bad < 5 {
				t.Errorf("FMA32(%g, %g, %g) = %g, exact %g", x, y, z, got, want)
			}
		}
	}
	// sums that float64 rounds onto a float32 tie from just below and just
	// above, of both signs: z ± 2^-24 ∓ m²·2^-70 with z in [1,2)
	const u = 1.0 / (1 << 23)
	for i := range 4000 {
		m := float32(1 + r.IntN(255))
		z := float32(1 + float64(r.IntN(1<<23))*u)
		x, y := 1+m*u, (1-m*u)/(1<<24)
		if i%2 == 1 {
			x, y = 1-m*u, -(1+m*u)/(1<<24)
		}
		if i%4 >= 2 {
			x, z = -x, -z
		}
		if got, want := FMA32(x, y, z), exactFMA32(x, y, z); got != want {
			if bad++; bad < 5 {
				t.Errorf("FMA32(%g, %g, %g) = %g, exact %g (near a tie)", x, y, z, got, want)
			}
		}
	}
}

func TestSums(t *testing.T) {
	// magnitudes chosen so that each association order gives another result
	var v16 [16]float32
	var v8 [8]float32
	for i := range v16 {
		v16[i] = float32(math.Ldexp(1, 3*i)) + float32(i)
	}
	copy(v8[:], v16[:8])
	// reference orders written out: the AVX-512 / AVX reduction trees
	w := func(i int) float32 { return v16[i] }
	a := [8]float32{}
	for i := range a {
		a[i] = w(i) + w(i+8)
	}
	want16 := ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
	if got := Sum16(&v16); got != want16 {
		t.Errorf("Sum16 = %g, want %g", got, want16)
	}
	want8 := ((v8[0] + v8[4]) + (v8[2] + v8[6])) + ((v8[1] + v8[5]) + (v8[3] + v8[7]))
	if got := Sum8(&v8); got != want8 {
		t.Errorf("Sum8 = %g, want %g", got, want8)
	}
}

func TestDotF16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{8, 32, 64, 96, 128, 200} {
		a, b := make([]uint16, n), make([]uint16, n)
		var exact float64
		for i := range a {
			a[i] = F32ToF16(float32(r.NormFloat64()))
			b[i] = F32ToF16(float32(r.NormFloat64()))
			exact += float64(F16ToF32(a[i])) * float64(F16ToF32(b[i]))
		}
		got := DotF16(a, b)
		if d := math.Abs(float64(got) - exact); d > 1e-5*math.Sqrt(float64(n)) {
			t.Errorf("n=%d: DotF16 = %g, exact %g", n, got, exact)
		}
		g, ok := DotF16GEMM(a, b)
		if ok != (n%16 == 0) {
			t.Errorf("n=%d: DotF16GEMM ok = %v", n, ok)
		}
		if ok && math.Abs(float64(g)-exact) > 1e-5*math.Sqrt(float64(n)) {
			t.Errorf("n=%d: DotF16GEMM = %g, exact %g", n, g, exact)
		}
		if n < 64 && float64(got) != float64(float32(exact)) {
			// below 64 elements ggml sums in float64 only
			t.Errorf("n=%d: DotF16 = %g, want float32(%g)", n, got, exact)
		}
	}
}

func TestMatMulGEMM(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const rows, cols, n = 8, 64, 3
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, typ := range []Type{F32, F16, Q8_0} {
		w := randMatrixGGML(t, r, typ, rows, cols)
		got, want := make([]float32, n*rows), make([]float32, n*rows)
		MatMulGEMM(got, w, x, n)
		MatMul(want, w, x, n)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Errorf("%s [%d]: MatMulGEMM %g, MatMul %g", typ, i, got[i], want[i])
			}
		}
		one := make([]float32, rows)
		MatMulGEMM(one, w, x[:cols], 1)
		MatVec(want[:rows], w, x[:cols])
		for i := range one {
			if one[i] != want[i] {
				t.Errorf("%s n=1 [%d]: MatMulGEMM %g, MatVec %g", typ, i, one[i], want[i])
			}
		}
	}
}

// randMatrixGGML quantizes a random rows×cols matrix to typ.
func randMatrixGGML(t *testing.T, r *rand.Rand, typ Type, rows, cols int) *Matrix {
	t.Helper()
	f := make([]float32, rows*cols)
	for i := range f {
		f[i] = float32(r.NormFloat64())
	}
	rb, err := typ.RowBytes(cols)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, rows*rb)
	for i := range rows {
		if err := Quantize(typ, f[i*cols:(i+1)*cols], data[i*rb:(i+1)*rb]); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func BenchmarkFMA32(b *testing.B) {
	x, y, s := float32(1.0001), float32(0.9999), float32(0)
	for range b.N {
		s = FMA32(x, y, s)
	}
	sink = s
}

func BenchmarkDotF16(b *testing.B) {
	a, c := make([]uint16, 256), make([]uint16, 256)
	for i := range a {
		a[i], c[i] = F32ToF16(float32(i)/256), F32ToF16(1-float32(i)/256)
	}
	for range b.N {
		sink = DotF16(a, c)
	}
}

var sink float32

// naiveAbsMatVec returns Σ|w_ri·x_i| per row, in float64 with the
// activations converted as the kernels see them: the scale of the rounding
// errors of a sum that cancels.
func naiveAbsMatVec(t *testing.T, w *Matrix, x []float32) []float64 {
	_, xd := convertActs(t, w.Type, x)
	row := make([]float32, w.Cols)
	out := make([]float64, w.Rows)
	for r := range w.Rows {
		w.Row(r, row)
		for i, v := range row {
			out[r] += math.Abs(float64(v) * float64(xd[i]))
		}
	}
	return out
}
