//go:build !amd64 || purego

package train

// gemmPanels has no assembly kernels on this platform: gemmABt runs.
func gemmPanels[F Float](c, a, b []F, m, n, k int, acc bool) (rows func(r0, r1 int), release func()) {
	return nil, nil
}
