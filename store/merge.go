package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"glassbox/gguf"
)

// The metadata keys of llama.cpp's split GGUF files (gguf-split): every part
// is a complete GGUF file holding some of the tensors, with these keys.
const (
	SplitNoKey           = "split.no"            // uint16, 0-based part number
	SplitCountKey        = "split.count"         // uint16, number of parts
	SplitTensorsCountKey = "split.tensors.count" // int32, tensors in all parts
)

// MergeSplit writes to w one GGUF file holding the metadata of the first part
// (without the split.* keys) and the tensors of every part, in order. parts
// are the paths of the parts in order; each is checked to be part i of
// len(parts), and the tensor total to match split.tensors.count. Tensor data
// is streamed from the memory-mapped parts, never held in memory.
func MergeSplit(w io.Writer, parts []string) (int64, error) {
	if len(parts) == 0 {
		return 0, fmt.Errorf("merge split GGUF: no parts")
	}
	files := make([]*gguf.File, 0, len(parts))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	total := 0
	var wantTensors uint64
	for i, p := range parts {
		f, err := gguf.Open(p)
		if err != nil {
			return 0, fmt.Errorf("merge split GGUF: part %d: %w", i+1, err)
		}
		files = append(files, f)
		no, okNo := f.Uint(SplitNoKey)
		count, okCount := f.Uint(SplitCountKey)
		nt, okNT := f.Uint(SplitTensorsCountKey)
		if !okNo || !okCount || !okNT {
			return 0, fmt.Errorf("merge split GGUF: part %d (%s) lacks the %s, %s and %s keys of a llama.cpp split file",
				i+1, p, SplitNoKey, SplitCountKey, SplitTensorsCountKey)
		}
		if no != uint64(i) || count != uint64(len(parts)) {
			return 0, fmt.Errorf("merge split GGUF: part %d (%s) says it is part %d of %d, expected part %d of %d",
				i+1, p, no+1, count, i+1, len(parts))
		}
		if i == 0 {
			wantTensors = nt
		} else if nt != wantTensors {
			return 0, fmt.Errorf("merge split GGUF: part %d says %s = %d, part 1 says %d", i+1, SplitTensorsCountKey, nt, wantTensors)
		}
		total += len(f.Tensors)
	}
	if uint64(total) != wantTensors {
		return 0, fmt.Errorf("merge split GGUF: the parts hold %d tensors, %s says %d", total, SplitTensorsCountKey, wantTensors)
	}
	first := files[0]
	out := gguf.NewWriter(first.Alignment)
	for _, kv := range first.KV {
		if strings.HasPrefix(kv.Key, "split.") || kv.Key == gguf.AlignmentKey {
			continue
		}
		if err := out.AddKVTyped(kv); err != nil {
			return 0, fmt.Errorf("merge split GGUF: %w", err)
		}
	}
	for i, f := range files {
		for j := range f.Tensors {
			ti := &f.Tensors[j]
			data, err := f.TensorData(ti)
			if err != nil {
				return 0, fmt.Errorf("merge split GGUF: part %d: %w", i+1, err)
			}
			if err := out.AddTensor(ti.Name, ti.Type, ti.Dims, data); err != nil {
				return 0, fmt.Errorf("merge split GGUF: part %d: %w", i+1, err)
			}
		}
	}
	n, err := out.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("merge split GGUF: %w", err)
	}
	return n, nil
}

// mergeIntoStore merges the blobs of a split model's parts into a new blob
// and returns its SHA-256 and size.
func (s *Store) mergeIntoStore(partSHAs []string) (string, int64, error) {
	paths := make([]string, len(partSHAs))
	for i, sha := range partSHAs {
		paths[i] = s.BlobPath(sha)
	}
	tmp, err := os.CreateTemp(s.blobDir(), "merge-*.partial")
	if err != nil {
		return "", 0, fmt.Errorf("merge split GGUF: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 1<<20)
	n, err := MergeSplit(bw, paths)
	if err != nil {
		return "", 0, err
	}
	if err := bw.Flush(); err != nil {
		return "", 0, fmt.Errorf("merge split GGUF: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("merge split GGUF: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("merge split GGUF: %w", err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp.Name(), s.BlobPath(sha)); err != nil {
		return "", 0, fmt.Errorf("merge split GGUF: %w", err)
	}
	ok = true
	syncDir(s.blobDir())
	return sha, n, nil
}
