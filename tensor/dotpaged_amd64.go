//go:build amd64 && !purego

package tensor

//go:noescape
func dotF32PagedAVX512(n int, pages *[]float32, off, size int, b, tail *float32) float32

//go:noescape
func dotF16F16PagedAVX512(n int, pages *[]uint16, off, size int, b, tail *uint16) float32

//go:noescape
func gemmF32PagedAVX512(n int, pages *[]float32, off, size int, b, tail *float32) float32

//go:noescape
func gemmF16F16PagedAVX512(n int, pages *[]uint16, off, size int, b, tail *uint16) float32

// pagedAsm tells whether the paged dot products (paged.go) run the assembly.
var pagedAsm bool

// useAsmPaged switches the paged dot products between the assembly and the
// Go twins.
func useAsmPaged(on bool) { pagedAsm = on && hasAVX512 }

// The paged kernels below take n > size (checkPages done): the tail, the
// n%64 leftovers, lies in page np/size.

func dotF32Paged(pages [][]float32, off, size int, w []float32) float32 {
	if !pagedAsm {
		return dotF32PagedGo(pages, off, size, w)
	}
	n := len(w)
	tail := &w[0] // not read when n is a multiple of 64
	if np := n &^ 63; np < n {
		tail = &pages[np/size][off+np%size]
	}
	return dotF32PagedAVX512(n, &pages[0], off, size, &w[0], tail)
}

func dotF16Paged(pages [][]uint16, off, size int, w []uint16) float32 {
	if !pagedAsm {
		return dotF16PagedGo(pages, off, size, w)
	}
	n := len(w)
	tail := &w[0]
	if np := n &^ 63; np < n {
		tail = &pages[np/size][off+np%size]
	}
	return dotF16F16PagedAVX512(n, &pages[0], off, size, &w[0], tail)
}

func gemmF32Paged(pages [][]float32, off, size int, w []float32) float32 {
	if !pagedAsm {
		return gemmF32PagedGo(pages, off, size, w)
	}
	return gemmF32PagedAVX512(len(w), &pages[0], off, size, &w[0], &w[0])
}

func gemmF16Paged(pages [][]uint16, off, size int, w []uint16) float32 {
	if !pagedAsm {
		return gemmF16PagedGo(pages, off, size, w)
	}
	return gemmF16F16PagedAVX512(len(w), &pages[0], off, size, &w[0], &w[0])
}
