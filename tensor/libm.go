package tensor

import "math"

// The C library's single-precision expf and sincosf as llama.cpp calls them
// on Linux x86-64: glibc (2.27 and later) computes both in double precision
// with small tables and polynomials, and on CPUs with FMA and AVX2 runs
// builds of them in which the compiler fused the polynomial steps. Their
// results are not always correctly rounded (expf: about 1 in 10^4 inputs,
// sincosf: a few percent of RoPE angles), so rounding float64 results
// would differ from llama.cpp there. The functions below follow the same
// steps, fused where glibc's FMA builds fuse; libm_test.go checks them
// against values glibc produced.

// Constants of expf: 2^(k/32)·2^(r/32) with k the nearest integer to
// x·32/ln 2, 2^(r/32) by a cubic in r.
const (
	expfN       = 32
	expfInvLn2N = 0x1.71547652b82fep+0 * expfN
	expfShift   = 0x1.8p+52
	expfC0      = 0x1.c6af84b912394p-5 / expfN / expfN / expfN
	expfC1      = 0x1.ebfce50fac4f3p-3 / expfN / expfN
	expfC2      = 0x1.62e42ff0c52d6p-1 / expfN
)

// expfTab[i] holds the bits of 2^(i/32) minus i<<47, so that adding k<<47
// (k ≡ i mod 32) yields the bits of 2^(k/32).
var expfTab = func() (t [expfN]uint64) {
	for i := range t {
		t[i] = math.Float64bits(exp2Frac(i)) - uint64(i)<<47
	}
	return t
}()

// exp2Frac returns 2^(i/32) rounded to float64 without relying on the last
// bit of math.Exp2: of its result and the two neighbours, the one whose
// 32nd power (in double-double arithmetic) is closest to 2^i.
func exp2Frac(i int) float64 {
	y := math.Exp2(float64(i) / expfN)
	best, bestErr := y, math.Inf(1)
	for _, c := range []float64{math.Nextafter(y, 0), y, math.Nextafter(y, 2)} {
		if e := math.Abs(pow32Err(c, i)); e < bestErr {
			best, bestErr = c, e
		}
	}
	return best
}

// pow32Err returns c^32 - 2^i, with c^32 evaluated in double-double
// arithmetic (five squarings).
func pow32Err(c float64, i int) float64 {
	hi, lo := c, 0.0
	for range 5 {
		p := hi * hi
		e := math.FMA(hi, hi, -p) + 2*hi*lo
		hi, lo = p+e, e-((p+e)-p)
	}
	return (hi - math.Ldexp(1, i)) + lo
}

// Expf is glibc's expf (the FMA build).
func Expf(x float32) float32 {
	abstop := math.Float32bits(x) >> 20 & 0x7ff
	if abstop >= math.Float32bits(88)>>20 {
		switch {
		case math.Float32bits(x) == math.Float32bits(float32(math.Inf(-1))):
			return 0
		case abstop >= math.Float32bits(float32(math.Inf(1)))>>20:
			return x + x
		case x > 0x1.62e42ep6:
			return float32(math.Inf(1))
		case x < -0x1.9fe368p6:
			return 0
		}
	}
	xd := float64(x)
	z := float64(expfInvLn2N * xd)
	kd := float64(z + expfShift)
	ki := math.Float64bits(kd)
	kd -= expfShift
	r := z - kd
	s := math.Float64frombits(expfTab[ki%expfN] + ki<<47)
	zz := math.FMA(expfC0, r, expfC1)
	r2 := float64(r * r)
	y := math.FMA(expfC2, r, 1)
	y = math.FMA(zz, r2, y)
	return float32(float64(y * s))
}

// sincosfTable holds the constants of sincosf's polynomials: the second
// entry negates the cosine polynomial.
var sincosfTable = [2]struct {
	c0, c1, c2, c3, c4 float64
	s1, s2, s3         float64
}{
	{0x1p0, -0x1.ffffffd0c621cp-2, 0x1.55553e1068f19p-5, -0x1.6c087e89a359dp-10, 0x1.99343027bf8c3p-16,
		-0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
	{-0x1p0, 0x1.ffffffd0c621cp-2, -0x1.55553e1068f19p-5, 0x1.6c087e89a359dp-10, -0x1.99343027bf8c3p-16,
		-0x1.555545995a603p-3, 0x1.1107605230bc4p-7, -0x1.994eb3774cf24p-13},
}

// sincosfSign is the sign of the sine in quadrants 0..3.
var sincosfSign = [4]float64{1, -1, -1, 1}

const (
	sincosfHpiInv = 0x1.45F306DC9C883p+23 // 2/π · 2^24
	sincosfHpi    = 0x1.921FB54442D18p0   // π/2
	sincosfPi63   = 0x1.921FB54442D18p-62 // 2π · 2^-64
)

// invPio4 is 4/π in 192 bits, eight new bits per entry (entry i holds bits
// 8i-24 … 8i+7 of the fraction), so that any 96 consecutive bits can be
// read as three aligned words.
var invPio4 = [24]uint32{
	0x000000a2, 0x0000a2f9, 0x00a2f983, 0xa2f9836e, 0xf9836e4e, 0x836e4e44,
	0x6e4e4415, 0x4e441529, 0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
	0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0, 0x34ddc0db, 0xddc0db62,
	0xc0db6295, 0xdb629599, 0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
}

// Sincosf is glibc's sincosf (the FMA build): the sine and cosine of x.
func Sincosf(y float32) (sin, cos float32) {
	x := float64(y)
	abstop := math.Float32bits(y) >> 20 & 0x7ff
	p := &sincosfTable[0]
	var n int
	switch {
	case abstop < math.Float32bits(0x1.921FB6p-1)>>20: // |y| < π/4
		if abstop < math.Float32bits(0x1p-12)>>20 {
			return y, 1
		}
		return sincosfPoly(x, float64(x*x), p, 0)
	case abstop < math.Float32bits(120)>>20:
		// x - n·π/2 with n the nearest quadrant, from a scaled product
		r := float64(x * sincosfHpiInv)
		n = int(int32(r)+0x800000) >> 24
		x = math.FMA(-float64(n), sincosfHpi, x)
		s := sincosfSign[n&3]
		if n&2 != 0 {
			p = &sincosfTable[1]
		}
		return sincosfPoly(float64(x*s), float64(x*x), p, n)
	case abstop < math.Float32bits(float32(math.Inf(1)))>>20:
		xi := math.Float32bits(y)
		sign := int(xi >> 31)
		x, n = sincosfReduceLarge(xi)
		s := sincosfSign[(n+sign)&3]
		if (n+sign)&2 != 0 {
			p = &sincosfTable[1]
		}
		return sincosfPoly(float64(x*s), float64(x*x), p, n)
	}
	nan := y - y
	return nan, nan
}

// sincosfPoly evaluates both polynomials at x (x2 = x²) and swaps them in
// odd quadrants.
func sincosfPoly(x, x2 float64, p *struct {
	c0, c1, c2, c3, c4 float64
	s1, s2, s3         float64
}, n int) (sin, cos float32) {
	x4 := float64(x2 * x2)
	x3 := float64(x2 * x)
	c2 := math.FMA(x2, p.c4, p.c3)
	s1 := math.FMA(x2, p.s3, p.s2)
	c1 := math.FMA(x2, p.c1, p.c0)
	x5 := float64(x3 * x2)
	x6 := float64(x4 * x2)
	s := math.FMA(x3, p.s1, x)
	c := math.FMA(x4, p.c2, c1)
	sv := float32(math.FMA(x5, s1, s))
	cv := float32(math.FMA(x6, c2, c))
	if n&1 != 0 {
		return cv, sv
	}
	return sv, cv
}

// sincosfReduceLarge reduces |x| (its float bits xi, |x| >= 2) modulo π/2
// with a 32×96-bit product by 4/π; it returns the remainder in
// [-π/4, π/4] and the quadrant.
func sincosfReduceLarge(xi uint32) (float64, int) {
	arr := invPio4[(xi>>26)&15:]
	shift := (xi >> 23) & 7
	xi = (xi&0xffffff | 0x800000) << shift
	res0 := uint64(xi * arr[0])
	res1 := uint64(xi) * uint64(arr[4])
	res2 := uint64(xi) * uint64(arr[8])
	res0 = res2>>32 | res0<<32
	res0 += res1
	n := (res0 + 1<<61) >> 62
	res0 -= n << 62
	return float64(float64(int64(res0)) * sincosfPi63), int(n)
}

// logfTable holds, for the 16 subintervals of [0x1.66p-1, 0x1.66p0) that
// logf splits the reduced argument into, 1/c and log(c) for a point c near
// the subinterval's centre: the table of Arm's optimized-routines logf
// (MIT licence), which glibc 2.28 and later use.
var logfTable = [16]struct{ invc, logc float64 }{
	{0x1.661ec79f8f3bep+0, -0x1.57bf7808caadep-2},
	{0x1.571ed4aaf883dp+0, -0x1.2bef0a7c06ddbp-2},
	{0x1.49539f0f010bp+0, -0x1.01eae7f513a67p-2},
	{0x1.3c995b0b80385p+0, -0x1.b31d8a68224e9p-3},
	{0x1.30d190c8864a5p+0, -0x1.6574f0ac07758p-3},
	{0x1.25e227b0b8eap+0, -0x1.1aa2bc79c81p-3},
	{0x1.1bb4a4a1a343fp+0, -0x1.a4e76ce8c0e5ep-4},
	{0x1.12358f08ae5bap+0, -0x1.1973c5a611cccp-4},
	{0x1.0953f419900a7p+0, -0x1.252f438e10c1ep-5},
	{0x1p+0, 0},
	{0x1.e608cfd9a47acp-1, 0x1.aa5aa5df25984p-5},
	{0x1.ca4b31f026aap-1, 0x1.c5e53aa362eb4p-4},
	{0x1.b2036576afce6p-1, 0x1.526e57720db08p-3},
	{0x1.9c2d163a1aa2dp-1, 0x1.bc2860d22477p-3},
	{0x1.886e6037841edp-1, 0x1.1058bc8a07ee1p-2},
	{0x1.767dcf5534862p-1, 0x1.4043057b6ee09p-2},
}

// Constants of logf: ln 2 and the cubic part of log1p(r) ≈ r + a2·r² + a1·r³ + a0·r⁴.
const (
	logfLn2 = 0x1.62e42fefa39efp-1
	logfA0  = -0x1.00ea348b88334p-2
	logfA1  = 0x1.5575b0be00b6ap-2
	logfA2  = -0x1.ffffef20a4123p-2
	logfOff = 0x3f330000
)

// Logf is glibc's logf (the FMA build): the natural logarithm of x, from
// x = 2^k·z, log(x) = k·ln 2 + log(c) + log1p(z/c - 1) with c from a table.
// Like glibc it is not always correctly rounded (about 2 in 10^4 inputs
// differ from rounding a float64 log), which matters where llama.cpp feeds
// it into RoPE's YaRN parameters.
func Logf(x float32) float32 {
	ix := math.Float32bits(x)
	if ix == 0x3f800000 {
		return 0
	}
	if ix-0x00800000 >= 0x7f800000-0x00800000 {
		switch {
		case ix*2 == 0:
			return float32(math.Inf(-1))
		case ix == 0x7f800000:
			return x
		case ix&0x80000000 != 0 || ix*2 >= 0xff000000:
			return float32(math.NaN())
		}
		// subnormal: scale into the normal range
		ix = math.Float32bits(x * 0x1p23)
		ix -= 23 << 23
	}
	tmp := ix - logfOff
	i := (tmp >> (23 - 4)) % 16
	k := int32(tmp) >> 23
	iz := ix - tmp&(0x1ff<<23)
	e := &logfTable[i]
	z := float64(math.Float32frombits(iz))
	r := math.FMA(z, e.invc, -1)
	y0 := math.FMA(float64(k), logfLn2, e.logc)
	r2 := r * r
	y := math.FMA(logfA1, r, logfA2)
	y = math.FMA(logfA0, r2, y)
	y = math.FMA(y, r2, y0+r)
	return float32(y)
}
