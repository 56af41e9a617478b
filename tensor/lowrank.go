package tensor

import "fmt"

// LowRank is a low-rank update of a matrix W, a LoRA adapter: products with
// a matrix that carries it compute W·x + Scale·B·(A·x), as llama.cpp's
// build_lora_mm does (the update is computed in F32, scaled, then added to
// the product with W). A holds Rank rows of the matrix's Cols values, B the
// matrix's Rows rows of Rank values, both row-major: the orientation of the
// lora_a and lora_b tensors of llama.cpp's GGUF adapters.
type LowRank struct {
	A, B  []float32
	Rank  int
	Scale float32
}

// Check reports whether the update fits a rows×cols matrix.
func (u *LowRank) Check(rows, cols int) error {
	switch {
	case u.Rank < 1:
		return fmt.Errorf("low-rank update of rank %d (want ≥ 1)", u.Rank)
	case len(u.A) != u.Rank*cols:
		return fmt.Errorf("low-rank update: A holds %d values, a rank-%d update of %d columns needs %d", len(u.A), u.Rank, cols, u.Rank*cols)
	case len(u.B) != rows*u.Rank:
		return fmt.Errorf("low-rank update: B holds %d values, a rank-%d update of %d rows needs %d", len(u.B), u.Rank, rows, rows*u.Rank)
	}
	return nil
}

// WithUpdates returns a copy of m (sharing its data and packed rows) whose
// products add the low-rank updates us, in order, after the product with
// m's rows. It checks their shapes.
func (m *Matrix) WithUpdates(us ...LowRank) (*Matrix, error) {
	for i := range us {
		if err := us[i].Check(m.Rows, m.Cols); err != nil {
			return nil, err
		}
	}
	c := *m
	c.updates = append(append([]LowRank(nil), m.updates...), us...)
	return &c, nil
}

// Updates returns the low-rank updates the matrix's products add (nil for a
// plain matrix). The caller must not modify them.
func (m *Matrix) Updates() []LowRank { return m.updates }

// Base returns m without its low-rank updates (m itself when it has none).
func (m *Matrix) Base() *Matrix {
	if len(m.updates) == 0 {
		return m
	}
	c := *m
	c.updates = nil
	return &c
}

// applyUpdates adds every update of w to the n product rows in dst
// (dst[i*w.Rows+r]) of the activation rows x. Each output gets
// Scale·Σ_k B[r,k]·u[k] with u = A·x_i, summed in order, so the result does
// not depend on the number of threads.
func applyUpdates(dst []float32, w *Matrix, x []float32, n int) {
	if len(w.updates) == 0 || n == 0 {
		return
	}
	maxRank := 0
	for _, u := range w.updates {
		maxRank = max(maxRank, u.Rank)
	}
	ax := make([]float32, maxRank)
	for _, u := range w.updates {
		r := u.Rank
		for i := 0; i < n; i++ {
			xi := x[i*w.Cols : (i+1)*w.Cols]
			for k := 0; k < r; k++ {
				ax[k] = dotF32Vec(u.A[k*w.Cols:(k+1)*w.Cols], xi)
			}
			out := dst[i*w.Rows : (i+1)*w.Rows]
			for o := range out {
				b := u.B[o*r : (o+1)*r]
				var s float32
				for k, v := range b {
					s += v * ax[k]
				}
				out[o] += u.Scale * s
			}
		}
	}
}

// DequantizeCols expands columns [lo, hi) of row r into dst[:hi-lo]; lo and
// hi must be multiples of the type's block size (a training backward pass
// reads the frozen weights a block range at a time). It panics on a row or
// range out of bounds.
func (m *Matrix) DequantizeCols(r, lo, hi int, dst []float32) {
	bs := m.Type.BlockSize()
	if r < 0 || r >= m.Rows || lo < 0 || hi > m.Cols || lo > hi || lo%bs != 0 || hi%bs != 0 {
		panic(fmt.Sprintf("tensor: DequantizeCols row %d columns [%d,%d) of a %d×%d %s matrix", r, lo, hi, m.Rows, m.Cols, m.Type))
	}
	f := dequantizer(m.Type)
	if f == nil {
		panic(fmt.Sprintf("tensor: DequantizeCols on unsupported type %s", m.Type))
	}
	ts := m.Type.TypeSize()
	row := m.Data[r*m.rowBytes():]
	(*f)(row[lo/bs*ts:hi/bs*ts], dst[:hi-lo])
}
