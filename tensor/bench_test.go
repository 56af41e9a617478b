package tensor

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkMatVec multiplies a 4096×4096 matrix of each type by a vector;
// the MB/s figure is weight bytes streamed per second.
func BenchmarkMatVec(b *testing.B) {
	const n = 4096
	rng := rand.New(rand.NewPCG(21, 22))
	x := randNormal(rng, n, 1)
	dst := make([]float32, n)
	for _, typ := range matTypes {
		b.Run(typ.String(), func(b *testing.B) {
			w := randomMatrix(b, rng, typ, n, n)
			b.SetBytes(int64(len(w.Data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				MatVec(dst, w, x)
			}
		})
	}
}

// BenchmarkMatMul multiplies a 1024×1024 F32 matrix by 32 activation rows.
func BenchmarkMatMul(b *testing.B) {
	const n, batch = 1024, 32
	rng := rand.New(rand.NewPCG(23, 24))
	w := randomMatrix(b, rng, F32, n, n)
	x := randNormal(rng, n*batch, 1)
	dst := make([]float32, n*batch)
	b.SetBytes(int64(len(w.Data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		MatMul(dst, w, x, batch)
	}
}

// BenchmarkQuantizeActivations converts a 4096 vector to each vec-dot type.
func BenchmarkQuantizeActivations(b *testing.B) {
	rng := rand.New(rand.NewPCG(25, 26))
	x := randNormal(rng, 4096, 1)
	for _, typ := range []Type{F16, Q4_0, Q4_1, Q4_K} {
		k, _ := kernelFor(typ)
		rb, _ := k.repr.RowBytes(len(x))
		buf := make([]byte, rb)
		b.Run(k.vec.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for i := 0; i < b.N; i++ {
				(*k.act)(x, buf)
			}
		})
	}
}

// BenchmarkDequantize expands 4096 elements of each type.
func BenchmarkDequantize(b *testing.B) {
	rng := rand.New(rand.NewPCG(27, 28))
	dst := make([]float32, 4096)
	for _, typ := range testTypes {
		src := randomBlocks(rng, typ, len(dst), 0.02)
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for i := 0; i < b.N; i++ {
				if err := Dequantize(typ, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMatMulQuant multiplies a 4096×1536 matrix of each quantized type
// by 64 activation rows (a prompt-processing batch), with the four-row
// kernels where they exist (x4) and with one dot call per output (x1); the
// MB/s figure is weight bytes per second.
func BenchmarkMatMulQuant(b *testing.B) {
	const rows, cols, batch = 4096, 1536, 64
	rng := rand.New(rand.NewPCG(25, 26))
	x := randNormal(rng, cols*batch, 1)
	dst := make([]float32, rows*batch)
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		w := randomMatrix(b, rng, typ, rows, cols)
		for _, mode := range []string{"x4", "x1"} {
			b.Run(typ.String()+"/"+mode, func(b *testing.B) {
				if mode == "x1" {
					q4, q8 := dotQ4_0Q8_0x4, dotQ8_0Q8_0x4
					dotQ4_0Q8_0x4, dotQ8_0Q8_0x4 = nil, nil
					defer func() { dotQ4_0Q8_0x4, dotQ8_0Q8_0x4 = q4, q8 }()
				}
				b.SetBytes(int64(len(w.Data)))
				for b.Loop() {
					MatMul(dst, w, x, batch)
				}
			})
		}
	}
}
