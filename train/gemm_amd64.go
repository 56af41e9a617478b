//go:build amd64 && !purego

package train

import (
	"sync"

	"golang.org/x/sys/cpu"
)

//go:noescape
func sgemm4x32(k int, a *float32, lda int, bp *float32, c *float32, ldc int, acc bool, mask uint32)

//go:noescape
func sgemm1x32(k int, a *float32, lda int, bp *float32, c *float32, ldc int, acc bool, mask uint32)

// hasAVX512 tells whether the assembly kernels of gemm_amd64.s run; the tests
// switch useAsmGEMM off to compare them with gemmABt.
var (
	hasAVX512  = cpu.X86.HasAVX512F
	useAsmGEMM = hasAVX512
)

// panelCols is the width of a packed panel of B: two AVX-512 registers.
const panelCols = 32

// panels holds packed copies of B between calls.
var panels = sync.Pool{New: func() any { return new([]float32) }}

// gemmPanels prepares C (+)= A·Bᵀ for float32 with the AVX-512 kernels:
// it packs B into panels of 32 columns (k rows of 32 values, zero-padded)
// and returns the function that computes rows [r0, r1) of C from them, and
// the function that releases the panels; rows is nil when the kernels do not
// apply (not float32, no AVX-512, an empty product). Each output is still one
// sequential sum over p of rounded products, so the result equals gemmABt's
// bit for bit.
func gemmPanels[F Float](c, a, b []F, m, n, k int, acc bool) (rows func(r0, r1 int), release func()) {
	cf, ok := any(c).([]float32)
	if !ok || !useAsmGEMM || m == 0 || n == 0 || k == 0 {
		return nil, nil
	}
	af, bf := any(a).([]float32), any(b).([]float32)
	_, _, _ = af[m*k-1], bf[n*k-1], cf[m*n-1]
	np := (n + panelCols - 1) / panelCols
	buf := panels.Get().(*[]float32)
	bp := grow(buf, np*k*panelCols)
	for jp := range np {
		panel := bp[jp*k*panelCols : (jp+1)*k*panelCols]
		j0, cols := jp*panelCols, min(panelCols, n-jp*panelCols)
		src := bf[j0*k : (j0+cols)*k]
		for p := range k {
			out := panel[p*panelCols : (p+1)*panelCols]
			for jj := range cols {
				out[jj] = src[jj*k+p]
			}
			clear(out[cols:])
		}
	}
	rows = func(r0, r1 int) {
		for jp := range np {
			j0 := jp * panelCols
			mask := ^uint32(0)
			if cols := n - j0; cols < panelCols {
				mask = uint32(1)<<cols - 1
			}
			pp := &bp[jp*k*panelCols]
			i := r0
			for ; i+4 <= r1; i += 4 {
				sgemm4x32(k, &af[i*k], 4*k, pp, &cf[i*n+j0], 4*n, acc, mask)
			}
			for ; i < r1; i++ {
				sgemm1x32(k, &af[i*k], 4*k, pp, &cf[i*n+j0], 4*n, acc, mask)
			}
		}
	}
	return rows, func() { panels.Put(buf) }
}
