//go:build !amd64 || purego

package model

// siluMulVec and expSubVec have no vector kernels on this platform.
func siluMulVec(g, up []float32) bool       { return false }
func expSubVec(x []float32, m float32) bool { return false }
