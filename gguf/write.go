package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"

	"glassbox/tensor"
)

// Writer builds a GGUF version 3 file with llama.cpp's layout: header, key-value
// pairs, tensor descriptions, zero padding to the alignment, then each tensor's
// data in the order added, each padded with zeros to the alignment.
type Writer struct {
	alignment uint64
	err       error // a problem with the alignment given to NewWriter
	kvs       []KV
	keys      map[string]bool
	tensors   []TensorInfo
	data      [][]byte
	names     map[string]bool
	next      uint64 // offset of the next tensor in the data section
}

// NewWriter returns a Writer whose tensor data is aligned to alignment bytes
// (0 means DefaultAlignment). An alignment other than DefaultAlignment is
// recorded as the first key, general.alignment. An alignment that is not a
// power of two fitting a uint32 makes every later call fail.
func NewWriter(alignment uint64) *Writer {
	w := &Writer{alignment: alignment, keys: map[string]bool{}, names: map[string]bool{}}
	if alignment == 0 {
		w.alignment = DefaultAlignment
	}
	switch {
	case w.alignment&(w.alignment-1) != 0 || w.alignment > math.MaxUint32:
		w.err = fmt.Errorf("gguf: writer alignment %d is not a power of two fitting a uint32", alignment)
	case w.alignment != DefaultAlignment:
		w.kvs = append(w.kvs, KV{Key: AlignmentKey, Type: TypeUint32, Value: uint32(w.alignment)})
		w.keys[AlignmentKey] = true
	}
	return w
}

// AddKV adds a metadata entry whose GGUF type is inferred from the Go type of
// value: uint8, int8, uint16, int16, uint32, int32, float32, bool, string,
// uint64, int64, float64, a slice of one of those (an array), Array, or []Array.
// Go's int and uint are refused: GGUF readers expect a definite width.
func (w *Writer) AddKV(key string, value any) error {
	t, v, err := inferType(value)
	if err != nil {
		return fmt.Errorf("gguf: kv %q: %w", key, err)
	}
	return w.AddKVTyped(KV{Key: key, Type: t, Value: v})
}

// inferType maps a Go value to its GGUF type, wrapping slices in an Array.
func inferType(value any) (ValueType, any, error) {
	switch v := value.(type) {
	case uint8:
		return TypeUint8, v, nil
	case int8:
		return TypeInt8, v, nil
	case uint16:
		return TypeUint16, v, nil
	case int16:
		return TypeInt16, v, nil
	case uint32:
		return TypeUint32, v, nil
	case int32:
		return TypeInt32, v, nil
	case float32:
		return TypeFloat32, v, nil
	case bool:
		return TypeBool, v, nil
	case string:
		return TypeString, v, nil
	case uint64:
		return TypeUint64, v, nil
	case int64:
		return TypeInt64, v, nil
	case float64:
		return TypeFloat64, v, nil
	case Array:
		return TypeArray, v, nil
	case int, uint:
		return 0, nil, fmt.Errorf("Go type %T has no definite width: convert it to a sized integer type", value)
	}
	if et, ok := sliceElem(value); ok {
		return TypeArray, Array{Elem: et, Values: value}, nil
	}
	return 0, nil, fmt.Errorf("Go type %T has no GGUF value type", value)
}

// sliceElem returns the element type of a slice that can be an Array's Values.
func sliceElem(v any) (ValueType, bool) {
	switch v.(type) {
	case []uint8:
		return TypeUint8, true
	case []int8:
		return TypeInt8, true
	case []uint16:
		return TypeUint16, true
	case []int16:
		return TypeInt16, true
	case []uint32:
		return TypeUint32, true
	case []int32:
		return TypeInt32, true
	case []float32:
		return TypeFloat32, true
	case []bool:
		return TypeBool, true
	case []string:
		return TypeString, true
	case []uint64:
		return TypeUint64, true
	case []int64:
		return TypeInt64, true
	case []float64:
		return TypeFloat64, true
	case []Array:
		return TypeArray, true
	}
	return 0, false
}

// AddKVTyped adds a metadata entry whose Value must hold the Go type matching
// kv.Type (see KV). Keys must be unique; general.alignment must be a uint32
// equal to the Writer's alignment.
func (w *Writer) AddKVTyped(kv KV) error {
	if w.err != nil {
		return w.err
	}
	if w.keys[kv.Key] {
		if kv.Key == AlignmentKey {
			return fmt.Errorf("gguf: kv %q: already set by NewWriter(%d)", kv.Key, w.alignment)
		}
		return fmt.Errorf("gguf: kv %q: duplicate key", kv.Key)
	}
	if _, err := appendValue(nil, kv.Type, kv.Value, 0); err != nil {
		return fmt.Errorf("gguf: kv %q: %w", kv.Key, err)
	}
	if kv.Key == AlignmentKey {
		if a, ok := kv.Value.(uint32); !ok || uint64(a) != w.alignment {
			return fmt.Errorf("gguf: kv %q: must be the uint32 %d given to NewWriter, got %s %v",
				kv.Key, w.alignment, kv.Type, kv.Value)
		}
	}
	w.keys[kv.Key] = true
	w.kvs = append(w.kvs, kv)
	return nil
}

// AddTensor adds a tensor of type typ and shape dims (GGML order: dims[0] is
// the row length) whose encoded data is data. data is kept, not copied, until
// WriteTo.
func (w *Writer) AddTensor(name string, typ tensor.Type, dims []uint64, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.names[name] {
		return fmt.Errorf("gguf: tensor %q: duplicate tensor name", name)
	}
	size, err := dataSize(typ, dims)
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	if uint64(len(data)) != size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, expected %d for %s %v", name, len(data), size, typ, dims)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, TensorInfo{Name: name, Dims: append([]uint64(nil), dims...), Type: typ, Offset: w.next})
	w.data = append(w.data, data)
	w.next += pad(size, w.alignment)
	return nil
}

// WriteTo writes the file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	header, err := appendHeader(nil, 3, w.kvs, w.tensors)
	if err != nil {
		return 0, err
	}
	header = appendZeros(header, pad(uint64(len(header)), w.alignment)-uint64(len(header)))
	cw := &countWriter{w: out}
	if _, err := cw.Write(header); err != nil {
		return cw.n, fmt.Errorf("gguf: write header: %w", err)
	}
	for i, d := range w.data {
		if _, err := cw.Write(d); err != nil {
			return cw.n, fmt.Errorf("gguf: write tensor %q: %w", w.tensors[i].Name, err)
		}
		if err := writeZeros(cw, pad(uint64(len(d)), w.alignment)-uint64(len(d))); err != nil {
			return cw.n, fmt.Errorf("gguf: write tensor %q: %w", w.tensors[i].Name, err)
		}
	}
	return cw.n, nil
}

// WriteTo writes f in GGUF form to out: the header re-encoded from f.Version,
// f.KV and f.Tensors, then the tensor data of the parsed file at the recorded
// offsets, zero-padded. A file written by llama.cpp or gguf-py and parsed
// unchanged is reproduced byte for byte.
func (f *File) WriteTo(out io.Writer) (int64, error) {
	if f.closed {
		return 0, fmt.Errorf("gguf: write: the file is closed")
	}
	if f.Version != 2 && f.Version != 3 {
		return 0, fmt.Errorf("gguf: write: version %d, expected 2 or 3", f.Version)
	}
	align := f.Alignment
	if align == 0 {
		align = DefaultAlignment
	}
	if align&(align-1) != 0 || align > math.MaxUint32 {
		return 0, fmt.Errorf("gguf: write: alignment %d is not a power of two fitting a uint32", align)
	}
	want := uint64(DefaultAlignment)
	for _, kv := range f.KV {
		if kv.Key == AlignmentKey {
			a, ok := kv.Value.(uint32)
			if !ok {
				return 0, fmt.Errorf("gguf: write: %s has type %s, expected uint32", AlignmentKey, kv.Type)
			}
			want = uint64(a)
		}
	}
	if want != align {
		return 0, fmt.Errorf("gguf: write: Alignment is %d but the metadata says %d", align, want)
	}
	// Check every tensor's data is available before writing anything.
	order := make([]int, len(f.Tensors))
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if ti.Offset%align != 0 {
			return 0, fmt.Errorf("gguf: write: tensor %q: offset %d is not a multiple of the alignment %d", ti.Name, ti.Offset, align)
		}
		if _, err := f.TensorData(ti); err != nil {
			return 0, fmt.Errorf("gguf: write: %w", err)
		}
		order[i] = i
	}
	header, err := appendHeader(nil, f.Version, f.KV, f.Tensors)
	if err != nil {
		return 0, err
	}
	if len(f.Tensors) > 0 || f.headerPadded {
		header = appendZeros(header, pad(uint64(len(header)), align)-uint64(len(header)))
	}
	cw := &countWriter{w: out}
	if _, err := cw.Write(header); err != nil {
		return cw.n, fmt.Errorf("gguf: write header: %w", err)
	}
	sort.SliceStable(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	var pos uint64 // bytes of the data section written so far
	for _, i := range order {
		ti := &f.Tensors[i]
		d, _ := f.TensorData(ti)
		if ti.Offset > pos {
			if err := writeZeros(cw, ti.Offset-pos); err != nil {
				return cw.n, fmt.Errorf("gguf: write tensor %q: %w", ti.Name, err)
			}
			pos = ti.Offset
		}
		// Tensors may overlap: write only the part beyond what was written.
		if end := ti.Offset + uint64(len(d)); end > pos {
			if _, err := cw.Write(d[pos-ti.Offset:]); err != nil {
				return cw.n, fmt.Errorf("gguf: write tensor %q: %w", ti.Name, err)
			}
			pos = end
		}
	}
	if err := writeZeros(cw, pad(pos, align)-pos); err != nil {
		return cw.n, fmt.Errorf("gguf: write padding: %w", err)
	}
	return cw.n, nil
}

// WriteFile writes f to path (see File.WriteTo). It writes a temporary file
// in the same directory and renames it, so path may be the file f was opened
// from.
func WriteFile(path string, f *File) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if _, err = f.WriteTo(bw); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// pad rounds n up to a multiple of align (a power of two).
func pad(n, align uint64) uint64 { return (n + align - 1) &^ (align - 1) }

func appendZeros(b []byte, n uint64) []byte {
	for ; n > 0; n-- {
		b = append(b, 0)
	}
	return b
}

var zeros [4096]byte

func writeZeros(w io.Writer, n uint64) error {
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// appendHeader encodes the magic, version, counts, metadata and tensor
// descriptions.
func appendHeader(b []byte, version uint32, kvs []KV, tensors []TensorInfo) ([]byte, error) {
	le := binary.LittleEndian
	b = append(b, Magic...)
	b = le.AppendUint32(b, version)
	b = le.AppendUint64(b, uint64(len(tensors)))
	b = le.AppendUint64(b, uint64(len(kvs)))
	seen := make(map[string]bool, len(kvs))
	for _, kv := range kvs {
		if seen[kv.Key] {
			return nil, fmt.Errorf("gguf: write: duplicate key %q", kv.Key)
		}
		seen[kv.Key] = true
		b = appendString(b, kv.Key)
		b = le.AppendUint32(b, uint32(kv.Type))
		var err error
		if b, err = appendValue(b, kv.Type, kv.Value, 0); err != nil {
			return nil, fmt.Errorf("gguf: write: kv %q: %w", kv.Key, err)
		}
	}
	names := make(map[string]bool, len(tensors))
	for _, ti := range tensors {
		if names[ti.Name] {
			return nil, fmt.Errorf("gguf: write: duplicate tensor name %q", ti.Name)
		}
		names[ti.Name] = true
		if _, err := dataSize(ti.Type, ti.Dims); err != nil {
			return nil, fmt.Errorf("gguf: write: tensor %q: %w", ti.Name, err)
		}
		b = appendString(b, ti.Name)
		b = le.AppendUint32(b, uint32(len(ti.Dims)))
		for _, d := range ti.Dims {
			b = le.AppendUint64(b, d)
		}
		b = le.AppendUint32(b, uint32(ti.Type))
		b = le.AppendUint64(b, ti.Offset)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue encodes v as a value of type t, failing when v does not hold the
// Go type of t. depth counts the arrays already entered.
func appendValue(b []byte, t ValueType, v any, depth int) ([]byte, error) {
	le := binary.LittleEndian
	mismatch := func() ([]byte, error) {
		return nil, fmt.Errorf("value of Go type %T does not match the GGUF type %s", v, t)
	}
	switch t {
	case TypeUint8:
		x, ok := v.(uint8)
		if !ok {
			return mismatch()
		}
		return append(b, x), nil
	case TypeInt8:
		x, ok := v.(int8)
		if !ok {
			return mismatch()
		}
		return append(b, byte(x)), nil
	case TypeUint16:
		x, ok := v.(uint16)
		if !ok {
			return mismatch()
		}
		return le.AppendUint16(b, x), nil
	case TypeInt16:
		x, ok := v.(int16)
		if !ok {
			return mismatch()
		}
		return le.AppendUint16(b, uint16(x)), nil
	case TypeUint32:
		x, ok := v.(uint32)
		if !ok {
			return mismatch()
		}
		return le.AppendUint32(b, x), nil
	case TypeInt32:
		x, ok := v.(int32)
		if !ok {
			return mismatch()
		}
		return le.AppendUint32(b, uint32(x)), nil
	case TypeFloat32:
		x, ok := v.(float32)
		if !ok {
			return mismatch()
		}
		return le.AppendUint32(b, math.Float32bits(x)), nil
	case TypeBool:
		x, ok := v.(bool)
		if !ok {
			return mismatch()
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case TypeString:
		x, ok := v.(string)
		if !ok {
			return mismatch()
		}
		return appendString(b, x), nil
	case TypeUint64:
		x, ok := v.(uint64)
		if !ok {
			return mismatch()
		}
		return le.AppendUint64(b, x), nil
	case TypeInt64:
		x, ok := v.(int64)
		if !ok {
			return mismatch()
		}
		return le.AppendUint64(b, uint64(x)), nil
	case TypeFloat64:
		x, ok := v.(float64)
		if !ok {
			return mismatch()
		}
		return le.AppendUint64(b, math.Float64bits(x)), nil
	case TypeArray:
		a, ok := v.(Array)
		if !ok {
			return mismatch()
		}
		return appendArray(b, a, depth+1)
	}
	return nil, fmt.Errorf("unknown value type %d", uint32(t))
}

// appendArray encodes an array at nesting depth.
func appendArray(b []byte, a Array, depth int) ([]byte, error) {
	if depth > MaxArrayDepth {
		return nil, fmt.Errorf("arrays nested more than %d deep", MaxArrayDepth)
	}
	et, ok := sliceElem(a.Values)
	if !ok {
		return nil, fmt.Errorf("array Values of Go type %T is not a slice of a GGUF type", a.Values)
	}
	if et != a.Elem {
		return nil, fmt.Errorf("array Values of Go type %T does not match the element type %s", a.Values, a.Elem)
	}
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(a.Elem))
	b = le.AppendUint64(b, uint64(a.Len()))
	switch s := a.Values.(type) {
	case []uint8:
		b = append(b, s...)
	case []int8:
		for _, x := range s {
			b = append(b, byte(x))
		}
	case []uint16:
		for _, x := range s {
			b = le.AppendUint16(b, x)
		}
	case []int16:
		for _, x := range s {
			b = le.AppendUint16(b, uint16(x))
		}
	case []uint32:
		for _, x := range s {
			b = le.AppendUint32(b, x)
		}
	case []int32:
		for _, x := range s {
			b = le.AppendUint32(b, uint32(x))
		}
	case []float32:
		for _, x := range s {
			b = le.AppendUint32(b, math.Float32bits(x))
		}
	case []bool:
		for _, x := range s {
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	case []string:
		for _, x := range s {
			b = appendString(b, x)
		}
	case []uint64:
		for _, x := range s {
			b = le.AppendUint64(b, x)
		}
	case []int64:
		for _, x := range s {
			b = le.AppendUint64(b, uint64(x))
		}
	case []float64:
		for _, x := range s {
			b = le.AppendUint64(b, math.Float64bits(x))
		}
	case []Array:
		for i, x := range s {
			var err error
			if b, err = appendArray(b, x, depth+1); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
	}
	return b, nil
}
