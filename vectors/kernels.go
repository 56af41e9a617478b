package vectors

// The hot loops of training, over float32 rows of equal length. Four
// independent sums let the processor overlap the multiply-adds.

// dot returns Σ a[i]·b[i].
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		aa, bb := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += aa[0] * bb[0]
		s1 += aa[1] * bb[1]
		s2 += aa[2] * bb[2]
		s3 += aa[3] * bb[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds g·x to y.
func axpy(y, x []float32, g float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		yy, xx := y[i:i+4:i+4], x[i:i+4:i+4]
		yy[0] += g * xx[0]
		yy[1] += g * xx[1]
		yy[2] += g * xx[2]
		yy[3] += g * xx[3]
	}
	for ; i < len(y); i++ {
		y[i] += g * x[i]
	}
}

// axpy1 adds x to y.
func axpy1(y, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += x[i]
	}
}

// sub subtracts x from y.
func sub(y, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] -= x[i]
	}
}

// scale multiplies y by g.
func scale(y []float32, g float32) {
	for i := range y {
		y[i] *= g
	}
}
