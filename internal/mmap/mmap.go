// Package mmap maps files read-only into memory, so that multi-gigabyte model
// weights are paged in by the kernel on demand instead of being copied to the heap.
package mmap

import (
	"fmt"
	"os"
	"unsafe"
)

// Map is a read-only view of a whole file.
type Map struct {
	// Data holds the file's bytes. It must not be written to, and must not be
	// used after Close.
	Data []byte
	// Mapped reports whether Data is a memory mapping (true) or a heap copy (false,
	// on platforms without mmap).
	Mapped bool
}

// Open maps the file at path. An empty file gives an empty, unmapped Map.
func Open(path string) (*Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return &Map{}, nil
	}
	if int64(int(size)) != size {
		return nil, fmt.Errorf("mmap %s: file of %d bytes is too large for this platform", path, size)
	}
	return mapFile(f, int(size))
}

// pages returns the range [lo, hi) of Data made of the whole pages (of size
// ps, measured from the start of Data, which a mapping aligns) inside b,
// and whether there is one: b must be a part of a mapped Data.
func (m *Map) pages(b []byte, ps int) (lo, hi int, ok bool) {
	if m == nil || !m.Mapped || len(b) == 0 || len(m.Data) == 0 {
		return 0, 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(m.Data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < base || p-base+uintptr(len(b)) > uintptr(len(m.Data)) {
		return 0, 0, false
	}
	off := int(p - base)
	lo = (off + ps - 1) / ps * ps
	hi = (off + len(b)) / ps * ps
	return lo, hi, lo < hi
}
