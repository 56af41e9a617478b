//go:build amd64 && !purego

package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// randomQuantRows returns rows×cols random weights of type t: random quant
// bytes (every bit pattern, so Q8_0 holds -128 too) with random scales.
func randomQuantRows(rng *rand.Rand, t Type, rows, cols int) []byte {
	rb, _ := t.RowBytes(cols)
	data := make([]byte, rows*rb)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	bs := t.TypeSize()
	for off := 0; off < len(data); off += bs {
		d := float32(rng.NormFloat64()) * 0.02
		if rng.IntN(50) == 0 {
			d = 0
		}
		if t == Q6_K { // its scale d is the last field
			binary.LittleEndian.PutUint16(data[off+bs-2:], F32ToF16(d))
			continue
		}
		binary.LittleEndian.PutUint16(data[off:], F32ToF16(d))
		if t == Q4_K { // dmin too
			binary.LittleEndian.PutUint16(data[off+2:], F32ToF16(float32(rng.NormFloat64())*0.01))
		}
	}
	return data
}

// TestPanelGEMM checks the VNNI panel kernels (and, for one activation
// row, the eight-row kernels) against the per-row kernels and the pure-Go
// twins bit for bit, over shapes that exercise partial panels, partial
// column groups, batches at the threshold and row counts that are not
// multiples of eight.
func TestPanelGEMM(t *testing.T) {
	if !hasVNNI512 {
		t.Skip("this CPU has no AVX-512 VNNI: the panel kernels never run")
	}
	defer func() { useGEMM = hasVNNI512; useAsm(true) }()
	rng := rand.New(rand.NewPCG(7, 11))
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		for _, sh := range []struct{ rows, cols, n int }{
			{8, 32, 8}, {16, 32, 8}, {16, 64, 9}, {17, 96, 13}, {40, 256, 12},
			{69, 128, 33}, {8, 32, 64}, {32, 1024, 17}, {7, 64, 20},
			{8, 32, 1}, {16, 64, 1}, {37, 96, 1}, {200, 512, 1}, {7, 64, 1}, {4096, 256, 1},
		} {
			for _, threads := range []int{1, 2} {
				sh := sh
				if typ.BlockSize() == qkK {
					sh.cols *= 8 // whole super-blocks
				}
				t.Run(fmt.Sprintf("%s/%dx%d/n%d/t%d", typ, sh.rows, sh.cols, sh.n, threads), func(t *testing.T) {
					SetThreads(threads)
					defer SetThreads(0)
					w, err := NewMatrix(typ, sh.rows, sh.cols, randomQuantRows(rng, typ, sh.rows, sh.cols))
					if err != nil {
						t.Fatal(err)
					}
					x := make([]float32, sh.n*sh.cols)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
						if rng.IntN(40) == 0 {
							x[i] = 0
						}
					}
					got := make([]float32, sh.n*sh.rows)
					rowwise := make([]float32, sh.n*sh.rows)
					pure := make([]float32, sh.n*sh.rows)
					useGEMM = true
					MatMul(got, w, x, sh.n)
					useGEMM = false
					MatMul(rowwise, w, x, sh.n)
					useAsm(false)
					MatMul(pure, w, x, sh.n)
					useAsm(true)
					for i := range got {
						if !sameBits(got[i], rowwise[i]) || !sameBits(got[i], pure[i]) {
							t.Fatalf("output %d (column %d, row %d): panel %v, per-row %v, pure Go %v",
								i, i/sh.rows, i%sh.rows, got[i], rowwise[i], pure[i])
						}
					}
				})
			}
		}
	}
}

// BenchmarkPanelGEMM measures batch products at the 400M benchmark model's
// shapes, panel kernels against the per-row kernels.
func BenchmarkPanelGEMM(b *testing.B) {
	if !hasVNNI512 {
		b.Skip("no AVX-512 VNNI")
	}
	defer func() { useGEMM = hasVNNI512 }()
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 64
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q6_K} {
		for _, sh := range []struct{ rows, cols int }{{1536, 4096}, {4096, 1536}} {
			w, _ := NewMatrix(typ, sh.rows, sh.cols, randomQuantRows(rng, typ, sh.rows, sh.cols))
			x := make([]float32, n*sh.cols)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			dst := make([]float32, n*sh.rows)
			for _, panel := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s/%dx%d/n%d/panel=%v", typ, sh.rows, sh.cols, n, panel), func(b *testing.B) {
					useGEMM = panel
					for b.Loop() {
						MatMul(dst, w, x, n)
					}
					b.ReportMetric(float64(n*sh.rows*sh.cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
				})
			}
		}
	}
}

// TestFloatTileGEMM checks the four-by-four F32 and F16 tile kernels of
// MatMulGEMM against the per-output tinyBLAS dot and its pure-Go twin bit
// for bit, with edge-case values (zeros, subnormals, huge values, NaN, Inf).
func TestFloatTileGEMM(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512: the tile kernels never run")
	}
	defer func() { useGEMM = hasVNNI512; useAsm(true); gemm6 = true }()
	rng := rand.New(rand.NewPCG(17, 19))
	for _, tc := range []struct {
		typ Type
		six bool // tiles of six activation rows where they fit
	}{{F32, true}, {F16, true}, {F32, false}, {F16, false}} {
		typ := tc.typ
		gemm6 = tc.six
		for _, sh := range []struct{ rows, cols, n int }{
			{4, 16, 4}, {16, 48, 5}, {36, 256, 7}, {8, 32, 8}, {12, 64, 67}, {4, 16, 2},
			{20, 528, 70}, {16, 1024, 9}, // several pieces of k, a short panel, two sweeps
			{264, 32, 9}, // hand-out ranges of several blocks of tiles, a short last block
			// six-row tiles alone, with a four-row one after, two four-row
			// ones after, and sixes in two sweeps of 64 rows
			{8, 32, 6}, {12, 48, 10}, {40, 96, 22}, {264, 64, 131},
		} {
			for _, regime := range []int{0, 5} {
				t.Run(fmt.Sprintf("%s/six=%v/%dx%d/n%d/r%d", typ, tc.six, sh.rows, sh.cols, sh.n, regime), func(t *testing.T) {
					wf := make([]float32, sh.rows*sh.cols)
					for i := range wf {
						wf[i] = edgeFloat(rng, regime*rng.IntN(6)/5)
					}
					w := quantMatrix(t, typ, sh.rows, sh.cols, wf)
					x := make([]float32, sh.n*sh.cols)
					for i := range x {
						x[i] = edgeFloat(rng, regime*rng.IntN(6)/5)
					}
					got := make([]float32, sh.n*sh.rows)
					perOut := make([]float32, sh.n*sh.rows)
					pure := make([]float32, sh.n*sh.rows)
					useGEMM = true
					MatMulGEMM(got, w, x, sh.n)
					useGEMM = false
					MatMulGEMM(perOut, w, x, sh.n)
					useAsm(false)
					MatMulGEMM(pure, w, x, sh.n)
					useAsm(true)
					for i := range got {
						if !sameBits(got[i], perOut[i]) || !sameBits(got[i], pure[i]) {
							t.Fatalf("output %d (column %d, row %d): tile %v, per-output %v, pure Go %v",
								i, i/sh.rows, i%sh.rows, got[i], perOut[i], pure[i])
						}
					}
				})
			}
		}
	}
}

// TestQuantQ8_0AVX512 checks the AVX-512 activation quantizer against
// quantQ8_0ActGo byte for byte, on normal, tiny, huge and non-finite inputs.
func TestQuantQ8_0AVX512(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(23, 29))
	for regime := range 7 {
		for _, nb := range []int{0, 1, 2, 7, 48} {
			x := make([]float32, nb*qk)
			for i := range x {
				r := regime
				if r == 6 {
					r = rng.IntN(6)
				}
				x[i] = edgeFloat(rng, r)
			}
			if nb > 0 && regime == 0 {
				x[3] = float32(math.NaN())
				x[40%len(x)] = float32(math.Inf(-1))
			}
			got := make([]byte, nb*szQ80)
			want := make([]byte, nb*szQ80)
			quantQ8_0ActAVX512(x, got)
			quantQ8_0ActGo(x, want)
			for i := range got {
				if got[i] != want[i] {
					b := i / szQ80
					t.Fatalf("regime %d, %d blocks: byte %d (block %d) = %#x, want %#x; block input %v",
						regime, nb, i, b, got[i], want[i], x[b*qk:(b+1)*qk])
				}
			}
		}
	}
}

// BenchmarkFloatTileGEMM measures MatMulGEMM batches of F16 and F32 weights
// at the 400M benchmark model's shapes, the four-by-four tiles against the
// per-output tinyBLAS dot, on as many pool threads as -cpu gives.
func BenchmarkFloatTileGEMM(b *testing.B) {
	if !hasAVX512 {
		b.Skip("no AVX-512")
	}
	defer func() { useGEMM = hasVNNI512 }()
	defer SetThreads(Threads())
	rng := rand.New(rand.NewPCG(5, 6))
	for _, typ := range []Type{F16, F32} {
		for _, sh := range []struct{ rows, cols int }{{1536, 4096}, {4096, 1536}} {
			src := make([]float32, sh.rows*sh.cols)
			for i := range src {
				src[i] = float32(rng.NormFloat64()) * 0.02
			}
			rb, _ := typ.RowBytes(sh.cols)
			data := make([]byte, sh.rows*rb)
			if err := Quantize(typ, src, data); err != nil {
				b.Fatal(err)
			}
			w, _ := NewMatrix(typ, sh.rows, sh.cols, data)
			for _, n := range []int{64, 512} {
				x := make([]float32, n*sh.cols)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				dst := make([]float32, n*sh.rows)
				// tile=true is the default (tiles of six activation rows
				// where they fit), tile=four the four-row tiles alone,
				// tile=false the per-output dots
				for _, tile := range []string{"true", "four", "false"} {
					b.Run(fmt.Sprintf("%s/%dx%d/n%d/tile=%s", typ, sh.rows, sh.cols, n, tile), func(b *testing.B) {
						useGEMM = tile != "false" && hasVNNI512
						gemm6 = tile == "true"
						defer func() { gemm6 = true }()
						SetThreads(runtime.GOMAXPROCS(0))
						for b.Loop() {
							MatMulGEMM(dst, w, x, n)
						}
						b.ReportMetric(float64(n*sh.rows*sh.cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
					})
				}
			}
		}
	}
}

// TestGemvF16 checks the F16 one-row product (floatRowsAVX512, every row in
// one call) against the per-row dot and its pure-Go twin bit for bit, over
// every value regime.
func TestGemvF16(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512: the kernel never runs")
	}
	rng := rand.New(rand.NewPCG(31, 37))
	for _, sh := range []struct{ rows, cols int }{{8, 64}, {16, 128}, {24, 1536}, {40, 320}} {
		for regime := range 6 {
			t.Run(fmt.Sprintf("%dx%d/r%d", sh.rows, sh.cols, regime), func(t *testing.T) {
				w := make([]byte, 2*sh.rows*sh.cols)
				for i := range sh.rows * sh.cols {
					binary.LittleEndian.PutUint16(w[2*i:], F32ToF16(edgeFloat(rng, regime)))
				}
				x := make([]float32, sh.cols)
				for i := range x {
					x[i] = roundF16(edgeFloat(rng, regime))
				}
				m, err := NewMatrix(F16, sh.rows, sh.cols, w)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]float32, sh.rows)
				floatRowsAVX512(m, f32Bytes(x), 4*sh.cols, 1, 0, sh.rows, got, sh.rows)
				for r := range sh.rows {
					row := w[r*2*sh.cols : (r+1)*2*sh.cols]
					asm := dotF16F16(sh.cols, row, f32Bytes(x))
					pure := dotF16F16Go(sh.cols, row, f32Bytes(x))
					if !sameBits(got[r], asm) || !sameBits(got[r], pure) {
						t.Fatalf("row %d: %g (%#08x), per-row %g, Go %g", r, got[r], math.Float32bits(got[r]), asm, pure)
					}
				}
			})
		}
	}
}

// TestFloatRows checks MatMul's and MatVecMulti's F32 and F16 products
// through the row kernels (floatRowsAVX512: blocks of rows, activation
// rows four at a time then one at a time) against the per-row asm dot and
// its pure-Go twin bit for bit, for 1–9 activation rows, row counts that
// cut the blocks and the workers' ranges, 1 and 2 threads, every value
// regime.
func TestFloatRows(t *testing.T) {
	if !hasAVX512 || !asmOn {
		t.Skip("no AVX-512, or GLASSBOX_NOASM set: the kernels never run")
	}
	defer SetThreads(Threads())
	rng := rand.New(rand.NewPCG(41, 43))
	for _, typ := range []Type{F32, F16} {
		for _, sh := range []struct{ rows, cols int }{{1, 64}, {7, 128}, {33, 384}, {70, 64}, {130, 1024}} {
			for _, n := range []int{1, 2, 3, 4, 5, 8, 9} {
				for _, threads := range []int{1, 2} {
					regime := rng.IntN(6)
					t.Run(fmt.Sprintf("%s/%dx%d/n%d/t%d/r%d", typ, sh.rows, sh.cols, n, threads, regime), func(t *testing.T) {
						SetThreads(threads)
						src := make([]float32, sh.rows*sh.cols)
						for i := range src {
							src[i] = edgeFloat(rng, regime)
						}
						w := quantMatrix(t, typ, sh.rows, sh.cols, src)
						rb, data := w.rowBytes(), w.Data
						if floatRowsFor(w) == nil {
							t.Fatal("no row kernel for this product")
						}
						x := make([]float32, n*sh.cols)
						for i := range x {
							x[i] = edgeFloat(rng, regime)
						}
						got := make([]float32, n*sh.rows)
						MatMul(got, w, x, n)
						var multi []float32
						if n == 1 {
							multi = make([]float32, sh.rows)
							MatVecMulti([][]float32{multi}, []*Matrix{w}, x)
						}
						for i := range n {
							xr := x[i*sh.cols : (i+1)*sh.cols]
							if typ == F16 {
								xr = append([]float32(nil), xr...)
								for j := range xr {
									xr[j] = roundF16(xr[j])
								}
							}
							for r := range sh.rows {
								row := data[r*rb : (r+1)*rb]
								var asm, pure float32
								if typ == F32 {
									asm, pure = dotF32F32(sh.cols, row, f32Bytes(xr)), dotF32F32Go(sh.cols, row, f32Bytes(xr))
								} else {
									asm, pure = dotF16F16(sh.cols, row, f32Bytes(xr)), dotF16F16Go(sh.cols, row, f32Bytes(xr))
								}
								g := got[i*sh.rows+r]
								if !sameBits(g, asm) || !sameBits(g, pure) {
									t.Fatalf("activation %d row %d: %g (%#08x), per-row %g, Go %g", i, r, g, math.Float32bits(g), asm, pure)
								}
								if multi != nil && !sameBits(multi[r], g) {
									t.Fatalf("MatVecMulti row %d: %g, MatMul %g", r, multi[r], g)
								}
							}
						}
					})
				}
			}
		}
	}
}

// quantMatrix returns a rows×cols matrix of type typ holding src quantized.
func quantMatrix(t *testing.T, typ Type, rows, cols int, src []float32) *Matrix {
	t.Helper()
	rb, err := typ.RowBytes(cols)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, rows*rb)
	if err := Quantize(typ, src, data); err != nil {
		t.Fatal(err)
	}
	w, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return w
}
