//go:build !amd64

package vectors

func dot(a, b []float32) float32 { return dotGo(a, b) }

func axpy(y, x []float32, g float32) { axpyGo(y, x, g) }
