//go:build !amd64 || purego

package tensor

// useAsm has nothing to switch on this platform: the pure-Go kernels run.
func useAsm(bool) {}

func kernelSet() string { return "go" }
