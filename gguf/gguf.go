// Package gguf reads and writes GGUF files (versions 2 and 3), the container
// format of llama.cpp: a header of typed metadata key-value pairs and tensor
// descriptions followed by an aligned section holding the tensor data.
//
// Open maps a file into memory and validates it without copying the tensor
// data: TensorData returns slices of the mapping. Parsing never trusts a count
// or a length read from the file before checking it against the bytes that
// remain, so hostile or truncated files fail with an error naming what is
// wrong and where, never with a panic or a huge allocation.
//
// Writer builds new files with llama.cpp's layout, and WriteFile re-writes a
// parsed file byte for byte.
package gguf

import (
	"fmt"
	"io"
	"math"
	"os"

	"glassbox/internal/mmap"
	"glassbox/tensor"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// HasMagic reports whether data starts with Magic. It is the one test of
// "is this GGUF?" for bytes already read; IsFile reads them from a file.
func HasMagic(data []byte) bool {
	return len(data) >= len(Magic) && string(data[:len(Magic)]) == Magic
}

// IsFile reports whether the file at path starts with Magic, reading only
// those four bytes. A file shorter than the magic is an error wrapping
// io.EOF or io.ErrUnexpectedEOF, so that callers can tell "too short to be
// anything" from "another format".
func IsFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var magic [len(Magic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return HasMagic(magic[:]), nil
}

// DefaultAlignment is the alignment of the tensor data when the file has no
// general.alignment key.
const DefaultAlignment = 32

// AlignmentKey is the metadata key that overrides DefaultAlignment. Its value
// must be a uint32 power of two.
const AlignmentKey = "general.alignment"

// MaxDims is the largest number of dimensions a tensor may have.
const MaxDims = 4

// MaxArrayDepth is how deeply arrays may nest (an array of scalars has depth 1).
// llama.cpp itself reads no nested arrays at all; the limit bounds recursion on
// hostile input.
const MaxArrayDepth = 8

// ValueType is the type of a metadata value, as stored in the file.
type ValueType uint32

// The GGUF metadata value types.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	TypeUint8: "uint8", TypeInt8: "int8", TypeUint16: "uint16", TypeInt16: "int16",
	TypeUint32: "uint32", TypeInt32: "int32", TypeFloat32: "float32", TypeBool: "bool",
	TypeString: "string", TypeArray: "array", TypeUint64: "uint64", TypeInt64: "int64",
	TypeFloat64: "float64",
}

// String returns the type's name in lower case, such as "uint32", or
// "ValueType(N)" for an unknown type.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// Valid reports whether t is one of the thirteen GGUF value types.
func (t ValueType) Valid() bool { return t <= TypeFloat64 }

// fixedSize returns the encoded size of a scalar of type t, 0 for strings,
// arrays and unknown types.
func (t ValueType) fixedSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize returns the fewest bytes one value of type t takes in a file
// (0 for an unknown type).
func (t ValueType) minSize() int {
	switch t {
	case TypeString:
		return 8 // the length
	case TypeArray:
		return 4 + 8 // element type and length
	}
	return t.fixedSize()
}

// Array is a GGUF array value. Values is a typed Go slice matching Elem:
// []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool,
// []string, []uint64, []int64, []float64, or []Array for nested arrays.
type Array struct {
	Elem   ValueType
	Values any
}

// Len returns the number of elements of the array (0 when Values is not one of
// the slice types above).
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return 0
}

// KV is one metadata entry. Value holds the Go value of the matching type:
// uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64,
// int64, float64, or Array.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name string
	// Dims holds the shape in GGML order: Dims[0] is the number of elements
	// in a row (ne0), Dims[1] the number of rows, and so on.
	Dims []uint64
	Type tensor.Type
	// Offset is the position of the tensor's data within the data section.
	Offset uint64
}

// Elements returns the number of elements of the tensor (the product of its
// dimensions), or 0 if that product overflows a uint64.
func (ti *TensorInfo) Elements() uint64 {
	n, ok := elements(ti.Dims)
	if !ok {
		return 0
	}
	return n
}

// Size returns the number of bytes of the tensor's data. It returns 0 when the
// type is unknown, the row length is not a whole number of blocks or the size
// overflows; tensors of a parsed file never have those problems.
func (ti *TensorInfo) Size() uint64 {
	n, err := dataSize(ti.Type, ti.Dims)
	if err != nil {
		return 0
	}
	return n
}

// elements multiplies the dimensions, reporting false on overflow of int64
// (llama.cpp keeps element counts in int64).
func elements(dims []uint64) (uint64, bool) {
	zero := false
	for _, d := range dims {
		if d > math.MaxInt64 {
			return 0, false
		}
		zero = zero || d == 0
	}
	if zero {
		return 0, true
	}
	n := uint64(1)
	for _, d := range dims {
		if n > math.MaxInt64/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// dataSize returns the byte size of a tensor of type typ and shape dims.
func dataSize(typ tensor.Type, dims []uint64) (uint64, error) {
	if !typ.Known() {
		return 0, fmt.Errorf("unknown tensor type %d", uint32(typ))
	}
	if len(dims) == 0 || len(dims) > MaxDims {
		return 0, fmt.Errorf("%d dimensions, expected 1 to %d", len(dims), MaxDims)
	}
	n, ok := elements(dims)
	if !ok {
		return 0, fmt.Errorf("dimensions %v: the element count overflows int64", dims)
	}
	bs, ts := uint64(typ.BlockSize()), uint64(typ.TypeSize())
	if dims[0]%bs != 0 {
		return 0, fmt.Errorf("row length %d is not a multiple of the %s block size %d", dims[0], typ, bs)
	}
	if n == 0 {
		return 0, nil
	}
	blocks := n / bs
	if blocks > math.MaxInt64/ts {
		return 0, fmt.Errorf("dimensions %v: %d blocks of %d bytes overflow int64", dims, blocks, ts)
	}
	return blocks * ts, nil
}

// FormatError reports a malformed or unsupported GGUF file.
type FormatError struct {
	// Path is the file name, when known.
	Path string
	// Offset is the byte position in the file where the problem was found,
	// or -1 when the problem has no single position.
	Offset int64
	// Msg says what is wrong, naming the entry concerned.
	Msg string
}

// Error returns "gguf: [path: ]msg (at byte N)".
func (e *FormatError) Error() string {
	s := "gguf: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += e.Msg
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (at byte %d)", e.Offset)
	}
	return s
}

// File is a parsed GGUF file.
type File struct {
	// Version is the GGUF version, 2 or 3.
	Version uint32
	// KV holds the metadata in file order.
	KV []KV
	// Tensors holds the tensor descriptions in file order.
	Tensors []TensorInfo
	// Alignment is the alignment of the data section and of each tensor's
	// offset: general.alignment, or DefaultAlignment.
	Alignment uint64
	// DataOffset is the start of the tensor data section in the file.
	DataOffset int64

	data         []byte    // the whole file
	m            *mmap.Map // non-nil when the file was opened with Open
	headerPadded bool      // the file holds the padding after the header
	closed       bool
	kvIndex      map[string]int
	tensorIndex  map[string]int
}

// Open maps the file at path into memory (or reads it, on platforms without
// mmap), parses and validates it. Tensor data is not copied: it stays valid
// until Close.
func Open(path string) (*File, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := parse(m.Data)
	if err != nil {
		m.Close()
		if fe, ok := err.(*FormatError); ok {
			fe.Path = path
		}
		return nil, err
	}
	f.m = m
	return f, nil
}

// Parse parses a GGUF file held in memory. data is kept, not copied: it must
// not be modified while the File is in use.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ReleasePages drops from memory the pages of the mapped file wholly inside
// b, a part of a tensor's data (TensorData), for a caller that has copied
// that data to another form: b stays valid and is read back from the file if
// used again. It does nothing for files not opened with Open or on platforms
// without mmap.
func (f *File) ReleasePages(b []byte) error {
	if f.m == nil || f.closed {
		return nil
	}
	if err := f.m.Release(b); err != nil {
		return fmt.Errorf("gguf: release pages: %w", err)
	}
	return nil
}

// Close releases the file's memory mapping. Tensor data obtained from the file
// must not be used afterwards. Close is safe to call more than once.
func (f *File) Close() error {
	f.data = nil
	f.closed = true
	if f.m == nil {
		return nil
	}
	err := f.m.Close()
	f.m = nil
	if err != nil {
		return fmt.Errorf("gguf: close: %w", err)
	}
	return nil
}

// Lookup returns the metadata entry with the given key.
func (f *File) Lookup(key string) (KV, bool) {
	if f.kvIndex == nil {
		f.buildIndex()
	}
	i, ok := f.kvIndex[key]
	if !ok || i >= len(f.KV) || f.KV[i].Key != key {
		// The exported slices may have been edited: fall back to a scan.
		for _, kv := range f.KV {
			if kv.Key == key {
				return kv, true
			}
		}
		return KV{}, false
	}
	return f.KV[i], true
}

func (f *File) buildIndex() {
	f.kvIndex = make(map[string]int, len(f.KV))
	for i, kv := range f.KV {
		if _, dup := f.kvIndex[kv.Key]; !dup {
			f.kvIndex[kv.Key] = i
		}
	}
	f.tensorIndex = make(map[string]int, len(f.Tensors))
	for i, ti := range f.Tensors {
		if _, dup := f.tensorIndex[ti.Name]; !dup {
			f.tensorIndex[ti.Name] = i
		}
	}
}

// String returns the value of a string entry.
func (f *File) String(key string) (string, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return "", false
	}
	s, ok := kv.Value.(string)
	return s, ok
}

// Uint returns the value of an entry of any unsigned integer type, or of a
// signed integer type when the value is not negative.
func (f *File) Uint(key string) (uint64, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	return toUint(kv.Value)
}

// Int returns the value of an entry of any integer type whose value fits an
// int64.
func (f *File) Int(key string) (int64, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	return toInt(kv.Value)
}

// Float returns the value of a float32 or float64 entry, or of an integer
// entry converted to float64.
func (f *File) Float(key string) (float64, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return 0, false
	}
	switch v := kv.Value.(type) {
	case float32:
		return float64(v), true
	case float64:
		return v, true
	}
	if i, ok := toInt(kv.Value); ok {
		return float64(i), true
	}
	if u, ok := toUint(kv.Value); ok {
		return float64(u), true
	}
	return 0, false
}

// Bool returns the value of a bool entry.
func (f *File) Bool(key string) (bool, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return false, false
	}
	b, ok := kv.Value.(bool)
	return b, ok
}

// array returns the elements of an array entry.
func (f *File) array(key string) (any, bool) {
	kv, ok := f.Lookup(key)
	if !ok {
		return nil, false
	}
	a, ok := kv.Value.(Array)
	if !ok {
		return nil, false
	}
	return a.Values, true
}

// Strings returns the elements of a string array entry. The slice is shared
// with f and must not be modified.
func (f *File) Strings(key string) ([]string, bool) {
	v, ok := f.array(key)
	if !ok {
		return nil, false
	}
	s, ok := v.([]string)
	return s, ok
}

// Float32s returns the elements of a float32 array entry. The slice is shared
// with f and must not be modified.
func (f *File) Float32s(key string) ([]float32, bool) {
	v, ok := f.array(key)
	if !ok {
		return nil, false
	}
	s, ok := v.([]float32)
	return s, ok
}

// Int32s returns the elements of an int32 array entry, or of another integer
// array converted when every element fits an int32. An int32 array is returned
// without copying: the slice is shared with f and must not be modified.
func (f *File) Int32s(key string) ([]int32, bool) {
	v, ok := f.array(key)
	if !ok {
		return nil, false
	}
	switch s := v.(type) {
	case []int32:
		return s, true
	case []int8:
		return convertInts(s)
	case []uint8:
		return convertInts(s)
	case []int16:
		return convertInts(s)
	case []uint16:
		return convertInts(s)
	case []uint32:
		return convertInts(s)
	case []int64:
		return convertInts(s)
	case []uint64:
		return convertInts(s)
	}
	return nil, false
}

func convertInts[T int8 | uint8 | int16 | uint16 | uint32 | int64 | uint64](s []T) ([]int32, bool) {
	out := make([]int32, len(s))
	for i, v := range s {
		if v < 0 {
			if int64(v) < math.MinInt32 {
				return nil, false
			}
		} else if uint64(v) > math.MaxInt32 {
			return nil, false
		}
		out[i] = int32(v)
	}
	return out, true
}

// Architecture returns the value of general.architecture, or "".
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

// Tensor returns the description of the tensor with the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	if f.tensorIndex == nil {
		f.buildIndex()
	}
	i, ok := f.tensorIndex[name]
	if !ok || i >= len(f.Tensors) || f.Tensors[i].Name != name {
		for i := range f.Tensors {
			if f.Tensors[i].Name == name {
				return &f.Tensors[i], true
			}
		}
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns the bytes of a tensor's data, a slice of the mapped file
// (no copy) that must not be modified nor used after Close.
func (f *File) TensorData(ti *TensorInfo) ([]byte, error) {
	if ti == nil {
		return nil, fmt.Errorf("gguf: TensorData: nil tensor")
	}
	if f.closed {
		return nil, fmt.Errorf("gguf: tensor %q: the file is closed", ti.Name)
	}
	size, err := dataSize(ti.Type, ti.Dims)
	if err != nil {
		return nil, fmt.Errorf("gguf: tensor %q: %w", ti.Name, err)
	}
	start, end, ok := f.dataRange(ti.Offset, size)
	if !ok {
		return nil, fmt.Errorf("gguf: tensor %q: data [%d, +%d bytes) at data offset %d lies outside the %d bytes of the file",
			ti.Name, ti.Offset, size, f.DataOffset, len(f.data))
	}
	return f.data[start:end:end], nil
}

// dataRange converts a tensor's position in the data section to a position in
// f.data, reporting false when it is out of bounds.
func (f *File) dataRange(offset, size uint64) (start, end int, ok bool) {
	if f.DataOffset < 0 || f.DataOffset > int64(len(f.data)) {
		if size == 0 && offset == 0 {
			return 0, 0, true
		}
		return 0, 0, false
	}
	avail := uint64(int64(len(f.data)) - f.DataOffset)
	if offset > avail || size > avail-offset {
		return 0, 0, false
	}
	start = int(f.DataOffset) + int(offset)
	return start, start + int(size), true
}

// toUint converts an unsigned or non-negative signed integer value.
func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		if x < 0 {
			return 0, false
		}
		return uint64(x), true
	case int16:
		if x < 0 {
			return 0, false
		}
		return uint64(x), true
	case int32:
		if x < 0 {
			return 0, false
		}
		return uint64(x), true
	case int64:
		if x < 0 {
			return 0, false
		}
		return uint64(x), true
	}
	return 0, false
}

// toInt converts an integer value that fits an int64.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}
