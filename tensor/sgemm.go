package tensor

// Float is the element type of GEMMRowsABt: float32, or float64 for
// reference computations.
type Float interface{ ~float32 | ~float64 }

// sgemmColBlock is the number of rows of B GEMMRowsABt keeps hot in cache
// while a block of rows of A runs.
const sgemmColBlock = 64

// GEMMRowsABt computes rows [r0, r1) of C = A·Bᵀ (or C += A·Bᵀ when acc),
// where A is m×k, B is n×k and C is m×n, all row-major. Every output is one
// sequential sum over p = 0, 1, …, k-1 of rounded products (multiply, round,
// add, round), so the result does not depend on how rows are split. The
// micro-kernel handles 4 rows of A against 2 rows of B (8 accumulators). It
// is the pure-Go twin of PanelsABt, and the float64 path of gradient checks.
func GEMMRowsABt[F Float](c, a, b []F, r0, r1, n, k int, acc bool) {
	for j0 := 0; j0 < n; j0 += sgemmColBlock {
		j1 := min(j0+sgemmColBlock, n)
		i := r0
		for ; i+4 <= r1; i += 4 {
			a0 := a[i*k : i*k+k]
			a1 := a[(i+1)*k : (i+1)*k+k]
			a2 := a[(i+2)*k : (i+2)*k+k]
			a3 := a[(i+3)*k : (i+3)*k+k]
			j := j0
			for ; j+2 <= j1; j += 2 {
				b0 := b[j*k : j*k+k]
				b1 := b[(j+1)*k : (j+1)*k+k]
				b1 = b1[:len(b0)]
				a0, a1, a2, a3 := a0[:len(b0)], a1[:len(b0)], a2[:len(b0)], a3[:len(b0)]
				var s00, s01, s10, s11, s20, s21, s30, s31 F
				for p := range b0 {
					x0, x1 := b0[p], b1[p]
					y := a0[p]
					s00 += y * x0
					s01 += y * x1
					y = a1[p]
					s10 += y * x0
					s11 += y * x1
					y = a2[p]
					s20 += y * x0
					s21 += y * x1
					y = a3[p]
					s30 += y * x0
					s31 += y * x1
				}
				store(c, i*n+j, s00, acc)
				store(c, i*n+j+1, s01, acc)
				store(c, (i+1)*n+j, s10, acc)
				store(c, (i+1)*n+j+1, s11, acc)
				store(c, (i+2)*n+j, s20, acc)
				store(c, (i+2)*n+j+1, s21, acc)
				store(c, (i+3)*n+j, s30, acc)
				store(c, (i+3)*n+j+1, s31, acc)
			}
			for ; j < j1; j++ {
				b0 := b[j*k : j*k+k]
				var s0, s1, s2, s3 F
				for p, x := range b0 {
					s0 += a0[p] * x
					s1 += a1[p] * x
					s2 += a2[p] * x
					s3 += a3[p] * x
				}
				store(c, i*n+j, s0, acc)
				store(c, (i+1)*n+j, s1, acc)
				store(c, (i+2)*n+j, s2, acc)
				store(c, (i+3)*n+j, s3, acc)
			}
		}
		for ; i < r1; i++ {
			a0 := a[i*k : i*k+k]
			for j := j0; j < j1; j++ {
				b0 := b[j*k : j*k+k]
				var s F
				for p, x := range b0 {
					s += a0[p] * x
				}
				store(c, i*n+j, s, acc)
			}
		}
	}
}

func store[F Float](c []F, idx int, v F, acc bool) {
	if acc {
		c[idx] += v
	} else {
		c[idx] = v
	}
}
