package glassbox_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"glassbox"
	"glassbox/internal/fixtures"
)

// untiedLlama2C writes a copy of the legacy stories260K checkpoint with its
// own output matrix (a negative vocabulary size in the header, the output
// weights after the RoPE tables), so that it stores one tensor more.
func untiedLlama2C(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, "llama2c", "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	vocab, dim := int32(binary.LittleEndian.Uint32(data[20:])), int32(binary.LittleEndian.Uint32(data[0:]))
	binary.LittleEndian.PutUint32(data[20:], uint32(-vocab))
	data = append(data, make([]byte, 4*int(vocab)*int(dim))...)
	p := filepath.Join(t.TempDir(), "untied.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestModelInfo: the model description of the SDK, for the GGUF and both
// llama2.c layouts, with the KV-cache size of each cache type. stories260K
// has 5 layers of 4 KV heads of 8 dimensions: 5 × 64 × ctx elements of cache;
// its GGUF conversion says it was trained with 128 positions, the checkpoint
// 512.
func TestModelInfo(t *testing.T) {
	tok := fixtures.Path(t, "llama2c", "tok512.bin")
	tests := []struct {
		name    string
		path    string
		opts    glassbox.Options
		tensors map[string]int
		kv      string
		kvBytes int64
		trained int
	}{
		{"gguf f16 cache", fixtures.Path(t, "gguf", "stories260K-f32.gguf"), glassbox.Options{Context: 100}, nil, "F16", 5 * 64 * 100 * 2, 128},
		{"gguf f32 cache", fixtures.Path(t, "gguf", "stories260K-f32.gguf"), glassbox.Options{KVCacheF32: true}, nil, "F32", 5 * 64 * 128 * 4, 128},
		{"llama2.c tied", fixtures.Path(t, "llama2c", "stories260K.bin"), glassbox.Options{}, map[string]int{"F32": 2 + 9*5}, "F16", 5 * 64 * 512 * 2, 512},
		{"llama2.c v1", fixtures.Path(t, "llama2c", "stories260K_v1.bin"), glassbox.Options{Tokenizer: tok, Context: 7}, map[string]int{"F32": 2 + 9*5}, "F16", 5 * 64 * 7 * 2, 512},
		{"llama2.c untied", untiedLlama2C(t), glassbox.Options{Tokenizer: tok, KVCacheF32: true}, map[string]int{"F32": 3 + 9*5}, "F32", 5 * 64 * 512 * 4, 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := glassbox.Open(tt.path, &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			info, err := m.Info()
			if err != nil {
				t.Fatal(err)
			}
			c := m.Config()
			if info.Path != tt.path || info.Arch != "llama" || info.Layers != 5 || info.Heads != 8 || info.KVHeads != 4 || info.Dim != 64 ||
				info.HeadDim != 8 || info.HiddenDim != c.HiddenDim || info.Vocab != 512 || info.ContextLength != tt.trained || info.Context != m.ContextSize() ||
				info.Tokenizer != "llama" || info.FileType != c.FileType || info.ParamsStored != c.Params() || info.Params <= 0 || info.Params > info.ParamsStored {
				t.Errorf("info %+v (config %+v)", info, c)
			}
			if info.KVCache != tt.kv || info.KVCacheBytes != tt.kvBytes || m.KVCacheBytes() != tt.kvBytes {
				t.Errorf("KV cache %s of %d bytes (Model.KVCacheBytes %d), want %s of %d", info.KVCache, info.KVCacheBytes, m.KVCacheBytes(), tt.kv, tt.kvBytes)
			}
			st, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.tensors
			if f := m.GGUF(); f != nil {
				want = map[string]int{}
				for _, ti := range f.Tensors {
					want[ti.Type.String()]++
				}
			}
			if !reflect.DeepEqual(info.TensorTypes, want) {
				t.Errorf("tensor types %v, want %v", info.TensorTypes, want)
			}
			if info.FileBytes != st.Size() {
				t.Errorf("file bytes %d, the file has %d", info.FileBytes, st.Size())
			}
			if info.ChatTemplate != m.ChatTemplate() {
				t.Errorf("chat template %q", info.ChatTemplate)
			}
		})
	}
}

// TestTraceMetaFromInfo: the meta event of a trace is the model's ModelInfo,
// with the name and the traced layers and heads of the run.
func TestTraceMetaFromInfo(t *testing.T) {
	for _, file := range [][]string{{"llama2c", "stories260K.bin"}, {"gguf", "stories260K-h192-Q8_0.gguf"}} {
		t.Run(file[1], func(t *testing.T) {
			m := open(t, &glassbox.Options{Context: 64}, file...)
			var meta *glassbox.TraceMeta
			_, err := m.Generate(context.Background(), "Once", glassbox.GenerateOptions{MaxTokens: 2, Trace: &glassbox.Tracing{
				Options: glassbox.TraceOptions{Top: 3, Layers: []int{1, 3}, Heads: []int{0}},
				Emit: func(ev glassbox.TraceEvent) error {
					if ev.Type == glassbox.TraceTypeMeta {
						meta = ev.Meta
					}
					return nil
				},
			}})
			if err != nil {
				t.Fatal(err)
			}
			info, err := m.Info()
			if err != nil {
				t.Fatal(err)
			}
			want := info.TraceMeta(m.Name(), []int{1, 3}, []int{0})
			if meta == nil || !reflect.DeepEqual(*meta, want) {
				t.Errorf("meta event %+v\nwant %+v", meta, want)
			}
			if meta != nil && (meta.Version != glassbox.TraceVersion || meta.QuantType != info.FileType || meta.Context != 64) {
				t.Errorf("meta event %+v", meta)
			}
		})
	}
}

// TestEmbedIDs: embeddings by token ids are those of the text, whatever the
// batch size, and bad ids are errors.
func TestEmbedIDs(t *testing.T) {
	path := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	for _, batch := range []int{0, 1, 3} {
		m, err := glassbox.Open(path, &glassbox.Options{Batch: batch, Context: 32})
		if err != nil {
			t.Fatal(err)
		}
		text := "Once upon a time, there was a little girl."
		byText, err := m.Embed(text)
		if err != nil {
			t.Fatal(err)
		}
		byIDs, err := m.EmbedIDs(m.Encode(text, glassbox.GenerateOptions{}))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(byText, byIDs) {
			t.Errorf("batch %d: Embed and EmbedIDs differ", batch)
		}
		for _, bad := range []struct {
			name string
			ids  []int
			want error
		}{
			{"no tokens", nil, nil},
			{"outside the vocabulary", []int{1, 512}, nil},
			{"negative id", []int{-1}, nil},
			{"longer than the context", make([]int, 33), glassbox.ErrContext},
		} {
			if _, err := m.EmbedIDs(bad.ids); err == nil || (bad.want != nil && !errors.Is(err, bad.want)) {
				t.Errorf("batch %d, %s: error %v, want %v", batch, bad.name, err, bad.want)
			}
		}
		m.Close()
		if _, err := m.EmbedIDs([]int{1}); !errors.Is(err, glassbox.ErrClosed) {
			t.Errorf("EmbedIDs after Close: %v, want ErrClosed", err)
		}
		if _, err := m.Info(); !errors.Is(err, glassbox.ErrClosed) {
			t.Errorf("Info after Close: %v, want ErrClosed", err)
		}
	}
}
