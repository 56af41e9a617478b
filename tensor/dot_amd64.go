//go:build amd64 && !purego

package tensor

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels of dot_amd64.s. Each computes exactly what its pure-Go
// twin in dot.go or ggml.go computes (same lanes, same fused multiply-adds,
// same reduction order); dot_amd64_test.go checks them bit for bit. nb is a
// number of blocks, n a number of elements.

//go:noescape
func dotQ8_0Q8_0AVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ4_0Q8_0AVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ4_0Q8_0x4AVX2(nb int, w, x *byte, xs int, out *[4]float32)

//go:noescape
func dotQ8_0Q8_0x4AVX2(nb int, w, x *byte, xs int, out *[4]float32)

//go:noescape
func dotQ4_KQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotQ6_KQ8_KAVX2(nb int, w, x *byte) float32

//go:noescape
func dotF32AVX512(n int, a, b *float32) float32

//go:noescape
func gemmF32AVX512(n int, a, b *float32) float32

//go:noescape
func dotF16F32AVX512(n int, a *uint16, b *float32) float32

//go:noescape
func gemmF16F32AVX512(n int, a *uint16, b *float32) float32

//go:noescape
func dotF16F16AVX512(n int, a, b *uint16) float32

//go:noescape
func dotF16RowsAVX512(n int, q *float32, k *uint16, stride int, rows int, out *float32)

//go:noescape
func dotF16Rows4AVX512(n int, q *float32, k *uint16, stride int, rows int, out *float32, o1, o2, o3 int)

//go:noescape
func dotF32RowsAVX512(n int, q *float32, k *float32, stride int, rows int, out *float32)

//go:noescape
func dotF32Rows4AVX512(n int, q *float32, k *float32, stride int, rows int, out *float32, o1, o2, o3 int)

//go:noescape
func gemmF16F16AVX512(n int, a, b *uint16) float32

// hasAVX2 and hasAVX512 tell which kernel families this CPU runs: AVX2 with
// FMA and F16C for the quantized dots, AVX-512F (with F16C) for the float
// ones.
var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F
)

// blockDot wraps a block kernel kern (nb blocks of blk elements, wsz and xsz
// bytes per weight and activation block) as a dotFunc that checks the
// bounds before passing the first bytes' addresses.
func blockDot(kern func(nb int, w, x *byte) float32, blk, wsz, xsz int) dotFunc {
	return func(n int, w, x []byte) float32 {
		nb := n / blk
		if nb == 0 {
			return 0
		}
		_, _ = w[nb*wsz-1], x[nb*xsz-1]
		return kern(nb, &w[0], &x[0])
	}
}

// asmOn records the last useAsm setting, for Kernels.
var asmOn bool

// kernelSet names the kernel families useAsm selected.
func kernelSet() string {
	switch {
	case !asmOn || !hasAVX2:
		return "go"
	case hasVNNI512:
		return "avx2+avx512+vnni"
	case hasAVX512:
		return "avx2+avx512"
	}
	return "avx2"
}

// useAsm switches every kernel of the package between the assembly (when the
// CPU has the instructions) and the pure-Go twins: the dot products, the
// batch GEMMs, SiLU and softmax, the training GEMM. The package's init
// switches them on unless NoAsmEnv is set; the tests use it to compare the
// two.
func useAsm(on bool) {
	asmOn = on
	useVecF32Asm(on)
	useFlashAsm(on)
	useAsmLegacy(on)
	useAsmK(on)
	useAsmIQ(on)
	useAsmPaged(on)
	dotQ8_0Q8_0, dotQ4_0Q8_0, dotQ4_KQ8_K, dotQ6_KQ8_K = dotQ8_0Q8_0Go, dotQ4_0Q8_0Go, dotQ4_KQ8_KGo, dotQ6_KQ8_KGo
	dotF32F32, dotF16F16 = dotF32F32Go, dotF16F16Go
	gemmF32F32, gemmF16F16 = gemmDotF32F32Go, gemmDotF16F16Go
	dotF16, dotF16GEMM, dotF16Rows, dotF16RowsGroup = dotF16Go, dotF16GEMMGo, dotF16RowsGo, dotF16RowsGroupGo
	dotQ4_0Q8_0x4, dotQ8_0Q8_0x4 = nil, nil
	f16TileAcc, f16TileRows = f16TileAccGo, f16TileRowsGo
	quantActQ8_0 = quantQ8_0ActGo
	quantActQ8_K, actF16, f32ToF16Slice = quantQ8_KGo, actF16Go, f32ToF16Go
	siluMul16, expSub16, max16, scale16 = siluMul16Go, expSub16Go, max16Go, scale16Go
	useSGEMM = false
	useGEMM = on && hasVNNI512
	if !on {
		return
	}
	if hasAVX2 {
		dotQ8_0Q8_0 = blockDot(dotQ8_0Q8_0AVX2, qk, szQ80, szQ80)
		dotQ4_0Q8_0 = blockDot(dotQ4_0Q8_0AVX2, qk, szQ40, szQ80)
		dotQ4_0Q8_0x4 = func(n int, w, x []byte, xs int, out *[4]float32) {
			nb := n / qk
			if nb == 0 {
				*out = [4]float32{}
				return
			}
			_, _ = w[nb*szQ40-1], x[3*xs+nb*szQ80-1]
			dotQ4_0Q8_0x4AVX2(nb, &w[0], &x[0], xs, out)
		}
		dotQ8_0Q8_0x4 = func(n int, w, x []byte, xs int, out *[4]float32) {
			nb := n / qk
			if nb == 0 {
				*out = [4]float32{}
				return
			}
			_, _ = w[nb*szQ80-1], x[3*xs+nb*szQ80-1]
			dotQ8_0Q8_0x4AVX2(nb, &w[0], &x[0], xs, out)
		}
		dotQ4_KQ8_K = blockDot(dotQ4_KQ8_KAVX2, qkK, szQ4K, szQ8K)
		dotQ6_KQ8_K = blockDot(dotQ6_KQ8_KAVX2, qkK, szQ6K, szQ8K)
	}
	if hasAVX512 {
		quantActQ8_0 = quantQ8_0ActAVX512
		actF16, f32ToF16Slice = actF16AVX512, f32ToF16Asm
		if cpu.X86.HasAVX512BW {
			quantActQ8_K = quantQ8_KAVX512Act
		}
		siluMul16, expSub16, max16, scale16 = siluMul16AVX512, expSub16AVX512, max16Asm, scale16Asm
		useSGEMM = true
		dotF32F32 = func(n int, w, x []byte) float32 {
			if n == 0 {
				return 0
			}
			_, _ = w[4*n-1], x[4*n-1]
			return dotF32AVX512(n, (*float32)(unsafe.Pointer(&w[0])), (*float32)(unsafe.Pointer(&x[0])))
		}
		gemmF32F32 = func(n int, w, x []byte) float32 {
			if n == 0 {
				return 0
			}
			_, _ = w[4*n-1], x[4*n-1]
			return gemmF32AVX512(n, (*float32)(unsafe.Pointer(&w[0])), (*float32)(unsafe.Pointer(&x[0])))
		}
		dotF16F16 = func(n int, w, x []byte) float32 {
			if n == 0 {
				return 0
			}
			_, _ = w[2*n-1], x[4*n-1]
			return dotF16F32AVX512(n, (*uint16)(unsafe.Pointer(&w[0])), (*float32)(unsafe.Pointer(&x[0])))
		}
		gemmF16F16 = func(n int, w, x []byte) float32 {
			if n == 0 {
				return 0
			}
			_, _ = w[2*n-1], x[4*n-1]
			return gemmF16F32AVX512(n, (*uint16)(unsafe.Pointer(&w[0])), (*float32)(unsafe.Pointer(&x[0])))
		}
		f16TileAcc = func(n int, w []uint16, ws int, x []float32, xs int, acc *[16][16]float32, out *[16]float32, flags int) {
			gemmF16TileAcc(n, &w[0], 2*ws, &x[0], 4*xs, acc, out, flags)
		}
		f16TileRows = func(n int, w []uint16, ws, groups int, x []float32, xs int, out []float32, os int) {
			gemmF16TileRows(n, &w[0], 2*ws, &x[0], 4*xs, &out[0], 4*os, groups)
		}
		dotF16 = func(a, b []uint16) float32 {
			if len(a) == 0 {
				return 0
			}
			b = b[:len(a)]
			return dotF16F16AVX512(len(a), &a[0], &b[0])
		}
		dotF16Rows = func(a, rows []uint16, stride int, out []float32) {
			n := len(a)
			if n == 0 || n%64 != 0 || n > maxRowsDot || len(out) == 0 {
				dotF16RowsGo(a, rows, stride, out)
				return
			}
			_ = rows[(len(out)-1)*stride+n-1]
			var q [maxRowsDot]float32
			for i, h := range a {
				q[i] = f16Table[h]
			}
			dotF16RowsAVX512(n, &q[0], &rows[0], 2*stride, len(out), &out[0])
		}
		dotF16RowsGroup = func(q []float32, n int, rows []uint16, stride, nrows int, out []float32, ostride int) {
			if n%64 != 0 || n > maxRowsDot {
				dotF16RowsGroupGo(q, n, rows, stride, nrows, out, ostride)
				return
			}
			g := len(q) / n
			_ = rows[(nrows-1)*stride+n-1]
			// four queries at a time, rounded to F16 and back (exact); a
			// last group of fewer repeats its last query, whose results
			// (the same values) go where that query's go
			var qf [4 * maxRowsDot]float32
			var off [4]int
			for j0 := 0; j0 < g; j0 += 4 {
				m := min(4, g-j0)
				for j := range 4 {
					jj := min(j, m-1)
					off[j] = 4 * jj * ostride
					dst := qf[j*n : (j+1)*n]
					for i, v := range q[(j0+jj)*n:][:n] {
						dst[i] = f16Table[F32ToF16(v)]
					}
				}
				o := out[j0*ostride:]
				_ = o[(m-1)*ostride+nrows-1]
				dotF16Rows4AVX512(n, &qf[0], &rows[0], 2*stride, nrows, &o[0], off[1], off[2], off[3])
			}
		}
		dotF16GEMM = func(a, b []uint16) float32 {
			if len(a) == 0 {
				return 0
			}
			b = b[:len(a)]
			return gemmF16F16AVX512(len(a), &a[0], &b[0])
		}
	}
}
