package tokenizer

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"glassbox/internal/fixtures"
)

// corpusLines returns the non-empty lines of the text corpora (at most max per file).
func corpusLines(t testing.TB, max int) []string {
	t.Helper()
	var lines []string
	for _, name := range []string{"tinyshakespeare.txt", "war-and-peace.txt", "monte-cristo-t1-ch1-fr.txt"} {
		data, err := os.ReadFile(fixtures.Path(t, "text", name))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSuffix(l, "\r"); l != "" && n < max {
				lines = append(lines, l)
				n++
			}
		}
	}
	return lines
}

func loadLlama2C(t testing.TB, name string, n int) *Tokenizer {
	t.Helper()
	tk, err := LoadLlama2C(fixtures.Path(t, "llama2c", name), n)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestLlama2CAgreesWithGGUF checks that llama2.c tokenizer files encode exactly
// like the GGUF vocabularies converted from the same SentencePiece model.
func TestLlama2CAgreesWithGGUF(t *testing.T) {
	tests := []struct {
		bin       string
		size      int
		gguf      []string
		vocabTest bool // also the llama-spm .inp texts
	}{
		{"tokenizer.bin", 32000, []string{"vocab", "ggml-vocab-llama-spm.gguf"}, true},
		{"tok512.bin", 512, []string{"gguf", "stories260K-f32.gguf"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.bin, func(t *testing.T) {
			bin := loadLlama2C(t, tc.bin, tc.size)
			gg := loadFixture(t, tc.gguf...)
			if bin.VocabSize() != gg.VocabSize() {
				t.Fatalf("vocab sizes %d (bin) vs %d (gguf)", bin.VocabSize(), gg.VocabSize())
			}
			texts := corpusLines(t, 1<<30)
			if tc.vocabTest {
				for _, c := range readVocabCases(t, "ggml-vocab-llama-spm.gguf") {
					texts = append(texts, c.text)
				}
			}
			bad := 0
			for _, text := range texts {
				for _, bos := range []bool{false, true} {
					a := bin.Encode(text, EncodeOptions{AddBOS: bos})
					b := gg.Encode(text, EncodeOptions{AddBOS: bos})
					if !equalIDs(a, b) {
						bad++
						if bad < 5 {
							t.Errorf("%q (bos=%v):\n bin  %v\n gguf %v", text, bos, a, b)
						}
					}
				}
			}
			t.Logf("%s: %d/%d encodings agree with the GGUF vocabulary", tc.bin, 2*len(texts)-bad, 2*len(texts))
		})
	}
}

// TestServerTokenizeReference compares with llama-server /tokenize responses
// (with BOS) for models whose vocabulary is tok512.
func TestServerTokenizeReference(t *testing.T) {
	const prompt = "Once upon a time, there was a little girl named Lily."
	type ref struct {
		Tokens []struct {
			ID    int    `json:"id"`
			Piece string `json:"piece"`
		} `json:"tokens"`
	}
	tests := []struct {
		name string
		ref  []string // below gguf/reference
		tok  func(t *testing.T) *Tokenizer
	}{
		{"stories260K-f32", []string{"server_stories260K-f32_tokenize.json"},
			func(t *testing.T) *Tokenizer { return loadFixture(t, "gguf", "stories260K-f32.gguf") }},
		{"random-llama-d256-Q8_0", []string{"server_random-llama-d256-Q8_0_tokenize.json"},
			func(t *testing.T) *Tokenizer { return loadFixture(t, "gguf", "random-llama-d256-Q8_0.gguf") }},
		{"tok512.bin", []string{"server_stories260K-f32_tokenize.json"},
			func(t *testing.T) *Tokenizer { return loadLlama2C(t, "tok512.bin", 0) }},
		{"llama-2-tiny-random", []string{"llama-2-tiny-random", "server_tokenize.json"},
			func(t *testing.T) *Tokenizer { return loadFixture(t, "gguf", "llama-2-tiny-random.gguf") }},
		{"tokenizer.bin (Llama 2)", []string{"llama-2-tiny-random", "server_tokenize.json"},
			func(t *testing.T) *Tokenizer { return loadLlama2C(t, "tokenizer.bin", 32000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(fixtures.Path(t, append([]string{"gguf", "reference"}, tc.ref...)...))
			if err != nil {
				t.Fatal(err)
			}
			var r ref
			if err := json.Unmarshal(data, &r); err != nil {
				t.Fatal(err)
			}
			tk := tc.tok(t)
			got := tk.Encode(prompt, EncodeOptions{AddBOS: true})
			if len(got) != len(r.Tokens) {
				t.Fatalf("got %d tokens %v, reference has %d", len(got), got, len(r.Tokens))
			}
			for i, rt := range r.Tokens {
				if got[i] != rt.ID {
					t.Errorf("token %d: id %d, reference %d", i, got[i], rt.ID)
				}
				// llama-server renders each piece with special tokens shown.
				// (llama2.c spells <s> as "\n<s>\n").
				if piece := string(tk.TokenBytes(rt.ID)); piece != rt.Piece && strings.TrimSpace(piece) != rt.Piece {
					t.Errorf("token %d: bytes %q, reference piece %q", i, piece, rt.Piece)
				}
			}
			if !tk.AddBOSDefault() || tk.BOS() != r.Tokens[0].ID {
				t.Errorf("BOS %d (add %v), reference starts with %d", tk.BOS(), tk.AddBOSDefault(), r.Tokens[0].ID)
			}
		})
	}
}
