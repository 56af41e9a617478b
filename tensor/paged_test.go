package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestPagedDots checks that the dot products over paged vectors equal the
// single-row kernels over the concatenated pages bit for bit, with the
// assembly kernels and with the Go twins, for page sizes and lengths that
// end on a page boundary, inside a page, and inside the first page.
func TestPagedDots(t *testing.T) {
	defer useAsm(!asmOff)
	r := rand.New(rand.NewPCG(1, 2))
	for _, asm := range []bool{true, false} {
		useAsm(asm)
		for _, size := range []int{64, 128, 256} {
			for _, n := range []int{1, 16, 32, 63, 64, 65, 96, 128, 160, 256, 288, 320, 512, 543, 544, 800} {
				pages := (n + size - 1) / size
				const off = 3 * 256 // a column past the first of the page
				pf := make([][]float32, pages)
				ph := make([][]uint16, pages)
				flat := make([]float32, 0, pages*size)
				flatH := make([]uint16, 0, pages*size)
				for j := range pages {
					pf[j] = make([]float32, off+size)
					ph[j] = make([]uint16, off+size)
					for i := range pf[j] {
						pf[j][i] = r.Float32()*2 - 1
						ph[j][i] = F32ToF16(r.Float32()*2 - 1)
					}
					flat = append(flat, pf[j][off:off+size]...)
					flatH = append(flatH, ph[j][off:off+size]...)
				}
				w := make([]float32, n)
				wh := make([]uint16, n)
				for i := range w {
					w[i] = r.Float32()
					wh[i] = F32ToF16(r.Float32())
				}
				if got, want := DotGGMLPaged(pf, off, size, w), DotGGML(flat[:n], w); got != want {
					t.Errorf("asm %v, pages of %d, n %d: DotGGMLPaged = %v, DotGGML = %v", asm, size, n, got, want)
				}
				if got, want := DotF16Paged(ph, off, size, wh), DotF16(flatH[:n], wh); got != want {
					t.Errorf("asm %v, pages of %d, n %d: DotF16Paged = %v, DotF16 = %v", asm, size, n, got, want)
				}
				got, gok := DotGEMMPaged(pf, off, size, w)
				want, wok := DotGEMM(flat[:n], w)
				if got != want || gok != wok {
					t.Errorf("asm %v, pages of %d, n %d: DotGEMMPaged = %v %v, DotGEMM = %v %v", asm, size, n, got, gok, want, wok)
				}
				got, gok = DotF16GEMMPaged(ph, off, size, wh)
				want, wok = DotF16GEMM(flatH[:n], wh)
				if got != want || gok != wok {
					t.Errorf("asm %v, pages of %d, n %d: DotF16GEMMPaged = %v %v, DotF16GEMM = %v %v", asm, size, n, got, gok, want, wok)
				}
			}
		}
	}
}

// BenchmarkDotF16Paged compares the value dot product of one attention head
// component over 1024 cells, contiguous and in pages of 256.
func BenchmarkDotF16Paged(b *testing.B) {
	const n, size = 1024, 256
	flat := make([]uint16, n)
	w := make([]uint16, n)
	for i := range flat {
		flat[i], w[i] = F32ToF16(float32(i%7)/7), F32ToF16(float32(i%5)/5)
	}
	pages := [][]uint16{flat[:256], flat[256:512], flat[512:768], flat[768:]}
	b.Run("contiguous", func(b *testing.B) {
		for b.Loop() {
			DotF16(flat, w)
		}
	})
	b.Run("paged", func(b *testing.B) {
		for b.Loop() {
			DotF16Paged(pages, 0, size, w)
		}
	})
}
