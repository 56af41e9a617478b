package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"glassbox/tensor"
)

// TestRewrite: keys are replaced in place, removed, or added after the
// file's own in sorted order, and tensors are copied byte for byte.
func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.gguf"), filepath.Join(dir, "dst.gguf")
	w := NewWriter(DefaultAlignment)
	for _, kv := range []struct {
		k string
		v any
	}{{"a", "one"}, {"b", uint32(2)}, {"c", []string{"x", "y"}}} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	data := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if err := w.AddTensor("t", tensor.F32, []uint64{2}, data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Rewrite(src, dst, map[string]any{"b": "two", "c": nil, "z": "last", "m": uint32(7)}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var keys []string
	for _, kv := range f.KV {
		keys = append(keys, kv.Key)
	}
	if want := []string{"a", "b", "m", "z"}; !equalStrings(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if s, _ := f.String("b"); s != "two" {
		t.Errorf("b = %q, want two", s)
	}
	if n, _ := f.Uint("m"); n != 7 {
		t.Errorf("m = %d, want 7", n)
	}
	got, err := f.TensorData(&f.Tensors[0])
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("tensor data %v, %v; want %v", got, err, data)
	}
	if err := Rewrite(filepath.Join(dir, "missing.gguf"), dst, nil); err == nil {
		t.Error("rewriting a missing file: no error")
	}
	if err := Rewrite(src, filepath.Join(dir, "no", "such", "dir.gguf"), nil); err == nil {
		t.Error("rewriting into a missing folder: no error")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
