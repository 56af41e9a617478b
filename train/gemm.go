package train

import (
	"runtime"
	"sync"
)

// Float is the element type of the training math: float32 for training,
// float64 for the reference computations of the gradient checks.
type Float interface{ ~float32 | ~float64 }

// The matrix products below are the only GEMM entry points of the package.
// All three reduce to one kernel, gemmABt, that computes every output
// element as one sequential sum over k (p = 0, 1, …, k-1). Work is split by
// output rows, never along k, so the result is bit-identical whatever the
// number of threads. On amd64 with AVX-512, float32 products run the
// assembly kernels of gemm_amd64.s (gemmPanels), which keep that
// per-element summation order (multiply, round, add, round), so the weights
// do not depend on the kernel either.

// matABt computes C[m×n] (+)= A[m×k] · B[n×k]ᵀ, using up to threads goroutines.
// With acc false C is overwritten.
func matABt[F Float](c, a, b []F, m, n, k int, acc bool, threads int) {
	gemmParallel(c, a, b, m, n, k, acc, threads)
}

// matAB computes C[m×n] (+)= A[m×k] · B[k×n]; scratch receives Bᵀ.
func matAB[F Float](c, a, b []F, m, n, k int, acc bool, threads int, scratch *[]F) {
	bt := grow(scratch, n*k)
	transpose(bt, b, k, n)
	gemmParallel(c, a, bt, m, n, k, acc, threads)
}

// matAtB computes C[m×n] (+)= A[k×m]ᵀ · B[k×n]; scratch receives Aᵀ and Bᵀ.
func matAtB[F Float](c, a, b []F, m, n, k int, acc bool, threads int, scratch *[]F) {
	buf := grow(scratch, m*k+n*k)
	at, bt := buf[:m*k], buf[m*k:]
	transpose(at, a, k, m)
	transpose(bt, b, k, n)
	gemmParallel(c, at, bt, m, n, k, acc, threads)
}

// grow returns (*s)[:n], reallocating when the capacity is too small.
func grow[F Float](s *[]F, n int) []F {
	if cap(*s) < n {
		*s = make([]F, n)
	}
	return (*s)[:n]
}

// transpose writes the cols×rows transpose of the rows×cols matrix src into dst,
// in 32×32 tiles to stay within the cache.
func transpose[F Float](dst, src []F, rows, cols int) {
	const t = 32
	for i0 := 0; i0 < rows; i0 += t {
		i1 := min(i0+t, rows)
		for j0 := 0; j0 < cols; j0 += t {
			j1 := min(j0+t, cols)
			for i := i0; i < i1; i++ {
				row := src[i*cols : i*cols+cols]
				for j := j0; j < j1; j++ {
					dst[j*rows+i] = row[j]
				}
			}
		}
	}
}

// gemmParallel splits the m output rows into blocks of gemmRowBlock rows and
// hands them to up to threads goroutines.
func gemmParallel[F Float](c, a, b []F, m, n, k int, acc bool, threads int) {
	rows := func(r0, r1 int) { gemmABt(c, a, b, r0, r1, n, k, acc) }
	if fast, release := gemmPanels(c, a, b, m, n, k, acc); fast != nil {
		rows = fast
		defer release()
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	blocks := (m + gemmRowBlock - 1) / gemmRowBlock
	if threads > blocks {
		threads = blocks
	}
	// Small products are not worth a goroutine.
	if threads <= 1 || m*n*k < 1<<16 {
		rows(0, m)
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				blk := next
				next++
				mu.Unlock()
				if blk >= blocks {
					return
				}
				r0 := blk * gemmRowBlock
				rows(r0, min(r0+gemmRowBlock, m))
			}
		}()
	}
	wg.Wait()
}

const (
	gemmRowBlock = 16 // rows of A per parallel work item
	gemmColBlock = 64 // rows of B kept hot in cache while a row block runs
)

// gemmABt computes rows [r0, r1) of C = A·Bᵀ (or C += A·Bᵀ). The micro-kernel
// handles 4 rows of A against 2 rows of B (8 accumulators), each accumulator
// summing its k products in order.
func gemmABt[F Float](c, a, b []F, r0, r1, n, k int, acc bool) {
	for j0 := 0; j0 < n; j0 += gemmColBlock {
		j1 := min(j0+gemmColBlock, n)
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
