//go:build amd64 && !purego

package tensor

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestGemvQ4_0x16NTwin checks the many-row Q4_0 kernel against its pure-Go
// twin and against the one-row kernel run for each activation row, bit for
// bit, for every batch of 1 to 16 rows.
func TestGemvQ4_0x16NTwin(t *testing.T) {
	if !hasVNNI512 || asmOff {
		t.Skip("no AVX-512 VNNI or assembly off (" + NoAsmEnv + "): the kernel does not run")
	}
	rng := rand.New(rand.NewPCG(51, 52))
	k, _ := kernelFor(Q4_0)
	for _, nb := range []int{1, 3, 32} {
		for _, groups := range []int{1, 3} {
			cols := nb * qk
			src := randomQuantRows(rng, Q4_0, 16*groups, cols)
			w := make([]byte, len(src))
			rb := nb * szQ40
			for g := range groups {
				packQ4_0x16(w[g*16*rb:(g+1)*16*rb], src[g*16*rb:], nb)
			}
			const xstride = 4096 // records of a row, then a gap
			x := make([]byte, maxBatchN*xstride)
			xq := make([]byte, nb*szQ80)
			for c := range maxBatchN {
				(*k.act)(randNormal(rng, cols, 1), xq)
				packGemvQ4_0(x[c*xstride:], xq, nb)
			}
			for n := 1; n <= maxBatchN; n++ {
				dstride := 16*groups + 5
				got := make([]float32, n*dstride)
				twin := make([]float32, n*dstride)
				gemvQ4_0x16NVNNI(nb, &w[0], groups, &x[0], xstride, n, &got[0], dstride)
				gemvQ4_0x16NGo(nb, w, groups, x, xstride, n, twin, dstride)
				for c := range n {
					one := make([]float32, 16*groups)
					gemvQ4_0x16VNNI(nb, &w[0], groups, &x[c*xstride], &one[0])
					for r := range 16 * groups {
						i := c*dstride + r
						if !sameBits(got[i], twin[i]) || !sameBits(got[i], one[r]) {
							t.Fatalf("%d blocks, %d groups, n=%d: row %d of activation %d: kernel %v, twin %v, one-row kernel %v",
								nb, groups, n, r, c, got[i], twin[i], one[r])
						}
					}
					for r := 16 * groups; r < dstride; r++ {
						if got[c*dstride+r] != 0 {
							t.Fatalf("n=%d: the kernel wrote outside its rows (activation %d, slot %d)", n, c, r)
						}
					}
				}
			}
		}
	}
}

// TestMatMulBatchPacked checks products of packed weights with 1 to 17
// activation rows (the decode steps of sequences batched together) against
// the plain layout and the pure-Go kernels, for row counts that leave
// ragged groups and tails outside the packed copy and for 1 to 3 threads
// (hand-outs that cut through groups).
func TestMatMulBatchPacked(t *testing.T) {
	if !hasVNNI512 || asmOff {
		t.Skip("no AVX-512 VNNI or assembly off (" + NoAsmEnv + "): no packed copies are made")
	}
	defer SetThreads(0)
	rng := rand.New(rand.NewPCG(53, 54))
	shapes := [][2]int{{16, 64}, {40, 96}, {100, 256}, {1027, 128}}
	if testing.Short() {
		shapes = shapes[1:3]
	}
	for _, typ := range packedTypes {
		for _, sh := range shapes {
			rows, cols := sh[0], packedCols(typ, sh[1])
			data := randomQuantRows(rng, typ, rows, cols)
			plain, _ := NewMatrix(typ, rows, cols, data)
			packed, _ := NewMatrix(typ, rows, cols, bytes.Clone(data))
			packed.Pack()
			for i := range packed.Data[:len(packed.packed)] {
				packed.Data[i] = byte(rng.Uint32()) // the copy must be what is read
			}
			x := randNormal(rng, 17*cols, 1)
			want := make([]float32, 17*rows)
			useAsm(false)
			MatMul(want, plain, x, 17)
			useAsm(true)
			for threads := 1; threads <= 3; threads++ {
				SetThreads(threads)
				for n := 1; n <= 17; n++ {
					got := make([]float32, n*rows)
					MatMul(got, packed, x[:n*cols], n)
					for i := range got {
						if !sameBits(got[i], want[i]) {
							t.Fatalf("%s %d×%d, %d threads, %d activation rows: output %d (row %d of activation %d): packed %v, pure Go %v",
								typ, rows, cols, threads, n, i, i%rows, i/rows, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkGemvQ4_0x16N times the many-row Q4_0 kernel on weights that stay
// in L2 (its own speed), per activation row count: compare ns/op with
// n=1's.
func BenchmarkGemvQ4_0x16N(b *testing.B) {
	if !hasVNNI512 || asmOff {
		b.Skip("no AVX-512 VNNI")
	}
	rng := rand.New(rand.NewPCG(55, 56))
	const nb, groups = 48, 16
	src := randomQuantRows(rng, Q4_0, 16*groups, nb*qk)
	w := make([]byte, len(src))
	rb := nb * szQ40
	for g := range groups {
		packQ4_0x16(w[g*16*rb:(g+1)*16*rb], src[g*16*rb:], nb)
	}
	xs := nb * 40
	x := make([]byte, maxBatchN*xs)
	for i := range x {
		x[i] = byte(rng.Uint32()) & 0x3f
	}
	dst := make([]float32, maxBatchN*16*groups)
	for _, n := range []int{1, 2, 4, 8, 16} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(w)))
			for b.Loop() {
				gemvQ4_0x16NVNNI(nb, &w[0], groups, &x[0], xs, n, &dst[0], 16*groups)
			}
		})
	}
}
