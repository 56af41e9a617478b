package model

import (
	"fmt"
	"io"
	"math"

	"glassbox/gguf"
	"glassbox/tensor"
)

// MergeType is the weight type of a merged model's matrices.
type MergeType string

// The types WriteMerged writes: every matrix in F32 or F16 (merged
// weights are exact in F32; F16 rounds each value once), or each merged
// weight requantized to its own type and every other tensor copied as it
// is (only for types glassbox quantizes: F32, F16, BF16, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0; requantizing adds the type's rounding error to the
// merged values).
const (
	MergeF32  MergeType = "f32"
	MergeF16  MergeType = "f16"
	MergeBase MergeType = "base"
)

// WriteMerged writes the model of the GGUF file src with every LoRA update
// of m (src's model with adapters applied, WithLoRA) folded into its
// weights, W + Σ scale·B·A (see MergeLoRA), as a new GGUF file: src's
// metadata (general.name set to name when not empty, general.file_type to
// the new type for f32 and f16) and tensors in src's order. Vectors (norms,
// biases) are copied as they are. It returns the number of merged weights.
func WriteMerged(out io.Writer, src *gguf.File, m *Model, typ MergeType, name string) (int, error) {
	var conv tensor.Type
	switch typ {
	case MergeF32:
		conv = tensor.F32
	case MergeF16:
		conv = tensor.F16
	case MergeBase:
	default:
		return 0, fmt.Errorf("merge: type %q (expected f32, f16 or base)", typ)
	}
	w := gguf.NewWriter(src.Alignment)
	for _, kv := range src.KV {
		switch {
		case kv.Key == gguf.AlignmentKey:
			continue
		case kv.Key == "general.name" && name != "":
			kv = gguf.KV{Key: kv.Key, Type: gguf.TypeString, Value: name}
		case kv.Key == "general.file_type" && typ != MergeBase:
			ft := uint32(0) // ALL_F32
			if typ == MergeF16 {
				ft = 1 // MOSTLY_F16
			}
			kv = gguf.KV{Key: kv.Key, Type: gguf.TypeUint32, Value: ft}
		}
		if err := w.AddKVTyped(kv); err != nil {
			return 0, fmt.Errorf("merge: %w", err)
		}
	}
	if _, ok := src.Lookup("general.name"); !ok && name != "" {
		if err := w.AddKV("general.name", name); err != nil {
			return 0, fmt.Errorf("merge: %w", err)
		}
	}
	merged := 0
	for i := range src.Tensors {
		ti := &src.Tensors[i]
		data, err := src.TensorData(ti)
		if err != nil {
			return merged, fmt.Errorf("merge: tensor %s: %w", ti.Name, err)
		}
		var mat *tensor.Matrix
		if p, err := m.loraMatrix(ti.Name); err == nil && len((*p).Updates()) > 0 {
			mat = *p
		}
		outType := ti.Type
		switch {
		case mat != nil && typ == MergeBase:
			// requantized below
		case mat == nil && (len(ti.Dims) < 2 || typ == MergeBase || ti.Type == conv):
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
				return merged, fmt.Errorf("merge: %w", err)
			}
			continue
		default:
			outType = conv
		}
		var vals []float32
		if mat != nil {
			if uint64(mat.Rows)*uint64(mat.Cols) != ti.Elements() {
				return merged, fmt.Errorf("merge: tensor %s has %d elements, the model's weight %d×%d", ti.Name, ti.Elements(), mat.Rows, mat.Cols)
			}
			vals = MergeLoRA(mat)
			merged++
		} else {
			n := ti.Elements()
			if n == 0 || n > math.MaxInt32 {
				return merged, fmt.Errorf("merge: tensor %s has %d elements", ti.Name, n)
			}
			vals = make([]float32, n)
			if err := tensor.Dequantize(ti.Type, data, vals); err != nil {
				return merged, fmt.Errorf("merge: tensor %s: %w", ti.Name, err)
			}
		}
		enc, err := encodeRows(outType, vals, int(ti.Dims[0]))
		if err != nil {
			return merged, fmt.Errorf("merge: tensor %s: %w (merge to f32 or f16 instead)", ti.Name, err)
		}
		if err := w.AddTensor(ti.Name, outType, ti.Dims, enc); err != nil {
			return merged, fmt.Errorf("merge: %w", err)
		}
	}
	if _, err := w.WriteTo(out); err != nil {
		return merged, fmt.Errorf("merge: %w", err)
	}
	return merged, nil
}

// encodeRows converts rows of cols values to type t.
func encodeRows(t tensor.Type, vals []float32, cols int) ([]byte, error) {
	rb, err := t.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	rows := len(vals) / cols
	out := make([]byte, rows*rb)
	for r := 0; r < rows; r++ {
		if err := tensor.Quantize(t, vals[r*cols:(r+1)*cols], out[r*rb:(r+1)*rb]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
