package vectors

import "glassbox/tensor"

// The hot loops of training, over float32 rows of equal length: tensor's
// Dot and Axpy (AVX2 where the processor has it, the same bits as their
// pure-Go twins, so the vectors never depend on the CPU).

func dot(a, b []float32) float32 { return tensor.Dot(a, b) }

func axpy(y, x []float32, g float32) { tensor.Axpy(y, x, g) }

// axpy1 adds x to y: axpy with g = 1 (1·x is x exactly, so the sums are
// the plain ones).
func axpy1(y, x []float32) { tensor.Axpy(y, x, 1) }

// sub subtracts x from y: axpy with g = −1, exact likewise.
func sub(y, x []float32) { tensor.Axpy(y, x, -1) }

// scale multiplies y by g.
func scale(y []float32, g float32) {
	for i := range y {
		y[i] *= g
	}
}
