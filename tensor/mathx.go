package tensor

import "math"

// The functions in this file round exactly like llama.cpp's CPU backend
// (ggml built for x86-64 with AVX-512): the same polynomial for exp, the same
// grouping of sums into 16 SIMD lanes. This keeps near-ties between tokens
// resolved the same way as the reference engine.

// The constants of expf.
const (
	expShift = 0x1.8p23       // round-to-integer shift
	expLog2e = 0x1.715476p+0  // 1/ln 2
	expLn2hi = 0x1.62e4p-1    // ln 2, high part
	expLn2lo = 0x1.7f7d1cp-20 // ln 2, low part
	expC0    = 0x1.ffffecp-1  // polynomial coefficients of e**b
	expC1    = 0x1.fffdb6p-2  //
	expC2    = 0x1.555e66p-3  //
	expC3    = 0x1.573e2ep-5  //
	expC4    = 0x1.0e4020p-7  //
	expLimit = 192            // |n| beyond which the result saturates
)

// expf is e**x with the same polynomial approximation as ggml's SIMD exp
// (ggml_v_expf, AVX-512 variant, adapted from ARM's optimized routines), so
// softmax and SiLU round like llama.cpp's. Error: about 1.5 ulp. Inputs above
// 88.38 give +Inf, below -103.97 give 0.
func expf(x float32) float32 {
	const (
		shift, log2e, ln2hi, ln2lo = expShift, expLog2e, expLn2hi, expLn2lo
		c0, c1, c2, c3, c4, limit  = expC0, expC1, expC2, expC3, expC4, expLimit
	)
	fma := FMA32
	z := fma(x, log2e, shift)
	n := z - shift // round(x / ln 2)
	b := fma(-n, ln2lo, fma(-n, ln2hi, x))
	if n > limit || n < -limit {
		if n <= 0 {
			return 0
		}
		return float32(math.Inf(1))
	}
	if x != x { // NaN
		return x
	}
	u := b * b
	j := fma(fma(fma(c4, b, c3), u, fma(c2, b, c1)), u, fma(c0, b, 1))
	// scalef: j * 2**n, rounded once (exact in float64, then to float32)
	return float32(math.Ldexp(float64(j), int(n)))
}

// The sixteen-lane kernels of SiLUMul and Softmax, replaceable by faster
// twins (see useAsm); len(x) is a multiple of 16.
var (
	siluMul16 = siluMul16Go // x[i] = x[i]/(1+expf(-x[i]))·up[i]
	expSub16  = expSub16Go  // x[i] = expf(x[i]-m)
	max16     = max16Go     // m, raised to each x[i] with x[i] > m (a NaN never)
	scale16   = scale16Go   // x[i] *= s
)

func max16Go(x []float32, m float32) float32 {
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

func scale16Go(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// softmaxMax returns Softmax's maximum of x: x[0], raised to each later
// element greater than it (so a NaN is never taken, but a NaN x[0] stays).
// The lanes of max16 keep the same rule; their maximum is the same value
// up to the sign of a zero, which no difference x[i]-max then shows.
func softmaxMax(x []float32) float32 {
	full := len(x) &^ 15
	return max16Go(x[full:], max16(x[:full], x[0]))
}

// softmaxSum returns Softmax's total of x: each group of 16 (the last one
// padded with zeros) summed by Sum16, into a float64.
func softmaxSum(x []float32) float64 {
	var sum float64
	full := len(x) &^ 15
	for g := 0; g < full; g += 16 {
		sum += float64(Sum16((*[16]float32)(x[g : g+16])))
	}
	if full < len(x) {
		var lanes [16]float32
		copy(lanes[:], x[full:])
		sum += float64(Sum16(&lanes))
	}
	return sum
}

func siluMul16Go(x, up []float32) {
	up = up[:len(x)]
	for i, v := range x {
		x[i] = v / (1 + expf(-v)) * up[i]
	}
}

func expSub16Go(x []float32, m float32) {
	for i, v := range x {
		x[i] = expf(v - m)
	}
}

// SiLUMul sets g[i] = silu(g[i]) * up[i], where silu(x) = x/(1+e**-x), as
// ggml_vec_silu_f32 followed by ggml_mul: whole groups of 16 use ggml's SIMD
// exp polynomial, the remaining elements the C library's expf (Expf). up must be at
// least as long as g.
func SiLUMul(g, up []float32) {
	up = up[:len(g)]
	full := len(g) &^ 15
	siluMul16(g[:full], up[:full])
	for i := full; i < len(g); i++ {
		x := g[i]
		g[i] = x / (1 + Expf(-x)) * up[i]
	}
}

// Softmax normalises x in place into probabilities as ggml_soft_max_f32 does
// for a row padded to a multiple of 16 with masked cells: exp by ggml's SIMD
// polynomial, each group of 16 summed by the AVX-512 reduction (Sum16) into a
// float64 total, then every value multiplied by the float32 reciprocal of the
// total. x must not be empty.
func Softmax(x []float32) {
	maxv := softmaxMax(x)
	full := len(x) &^ 15
	expSub16(x[:full], maxv)
	for i := full; i < len(x); i++ {
		x[i] = expf(x[i] - maxv)
	}
	ScaleF32(x, float32(1/softmaxSum(x)))
}

// SoftmaxSink is Softmax with an attention sink (ggml_soft_max_ext with
// sinks, gpt-oss): a further logit sink that takes part in the maximum and
// in the total (its term, the C library's expf of sink - max, added to the
// float64 total last) but has no output. The weights then sum to less than
// 1 by the sink's share, which SoftmaxSink returns.
func SoftmaxSink(x []float32, sink float32) float32 {
	maxv := max(softmaxMax(x), sink)
	full := len(x) &^ 15
	expSub16(x[:full], maxv)
	for i := full; i < len(x); i++ {
		x[i] = expf(x[i] - maxv)
	}
	es := Expf(sink - maxv)
	inv := float32(1 / (softmaxSum(x) + float64(es)))
	ScaleF32(x, inv)
	return es * inv
}

// SoftmaxRow normalises x in place into probabilities as ggml_soft_max_f32
// does for a row of any length without a mask (a mixture-of-experts router's
// scores): whole groups of 16 exponentiated with ggml's SIMD polynomial and
// each group summed by the AVX-512 reduction (Sum16), the remaining values
// with the C library's expf (Expf), every term added to a float64 total,
// then every value multiplied by the float32 reciprocal of the total. x
// must not be empty.
func SoftmaxRow(x []float32) {
	maxv := x[0]
	for _, v := range x[1:] {
		maxv = max(maxv, v)
	}
	full := len(x) &^ 15
	expSub16(x[:full], maxv)
	var sum float64
	var lanes [16]float32
	for g := 0; g < full; g += 16 {
		copy(lanes[:], x[g:g+16])
		sum += float64(Sum16(&lanes))
	}
	for i := full; i < len(x); i++ {
		x[i] = Expf(x[i] - maxv)
		sum += float64(x[i])
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}
