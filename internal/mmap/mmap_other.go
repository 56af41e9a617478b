//go:build !unix

package mmap

import (
	"io"
	"os"
)

func mapFile(f *os.File, size int) (*Map, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return &Map{Data: data}, nil
}

// Close releases the data. It is safe to call more than once.
func (m *Map) Close() error {
	if m != nil {
		m.Data = nil
	}
	return nil
}

// Release does nothing on platforms without mmap: the data is a heap copy.
func (m *Map) Release(b []byte) error { return nil }
