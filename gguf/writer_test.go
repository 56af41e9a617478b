package gguf

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"glassbox/tensor"
)

// everyValue holds one metadata entry of every type, including nested arrays.
func everyValue() []KV {
	return []KV{
		{"t.uint8", TypeUint8, uint8(200)},
		{"t.int8", TypeInt8, int8(-100)},
		{"t.uint16", TypeUint16, uint16(60000)},
		{"t.int16", TypeInt16, int16(-30000)},
		{"t.uint32", TypeUint32, uint32(4000000000)},
		{"t.int32", TypeInt32, int32(-2000000000)},
		{"t.float32", TypeFloat32, float32(-1.5e-3)},
		{"t.bool", TypeBool, true},
		{"t.bool.false", TypeBool, false},
		{"t.string", TypeString, "héllo\x00wörld"},
		{"t.string.empty", TypeString, ""},
		{"t.uint64", TypeUint64, uint64(math.MaxUint64)},
		{"t.int64", TypeInt64, int64(math.MinInt64)},
		{"t.float64", TypeFloat64, math.Inf(-1)},
		{"a.uint8", TypeArray, Array{TypeUint8, []uint8{0, 1, 255}}},
		{"a.int8", TypeArray, Array{TypeInt8, []int8{-128, 0, 127}}},
		{"a.uint16", TypeArray, Array{TypeUint16, []uint16{0, 65535}}},
		{"a.int16", TypeArray, Array{TypeInt16, []int16{-32768, 32767}}},
		{"a.uint32", TypeArray, Array{TypeUint32, []uint32{1, 2, math.MaxUint32}}},
		{"a.int32", TypeArray, Array{TypeInt32, []int32{-1, 0, math.MaxInt32}}},
		{"a.float32", TypeArray, Array{TypeFloat32, []float32{0.5, -0.25, float32(math.Inf(1))}}},
		{"a.bool", TypeArray, Array{TypeBool, []bool{true, false, true}}},
		{"a.string", TypeArray, Array{TypeString, []string{"a", "", "ccc"}}},
		{"a.uint64", TypeArray, Array{TypeUint64, []uint64{math.MaxUint64}}},
		{"a.int64", TypeArray, Array{TypeInt64, []int64{math.MinInt64, 7}}},
		{"a.float64", TypeArray, Array{TypeFloat64, []float64{math.Pi, math.SmallestNonzeroFloat64}}},
		{"a.empty", TypeArray, Array{TypeFloat32, []float32{}}},
		{"a.nested", TypeArray, Array{TypeArray, []Array{
			{TypeInt32, []int32{1, 2}},
			{TypeString, []string{"x"}},
			{TypeArray, []Array{{TypeBool, []bool{true}}, {TypeUint8, []uint8{}}}},
		}}},
	}
}

type testTensor struct {
	name string
	typ  tensor.Type
	dims []uint64
}

var testTensors = []testTensor{
	{"f32.vec", tensor.F32, []uint64{5}},
	{"f16.mat", tensor.F16, []uint64{3, 7}},
	{"q8_0.mat", tensor.Q8_0, []uint64{64, 3}},
	{"q4_k.4d", tensor.Q4_K, []uint64{256, 2, 1, 2}},
	{"i32.3d", tensor.I32, []uint64{2, 3, 4}},
	{"empty", tensor.F32, []uint64{0, 4}},
	{"bf16.last", tensor.BF16, []uint64{16, 2}}, // 64 bytes: the file ends with the data
}

// tensorBytes returns deterministic data for a tensor of n bytes.
func tensorBytes(n uint64, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*31 + 1)
	}
	return b
}

// buildTestFile writes everyValue and testTensors with the given alignment.
func buildTestFile(t testing.TB, alignment uint64) []byte {
	t.Helper()
	w := NewWriter(alignment)
	for _, kv := range everyValue() {
		if err := w.AddKVTyped(kv); err != nil {
			t.Fatal(err)
		}
	}
	for i, tt := range testTensors {
		size, err := dataSize(tt.typ, tt.dims)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(tt.name, tt.typ, tt.dims, tensorBytes(size, i)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriterRoundTrip(t *testing.T) {
	for _, alignment := range []uint64{0, 1, 32, 64, 4096} {
		data := buildTestFile(t, alignment)
		f, err := Parse(data)
		if err != nil {
			t.Fatalf("alignment %d: %v", alignment, err)
		}
		align := max(alignment, 0)
		if align == 0 {
			align = DefaultAlignment
		}
		kvs := everyValue()
		if align != DefaultAlignment {
			kvs = append([]KV{{AlignmentKey, TypeUint32, uint32(align)}}, kvs...)
		}
		if !reflect.DeepEqual(f.KV, kvs) {
			t.Errorf("alignment %d: metadata read back:\n%#v\nwant\n%#v", alignment, f.KV, kvs)
		}
		if f.Version != 3 || f.Alignment != align || f.DataOffset%int64(align) != 0 {
			t.Errorf("alignment %d: version %d, alignment %d, data offset %d", alignment, f.Version, f.Alignment, f.DataOffset)
		}
		if len(f.Tensors) != len(testTensors) {
			t.Fatalf("alignment %d: %d tensors, want %d", alignment, len(f.Tensors), len(testTensors))
		}
		var offset uint64
		for i, tt := range testTensors {
			ti := &f.Tensors[i]
			if ti.Name != tt.name || ti.Type != tt.typ || !reflect.DeepEqual(ti.Dims, tt.dims) || ti.Offset != offset {
				t.Errorf("alignment %d: tensor %d = %+v, want %+v at offset %d", alignment, i, *ti, tt, offset)
			}
			got, err := f.TensorData(ti)
			if err != nil {
				t.Fatal(err)
			}
			if want := tensorBytes(ti.Size(), i); !bytes.Equal(got, want) {
				t.Errorf("alignment %d: tensor %q data differs", alignment, tt.name)
			}
			offset += (ti.Size() + align - 1) / align * align
		}
		if want := f.DataOffset + int64(offset); int64(len(data)) != want {
			t.Errorf("alignment %d: %d bytes, want %d", alignment, len(data), want)
		}
		// Writing the parsed file reproduces it.
		var buf bytes.Buffer
		if _, err := f.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("alignment %d: File.WriteTo differs from the Writer's file at byte %d", alignment, firstDiff(buf.Bytes(), data))
		}
	}
}

func TestTensorSizes(t *testing.T) {
	tests := []struct {
		typ      tensor.Type
		dims     []uint64
		elements uint64
		size     uint64
	}{
		{tensor.F32, []uint64{5}, 5, 20},
		{tensor.F16, []uint64{3, 7}, 21, 42},
		{tensor.Q8_0, []uint64{64, 3}, 192, 6 * 34},
		{tensor.Q4_K, []uint64{256, 2, 1, 2}, 1024, 4 * 144},
		{tensor.Q6_K, []uint64{512, 10}, 5120, 20 * 210},
		{tensor.F32, []uint64{0, 9}, 0, 0},
		{tensor.Q4_0, []uint64{33}, 33, 0},             // not whole blocks
		{tensor.Type(99), []uint64{4}, 4, 0},           // unknown type
		{tensor.F32, []uint64{1 << 32, 1 << 32}, 0, 0}, // overflow
	}
	for _, tt := range tests {
		ti := TensorInfo{Type: tt.typ, Dims: tt.dims}
		if got := ti.Elements(); got != tt.elements {
			t.Errorf("%s %v: Elements() = %d, want %d", tt.typ, tt.dims, got, tt.elements)
		}
		if got := ti.Size(); got != tt.size {
			t.Errorf("%s %v: Size() = %d, want %d", tt.typ, tt.dims, got, tt.size)
		}
	}
}

func TestAddKVInference(t *testing.T) {
	tests := []struct {
		value any
		typ   ValueType
		elem  ValueType
	}{
		{uint8(1), TypeUint8, 0}, {int8(1), TypeInt8, 0}, {uint16(1), TypeUint16, 0},
		{int16(1), TypeInt16, 0}, {uint32(1), TypeUint32, 0}, {int32(1), TypeInt32, 0},
		{float32(1), TypeFloat32, 0}, {true, TypeBool, 0}, {"s", TypeString, 0},
		{uint64(1), TypeUint64, 0}, {int64(1), TypeInt64, 0}, {float64(1), TypeFloat64, 0},
		{[]string{"a"}, TypeArray, TypeString}, {[]float32{1}, TypeArray, TypeFloat32},
		{[]int32{1}, TypeArray, TypeInt32}, {[]uint8{1}, TypeArray, TypeUint8},
		{[]bool{true}, TypeArray, TypeBool}, {[]float64{1}, TypeArray, TypeFloat64},
		{[]Array{{TypeInt8, []int8{1}}}, TypeArray, TypeArray},
		{Array{TypeUint64, []uint64{1}}, TypeArray, TypeUint64},
	}
	w := NewWriter(0)
	for i, tt := range tests {
		key := "k" + string(rune('a'+i))
		if err := w.AddKV(key, tt.value); err != nil {
			t.Fatalf("AddKV(%T): %v", tt.value, err)
		}
		kv := w.kvs[len(w.kvs)-1]
		if kv.Type != tt.typ {
			t.Errorf("AddKV(%T): type %s, want %s", tt.value, kv.Type, tt.typ)
		}
		if a, ok := kv.Value.(Array); ok && a.Elem != tt.elem {
			t.Errorf("AddKV(%T): element type %s, want %s", tt.value, a.Elem, tt.elem)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.KV, w.kvs) {
		t.Errorf("read back %#v\nwant %#v", f.KV, w.kvs)
	}
}

func TestWriterErrors(t *testing.T) {
	tests := []struct {
		name string
		do   func(w *Writer) error
		want string
	}{
		{"int", func(w *Writer) error { return w.AddKV("k", 3) }, "no definite width"},
		{"unsupported", func(w *Writer) error { return w.AddKV("k", []int{1}) }, "has no GGUF value type"},
		{"duplicate key", func(w *Writer) error {
			w.AddKV("k", uint8(1))
			return w.AddKV("k", uint8(2))
		}, `"k": duplicate key`},
		{"type mismatch", func(w *Writer) error { return w.AddKVTyped(KV{"k", TypeUint32, int32(1)}) }, "does not match the GGUF type uint32"},
		{"array mismatch", func(w *Writer) error {
			return w.AddKVTyped(KV{"k", TypeArray, Array{TypeInt32, []float32{1}}})
		}, "does not match the element type int32"},
		{"bad array values", func(w *Writer) error { return w.AddKV("k", Array{TypeInt32, 5}) }, "is not a slice"},
		{"unknown type", func(w *Writer) error { return w.AddKVTyped(KV{"k", ValueType(13), 1}) }, "unknown value type 13"},
		{"too deep", func(w *Writer) error {
			a := Array{TypeInt8, []int8{1}}
			for range MaxArrayDepth {
				a = Array{TypeArray, []Array{a}}
			}
			return w.AddKV("k", a)
		}, "nested more than"},
		{"alignment key", func(w *Writer) error { return w.AddKV(AlignmentKey, uint32(64)) }, "must be the uint32 32"},
		{"duplicate tensor", func(w *Writer) error {
			w.AddTensor("t", tensor.F32, []uint64{1}, make([]byte, 4))
			return w.AddTensor("t", tensor.F32, []uint64{1}, make([]byte, 4))
		}, `"t": duplicate tensor name`},
		{"data size", func(w *Writer) error { return w.AddTensor("t", tensor.F16, []uint64{4}, make([]byte, 4)) }, "4 bytes of data, expected 8"},
		{"block size", func(w *Writer) error { return w.AddTensor("t", tensor.Q8_0, []uint64{16}, make([]byte, 17)) }, "not a multiple of the Q8_0 block size 32"},
		{"no dims", func(w *Writer) error { return w.AddTensor("t", tensor.F32, nil, nil) }, "0 dimensions"},
		{"five dims", func(w *Writer) error { return w.AddTensor("t", tensor.F32, []uint64{1, 1, 1, 1, 1}, make([]byte, 4)) }, "5 dimensions"},
		{"unknown tensor type", func(w *Writer) error { return w.AddTensor("t", tensor.Type(77), []uint64{1}, nil) }, "unknown tensor type 77"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do(NewWriter(0))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	w := NewWriter(48)
	if err := w.AddKV("k", uint8(1)); err == nil || !strings.Contains(err.Error(), "not a power of two") {
		t.Errorf("alignment 48: AddKV error %v", err)
	}
	if _, err := w.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("alignment 48: WriteTo succeeded")
	}
}

func TestAccessors(t *testing.T) {
	w := NewWriter(0)
	for _, kv := range everyValue() {
		if err := w.AddKVTyped(kv); err != nil {
			t.Fatal(err)
		}
	}
	w.AddKV("general.architecture", "llama")
	w.AddKV("neg.int64", int64(-5))
	w.AddKV("a.int64.small", []int64{-3, 1<<31 - 1})
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	uints := []struct {
		key  string
		want uint64
		ok   bool
	}{
		{"t.uint8", 200, true}, {"t.uint16", 60000, true}, {"t.uint32", 4000000000, true},
		{"t.uint64", math.MaxUint64, true}, {"t.int8", 0, false}, {"neg.int64", 0, false},
		{"t.string", 0, false}, {"missing", 0, false}, {"t.float32", 0, false},
	}
	for _, tt := range uints {
		if got, ok := f.Uint(tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("Uint(%q) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
	ints := []struct {
		key  string
		want int64
		ok   bool
	}{
		{"t.int8", -100, true}, {"t.int16", -30000, true}, {"t.int32", -2000000000, true},
		{"t.int64", math.MinInt64, true}, {"t.uint32", 4000000000, true},
		{"t.uint64", 0, false}, {"t.bool", 0, false},
	}
	for _, tt := range ints {
		if got, ok := f.Int(tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("Int(%q) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
	floats := []struct {
		key  string
		want float64
		ok   bool
	}{
		{"t.float32", float64(float32(-1.5e-3)), true}, {"t.float64", math.Inf(-1), true},
		{"t.int16", -30000, true}, {"t.uint64", math.MaxUint64, true}, {"t.string", 0, false},
	}
	for _, tt := range floats {
		if got, ok := f.Float(tt.key); got != tt.want || ok != tt.ok {
			t.Errorf("Float(%q) = %v, %v; want %v, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
	int32s := []struct {
		key  string
		want []int32
		ok   bool
	}{
		{"a.int32", []int32{-1, 0, math.MaxInt32}, true},
		{"a.int8", []int32{-128, 0, 127}, true},
		{"a.uint16", []int32{0, 65535}, true},
		{"a.int64.small", []int32{-3, math.MaxInt32}, true},
		{"a.uint32", nil, false}, // MaxUint32 does not fit
		{"a.int64", nil, false},
		{"a.float32", nil, false},
		{"t.int32", nil, false},
	}
	for _, tt := range int32s {
		if got, ok := f.Int32s(tt.key); !reflect.DeepEqual(got, tt.want) || ok != tt.ok {
			t.Errorf("Int32s(%q) = %v, %v; want %v, %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
	if s, ok := f.Strings("a.string"); !ok || !reflect.DeepEqual(s, []string{"a", "", "ccc"}) {
		t.Errorf("Strings = %q, %v", s, ok)
	}
	if _, ok := f.Strings("a.int32"); ok {
		t.Error("Strings accepted an int32 array")
	}
	if _, ok := f.Float32s("a.float64"); ok {
		t.Error("Float32s accepted a float64 array")
	}
	if b, ok := f.Bool("t.bool.false"); !ok || b {
		t.Errorf("Bool = %v, %v", b, ok)
	}
	if s, ok := f.String("t.string"); !ok || s != "héllo\x00wörld" {
		t.Errorf("String = %q, %v", s, ok)
	}
	if f.Architecture() != "llama" {
		t.Errorf("Architecture = %q", f.Architecture())
	}
	if kv, ok := f.Lookup("a.nested"); !ok || kv.Value.(Array).Len() != 3 {
		t.Errorf("Lookup(a.nested) = %v, %v", kv, ok)
	}
	for ty := TypeUint8; ty <= TypeFloat64+1; ty++ {
		if s := ty.String(); s == "" || (ty <= TypeFloat64) != ty.Valid() {
			t.Errorf("ValueType(%d): String %q, Valid %v", ty, s, ty.Valid())
		}
	}
	if TypeFloat64.String() != "float64" || ValueType(13).String() != "ValueType(13)" {
		t.Errorf("ValueType names: %s %s", TypeFloat64, ValueType(13))
	}
}

func TestCloseAndTensorData(t *testing.T) {
	data := buildTestFile(t, 0)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	bogus := TensorInfo{Name: "bogus", Type: tensor.F32, Dims: []uint64{1 << 20}, Offset: 0}
	if _, err := f.TensorData(&bogus); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("TensorData of an out-of-range tensor: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.TensorData(&f.Tensors[0]); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("TensorData after Close: %v", err)
	}
}
