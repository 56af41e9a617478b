package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"glassbox/tensor"
)

// Minimum encoded sizes, used to reject counts that the remaining bytes cannot
// possibly hold before allocating anything.
const (
	minKVSize     = 8 + 4 + 1         // key length, value type, smallest value
	minTensorSize = 8 + 4 + 8 + 4 + 8 // name length, n_dims, one dim, type, offset
)

// reader decodes little-endian GGUF fields from data, tracking the position.
type reader struct {
	data []byte
	pos  int
}

func (r *reader) left() int { return len(r.data) - r.pos }

// fail returns a FormatError at byte offset off.
func fail(off int, format string, args ...any) *FormatError {
	return &FormatError{Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

// within prefixes the message of a FormatError with the entry it concerns.
func within(err error, format string, args ...any) error {
	if fe, ok := err.(*FormatError); ok {
		fe.Msg = fmt.Sprintf(format, args...) + ": " + fe.Msg
		return fe
	}
	return err
}

// take returns the next n bytes, or an error naming what was being read.
func (r *reader) take(n int, what string) ([]byte, error) {
	if n > r.left() {
		return nil, fail(r.pos, "file truncated reading the %s: need %d bytes, %d left", what, n, r.left())
	}
	b := r.data[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *reader) u32(what string) (uint32, error) {
	b, err := r.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64(what string) (uint64, error) {
	b, err := r.take(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a length-prefixed string.
func (r *reader) str(what string) (string, error) {
	at := r.pos
	n, err := r.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(r.left()) {
		return "", fail(at, "%s length %d exceeds the %d bytes left in the file", what, n, r.left())
	}
	b, _ := r.take(int(n), what)
	return string(b), nil
}

// count reads a uint64 count of items taking at least minSize bytes each and
// checks it against the remaining bytes.
func (r *reader) count(what, item string, minSize int) (int, error) {
	at := r.pos
	n, err := r.u64(what)
	if err != nil {
		return 0, err
	}
	if n > uint64(r.left()/minSize) {
		return 0, fail(at, "%s %d exceeds what the %d bytes left in the file can hold (at least %d bytes per %s)",
			what, n, r.left(), minSize, item)
	}
	return int(n), nil
}

// value reads one value of type t; depth is the nesting depth of arrays
// already entered.
func (r *reader) value(t ValueType, depth int) (any, error) {
	if t == TypeArray {
		return r.array(depth + 1)
	}
	if t == TypeString {
		return r.str("string")
	}
	size := t.fixedSize()
	if size == 0 {
		return nil, fail(r.pos-4, "unknown value type %d (expected 0 to %d)", uint32(t), uint32(TypeFloat64))
	}
	at := r.pos
	b, err := r.take(size, t.String()+" value")
	if err != nil {
		return nil, err
	}
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeUint16:
		return binary.LittleEndian.Uint16(b), nil
	case TypeInt16:
		return int16(binary.LittleEndian.Uint16(b)), nil
	case TypeUint32:
		return binary.LittleEndian.Uint32(b), nil
	case TypeInt32:
		return int32(binary.LittleEndian.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), nil
	case TypeBool:
		return decodeBool(b[0], at)
	case TypeUint64:
		return binary.LittleEndian.Uint64(b), nil
	case TypeInt64:
		return int64(binary.LittleEndian.Uint64(b)), nil
	default: // TypeFloat64
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	}
}

func decodeBool(b byte, at int) (bool, error) {
	switch b {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fail(at, "bool value %d is neither 0 nor 1", b)
}

// array reads an array value (element type, count, elements) at nesting depth.
func (r *reader) array(depth int) (Array, error) {
	if depth > MaxArrayDepth {
		return Array{}, fail(r.pos, "arrays nested more than %d deep", MaxArrayDepth)
	}
	et32, err := r.u32("array element type")
	if err != nil {
		return Array{}, err
	}
	et := ValueType(et32)
	if !et.Valid() {
		return Array{}, fail(r.pos-4, "unknown array element type %d (expected 0 to %d)", et32, uint32(TypeFloat64))
	}
	n, err := r.count("array length", et.String()+" element", et.minSize())
	if err != nil {
		return Array{}, err
	}
	a := Array{Elem: et}
	if size := et.fixedSize(); size != 0 {
		start := r.pos
		b, _ := r.take(n*size, "array") // count checked n*size <= left
		a.Values, err = decodeFixed(et, b, n, start)
		return a, err
	}
	switch et {
	case TypeString:
		v := make([]string, n)
		for i := range v {
			if v[i], err = r.str("string"); err != nil {
				return Array{}, within(err, "element %d", i)
			}
		}
		a.Values = v
	default: // TypeArray
		v := make([]Array, n)
		for i := range v {
			if v[i], err = r.array(depth + 1); err != nil {
				return Array{}, within(err, "element %d", i)
			}
		}
		a.Values = v
	}
	return a, nil
}

// decodeFixed decodes n little-endian scalars of type t from b; start is the
// file offset of b.
func decodeFixed(t ValueType, b []byte, n, start int) (any, error) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		v := make([]uint8, n)
		copy(v, b)
		return v, nil
	case TypeInt8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(b[i])
		}
		return v, nil
	case TypeBool:
		v := make([]bool, n)
		for i := range v {
			x, err := decodeBool(b[i], start+i)
			if err != nil {
				return nil, within(err, "element %d", i)
			}
			v[i] = x
		}
		return v, nil
	case TypeUint16:
		v := make([]uint16, n)
		for i := range v {
			v[i] = le.Uint16(b[2*i:])
		}
		return v, nil
	case TypeInt16:
		v := make([]int16, n)
		for i := range v {
			v[i] = int16(le.Uint16(b[2*i:]))
		}
		return v, nil
	case TypeUint32:
		v := make([]uint32, n)
		for i := range v {
			v[i] = le.Uint32(b[4*i:])
		}
		return v, nil
	case TypeInt32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(le.Uint32(b[4*i:]))
		}
		return v, nil
	case TypeFloat32:
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return v, nil
	case TypeUint64:
		v := make([]uint64, n)
		for i := range v {
			v[i] = le.Uint64(b[8*i:])
		}
		return v, nil
	case TypeInt64:
		v := make([]int64, n)
		for i := range v {
			v[i] = int64(le.Uint64(b[8*i:]))
		}
		return v, nil
	default: // TypeFloat64
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return v, nil
	}
}

// parse decodes and validates a whole file.
func parse(data []byte) (*File, error) {
	r := &reader{data: data}
	magic, err := r.take(4, "magic")
	if err != nil {
		return nil, err
	}
	if !HasMagic(magic) {
		return nil, fail(0, "bad magic %q, expected %q: not a GGUF file", magic, Magic)
	}
	version, err := r.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 1:
		return nil, fail(4, "GGUF version 1 is no longer supported (only versions 2 and 3 are): re-convert the model")
	case version != 2 && version != 3 && version&0xFFFF == 0:
		return nil, fail(4, "unsupported GGUF version %#x: possibly a big-endian file (only little-endian versions 2 and 3 are supported)", version)
	case version != 2 && version != 3:
		return nil, fail(4, "unsupported GGUF version %d (only versions 2 and 3 are supported)", version)
	}
	nTensors, err := r.count("tensor count", "tensor description", minTensorSize)
	if err != nil {
		return nil, err
	}
	nKV, err := r.count("metadata count", "key-value pair", minKVSize)
	if err != nil {
		return nil, err
	}
	// Both counts together must also fit.
	if uint64(nTensors)*minTensorSize+uint64(nKV)*minKVSize > uint64(r.left()) {
		return nil, fail(8, "%d tensor descriptions and %d key-value pairs cannot fit in the %d bytes left in the file",
			nTensors, nKV, r.left())
	}

	f := &File{
		Version:     version,
		KV:          make([]KV, 0, nKV),
		Tensors:     make([]TensorInfo, 0, nTensors),
		Alignment:   DefaultAlignment,
		data:        data,
		kvIndex:     make(map[string]int, nKV),
		tensorIndex: make(map[string]int, nTensors),
	}
	alignAt := -1
	for i := 0; i < nKV; i++ {
		at := r.pos
		key, err := r.str("key")
		if err != nil {
			return nil, within(err, "kv %d", i)
		}
		if first, dup := f.kvIndex[key]; dup {
			return nil, fail(at, "kv %d: duplicate key %q (first defined by kv %d)", i, key, first)
		}
		t, err := r.u32("value type")
		if err != nil {
			return nil, within(err, "kv %d %q", i, key)
		}
		v, err := r.value(ValueType(t), 0)
		if err != nil {
			return nil, within(err, "kv %d %q", i, key)
		}
		if key == AlignmentKey {
			alignAt = at
		}
		f.kvIndex[key] = i
		f.KV = append(f.KV, KV{Key: key, Type: ValueType(t), Value: v})
	}
	if alignAt >= 0 {
		kv := f.KV[f.kvIndex[AlignmentKey]]
		a, ok := kv.Value.(uint32)
		if !ok {
			return nil, fail(alignAt, "%s has type %s, expected uint32", AlignmentKey, kv.Type)
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fail(alignAt, "%s is %d, expected a non-zero power of two", AlignmentKey, a)
		}
		f.Alignment = uint64(a)
	}

	tensorAt := make([]int, nTensors)
	for i := 0; i < nTensors; i++ {
		at := r.pos
		tensorAt[i] = at
		name, err := r.str("tensor name")
		if err != nil {
			return nil, within(err, "tensor %d", i)
		}
		if first, dup := f.tensorIndex[name]; dup {
			return nil, fail(at, "tensor %d: duplicate tensor name %q (first defined by tensor %d)", i, name, first)
		}
		ti, err := r.tensorInfo(name)
		if err != nil {
			return nil, within(err, "tensor %d %q", i, name)
		}
		f.tensorIndex[name] = i
		f.Tensors = append(f.Tensors, ti)
	}

	headerEnd := uint64(r.pos)
	dataOffset := (headerEnd + f.Alignment - 1) / f.Alignment * f.Alignment
	f.DataOffset = int64(dataOffset)
	f.headerPadded = dataOffset <= uint64(len(data))
	var avail uint64
	if f.headerPadded {
		avail = uint64(len(data)) - dataOffset
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		size, _ := dataSize(ti.Type, ti.Dims) // validated by tensorInfo
		if ti.Offset%f.Alignment != 0 {
			return nil, fail(tensorAt[i], "tensor %d %q: data offset %d is not a multiple of the alignment %d",
				i, ti.Name, ti.Offset, f.Alignment)
		}
		if ti.Offset > avail || size > avail-ti.Offset {
			return nil, fail(tensorAt[i], "tensor %d %q: data [%d, %d+%d) lies beyond the end of the %d-byte data section (file truncated?)",
				i, ti.Name, ti.Offset, ti.Offset, size, avail)
		}
	}
	return f, nil
}

// tensorInfo reads the rest of a tensor description after its name.
func (r *reader) tensorInfo(name string) (TensorInfo, error) {
	at := r.pos
	nDims, err := r.u32("dimension count")
	if err != nil {
		return TensorInfo{}, err
	}
	if nDims == 0 || nDims > MaxDims {
		return TensorInfo{}, fail(at, "%d dimensions, expected 1 to %d", nDims, MaxDims)
	}
	ti := TensorInfo{Name: name, Dims: make([]uint64, nDims)}
	for j := range ti.Dims {
		if ti.Dims[j], err = r.u64("dimension"); err != nil {
			return TensorInfo{}, err
		}
	}
	t, err := r.u32("tensor type")
	if err != nil {
		return TensorInfo{}, err
	}
	ti.Type = tensor.Type(t)
	if ti.Offset, err = r.u64("data offset"); err != nil {
		return TensorInfo{}, err
	}
	if _, err := dataSize(ti.Type, ti.Dims); err != nil {
		return TensorInfo{}, fail(at, "%v", err)
	}
	return ti, nil
}
