//go:build purego

package tensor

import "testing"

// TestPuregoKernels checks that the purego build tag leaves no assembly
// kernel in use.
func TestPuregoKernels(t *testing.T) {
	if Kernels() != "go" || !goKernels() {
		t.Fatalf("purego build: Kernels() = %q, pure-Go kernels %v", Kernels(), goKernels())
	}
}
