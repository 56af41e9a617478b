//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// sameBits reports whether a and b are the same float32, every NaN being
// equal to every other (hardware and Go may propagate different payloads).
func sameBits(a, b float32) bool {
	if a != a && b != b {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// asmTwins are the assembly kernels and their pure-Go twins, as dotFuncs.
func asmTwins() []struct {
	name      string
	w, x      Type
	blk       int // elements per block
	asm, pure dotFunc
} {
	useAsm(true)
	defer useAsm(true)
	type twin = struct {
		name      string
		w, x      Type
		blk       int
		asm, pure dotFunc
	}
	var out []twin
	if hasAVX2 {
		out = append(out,
			twin{"Q8_0", Q8_0, Q8_0, qk, dotQ8_0Q8_0, dotQ8_0Q8_0Go},
			twin{"Q4_0", Q4_0, Q8_0, qk, dotQ4_0Q8_0, dotQ4_0Q8_0Go},
			twin{"Q4_K", Q4_K, Q8_K, qkK, dotQ4_KQ8_K, dotQ4_KQ8_KGo},
			twin{"Q6_K", Q6_K, Q8_K, qkK, dotQ6_KQ8_K, dotQ6_KQ8_KGo},
		)
	}
	if hasAVX512 {
		out = append(out,
			twin{"F32", F32, F32, 1, dotF32F32, dotF32F32Go},
			twin{"F32gemm", F32, F32, 16, gemmF32F32, gemmDotF32F32Go},
			twin{"F16", F16, F32, 1, dotF16F16, dotF16F16Go},
			twin{"F16gemm", F16, F32, 16, gemmF16F16, gemmDotF16F16Go},
		)
	}
	return out
}

// edgeFloat returns a float32 drawn from one of several regimes: normal
// values, zeros of both signs, subnormals, huge values and exact ties.
func edgeFloat(rng *rand.Rand, regime int) float32 {
	switch regime {
	case 0:
		return float32(rng.NormFloat64())
	case 1:
		if rng.IntN(2) == 0 {
			return 0
		}
		return float32(math.Copysign(0, -1))
	case 2:
		return math.Float32frombits(rng.Uint32()&0x807fffff | 0) // subnormal
	case 3:
		return float32(rng.NormFloat64()) * 1e30
	case 4:
		return float32(rng.IntN(9)-4) * 0.5
	default:
		return math.Float32frombits(rng.Uint32()) // anything, NaN and Inf included
	}
}

// TestAsmTwinsFloat compares the float kernels with their pure-Go twins bit
// for bit, for every length up to 300 and several value regimes.
func TestAsmTwinsFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, tw := range asmTwins() {
		if tw.blk > 16 {
			continue
		}
		t.Run(tw.name, func(t *testing.T) {
			checked := 0
			for n := 0; n <= 300; n += tw.blk {
				for regime := 0; regime < 6; regime++ {
					a := make([]float32, n)
					b := make([]float32, n)
					for i := range a {
						r := regime
						if rng.IntN(4) == 0 {
							r = rng.IntN(5) // mix regimes within one vector
						}
						a[i], b[i] = edgeFloat(rng, r), edgeFloat(rng, r)
					}
					var w []byte
					if tw.w == F16 {
						w = make([]byte, 2*n)
						for i, f := range a {
							binary.LittleEndian.PutUint16(w[2*i:], F32ToF16(f))
						}
						for i := range b {
							b[i] = roundF16(b[i])
						}
					} else {
						w = f32Bytes(a)
					}
					x := f32Bytes(b)
					got, want := tw.asm(n, w, x), tw.pure(n, w, x)
					if !sameBits(got, want) {
						t.Fatalf("n=%d regime %d: assembly %g (%#08x), Go %g (%#08x)", n, regime,
							got, math.Float32bits(got), want, math.Float32bits(want))
					}
					checked++
				}
			}
			if checked < 100 {
				t.Fatalf("only %d cases checked", checked)
			}
		})
	}
}

// TestAsmTwinsQuant compares the quantized kernels with their pure-Go twins
// bit for bit: random bytes (every quant value, -128 included), activations
// from the real quantizer, zero scales and huge scales.
func TestAsmTwinsQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for _, tw := range asmTwins() {
		if tw.blk < 32 {
			continue
		}
		t.Run(tw.name, func(t *testing.T) {
			for trial := 0; trial < 200; trial++ {
				nb := 1 + trial%9
				n := nb * tw.blk
				w := randomBlocks(rng, tw.w, n, 0.05)
				var x []byte
				switch trial % 4 {
				case 0, 1: // random bytes, scales finite
					x = randomBlocks(rng, tw.x, n, 1)
				case 2: // quantized activations
					k, _ := kernelFor(tw.w)
					rb, _ := k.repr.RowBytes(n)
					x = make([]byte, rb)
					(*k.act)(randNormal(rng, n, 2), x)
				case 3: // extreme scales and extreme quants
					x = randomBlocks(rng, tw.x, n, 1)
					for i := range w {
						if rng.IntN(3) == 0 {
							w[i] = []byte{0, 0x80, 0x7f, 0xff}[rng.IntN(4)]
						}
					}
					for i := range x {
						if rng.IntN(3) == 0 {
							x[i] = []byte{0, 0x80, 0x7f, 0xff}[rng.IntN(4)]
						}
					}
				}
				got, want := tw.asm(n, w, x), tw.pure(n, w, x)
				if !sameBits(got, want) {
					t.Fatalf("trial %d (%d blocks): assembly %g (%#08x), Go %g (%#08x)", trial, nb,
						got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
		})
	}
}

// TestAsmDotF16 compares DotF16 and DotF16GEMM with their pure-Go twins on
// random F16 bit patterns (NaN and Inf included) of every length up to 300.
func TestAsmDotF16(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	useAsm(true)
	rng := rand.New(rand.NewPCG(65, 66))
	for n := 0; n <= 300; n++ {
		for trial := 0; trial < 4; trial++ {
			a, b := make([]uint16, n), make([]uint16, n)
			for i := range a {
				if trial == 3 {
					a[i], b[i] = uint16(rng.Uint32()), uint16(rng.Uint32())
				} else {
					a[i], b[i] = F32ToF16(float32(rng.NormFloat64())), F32ToF16(float32(rng.NormFloat64()))
				}
			}
			if got, want := dotF16(a, b), dotF16Go(a, b); !sameBits(got, want) {
				t.Fatalf("DotF16 n=%d trial %d: assembly %g, Go %g", n, trial, got, want)
			}
			if n%16 == 0 {
				if got, want := dotF16GEMM(a, b), dotF16GEMMGo(a, b); !sameBits(got, want) {
					t.Fatalf("DotF16GEMM n=%d trial %d: assembly %g, Go %g", n, trial, got, want)
				}
			}
		}
	}
}

// BenchmarkDotKernels times each assembly kernel and its Go twin on one row
// of 4096 elements.
func BenchmarkDotKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(67, 68))
	const n = 4096
	for _, tw := range asmTwins() {
		w := randomBlocks(rng, tw.w, n, 0.05)
		x := randomBlocks(rng, tw.x, n, 1)
		if tw.x == F32 {
			x = f32Bytes(randNormal(rng, n, 1))
		}
		for _, v := range []struct {
			name string
			f    dotFunc
		}{{"asm", tw.asm}, {"go", tw.pure}} {
			b.Run(tw.name+"/"+v.name, func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				for i := 0; i < b.N; i++ {
					v.f(n, w, x)
				}
			})
		}
	}
}

// TestAsmDot4 checks the four-row kernels against four calls of the pure-Go
// twin, bit for bit, on random bytes and quantized activations.
func TestAsmDot4(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	useAsm(true)
	rng := rand.New(rand.NewPCG(69, 70))
	tests := []struct {
		typ  Type
		dot4 dot4Func
		twin dotFunc
	}{
		{Q4_0, dotQ4_0Q8_0x4, dotQ4_0Q8_0Go},
		{Q8_0, dotQ8_0Q8_0x4, dotQ8_0Q8_0Go},
	}
	for _, tc := range tests {
		for trial := 0; trial < 100; trial++ {
			nb := 1 + trial%7
			n := nb * qk
			w := randomBlocks(rng, tc.typ, n, 0.05)
			xs := nb*szQ80 + 34*(trial%3) // rows may be further apart than their length
			x := make([]byte, 4*xs)
			for i := range 4 {
				var row []byte
				if trial%2 == 0 {
					row = randomBlocks(rng, Q8_0, n, 1)
				} else {
					row = make([]byte, nb*szQ80)
					quantQ8_0ActGo(randNormal(rng, n, 3), row)
				}
				copy(x[i*xs:], row)
			}
			var out [4]float32
			tc.dot4(n, w, x, xs, &out)
			for i, got := range out {
				if want := tc.twin(n, w, x[i*xs:]); !sameBits(got, want) {
					t.Fatalf("%s trial %d row %d: four-row kernel %g, Go %g", tc.typ, trial, i, got, want)
				}
			}
		}
	}
}

// TestDotF16RowsTwin checks DotF16Rows (the assembly kernel for lengths that
// are multiples of 64 up to 256, row by row otherwise) against the pure-Go
// DotF16 of each row, bit for bit, on every value regime, several strides
// and row counts.
func TestDotF16RowsTwin(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(71, 72))
	for _, n := range []int{1, 64, 80, 128, 192, 256, 320} {
		for _, pad := range []int{0, 7, 128} {
			for _, nrows := range []int{1, 2, 9} {
				for regime := range 6 {
					stride := n + pad
					a := make([]uint16, n)
					rows := make([]uint16, (nrows-1)*stride+n)
					for i := range a {
						a[i] = F32ToF16(edgeFloat(rng, regime))
					}
					for i := range rows {
						r := regime
						if rng.IntN(4) == 0 {
							r = rng.IntN(5)
						}
						rows[i] = F32ToF16(edgeFloat(rng, r))
					}
					got := make([]float32, nrows)
					DotF16Rows(a, rows, stride, got)
					for r := range got {
						want := dotF16Go(a, rows[r*stride:r*stride+n])
						if !sameBits(got[r], want) {
							t.Fatalf("n %d, stride %d, row %d of %d, regime %d: %v, twin %v", n, stride, r, nrows, regime, got[r], want)
						}
					}
				}
			}
		}
	}
}

// BenchmarkDotF16Rows measures the scores of one query head of 128 against
// 4096 cached keys (one layer's keys of a KV head), row by row with DotF16
// and at once with DotF16Rows.
func BenchmarkDotF16Rows(b *testing.B) {
	const n, nrows, stride = 128, 4096, 512
	rng := rand.New(rand.NewPCG(73, 74))
	a := make([]uint16, n)
	rows := make([]uint16, nrows*stride)
	for i := range a {
		a[i] = F32ToF16(float32(rng.NormFloat64()))
	}
	for i := range rows {
		rows[i] = F32ToF16(float32(rng.NormFloat64()))
	}
	out := make([]float32, nrows)
	b.Run("row-by-row", func(b *testing.B) {
		for b.Loop() {
			for r := range out {
				out[r] = DotF16(a, rows[r*stride:r*stride+n])
			}
		}
	})
	b.Run("rows", func(b *testing.B) {
		for b.Loop() {
			DotF16Rows(a, rows, stride, out)
		}
	})
}

// TestDotF16RowsGroupTwin checks DotF16RowsGroup (the four-query assembly
// kernel, groups of any size) against the pure-Go twin bit for bit, and
// that it writes nothing but its results.
func TestDotF16RowsGroupTwin(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(75, 76))
	for _, n := range []int{64, 80, 128, 256} {
		for _, g := range []int{1, 2, 3, 4, 5, 7, 8} {
			for _, nrows := range []int{1, 3, 17} {
				for regime := range 6 {
					stride := n + rng.IntN(3)*64
					ostride := nrows + rng.IntN(3)
					q := make([]float32, g*n)
					for i := range q {
						q[i] = edgeFloat(rng, regime)
					}
					rows := make([]uint16, (nrows-1)*stride+n)
					for i := range rows {
						rows[i] = F32ToF16(edgeFloat(rng, rng.IntN(5)))
					}
					got := make([]float32, g*ostride+3)
					want := make([]float32, len(got))
					for i := range got {
						got[i], want[i] = -7.5, -7.5
					}
					DotF16RowsGroup(q, n, rows, stride, nrows, got, ostride)
					// the pure-Go twin: each query rounded by F32ToF16, each
					// row by dotF16Go
					qh := make([]uint16, n)
					for j := range g {
						for i := range qh {
							qh[i] = F32ToF16(q[j*n+i])
						}
						for r := range nrows {
							want[j*ostride+r] = dotF16Go(qh, rows[r*stride:r*stride+n])
						}
					}
					for i := range got {
						if !sameBits(got[i], want[i]) {
							t.Fatalf("n %d, %d queries, %d rows (stride %d, out stride %d), regime %d: value %d = %v, twin %v", n, g, nrows, stride, ostride, regime, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}
