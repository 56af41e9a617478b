package tokenizer

import (
	"os"
	"testing"

	"glassbox/internal/fixtures"
)

func benchEncode(b *testing.B, tk *Tokenizer) {
	data, err := os.ReadFile(fixtures.Path(b, "text", "war-and-peace.txt"))
	if err != nil {
		b.Fatal(err)
	}
	text := string(data)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tk.Encode(text, EncodeOptions{})
	}
}

func BenchmarkEncodeSPM(b *testing.B) {
	benchEncode(b, loadFixture(b, "vocab", "ggml-vocab-llama-spm.gguf"))
}

func BenchmarkEncodeBPELlama3(b *testing.B) {
	benchEncode(b, loadFixture(b, "vocab", "tokenizer-json", "llama3", "tokenizer.json"))
}

func BenchmarkEncodeWPM(b *testing.B) {
	benchEncode(b, loadFixture(b, "vocab", "ggml-vocab-bert-bge.gguf"))
}

func BenchmarkDecode(b *testing.B) {
	tk := loadFixture(b, "vocab", "ggml-vocab-llama-spm.gguf")
	data, err := os.ReadFile(fixtures.Path(b, "text", "war-and-peace.txt"))
	if err != nil {
		b.Fatal(err)
	}
	ids := tk.Encode(string(data), EncodeOptions{})
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		tk.Decode(ids)
	}
}
