package model

import (
	"math"

	"glassbox/tensor"
)

// DistinctParams counts the model's distinct parameters: Config.Params (what
// the file stores) without the copies and the padding some files carry.
//
//   - An output matrix that holds the token embedding a second time (llama2.c
//     checkpoints with a shared classifier converted to GGUF, possibly
//     quantized differently from the embedding) is counted once: the two
//     matrices count as one when their difference is small against their
//     size (at most half their Frobenius norm; independent matrices differ by
//     about √2 times it, quantization by a few percent).
//   - A feed-forward unit whose gate row, up row and down column are all zero
//     (the FFN width padded to a multiple of the quantization block) is
//     padding, not a parameter.
//
// The count is computed from the weights on the first call (a read of a
// block per feed-forward row, and of the whole output matrix only when it
// matches the embedding), then cached.
func (m *Model) DistinctParams() int64 {
	m.paramsOnce.Do(func() {
		c := &m.Config
		n := c.Params()
		if !c.TiedOutput && sameValues(m.Output, m.TokenEmbedding) {
			n -= int64(c.VocabSize) * int64(c.Dim)
		}
		for i := range m.Layers {
			n -= int64(paddedUnits(&m.Layers[i])) * 3 * int64(c.Dim)
		}
		m.distinct = n
	})
	return m.distinct
}

// sameValues reports whether two matrices of one shape hold the same values
// up to quantization: ‖a−b‖ ≤ ½·max(‖a‖, ‖b‖) over the whole matrix. It stops
// as soon as the rows read so far differ beyond that.
func sameValues(a, b *tensor.Matrix) bool {
	if a == nil || b == nil || a.Rows != b.Rows || a.Cols != b.Cols {
		return false
	}
	ra, rb := make([]float32, a.Cols), make([]float32, b.Cols)
	var diff, na, nb float64
	for r := 0; r < a.Rows; r++ {
		a.Row(r, ra)
		b.Row(r, rb)
		for j := range ra {
			x, y := float64(ra[j]), float64(rb[j])
			if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
				return false
			}
			diff += (x - y) * (x - y)
			na += x * x
			nb += y * y
		}
		if (r%64 == 63 || r == a.Rows-1) && diff > 0.25*max(na, nb) {
			return false
		}
	}
	return true
}

// paddedUnits counts the feed-forward units of a layer whose gate row, up row
// and down column are all zero.
func paddedUnits(l *Layer) int {
	if l.W1 == nil || l.W2 == nil || l.W3 == nil || l.W2.Cols != l.W1.Rows {
		return 0
	}
	var units []int
	var head, full []float32
	for j := 0; j < l.W1.Rows; j++ {
		if zeroRow(l.W1, j, &head, &full) && zeroRow(l.W3, j, &head, &full) {
			units = append(units, j)
		}
	}
	if len(units) == 0 {
		return 0
	}
	down := make([]float32, l.W2.Cols)
	dead := make([]bool, len(units))
	for i := range dead {
		dead[i] = true
	}
	for r := 0; r < l.W2.Rows; r++ {
		l.W2.Row(r, down)
		for i, j := range units {
			if down[j] != 0 {
				dead[i] = false
			}
		}
	}
	n := 0
	for _, d := range dead {
		if d {
			n++
		}
	}
	return n
}

// zeroRow reports whether row r of w is all zeros, reading its first block
// before the whole row (a row of real weights rarely starts with a zero
// block); head and full are scratch buffers.
func zeroRow(w *tensor.Matrix, r int, head, full *[]float32) bool {
	if r >= w.Rows || w.Rows == 0 {
		return false
	}
	rowBytes := len(w.Data) / w.Rows
	bs := w.Type.BlockSize()
	n := bs * ((32 + bs - 1) / bs) // at least 32 values, whole blocks
	if n < w.Cols {
		first := &tensor.Matrix{Type: w.Type, Rows: 1, Cols: n, Data: w.Data[r*rowBytes : r*rowBytes+n/bs*w.Type.TypeSize()]}
		if len(*head) < n {
			*head = make([]float32, n)
		}
		first.Row(0, *head)
		if !allZero((*head)[:n]) {
			return false
		}
	}
	if len(*full) < w.Cols {
		*full = make([]float32, w.Cols)
	}
	w.Row(r, *full)
	return allZero((*full)[:w.Cols])
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}
