//go:build amd64 && !purego

package tensor

import "sync"

// The training GEMM kernels of sgemm_amd64.s (AVX-512F).

//go:noescape
func sgemm4x32(k int, a *float32, lda int, bp *float32, c *float32, ldc int, acc bool, mask uint32)

//go:noescape
func sgemm1x32(k int, a *float32, lda int, bp *float32, c *float32, ldc int, acc bool, mask uint32)

// useSGEMM tells whether PanelsABt runs the kernels (see useAsm).
var useSGEMM bool

// sgemmPanelCols is the width of a packed panel of B: two AVX-512 registers.
const sgemmPanelCols = 32

// sgemmPanels holds packed copies of B between calls.
var sgemmPanels = sync.Pool{New: func() any { return new([]float32) }}

// PanelsABt prepares C (+)= A·Bᵀ (A m×k, B n×k, C m×n, row-major float32)
// with the AVX-512 kernels: it packs B into panels of 32 columns (k rows of
// 32 values, zero-padded) and returns the function that computes rows
// [r0, r1) of C from them, which may run on several goroutines for disjoint
// rows, and the function that releases the panels. rows is nil when the
// kernels do not run (no AVX-512, assembly switched off, an empty product).
// Each output is still one sequential sum over p of rounded products, so the
// result equals GEMMRowsABt's bit for bit.
func PanelsABt(c, a, b []float32, m, n, k int, acc bool) (rows func(r0, r1 int), release func()) {
	if !useSGEMM || m == 0 || n == 0 || k == 0 {
		return nil, nil
	}
	_, _, _ = a[m*k-1], b[n*k-1], c[m*n-1]
	np := (n + sgemmPanelCols - 1) / sgemmPanelCols
	buf := sgemmPanels.Get().(*[]float32)
	if cap(*buf) < np*k*sgemmPanelCols {
		*buf = make([]float32, np*k*sgemmPanelCols)
	}
	bp := (*buf)[:np*k*sgemmPanelCols]
	for jp := range np {
		panel := bp[jp*k*sgemmPanelCols : (jp+1)*k*sgemmPanelCols]
		j0, cols := jp*sgemmPanelCols, min(sgemmPanelCols, n-jp*sgemmPanelCols)
		src := b[j0*k : (j0+cols)*k]
		for p := range k {
			out := panel[p*sgemmPanelCols : (p+1)*sgemmPanelCols]
			for jj := range cols {
				out[jj] = src[jj*k+p]
			}
			clear(out[cols:])
		}
	}
	rows = func(r0, r1 int) {
		for jp := range np {
			j0 := jp * sgemmPanelCols
			mask := ^uint32(0)
			if cols := n - j0; cols < sgemmPanelCols {
				mask = uint32(1)<<cols - 1
			}
			pp := &bp[jp*k*sgemmPanelCols]
			i := r0
			for ; i+4 <= r1; i += 4 {
				sgemm4x32(k, &a[i*k], 4*k, pp, &c[i*n+j0], 4*n, acc, mask)
			}
			for ; i < r1; i++ {
				sgemm1x32(k, &a[i*k], 4*k, pp, &c[i*n+j0], 4*n, acc, mask)
			}
		}
	}
	return rows, func() { sgemmPanels.Put(buf) }
}
