//go:build !amd64 || purego

package tensor

// PanelsABt has no kernels on this platform: it returns nil, and callers
// run GEMMRowsABt.
func PanelsABt(c, a, b []float32, m, n, k int, acc bool) (rows func(r0, r1 int), release func()) {
	return nil, nil
}
