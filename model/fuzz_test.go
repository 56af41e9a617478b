package model

import (
	"bytes"
	"math"
	"os"
	"testing"

	"glassbox/gguf"
	"glassbox/internal/fixtures"
	"glassbox/tensor"
)

// FuzzLlama2C feeds arbitrary bytes to the llama2.c checkpoint parser: it must
// return a model or an error, never panic.
func FuzzLlama2C(f *testing.F) {
	if root := fixtures.Root(); root != "" {
		if data, err := os.ReadFile(root + "/llama2c/stories260K.bin"); err == nil {
			f.Add(data[:4096])
		}
		if data, err := os.ReadFile(root + "/llama2c/stories260K_v1.bin"); err == nil {
			f.Add(data[:512])
		}
	}
	f.Add(tinyLlama2C(true))
	f.Add(tinyLlama2C(false))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseLlama2C(data)
		if err == nil && m.Config.Params() < 1<<16 {
			st, err := m.NewState(StateOptions{Context: 4})
			if err != nil {
				return
			}
			logits := make([]float32, m.Config.VocabSize)
			_ = m.Forward(st, []int{0}, 0, logits)
		}
	})
}

// tinyLlama2C builds a legacy checkpoint: dim 8, hidden 16, 1 layer, 2 heads,
// 1 KV head, vocab 4, seq 4.
func tinyLlama2C(shared bool) []byte {
	var b bytes.Buffer
	vocab := int32(4)
	if !shared {
		vocab = -4
	}
	for _, v := range []int32{8, 16, 1, 2, 1, vocab, 4} {
		b.Write(le32(uint32(v)))
	}
	n := 4*8 + 8 + 8*8 + 8*4 + 8*4 + 8*8 + 8 + 16*8*3 + 8 + 4*2*2
	if !shared {
		n += 4 * 8
	}
	for i := range n {
		b.Write(le32(mathFloat32bits(float32(i%7) * 0.1)))
	}
	return b.Bytes()
}

func TestTinyLlama2C(t *testing.T) {
	for _, shared := range []bool{true, false} {
		m, err := parseLlama2C(tinyLlama2C(shared))
		if err != nil {
			t.Fatalf("shared %v: %v", shared, err)
		}
		if m.Config.TiedOutput != shared {
			t.Errorf("shared %v: tied output %v", shared, m.Config.TiedOutput)
		}
	}
	// every truncation is an error naming the problem
	data := tinyLlama2C(true)
	for _, n := range []int{0, 10, 28, 100, len(data) - 1} {
		if _, err := parseLlama2C(data[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := parseLlama2C(append(data, 0, 0, 0, 0)); err == nil {
		t.Errorf("trailing bytes: no error")
	}
}

// FuzzGGUFModel loads arbitrary GGUF bytes as a model: errors, never panics.
func FuzzGGUFModel(f *testing.F) {
	f.Add(tinyGGUF(f))
	for _, arch := range []string{"gemma2", "gemma3", "granite", "olmo2", "smollm3", "phi3", "qwen3moe"} {
		f.Add(tinyWritten(f, arch))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := gguf.Parse(data)
		if err != nil {
			return
		}
		m, err := LoadGGUF(gf)
		if err != nil || m.Config.Params() > 1<<16 {
			return
		}
		st, err := m.NewState(StateOptions{Context: 4, KVType: tensor.F16})
		if err != nil {
			return
		}
		_ = m.Forward(st, []int{0}, 0, make([]float32, m.Config.VocabSize))
	})
}

func tinyGGUF(f testing.TB) []byte {
	w := gguf.NewWriter(32)
	kv := map[string]any{
		"general.architecture": "llama", "llama.embedding_length": uint32(32), "llama.feed_forward_length": uint32(32),
		"llama.block_count": uint32(1), "llama.attention.head_count": uint32(2), "llama.attention.head_count_kv": uint32(1),
		"llama.context_length": uint32(8), "llama.attention.layer_norm_rms_epsilon": float32(1e-5),
	}
	for _, k := range []string{"general.architecture", "llama.embedding_length", "llama.feed_forward_length", "llama.block_count",
		"llama.attention.head_count", "llama.attention.head_count_kv", "llama.context_length", "llama.attention.layer_norm_rms_epsilon"} {
		if err := w.AddKV(k, kv[k]); err != nil {
			f.Fatal(err)
		}
	}
	add := func(name string, typ tensor.Type, dims ...uint64) {
		n := int(dims[0])
		if len(dims) > 1 {
			n *= int(dims[1])
		}
		size, _ := typ.RowBytes(n)
		if err := w.AddTensor(name, typ, dims, make([]byte, size)); err != nil {
			f.Fatal(err)
		}
	}
	add("token_embd.weight", tensor.Q8_0, 32, 4)
	add("output_norm.weight", tensor.F32, 32)
	add("blk.0.attn_norm.weight", tensor.F32, 32)
	add("blk.0.attn_q.weight", tensor.Q4_0, 32, 32)
	add("blk.0.attn_k.weight", tensor.Q4_0, 32, 16)
	add("blk.0.attn_v.weight", tensor.Q4_0, 32, 16)
	add("blk.0.attn_output.weight", tensor.Q4_0, 32, 32)
	add("blk.0.ffn_norm.weight", tensor.F32, 32)
	add("blk.0.ffn_gate.weight", tensor.Q8_0, 32, 32)
	add("blk.0.ffn_down.weight", tensor.Q8_0, 32, 32)
	add("blk.0.ffn_up.weight", tensor.Q8_0, 32, 32)
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

// tinyWritten is a very small model of architecture arch written by WriteGGUF
// (for gemma: sliding window, its per-layer pattern and soft-capping keys).
func tinyWritten(f testing.TB, arch string) []byte {
	c := layoutConfig(arch, true)
	c.VocabSize, c.Dim, c.HiddenDim, c.Heads, c.KVHeads, c.HeadDim, c.ValueDim, c.RopeDim = 8, 8, 8, 2, 1, 4, 4, 4
	if c.QueryScale != 0 {
		c.QueryScale = attnScale(c.HeadDim)
	}
	c.SlidingWindow = min(c.SlidingWindow, 2)
	var b bytes.Buffer
	if err := WriteGGUF(&b, &c, WriteOptions{Type: tensor.F32, Weights: layoutWeights}); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

func TestTinyGGUF(t *testing.T) {
	gf, err := gguf.Parse(tinyGGUF(t))
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadGGUF(gf)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Config.TiedOutput || m.Config.VocabSize != 4 || m.Config.KVHeads != 1 {
		t.Errorf("config %+v", m.Config)
	}
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

func mathFloat32bits(f float32) uint32 { return math.Float32bits(f) }
