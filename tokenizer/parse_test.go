package tokenizer

import (
	"encoding/binary"
	"math"
	"os"
	"strings"
	"testing"
)

// llama2cFile builds a llama2.c tokenizer.bin image.
func llama2cFile(maxLen int32, pieces []string, scores []float32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(maxLen))
	for i, p := range pieces {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(scores[i]))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func TestParseLlama2C(t *testing.T) {
	pieces := []string{"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", "b", " a", "ab", " ab"}
	scores := []float32{0, 0, 0, -5, -6, -7, -1, -2, -0.5}
	good := llama2cFile(6, pieces, scores)
	tk, err := ParseLlama2C(good, 0)
	if err != nil {
		t.Fatal(err)
	}
	encTests := []struct {
		text string
		want []int
	}{
		{"ab", []int{8}},        // " a"(-1) then " a"+"b" = " ab"(-0.5)
		{"a b", []int{6, 3, 5}}, // " a", " ", "b"
		{"", []int{}},
		{"abab", []int{8, 7}},
	}
	for _, tc := range encTests {
		if got := tk.Encode(tc.text, EncodeOptions{}); !equalIDs(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	errTests := []struct {
		name string
		data []byte
		size int
		msg  string
	}{
		{"empty", nil, 0, "at least the 4-byte"},
		{"bad max length", llama2cFile(-1, pieces, scores), 0, "max_token_length"},
		{"truncated header", good[:len(good)-len(" ab")-3], 0, "inside the score/length header"},
		{"truncated bytes", good[:len(good)-1], 0, "announced"},
		{"too long token", llama2cFile(2, pieces, scores), 0, "outside 0..max_token_length"},
		{"size beyond file", good, 20, "file ends"},
		{"too few tokens", llama2cFile(6, pieces[:2], scores[:2]), 0, "expected at least"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLlama2C(tc.data, tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

func TestFromTokenizerJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/tiny_tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromTokenizerJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		opt  EncodeOptions
		want []int
	}{
		{"ab ab", EncodeOptions{}, []int{3, 4}},
		{"c a", EncodeOptions{}, []int{5, 8}},
		{"ab<|end|>", EncodeOptions{ParseSpecial: true}, []int{3, 9}},
		{"ab <tag>", EncodeOptions{}, []int{3, 10}}, // user-defined, lstrip eats the space
	}
	for _, tc := range tests {
		if got := tk.Encode(tc.text, tc.opt); !equalIDs(got, tc.want) {
			t.Errorf("Encode(%q, %+v) = %v, want %v", tc.text, tc.opt, got, tc.want)
		}
	}
	if !tk.IsEOG(9) || tk.Type(10) != TypeUserDefined || tk.Decode([]int{3, 4, 9}) != "ab ab" {
		t.Errorf("eog %v type %v decode %q", tk.IsEOG(9), tk.Type(10), tk.Decode([]int{3, 4, 9}))
	}

	errTests := []struct {
		name, doc, msg string
	}{
		{"not json", `{`, "tokenizer.json"},
		{"no vocab", `{"model":{"type":"BPE"}}`, "model.vocab is missing"},
		{"unigram", `{"model":{"type":"Unigram","vocab":[]}}`, "not supported"},
		{"bad merge", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["ab"]}}`, "two symbols"},
		{"bad pair", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a"]]}}`, "pair of 2 symbols"},
		{"negative id", `{"model":{"type":"BPE","vocab":{"a":-1}}}`, "outside"},
		{"huge id", `{"model":{"type":"BPE","vocab":{"a":9000000}}}`, "expected ids close"},
		{"added without id", `{"model":{"type":"BPE","vocab":{"a":0}},"added_tokens":[{"content":"x"}]}`, "expected an id"},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromTokenizerJSON([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

func TestLoadFileKinds(t *testing.T) {
	tests := []struct {
		name  string
		elem  []string
		model string
		size  int
		bos   int
	}{
		{"gguf", []string{"vocab", "ggml-vocab-bert-bge.gguf"}, ModelWPM, 30522, 101},
		{"tokenizer.json + config", []string{"vocab", "tokenizer-json", "llama3", "tokenizer.json"}, ModelBPE, 128256, 128000},
		{"directory", []string{"vocab", "tokenizer-json", "qwen3"}, ModelBPE, 151669, -1},
		{"encoder.json dir", []string{"vocab", "llama3.2-bpe"}, ModelBPE, -1, -1},
		{"tokenizer.bin", []string{"llama2c", "tok512.bin"}, ModelSPM, 512, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk := loadFixture(t, tc.elem...)
			if tk.Model() != tc.model || (tc.size >= 0 && tk.VocabSize() != tc.size) || tk.BOS() != tc.bos {
				t.Errorf("model %q size %d bos %d, want %q %d %d", tk.Model(), tk.VocabSize(), tk.BOS(), tc.model, tc.size, tc.bos)
			}
		})
	}
}

func FuzzParseLlama2C(f *testing.F) {
	f.Add(llama2cFile(4, []string{"<unk>", "<s>", "</s>", " a", "b"}, []float32{0, 0, 0, -1, -2}), 0)
	f.Add([]byte{1, 0, 0, 0}, 3)
	f.Fuzz(func(t *testing.T, data []byte, size int) {
		tk, err := ParseLlama2C(data, size%100000)
		if err != nil {
			return
		}
		ids := tk.Encode(" ab\xff", EncodeOptions{AddBOS: true})
		tk.Decode(ids)
	})
}

func FuzzFromTokenizerJSON(f *testing.F) {
	if data, err := os.ReadFile("testdata/tiny_tokenizer.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := FromTokenizerJSON(data)
		if err != nil {
			return
		}
		ids := tk.Encode("ab <x> a\xff", EncodeOptions{ParseSpecial: true})
		tk.Decode(ids)
	})
}
