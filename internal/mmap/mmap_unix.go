//go:build unix

package mmap

import (
	"os"

	"golang.org/x/sys/unix"
)

func mapFile(f *os.File, size int) (*Map, error) {
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	return &Map{Data: data, Mapped: true}, nil
}

// Close releases the mapping. It is safe to call more than once.
func (m *Map) Close() error {
	if m == nil || !m.Mapped || m.Data == nil {
		return nil
	}
	err := unix.Munmap(m.Data)
	m.Data = nil
	return err
}

// Release drops the pages wholly inside b, a part of Data, from the
// process's memory (madvise MADV_DONTNEED): b stays valid and is read back
// from the file if used again. It is for data the caller has copied to a
// form it reads instead. Nothing happens when m is not a mapping or b is not
// inside it.
func (m *Map) Release(b []byte) error {
	lo, hi, ok := m.pages(b, os.Getpagesize())
	if !ok {
		return nil
	}
	return unix.Madvise(m.Data[lo:hi], unix.MADV_DONTNEED)
}
