//go:build !amd64 || purego

package tensor

// quantGEMM has no panel kernels on this platform: every row goes through
// the per-row kernels.
func quantGEMM(dst []float32, w *Matrix, xq []byte, xs, n int) int { return 0 }

// quantGEMV has no one-row kernels on this platform.
func quantGEMV(w *Matrix, xq []byte) (gemvFunc, *[]byte) { return nil, nil }

// floatRowsFor has no row kernels on this platform: MatMul's F32 and F16
// products go through the per-row dots.
func floatRowsFor(w *Matrix) floatRowsFunc { return nil }

// floatGEMM has no tile kernels on this platform.
func floatGEMM(dst []float32, w *Matrix, xq []byte, xs, n int) int { return 0 }

// packMatrix makes no packed copies on this platform.
func packMatrix(m *Matrix, a *Arena, release func([]byte) error) ([]byte, error) { return nil, nil }

// packedSize is 0: there are no packed copies on this platform.
func packedSize(m *Matrix) int { return 0 }

// packedGEMV has no kernels over packed copies on this platform.
func packedGEMV(w *Matrix) gemvFunc { return nil }

// panelShape has no panel kernels on this platform.
func panelShape(w *Matrix) (rows, block int, pack func(dst []byte, w *Matrix, r0, nb int)) {
	return 0, 0, nil
}

// gemmMinBatch is the smallest batch the panel kernels take (none here).
const gemmMinBatch = 8

// gemvNFunc is the signature of the many-row packed kernels (none here).
type gemvNFunc func(w *Matrix, xp []byte, xstride, n, lo, hi int, dst []float32, dstride int)

// packedGEMVN has no kernels over packed copies on this platform.
func packedGEMVN(w *Matrix) gemvNFunc { return nil }

// packGemvRows is never called on this platform (packedGEMVN is nil).
func packGemvRows(w *Matrix, xq []byte, xs, n int) (*[]byte, int) { return nil, 0 }

// maxBatchN is the largest batch the packed products take at once.
const maxBatchN = 16
