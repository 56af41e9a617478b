package tensor

import "fmt"

// Dot products over vectors held in pages: a paged KV cache keeps each
// value component as segments of its pages, and the attention's dot
// products over the cells must round as they do over one contiguous row.
// The kernels carry ggml's accumulators from one segment to the next (each
// segment but the last is a multiple of 64 elements, the main loop's step of
// ggml_vec_dot_f32 and ggml_vec_dot_f16), so the result equals the
// single-row kernel's bit for bit.

// PageAlign is the number of elements a page of a paged vector must be a
// multiple of.
const PageAlign = 64

// checkPages panics with a clear message when the pages cannot hold n
// elements of segments [off, off+size) (a programming error of the caller,
// like an index out of range).
func checkPages(lens func(j int) int, pages, off, size, n int) {
	if size <= 0 || size%PageAlign != 0 {
		panic(fmt.Sprintf("tensor: paged vector with segments of %d elements, want a positive multiple of %d", size, PageAlign))
	}
	if need := (n + size - 1) / size; pages < need {
		panic(fmt.Sprintf("tensor: paged vector of %d elements in segments of %d needs %d pages, has %d", n, size, need, pages))
	}
	for j, i := 0, 0; i < n; j, i = j+1, i+size {
		if m := min(size, n-i); off < 0 || lens(j) < off+m {
			panic(fmt.Sprintf("tensor: page %d holds %d elements, segment [%d, %d) is past its end", j, lens(j), off, off+m))
		}
	}
}

// DotGGMLPaged returns DotGGML(a, w) for a the concatenation of
// pages[0][off:off+size], pages[1][off:off+size], … up to len(w) elements
// (size must be a multiple of PageAlign).
func DotGGMLPaged(pages [][]float32, off, size int, w []float32) float32 {
	n := len(w)
	if n <= size {
		return DotGGML(pages[0][off:off+n], w)
	}
	checkPages(func(j int) int { return len(pages[j]) }, len(pages), off, size, n)
	return dotF32Paged(pages, off, size, w)
}

// DotF16Paged returns DotF16(a, w) for a held in pages as DotGGMLPaged's.
func DotF16Paged(pages [][]uint16, off, size int, w []uint16) float32 {
	n := len(w)
	if n <= size {
		return DotF16(pages[0][off:off+n], w)
	}
	checkPages(func(j int) int { return len(pages[j]) }, len(pages), off, size, n)
	return dotF16Paged(pages, off, size, w)
}

// DotGEMMPaged returns DotGEMM(a, w) for a held in pages as DotGGMLPaged's.
func DotGEMMPaged(pages [][]float32, off, size int, w []float32) (float32, bool) {
	n := len(w)
	if n <= size {
		return DotGEMM(pages[0][off:off+n], w)
	}
	if n%16 != 0 {
		return 0, false
	}
	checkPages(func(j int) int { return len(pages[j]) }, len(pages), off, size, n)
	return gemmF32Paged(pages, off, size, w), true
}

// DotF16GEMMPaged returns DotF16GEMM(a, w) for a held in pages as
// DotGGMLPaged's.
func DotF16GEMMPaged(pages [][]uint16, off, size int, w []uint16) (float32, bool) {
	n := len(w)
	if n <= size {
		return DotF16GEMM(pages[0][off:off+n], w)
	}
	if n%16 != 0 {
		return 0, false
	}
	checkPages(func(j int) int { return len(pages[j]) }, len(pages), off, size, n)
	return gemmF16Paged(pages, off, size, w), true
}

// The Go twins: each segment through an accumulating kernel.

func dotF32PagedGo(pages [][]float32, off, size int, w []float32) float32 {
	var acc [4][16]float32
	var d float32
	for j, i := 0, 0; i < len(w); j, i = j+1, i+size {
		m := min(size, len(w)-i)
		d = dotF32AccGo(pages[j][off:off+m], w[i:i+m], &acc)
	}
	return d
}

func dotF16PagedGo(pages [][]uint16, off, size int, w []uint16) float32 {
	var acc [4][16]float32
	var d float32
	for j, i := 0, 0; i < len(w); j, i = j+1, i+size {
		m := min(size, len(w)-i)
		d = dotF16AccGo(pages[j][off:off+m], w[i:i+m], &acc)
	}
	return d
}

func gemmF32PagedGo(pages [][]float32, off, size int, w []float32) float32 {
	var acc [16]float32
	for j, i := 0, 0; i < len(w); j, i = j+1, i+size {
		m := min(size, len(w)-i)
		gemmF32AccGo(pages[j][off:off+m], w[i:i+m], &acc)
	}
	return Sum16(&acc)
}

func gemmF16PagedGo(pages [][]uint16, off, size int, w []uint16) float32 {
	var acc [16]float32
	for j, i := 0, 0; i < len(w); j, i = j+1, i+size {
		m := min(size, len(w)-i)
		gemmF16AccGo(pages[j][off:off+m], w[i:i+m], &acc)
	}
	return Sum16(&acc)
}

// dotF32AccGo is ggmlDotF32 continuing from the accumulators in acc, which
// it updates; it returns the dot product as if this segment were the last.
func dotF32AccGo(a, b []float32, acc *[4][16]float32) float32 {
	b = b[:len(a)]
	n := len(a)
	np := n &^ 63
	for i := 0; i < np; i += 64 {
		for j := range 4 {
			x := (*[16]float32)(a[i+16*j:])
			y := (*[16]float32)(b[i+16*j:])
			s := &acc[j]
			for l := range 16 {
				s[l] = FMA32(x[l], y[l], s[l])
			}
		}
	}
	sum := sum4x16(acc)
	nm := np + (n-np)&^7
	for i := np; i < nm; i++ {
		sum += float32(a[i] * b[i])
	}
	for i := nm; i < n; i++ {
		sum = FMA32(a[i], b[i], sum)
	}
	return sum
}

// dotF16AccGo is dotF16Go continuing from the accumulators in acc.
func dotF16AccGo(a, b []uint16, acc *[4][16]float32) float32 {
	b = b[:len(a)]
	n := len(a)
	np := n &^ 63
	for i := 0; i < np; i += 64 {
		for j := range 4 {
			x := (*[16]uint16)(a[i+16*j:])
			y := (*[16]uint16)(b[i+16*j:])
			s := &acc[j]
			for l := range 16 {
				s[l] += f16Table[x[l]] * f16Table[y[l]] // exact product: as FMA
			}
		}
	}
	sum := float64(sum4x16(acc))
	for i := np; i < n; i++ {
		sum += float64(f16Table[a[i]] * f16Table[b[i]])
	}
	return float32(sum)
}

// gemmF32AccGo adds a segment to tinyBLAS's accumulator (gemmDotF32).
func gemmF32AccGo(a, b []float32, acc *[16]float32) {
	b = b[:len(a)]
	for i := 0; i < len(a); i += 16 {
		x := (*[16]float32)(a[i:])
		y := (*[16]float32)(b[i:])
		for l := range 16 {
			acc[l] = FMA32(x[l], y[l], acc[l])
		}
	}
}

// gemmF16AccGo adds a segment to tinyBLAS's accumulator (dotF16GEMMGo).
func gemmF16AccGo(a, b []uint16, acc *[16]float32) {
	b = b[:len(a)]
	for i := 0; i < len(a); i += 16 {
		x := (*[16]uint16)(a[i:])
		y := (*[16]uint16)(b[i:])
		for l := range 16 {
			acc[l] += f16Table[x[l]] * f16Table[y[l]]
		}
	}
}
