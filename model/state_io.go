package model

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"glassbox/tensor"
)

// KVBytes returns the bytes WriteKV writes for n positions.
func (s *State) KVBytes(n int) int64 {
	c := s.cfg
	var k int64
	switch {
	case s.kq != nil:
		k = int64(n) * int64(s.kqRow)
	case s.kvType == tensor.F32 && s.kType == tensor.F32:
		k = int64(n) * int64(c.KVDim()) * 4
	default:
		k = int64(n) * int64(c.KVDim()) * 2
	}
	v := int64(n) * int64(c.VDim()) * 2
	switch {
	case s.vq != nil:
		v = int64(n) * int64(s.vqRow)
	case s.kvType == tensor.F32:
		v *= 2
	}
	return int64(c.Layers) * (k + v)
}

// WriteKV writes the keys and values of the first n positions of every layer
// (little-endian, in the cache's own types: a state of the same model and
// cache types reads them back with ReadKV, whatever its context).
func (s *State) WriteKV(w io.Writer, n int) error {
	if n < 0 || n > s.ctx {
		return fmt.Errorf("write KV: %d positions asked, the cache holds %d", n, s.ctx)
	}
	if n > s.pages()*s.page {
		return fmt.Errorf("write KV: %d positions asked, the cache has pages for %d", n, s.pages()*s.page)
	}
	c := s.cfg
	kvd, vd, P := c.KVDim(), c.VDim(), s.page
	for l := range c.Layers {
		// keys: the rows of the pages in order
		for j := 0; j*P < n; j++ {
			m := min(P, n-j*P)
			var err error
			switch {
			case s.kq != nil:
				_, err = w.Write(s.kq[l][j][:m*s.kqRow])
			case s.kf != nil:
				err = binary.Write(w, binary.LittleEndian, s.kf[l][j][:m*kvd])
			default:
				err = binary.Write(w, binary.LittleEndian, s.kh[l][j][:m*kvd])
			}
			if err != nil {
				return err
			}
		}
		// values are transposed: each component's n cells, page after page
		// (flash attention's F16 rows are written in that order too,
		// quantized rows as they are)
		if s.vq != nil {
			for j := 0; j*P < n; j++ {
				m := min(P, n-j*P)
				if _, err := w.Write(s.vq[l][j][:m*s.vqRow]); err != nil {
					return err
				}
			}
			continue
		}
		if s.flash {
			col := make([]uint16, n)
			for d := range vd {
				for t := range col {
					col[t] = s.vh[l][t/P][(t%P)*vd+d]
				}
				if err := binary.Write(w, binary.LittleEndian, col); err != nil {
					return err
				}
			}
			continue
		}
		for d := range vd {
			for j := 0; j*P < n; j++ {
				m := min(P, n-j*P)
				var err error
				if s.kvType == tensor.F32 {
					err = binary.Write(w, binary.LittleEndian, s.vf[l][j][d*P:d*P+m])
				} else {
					err = binary.Write(w, binary.LittleEndian, s.vh[l][j][d*P:d*P+m])
				}
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ReadKV reads what WriteKV wrote for n positions into the first n positions
// of the cache, growing it (Grow) to hold them. The caller checks that the
// writer had the same model and cache types (see KVType, KeyType); a short
// read is an error, and leaves the cache's first n positions undefined.
func (s *State) ReadKV(r io.Reader, n int) error {
	if n < 0 || n > s.ctx {
		return fmt.Errorf("read KV: %d positions but the cache holds %d", n, s.ctx)
	}
	if err := s.Grow(context.Background(), n); err != nil {
		return fmt.Errorf("read KV: %w", err)
	}
	c := s.cfg
	kvd, vd, P := c.KVDim(), c.VDim(), s.page
	for l := range c.Layers {
		for j := 0; j*P < n; j++ {
			m := min(P, n-j*P)
			var err error
			switch {
			case s.kq != nil:
				_, err = io.ReadFull(r, s.kq[l][j][:m*s.kqRow])
			case s.kf != nil:
				err = binary.Read(r, binary.LittleEndian, s.kf[l][j][:m*kvd])
			default:
				err = binary.Read(r, binary.LittleEndian, s.kh[l][j][:m*kvd])
			}
			if err != nil {
				return fmt.Errorf("read KV: layer %d keys: %w", l, err)
			}
		}
		if s.vq != nil {
			for j := 0; j*P < n; j++ {
				m := min(P, n-j*P)
				if _, err := io.ReadFull(r, s.vq[l][j][:m*s.vqRow]); err != nil {
					return fmt.Errorf("read KV: layer %d values: %w", l, err)
				}
			}
			continue
		}
		if s.flash {
			col := make([]uint16, n)
			for d := range vd {
				if err := binary.Read(r, binary.LittleEndian, col); err != nil {
					return fmt.Errorf("read KV: layer %d values: %w", l, err)
				}
				for t, h := range col {
					s.vh[l][t/P][(t%P)*vd+d] = h
				}
			}
			continue
		}
		for d := range vd {
			for j := 0; j*P < n; j++ {
				m := min(P, n-j*P)
				var err error
				if s.kvType == tensor.F32 {
					err = binary.Read(r, binary.LittleEndian, s.vf[l][j][d*P:d*P+m])
				} else {
					err = binary.Read(r, binary.LittleEndian, s.vh[l][j][d*P:d*P+m])
				}
				if err != nil {
					return fmt.Errorf("read KV: layer %d values: %w", l, err)
				}
			}
		}
		// cells past n may hold a longer sequence's values: cleared before use
		s.vTop[l] = max(s.vTop[l], n)
	}
	return nil
}
