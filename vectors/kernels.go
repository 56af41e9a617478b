package vectors

// The hot loops of training, over float32 rows of equal length. Four
// independent sums let the processor overlap the multiply-adds.

// dotGo returns Σ a[i]·b[i]: element i of the first len(a)&^7 goes to sum
// i%8, the eight sums are added as ((s0+s4)+(s2+s6))+((s1+s5)+(s3+s7)), then
// the tail in order. The AVX2 kernel computes the same thing.
func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= len(a); i += 8 {
		x, y := (*[8]float32)(a[i:]), (*[8]float32)(b[i:])
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
	}
	s := ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7))
	for ; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpyGo adds g·x to y.
func axpyGo(y, x []float32, g float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += g * x[i]
	}
}

// axpy1 adds x to y: axpy with g = 1 (1·x is x exactly, so the sums are
// the plain ones).
func axpy1(y, x []float32) { axpy(y, x, 1) }

// sub subtracts x from y: axpy with g = −1, exact likewise.
func sub(y, x []float32) { axpy(y, x, -1) }

// scale multiplies y by g.
func scale(y []float32, g float32) {
	for i := range y {
		y[i] *= g
	}
}
