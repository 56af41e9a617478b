package store

import (
	"fmt"
	"os"

	"glassbox/gguf"
	"glassbox/tensor"
)

// Info is what `glassbox show` and `glassbox list` tell about a GGUF file.
type Info struct {
	Path         string
	Size         int64
	Architecture string
	Name         string // general.name
	// Quant is the file type (general.file_type), such as "Q4_K_M", or the
	// most common type of the weight matrices when the key is absent.
	Quant string
	// Parameters is the number of elements of all tensors.
	Parameters    uint64
	ContextLength uint64 // <arch>.context_length, 0 when absent
	Embedding     uint64 // <arch>.embedding_length
	Layers        uint64 // <arch>.block_count
	Heads         uint64 // <arch>.attention.head_count
	KVHeads       uint64 // <arch>.attention.head_count_kv
	VocabSize     int    // entries of tokenizer.ggml.tokens
	Tensors       int
	License       string // general.license
	ChatTemplate  string // tokenizer.chat_template
}

// Inspect reads the metadata of the GGUF file at path.
func Inspect(path string) (*Info, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	return inspect(f, path, size), nil
}

// InspectBytes is Inspect for a GGUF file held in memory (such as an
// embedded model); Path is left empty.
func InspectBytes(data []byte) (*Info, error) {
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, err
	}
	return inspect(f, "", int64(len(data))), nil
}

// inspect reads the metadata of a parsed GGUF file.
func inspect(f *gguf.File, path string, size int64) *Info {
	info := &Info{Path: path, Size: size, Tensors: len(f.Tensors), Architecture: f.Architecture()}
	info.Name, _ = f.String("general.name")
	info.License, _ = f.String("general.license")
	info.ChatTemplate, _ = f.String("tokenizer.chat_template")
	arch := info.Architecture
	info.ContextLength, _ = f.Uint(arch + ".context_length")
	info.Embedding, _ = f.Uint(arch + ".embedding_length")
	info.Layers, _ = f.Uint(arch + ".block_count")
	info.Heads, _ = f.Uint(arch + ".attention.head_count")
	info.KVHeads, _ = f.Uint(arch + ".attention.head_count_kv")
	if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
		info.VocabSize = len(toks)
	}
	count := map[tensor.Type]int{}
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		info.Parameters += ti.Elements()
		if len(ti.Dims) >= 2 {
			count[ti.Type]++
		}
	}
	if ft, ok := f.Uint("general.file_type"); ok {
		info.Quant = FileTypeName(ft)
	} else {
		best := -1
		for t, n := range count {
			if n > best || n == best && t.String() < info.Quant {
				best, info.Quant = n, t.String()
			}
		}
	}
	return info
}

// FileTypeName names llama.cpp's general.file_type values ("Q4_K_M" for 15).
func FileTypeName(ft uint64) string {
	names := map[uint64]string{
		0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
		10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
		16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
		22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
		28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4",
	}
	if n, ok := names[ft]; ok {
		return n
	}
	return fmt.Sprintf("file type %d", ft)
}

// FormatCount renders a parameter count as "260K", "1.2M", "7.2B".
func FormatCount(n uint64) string {
	f := float64(n)
	switch {
	case n >= 1e12:
		return fmt.Sprintf("%.1fT", f/1e12)
	case n >= 1e9:
		return fmt.Sprintf("%.1fB", f/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.0fK", f/1e3)
	}
	return fmt.Sprintf("%d", n)
}
