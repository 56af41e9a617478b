package gguf

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
	"glassbox/tensor"
)

// glibcRand reproduces glibc's rand() (the TYPE_3 additive feedback
// generator), so that the tensor shapes of llama-gguf-sample.gguf, drawn with
// rand() after srand(123456), can be derived independently of the file.
type glibcRand struct {
	r []int32
	i int
}

func newGlibcRand(seed uint32) *glibcRand {
	r := make([]int32, 34)
	r[0] = int32(seed)
	for i := 1; i < 31; i++ {
		// 16807 * r[i-1] mod (2^31 - 1), as glibc computes it (Schrage's method).
		hi := int64(r[i-1]) / 127773
		lo := int64(r[i-1]) % 127773
		word := 16807*lo - 2836*hi
		if word < 0 {
			word += 2147483647
		}
		r[i] = int32(word)
	}
	for i := 31; i < 34; i++ {
		r[i] = r[i-31]
	}
	g := &glibcRand{r: r}
	for k := 34; k < 344; k++ {
		g.step()
	}
	return g
}

func (g *glibcRand) step() int32 {
	n := len(g.r)
	v := int32(uint32(g.r[n-31]) + uint32(g.r[n-3]))
	g.r = append(g.r, v)
	if len(g.r) > 4096 {
		g.r = append([]int32(nil), g.r[len(g.r)-34:]...)
	}
	return v
}

// Int returns the next rand() value.
func (g *glibcRand) Int() int { return int(uint32(g.step()) >> 1) }

func TestGlibcRand(t *testing.T) {
	// The first values of glibc's rand() after srand(1), a widely published sequence.
	want := []int{1804289383, 846930886, 1681692777, 1714636915, 1957747793}
	g := newGlibcRand(1)
	for i, w := range want {
		if got := g.Int(); got != w {
			t.Fatalf("rand() #%d after srand(1) = %d, want %d", i, got, w)
		}
	}
}

// TestSampleFixture reads llama-gguf-sample.gguf, written by llama.cpp's
// llama-gguf example, and checks every value against what that program writes.
func TestSampleFixture(t *testing.T) {
	path := fixtures.Path(t, "gguf", "llama-gguf-sample.gguf")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || f.Alignment != 32 {
		t.Errorf("version %d alignment %d, want 3 and 32", f.Version, f.Alignment)
	}
	wantKV := []KV{
		{"some.parameter.uint8", TypeUint8, uint8(0x12)},
		{"some.parameter.int8", TypeInt8, int8(-0x13)},
		{"some.parameter.uint16", TypeUint16, uint16(0x1234)},
		{"some.parameter.int16", TypeInt16, int16(-0x1235)},
		{"some.parameter.uint32", TypeUint32, uint32(0x12345678)},
		{"some.parameter.int32", TypeInt32, int32(-0x12345679)},
		{"some.parameter.float32", TypeFloat32, float32(0.123456789)},
		{"some.parameter.uint64", TypeUint64, uint64(0x123456789abcdef0)},
		{"some.parameter.int64", TypeInt64, int64(-0x123456789abcdef1)},
		{"some.parameter.float64", TypeFloat64, 0.1234567890123456789},
		{"some.parameter.bool", TypeBool, true},
		{"some.parameter.string", TypeString, "hello world"},
		{"some.parameter.arr.i16", TypeArray, Array{TypeInt16, []int16{1, 2, 3, 4}}},
		{"some.parameter.arr.f32", TypeArray, Array{TypeFloat32, []float32{3.145, 2.718, 1.414}}},
		{"some.parameter.arr.str", TypeArray, Array{TypeString, []string{"hello", "world", "!"}}},
	}
	if !reflect.DeepEqual(f.KV, wantKV) {
		t.Errorf("metadata:\n got %#v\nwant %#v", f.KV, wantKV)
	}

	// Accessors on every type.
	if v, ok := f.Uint("some.parameter.uint64"); !ok || v != 0x123456789abcdef0 {
		t.Errorf("Uint(uint64) = %#x, %v", v, ok)
	}
	if v, ok := f.Int("some.parameter.int8"); !ok || v != -0x13 {
		t.Errorf("Int(int8) = %d, %v", v, ok)
	}
	if _, ok := f.Uint("some.parameter.int32"); ok {
		t.Error("Uint accepted a negative int32")
	}
	if v, ok := f.Float("some.parameter.float64"); !ok || v != 0.1234567890123456789 {
		t.Errorf("Float(float64) = %v, %v", v, ok)
	}
	if v, ok := f.Float("some.parameter.float32"); !ok || v != float64(float32(0.123456789)) {
		t.Errorf("Float(float32) = %v, %v", v, ok)
	}
	if v, ok := f.Bool("some.parameter.bool"); !ok || !v {
		t.Errorf("Bool = %v, %v", v, ok)
	}
	if v, ok := f.String("some.parameter.string"); !ok || v != "hello world" {
		t.Errorf("String = %q, %v", v, ok)
	}
	if v, ok := f.Strings("some.parameter.arr.str"); !ok || !reflect.DeepEqual(v, []string{"hello", "world", "!"}) {
		t.Errorf("Strings = %q, %v", v, ok)
	}
	if v, ok := f.Float32s("some.parameter.arr.f32"); !ok || !reflect.DeepEqual(v, []float32{3.145, 2.718, 1.414}) {
		t.Errorf("Float32s = %v, %v", v, ok)
	}
	if v, ok := f.Int32s("some.parameter.arr.i16"); !ok || !reflect.DeepEqual(v, []int32{1, 2, 3, 4}) {
		t.Errorf("Int32s(int16 array) = %v, %v", v, ok)
	}
	if a := f.Architecture(); a != "" {
		t.Errorf("Architecture = %q, want none", a)
	}

	// Tensors: 10 F32 tensors "tensor_i" with rand()%4+1 dims of rand()%10+1,
	// filled with 100+i, laid out back to back with 32-byte padding.
	if len(f.Tensors) != 10 {
		t.Fatalf("%d tensors, want 10", len(f.Tensors))
	}
	g := newGlibcRand(123456)
	var offset uint64
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		nDims := g.Int()%4 + 1
		dims := make([]uint64, nDims)
		for j := range dims {
			dims[j] = uint64(g.Int()%10 + 1)
		}
		if want := "tensor_" + string(rune('0'+i)); ti.Name != want {
			t.Errorf("tensor %d named %q, want %q", i, ti.Name, want)
		}
		if !reflect.DeepEqual(ti.Dims, dims) || ti.Type != tensor.F32 {
			t.Errorf("tensor %d: %s %v, want F32 %v", i, ti.Type, ti.Dims, dims)
		}
		if ti.Offset != offset {
			t.Errorf("tensor %d at offset %d, want %d", i, ti.Offset, offset)
		}
		n := uint64(1)
		for _, d := range dims {
			n *= d
		}
		if ti.Elements() != n || ti.Size() != 4*n {
			t.Errorf("tensor %d: %d elements, %d bytes, want %d and %d", i, ti.Elements(), ti.Size(), n, 4*n)
		}
		offset += (4*n + 31) / 32 * 32
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(data)) != 4*n {
			t.Fatalf("tensor %d data is %d bytes, want %d", i, len(data), 4*n)
		}
		for j := 0; j < len(data); j += 4 {
			if v := math.Float32frombits(binary.LittleEndian.Uint32(data[j:])); v != float32(100+i) {
				t.Fatalf("tensor %d element %d = %v, want %d", i, j/4, v, 100+i)
			}
		}
		if got, ok := f.Tensor(ti.Name); !ok || got != ti {
			t.Errorf("Tensor(%q) did not find tensor %d", ti.Name, i)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.DataOffset + int64(offset); st.Size() != want {
		t.Errorf("file is %d bytes, want data offset %d + %d bytes of padded data", st.Size(), f.DataOffset, offset)
	}
	if _, ok := f.Tensor("tensor_10"); ok {
		t.Error("Tensor found a tensor that does not exist")
	}
}

// TestWriterMatchesLlamaCpp rebuilds llama-gguf-sample.gguf with the Writer
// from its parsed content: the bytes must equal llama.cpp's.
func TestWriterMatchesLlamaCpp(t *testing.T) {
	path := fixtures.Path(t, "gguf", "llama-gguf-sample.gguf")
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(0)
	for _, kv := range f.KV {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Writer output (%d bytes) differs from llama.cpp's file (%d bytes) at byte %d",
			buf.Len(), len(want), firstDiff(buf.Bytes(), want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// fixtureFiles returns every .gguf file of the shared fixtures.
func fixtureFiles(t testing.TB) []string {
	var files []string
	for _, dir := range []string{"gguf", "vocab"} {
		m, err := filepath.Glob(filepath.Join(fixtures.Path(t, dir), "*.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no .gguf fixtures found")
	}
	return files
}

// TestFixturesRoundTrip opens every fixture, checks every tensor's data lies
// in the file, and checks that WriteFile reproduces the file byte for byte.
func TestFixturesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, path := range fixtureFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				data, err := f.TensorData(ti)
				if err != nil {
					t.Fatal(err)
				}
				if uint64(len(data)) != ti.Size() || f.DataOffset+int64(ti.Offset)+int64(len(data)) > st.Size() {
					t.Fatalf("tensor %q: %d bytes at %d+%d in a %d-byte file", ti.Name, len(data), f.DataOffset, ti.Offset, st.Size())
				}
				if ti.Offset%f.Alignment != 0 {
					t.Errorf("tensor %q: offset %d not aligned", ti.Name, ti.Offset)
				}
			}
			if f.Architecture() == "" && filepath.Base(path) != "llama-gguf-sample.gguf" {
				t.Error("no general.architecture")
			}
			out := filepath.Join(dir, filepath.Base(path))
			if err := WriteFile(out, f); err != nil {
				t.Fatal(err)
			}
			if a, b := sha256File(t, path), sha256File(t, out); a != b {
				orig, _ := os.ReadFile(path)
				got, _ := os.ReadFile(out)
				t.Fatalf("round trip changed the file: sha256 %x -> %x (%d -> %d bytes, first difference at byte %d)",
					a, b, len(orig), len(got), firstDiff(orig, got))
			}
			os.Remove(out)
		})
	}
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestModelFixtures checks the content of the model fixtures against their
// documented shapes (fixtures README and SOURCES.md).
func TestModelFixtures(t *testing.T) {
	type shape struct {
		dim, ffn, layers, heads, kvHeads, vocab uint64
	}
	stories := shape{64, 172, 5, 8, 4, 512}
	storiesH192 := shape{64, 192, 5, 8, 4, 512}
	random := shape{256, 768, 2, 4, 2, 512}
	tests := []struct {
		file   string
		shape  shape
		counts map[tensor.Type]int // counts of 2-D weight types, when documented
	}{
		{"stories260K-f32.gguf", stories, nil},
		{"stories260K-Q4_K_M.gguf", stories, nil},
		{"stories260K-h192-f32.gguf", storiesH192, nil},
		{"stories260K-h192-F16.gguf", storiesH192, nil},
		{"stories260K-h192-Q8_0.gguf", storiesH192, nil},
		{"stories260K-h192-Q4_0.gguf", storiesH192, nil},
		{"stories260K-h192-Q4_K_M.gguf", storiesH192, nil},
		{"random-llama-d256-F16.gguf", random, map[tensor.Type]int{tensor.F16: 16}},
		{"random-llama-d256-Q8_0.gguf", random, nil},
		{"random-llama-d256-Q4_0.gguf", random, nil},
		{"random-llama-d256-Q4_K_M.gguf", random, map[tensor.Type]int{tensor.Q4_K: 13, tensor.Q6_K: 3}},
		{"random-llama-d256-Q5_K_M.gguf", random, map[tensor.Type]int{tensor.Q5_K: 13, tensor.Q6_K: 3}},
		{"random-llama-d256-Q6_K.gguf", random, map[tensor.Type]int{tensor.Q6_K: 16}},
		{"random-llama-d256-Q2_K.gguf", random, map[tensor.Type]int{tensor.Q2_K: 9, tensor.Q3_K: 6, tensor.Q6_K: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Open(fixtures.Path(t, "gguf", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if a := f.Architecture(); a != "llama" {
				t.Fatalf("architecture %q, want llama", a)
			}
			s := tt.shape
			for key, want := range map[string]uint64{
				"llama.embedding_length":     s.dim,
				"llama.feed_forward_length":  s.ffn,
				"llama.block_count":          s.layers,
				"llama.attention.head_count": s.heads,
			} {
				if got, ok := f.Uint(key); !ok || got != want {
					t.Errorf("%s = %d (%v), want %d", key, got, ok, want)
				}
			}
			if toks, ok := f.Strings("tokenizer.ggml.tokens"); !ok || uint64(len(toks)) != s.vocab {
				t.Errorf("tokenizer.ggml.tokens has %d entries (%v), want %d", len(toks), ok, s.vocab)
			}
			// A Llama: per layer 7 matrices and 2 norms, plus embeddings,
			// final norm and output.
			if want := int(9*s.layers + 3); len(f.Tensors) != want {
				t.Errorf("%d tensors, want %d", len(f.Tensors), want)
			}
			headDim := s.dim / s.heads
			wantDims := map[string][]uint64{
				"token_embd.weight":        {s.dim, s.vocab},
				"output_norm.weight":       {s.dim},
				"blk.0.attn_norm.weight":   {s.dim},
				"blk.0.attn_q.weight":      {s.dim, s.dim},
				"blk.0.attn_k.weight":      {s.dim, s.kvHeads * headDim},
				"blk.0.attn_v.weight":      {s.dim, s.kvHeads * headDim},
				"blk.0.attn_output.weight": {s.dim, s.dim},
				"blk.0.ffn_gate.weight":    {s.dim, s.ffn},
				"blk.0.ffn_up.weight":      {s.dim, s.ffn},
				"blk.0.ffn_down.weight":    {s.ffn, s.dim},
			}
			for name, want := range wantDims {
				ti, ok := f.Tensor(name)
				if !ok {
					t.Errorf("no tensor %q", name)
					continue
				}
				if !reflect.DeepEqual(ti.Dims, want) {
					t.Errorf("%s: dims %v, want %v", name, ti.Dims, want)
				}
			}
			if tt.counts != nil {
				got := map[tensor.Type]int{}
				for _, ti := range f.Tensors {
					if len(ti.Dims) == 2 && strings.HasSuffix(ti.Name, ".weight") {
						got[ti.Type]++
					}
				}
				if !reflect.DeepEqual(got, tt.counts) {
					t.Errorf("2-D tensor types %v, want %v", got, tt.counts)
				}
			}
		})
	}
}

// TestVocabFixtures checks the vocabulary-only fixtures hold their tokens.
func TestVocabFixtures(t *testing.T) {
	tests := []struct {
		file  string
		model string
		n     int
	}{
		{"ggml-vocab-llama-spm.gguf", "llama", 32000},
		{"ggml-vocab-gpt-2.gguf", "gpt2", 50257},
		{"ggml-vocab-bert-bge.gguf", "bert", 30522},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := Open(fixtures.Path(t, "vocab", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if m, _ := f.String("tokenizer.ggml.model"); m != tt.model {
				t.Errorf("tokenizer.ggml.model = %q, want %q", m, tt.model)
			}
			toks, ok := f.Strings("tokenizer.ggml.tokens")
			if !ok || len(toks) != tt.n {
				t.Fatalf("%d tokens (%v), want %d", len(toks), ok, tt.n)
			}
			if types, ok := f.Int32s("tokenizer.ggml.token_type"); ok && len(types) != tt.n {
				t.Errorf("%d token types, want %d", len(types), tt.n)
			}
			if len(f.Tensors) != 0 {
				t.Errorf("%d tensors in a vocabulary-only file", len(f.Tensors))
			}
		})
	}
}
