//go:build !amd64 || purego

package tensor

// pagedAsm is false off amd64: the Go twins run.
const pagedAsm = false

func dotF32Paged(pages [][]float32, off, size int, w []float32) float32 {
	return dotF32PagedGo(pages, off, size, w)
}

func dotF16Paged(pages [][]uint16, off, size int, w []uint16) float32 {
	return dotF16PagedGo(pages, off, size, w)
}

func gemmF32Paged(pages [][]float32, off, size int, w []float32) float32 {
	return gemmF32PagedGo(pages, off, size, w)
}

func gemmF16Paged(pages [][]uint16, off, size int, w []uint16) float32 {
	return gemmF16PagedGo(pages, off, size, w)
}
