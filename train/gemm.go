package train

import (
	"runtime"
	"sync"

	"glassbox/tensor"
)

// Float is the element type of the training math: float32 for training,
// float64 for the reference computations of the gradient checks.
type Float interface{ ~float32 | ~float64 }

// The matrix products below are the only GEMM entry points of the package.
// All three reduce to one kernel, tensor.GEMMRowsABt, that computes every
// output element as one sequential sum over k (p = 0, 1, …, k-1). Work is
// split by output rows, never along k, so the result is bit-identical
// whatever the number of threads. float32 products run tensor.PanelsABt when
// the CPU has its kernels (AVX-512), which keep that per-element summation
// order (multiply, round, add, round), so the weights do not depend on the
// kernel either.

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
	rows := func(r0, r1 int) { tensor.GEMMRowsABt(c, a, b, r0, r1, n, k, acc) }
	if cf, ok := any(c).([]float32); ok {
		af, bf := any(a).([]float32), any(b).([]float32)
		if fast, release := tensor.PanelsABt(cf, af, bf, m, n, k, acc); fast != nil {
			rows = fast
			defer release()
		}
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
)
