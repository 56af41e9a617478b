package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"glassbox/internal/fixtures"
)

// checkParseRoundTrip parses data; when it parses, writing the File must
// succeed and give a file that parses to the same content and re-writes to the
// same bytes.
func checkParseRoundTrip(t *testing.T, data []byte) {
	t.Helper()
	f, err := Parse(data)
	if err != nil {
		if f != nil {
			t.Fatalf("Parse returned a File with error %v", err)
		}
		return
	}
	for i := range f.Tensors {
		if _, err := f.TensorData(&f.Tensors[i]); err != nil {
			t.Fatalf("parsed file has unreadable tensor: %v", err)
		}
	}
	var out bytes.Buffer
	if _, err := f.WriteTo(&out); err != nil {
		t.Fatalf("re-writing a parsed file: %v", err)
	}
	g, err := Parse(out.Bytes())
	if err != nil {
		t.Fatalf("re-parsing a re-written file: %v", err)
	}
	if !reflect.DeepEqual(f.KV, g.KV) || !reflect.DeepEqual(f.Tensors, g.Tensors) || f.Version != g.Version {
		if !hasNaN(f.KV) {
			t.Fatalf("re-written file differs:\n%#v\n%#v", f, g)
		}
	}
	var out2 bytes.Buffer
	if _, err := g.WriteTo(&out2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), out2.Bytes()) {
		t.Fatal("writing is not stable: a second round trip changed the bytes")
	}
}

// hasNaN reports whether some float value is NaN (NaN != NaN defeats DeepEqual).
func hasNaN(kvs []KV) bool {
	for _, kv := range kvs {
		switch v := kv.Value.(type) {
		case float32:
			if v != v {
				return true
			}
		case float64:
			if v != v {
				return true
			}
		case Array:
			if v.Elem == TypeFloat32 || v.Elem == TypeFloat64 || v.Elem == TypeArray {
				return true // conservative
			}
		}
	}
	return false
}

func FuzzParse(f *testing.F) {
	f.Add(buildTestFile(f, 0))
	f.Add(buildTestFile(f, 64))
	f.Add([]byte(header(1, 1).str("k").u32(uint32(TypeString)).str("v").tensorInfo("t", 0, 0, 2).padTo(32, 8)))
	if root := fixtures.Root(); root != "" {
		if data, err := os.ReadFile(filepath.Join(root, "gguf", "llama-gguf-sample.gguf")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParseRoundTrip(t, data)
	})
}

// BenchmarkOpen opens (maps and parses) the largest GGUF fixture.
func BenchmarkOpen(b *testing.B) {
	var largest string
	var size int64
	for _, p := range fixtureFiles(b) {
		if st, err := os.Stat(p); err == nil && st.Size() > size {
			largest, size = p, st.Size()
		}
	}
	b.Logf("%s: %d bytes", filepath.Base(largest), size)
	b.SetBytes(size)
	for b.Loop() {
		f, err := Open(largest)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkParseSample parses the writer-made test file from memory.
func BenchmarkParseSample(b *testing.B) {
	data := buildTestFile(b, 0)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
