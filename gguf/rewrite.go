package gguf

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Rewrite copies the GGUF file src to dst with the metadata keys of set added
// or replaced (a nil value removes the key), and every tensor unchanged: a
// chat template, special tokens or a name given to a model that lacks them,
// as llama.cpp's metadata scripts do. New keys come after the file's own, in
// the order of keys. dst is written whole or not at all.
func Rewrite(src, dst string, set map[string]any) error {
	f, err := Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	w := NewWriter(f.Alignment)
	for _, kv := range f.KV {
		v, replaced := set[kv.Key]
		switch {
		case !replaced:
			err = w.AddKVTyped(kv)
		case v != nil:
			err = w.AddKV(kv.Key, v)
		}
		if err != nil {
			return fmt.Errorf("gguf: %s: key %s: %w", dst, kv.Key, err)
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		if _, ok := f.Lookup(k); !ok && set[k] != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := w.AddKV(k, set[k]); err != nil {
			return fmt.Errorf("gguf: %s: key %s: %w", dst, k, err)
		}
	}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		data, err := f.TensorData(ti)
		if err != nil {
			return err
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".rewrite-*.gguf")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := w.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("gguf: writing %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
